// BackgroundCompiler (queue, publication, failures, shutdown), LlvmJit thread safety and batch
// compilation, and compile-time measurements.
#include <chrono>
#include <cstdio>
#include <thread>

#include "llvm_test_util.h"
#include "tcg/llvm/compiler.h"

namespace orrery::tcg::llvm::test {
namespace {

std::unique_ptr<exec::TranslationBlock> counter_tb(uint64_t pc, unsigned r, uint64_t inc) {
  auto tb = std::make_unique<exec::TranslationBlock>();
  tb->key.pc = pc;
  tb->ir.guest_pc = pc;
  Emitter e(tb->ir);
  e.insn_start(pc);
  e.set_reg(reg(r), e.add(e.get_reg(Type::I64, reg(r)), e.c64(inc)));
  e.jump(pc + 4);
  return tb;
}

// Roughly a 12-instruction AArch64 block after optimisation: register traffic, flag
// computation with carries, two loads and a store, a helper call and a conditional branch.
std::unique_ptr<exec::TranslationBlock> typical_tb(uint64_t pc) {
  auto tb = std::make_unique<exec::TranslationBlock>();
  tb->key.pc = pc;
  tb->ir.guest_pc = pc;
  Emitter e(tb->ir);
  e.insn_start(pc);
  Value x0 = e.get_reg(Type::I64, reg(0)), x1 = e.get_reg(Type::I64, reg(1));
  Value x2 = e.get_reg(Type::I64, reg(2));
  e.insn_start(pc + 4);
  Value a = e.load(Type::I64, e.add(x1, e.c64(16)), MemOp{3, false, 0});
  e.insn_start(pc + 8);
  Value b = e.load(Type::I64, e.add(x1, e.c64(24)), MemOp{2, true, 0});
  e.insn_start(pc + 12);
  Value s = e.add(a, b);
  e.insn_start(pc + 16);
  Value nb = e.not_(x2);
  Value diff = e.addc(s, nb, e.c1(true));
  Value c = e.add_carry(s, nb, e.c1(true));
  Value v = e.add_ovf(s, nb, e.c1(true));
  e.set_reg(reg(20), e.zext(Type::I8, c));
  e.set_reg(reg(21), e.zext(Type::I8, v));
  e.set_reg(reg(22), e.zext(Type::I8, e.cmp(Cond::Eq, diff, e.c64(0))));
  e.set_reg(reg(23), e.zext(Type::I8, e.cmp(Cond::Slt, diff, e.c64(0))));
  e.insn_start(pc + 20);
  Value sh = e.lshr(diff, e.c64(3));
  Value ex = e.extract_u(sh, 4, 12);
  e.insn_start(pc + 24);
  Value dep = e.deposit(x0, ex, 8, 12);
  e.set_reg(reg(0), dep);
  e.insn_start(pc + 28);
  e.store(e.add(x1, e.c64(32)), dep, MemOp{3, false, 0});
  e.insn_start(pc + 32);
  Value m = e.mul(dep, e.c64(0x9e3779b9));
  Value h = e.mulhu(m, x2);
  e.set_reg(reg(3), e.xor_(m, h));
  e.insn_start(pc + 36);
  e.set_reg(reg(4), e.select(e.cmp(Cond::Ugt, a, b), a, b));
  e.insn_start(pc + 40);
  e.set_reg(reg(1), e.add(x1, e.c64(48)));
  e.insn_start(pc + 44);
  e.branch(e.cmp(Cond::Ne, diff, e.c64(0)), pc + 48, pc + 0x100);
  return tb;
}

TEST(CompilerTest, CompilesQueuedBlocksAndPublishes) {
  std::string err;
  auto bc = BackgroundCompiler::create(err, nullptr, fake_slow_options());
  ASSERT_TRUE(bc) << err;
  std::vector<std::unique_ptr<exec::TranslationBlock>> tbs;
  for (unsigned i = 0; i < 20; ++i) tbs.push_back(counter_tb(0x1000 + 0x10 * i, i, i + 1));
  for (auto& tb : tbs) {
    tb->compile_queued.store(true);
    bc->enqueue(tb.get());
  }
  bc->drain();
  TestCpu cpu;
  for (unsigned i = 0; i < tbs.size(); ++i) {
    exec::NativeFn fn = tbs[i]->native.load(std::memory_order_acquire);
    ASSERT_NE(fn, nullptr) << i;
    EXPECT_EQ(fn(&cpu.common), exec::kRetNext);
    EXPECT_EQ(cpu.r[i], i + 1);
    EXPECT_EQ(cpu.common.pc, 0x1000 + 0x10 * i + 4);
  }
  auto s = bc->stats();
  EXPECT_EQ(s.compiled, 20u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_GT(s.compile_us, 0u);
}

TEST(CompilerTest, SkipsInvalidAndKeepsFailuresInInterpreter) {
  std::string err;
  auto bc = BackgroundCompiler::create(err, nullptr, fake_slow_options());
  ASSERT_TRUE(bc) << err;
  auto good = counter_tb(0x1000, 0, 1);
  auto gone = counter_tb(0x2000, 0, 1);
  gone->valid.store(false);
  auto bad = std::make_unique<exec::TranslationBlock>();  // no terminal: cannot be compiled
  for (auto* tb : {good.get(), gone.get(), bad.get()}) {
    tb->compile_queued.store(true);
    bc->enqueue(tb);
  }
  bc->drain();
  EXPECT_NE(good->native.load(), nullptr);
  EXPECT_EQ(gone->native.load(), nullptr);
  EXPECT_EQ(bad->native.load(), nullptr);
  EXPECT_TRUE(bad->compile_queued.load()) << "a failed block must not be queued again";
  auto s = bc->stats();
  EXPECT_EQ(s.compiled, 1u);
  EXPECT_EQ(s.skipped, 1u);
  EXPECT_EQ(s.failed, 1u);
}

TEST(CompilerTest, CompileNowIsSynchronous) {
  std::string err;
  auto bc = BackgroundCompiler::create(err, nullptr, fake_slow_options());
  ASSERT_TRUE(bc) << err;
  auto tb = counter_tb(0x1000, 3, 5);
  exec::NativeFn fn = bc->compile_now(tb.get());
  ASSERT_NE(fn, nullptr);
  EXPECT_EQ(tb->native.load(), fn);
  EXPECT_EQ(bc->compile_now(tb.get()), fn) << "already compiled: no second compile";
  EXPECT_EQ(bc->stats().compiled, 1u);
  TestCpu cpu;
  fn(&cpu.common);
  EXPECT_EQ(cpu.r[3], 5u);
  auto bad = std::make_unique<exec::TranslationBlock>();
  EXPECT_EQ(bc->compile_now(bad.get()), nullptr);
  EXPECT_TRUE(bad->compile_queued.load());
}

TEST(CompilerTest, DiscardAndShutdownWithWorkQueued) {
  std::string err;
  std::vector<std::unique_ptr<exec::TranslationBlock>> tbs;
  for (unsigned i = 0; i < 200; ++i) tbs.push_back(typical_tb(0x10000 + 0x1000 * i));
  {
    auto bc = BackgroundCompiler::create(err, nullptr, fake_slow_options());
    ASSERT_TRUE(bc) << err;
    for (auto& tb : tbs) bc->enqueue(tb.get());
    bc->discard_queue();
    auto s = bc->stats();
    EXPECT_LT(s.compiled, 200u);
    // Nothing is referenced any more: blocks not compiled yet stay uncompiled.
    for (auto& tb : tbs) bc->enqueue(tb.get());
  }  // the destructor drops the rest and joins
  SUCCEED();
}

TEST(CompilerTest, ConcurrentCompilesAreSerialisedSafely) {
  std::string err;
  auto jit = LlvmJit::create(fake_slow_options(), err);
  ASSERT_TRUE(jit) << err;
  constexpr unsigned kThreads = 4, kPer = 25;
  std::vector<std::unique_ptr<exec::TranslationBlock>> tbs;
  for (unsigned i = 0; i < kThreads * kPer; ++i) tbs.push_back(counter_tb(0x1000 + 16 * i, i, i));
  std::vector<exec::NativeFn> fns(tbs.size());
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (unsigned i = t * kPer; i < (t + 1) * kPer; ++i) fns[i] = jit->compile(*tbs[i], nullptr);
    });
  for (auto& th : threads) th.join();
  TestCpu cpu;
  for (unsigned i = 0; i < tbs.size(); ++i) {
    ASSERT_NE(fns[i], nullptr);
    fns[i](&cpu.common);
    EXPECT_EQ(cpu.r[i], i);
  }
  EXPECT_EQ(jit->stats().blocks, kThreads * kPer);
}

TEST(CompilerTest, BatchCompileIsolatesFailures) {
  std::string err;
  auto jit = LlvmJit::create(fake_slow_options(), err);
  ASSERT_TRUE(jit) << err;
  auto a = counter_tb(0x1000, 0, 1), c = counter_tb(0x3000, 1, 2);
  auto b = std::make_unique<exec::TranslationBlock>();
  const exec::TranslationBlock* in[] = {a.get(), b.get(), c.get()};
  exec::NativeFn out[3] = {};
  std::vector<std::string> errors;
  jit->compile_batch(in, out, &errors);
  EXPECT_NE(out[0], nullptr);
  EXPECT_EQ(out[1], nullptr);
  EXPECT_NE(errors[1], "");
  EXPECT_NE(out[2], nullptr);
  TestCpu cpu;
  out[0](&cpu.common);
  out[2](&cpu.common);
  EXPECT_EQ(cpu.r[0], 1u);
  EXPECT_EQ(cpu.r[1], 2u);
}

// Prints compile time per typical block: the default configuration, then code generator
// levels 0 and 2 and the default without IR passes, each single and in batches of 8. The
// bound is loose (shared, loaded machines); the printed numbers are what matters.
TEST(CompilerTest, CompileTimePerTypicalBlock) {
  constexpr unsigned kBlocks = 48;
  std::vector<std::unique_ptr<exec::TranslationBlock>> tbs;
  for (unsigned i = 0; i < kBlocks; ++i) tbs.push_back(typical_tb(0x10000 + 0x1000 * i));
  EXPECT_EQ(ir::verify(tbs[0]->ir), "");
  struct Config {
    const char* name;
    unsigned level;
    bool passes;
  };
  for (const Config& c : {Config{"default", 1, true}, Config{"codegen level 0", 0, true},
                          Config{"codegen level 2", 2, true}, Config{"no IR passes", 1, false}}) {
    JitOptions o = fake_slow_options();
    o.codegen_level = c.level;
    o.run_passes = c.passes;
    std::string err;
    auto jit = LlvmJit::create(o, err);
    ASSERT_TRUE(jit) << err;
    jit->compile(*typical_tb(0), nullptr);  // warm up
    LlvmJit::Stats s0 = jit->stats();
    auto t0 = std::chrono::steady_clock::now();
    for (auto& tb : tbs) ASSERT_NE(jit->compile(*tb, nullptr), nullptr);
    double single =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
        kBlocks;
    LlvmJit::Stats s = jit->stats();
    t0 = std::chrono::steady_clock::now();
    for (unsigned i = 0; i < kBlocks; i += 8) {
      std::vector<const exec::TranslationBlock*> in;
      for (unsigned k = i; k < std::min(kBlocks, i + 8); ++k) in.push_back(tbs[k].get());
      std::vector<exec::NativeFn> out(in.size());
      jit->compile_batch(in, out, nullptr);
      for (exec::NativeFn f : out) ASSERT_NE(f, nullptr);
    }
    double batched =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
        kBlocks;
    std::printf(
        "[ timing   ] %-16s %5.0f us/block single (lower %.0f, IR passes %.0f, "
        "codegen+link %.0f); %5.0f us/block in batches of 8\n",
        c.name, single, double(s.lower_us - s0.lower_us) / kBlocks,
        double(s.opt_us - s0.opt_us) / kBlocks, double(s.codegen_us - s0.codegen_us) / kBlocks,
        batched);
    if (c.level == 1 && c.passes) {
      EXPECT_LT(single, 20000.0);
    }
  }
}

}  // namespace
}  // namespace orrery::tcg::llvm::test

namespace orrery::tcg::llvm::test {
namespace {

TEST(CompilerOrder, FastestGrowingQueuedBlockFirstOldestOnTies) {
  exec::TranslationBlock a, b, c, d;
  a.exec_count = 64;
  b.exec_count = 5000;  // hot in an earlier phase, quiet now
  c.exec_count = 64;
  d.exec_count = 64;
  using Q = BackgroundCompiler::Queued;
  std::deque<Q> q{Q{&a, 64}, Q{&b, 5000}, Q{&c, 64}, Q{&d, 64}};
  c.exec_count += 500;
  d.exec_count += 500;
  b.exec_count += 10;
  EXPECT_EQ(BackgroundCompiler::hottest_index(q), 2u);  // c: as fast as d, and older
  q.erase(q.begin() + 2);
  EXPECT_EQ(BackgroundCompiler::hottest_index(q), 2u);  // d, in the same batch
  q.erase(q.begin() + 2);
  BackgroundCompiler::mark_seen(q);                     // the batch was taken
  a.exec_count += 100;
  b.exec_count += 5;
  EXPECT_EQ(BackgroundCompiler::hottest_index(q), 0u);  // a, although b's total is higher
  BackgroundCompiler::mark_seen(q);
  EXPECT_EQ(BackgroundCompiler::hottest_index(q), 0u);  // nothing ran: the oldest
  b.exec_count += 1;
  EXPECT_EQ(BackgroundCompiler::hottest_index(q), 1u);
}

}  // namespace
}  // namespace orrery::tcg::llvm::test
