// BackgroundCompiler (queue, publication, failures, shutdown), LlvmJit thread safety and batch
// compilation, and the typical block in every code generator configuration.
#include <algorithm>
#include <thread>

#include "llvm_test_util.h"
#include "tcg/llvm/compiler.h"
#include "typical_block.h"

namespace orrery::tcg::llvm::test {
namespace {

std::unique_ptr<exec::TranslationBlock> typical_tb(uint64_t pc) {
  return test::typical_tb(pc, reg(0));
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

// The typical block in every code generator configuration, compiled singly, in a batch and by
// the background compiler (published on the block), computes what the interpreter computes.
// (Its compile time is measured by bench/llvm_compile_time.cpp, not here.)
class TypicalBlockTest : public LlvmTest {
 protected:
  struct Result {
    uint64_t ret, pc, stored;
    std::vector<uint64_t> regs;
  };
  static constexpr uint64_t kX1 = kRamBase + 0x100;

  void reset(TestCpu& cpu) {
    std::fill(std::begin(cpu.r), std::end(cpu.r), 0);
    cpu.r[0] = 0x0123456789abcdefull;
    cpu.r[1] = kX1;
    cpu.r[2] = 0x5555aaaa3333ccccull;
    cpu.common.pc = 0;
    std::fill(ram_.begin(), ram_.end(), 0);
    const uint64_t a = 0xfedcba9876543210ull, b = 0x00000000deadbeefull;
    std::memcpy(&ram_[kX1 - kRamBase + 16], &a, 8);
    std::memcpy(&ram_[kX1 - kRamBase + 24], &b, 8);
  }
  Result result(uint64_t ret, const TestCpu& cpu) {
    Result r{ret, cpu.common.pc, 0, std::vector<uint64_t>(cpu.r, cpu.r + 24)};
    std::memcpy(&r.stored, &ram_[kX1 - kRamBase + 32], 8);
    return r;
  }
  Result run_native(exec::NativeFn fn) {
    reset(*cpu_);
    uint64_t ret = run(fn);
    return result(ret, *cpu_);
  }
  Result run_interp(const exec::TranslationBlock& tb) {
    auto cpu = std::make_unique<TestCpu>();
    cpu->common.tlb = &tlb_->t;
    cpu->common.jump_cache = jc_.get();
    cpu->slow = &slow_;
    reset(*cpu);
    auto prog = interp::build(tb.ir, &tb);
    uint64_t ret = interp::run(*prog, &cpu->common);
    return result(ret, *cpu);
  }
  static void expect_same(const Result& got, const Result& want, const char* what) {
    EXPECT_EQ(got.ret, want.ret) << what;
    EXPECT_EQ(got.pc, want.pc) << what;
    EXPECT_EQ(got.stored, want.stored) << what;
    EXPECT_EQ(got.regs, want.regs) << what;
  }
};

TEST_F(TypicalBlockTest, CompilesInEveryConfigurationAndComputesWhatTheInterpreterDoes) {
  auto tb = typical_tb(0x1000);
  ASSERT_EQ(ir::verify(tb->ir), "");
  const Result want = run_interp(*tb);
  EXPECT_EQ(want.pc, 0x1000u + 48) << "the block's branch is taken for these inputs";
  EXPECT_NE(want.stored, 0u);
  EXPECT_TRUE(slow_.calls.empty()) << "every access hits the TLB";

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
    exec::NativeFn single = jit->compile(*tb, &err);
    ASSERT_NE(single, nullptr) << c.name << ": " << err;
    expect_same(run_native(single), want, c.name);

    // A batch of eight: the same block among others at other addresses.
    std::vector<std::unique_ptr<exec::TranslationBlock>> others;
    std::vector<const exec::TranslationBlock*> in;
    for (unsigned i = 0; i < 8; ++i) {
      if (i == 5) {
        in.push_back(tb.get());
        continue;
      }
      others.push_back(typical_tb(0x10000 + 0x1000 * i));
      in.push_back(others.back().get());
    }
    std::vector<exec::NativeFn> out(in.size());
    jit->compile_batch(in, out, nullptr);
    for (unsigned i = 0; i < out.size(); ++i) ASSERT_NE(out[i], nullptr) << c.name << " #" << i;
    expect_same(run_native(out[5]), want, c.name);
    EXPECT_EQ(jit->stats().blocks, 1u + in.size()) << c.name;
  }

  // The background compiler publishes the block's code on the block.
  std::string err;
  auto bc = BackgroundCompiler::create(err, nullptr, fake_slow_options());
  ASSERT_TRUE(bc) << err;
  auto queued = typical_tb(0x1000);
  queued->compile_queued.store(true);
  bc->enqueue(queued.get());
  bc->drain();
  exec::NativeFn published = queued->native.load(std::memory_order_acquire);
  ASSERT_NE(published, nullptr);
  expect_same(run_native(published), want, "background compiler");
}

}  // namespace
}  // namespace orrery::tcg::llvm::test

namespace orrery::tcg::llvm::test {
namespace {

TEST(CompilerOrder, FastestGrowingQueuedBlockFirstOldestOnTies) {
  exec::TranslationBlock a, b, c, d;
  a.count(64);
  b.count(5000);  // hot in an earlier phase, quiet now
  c.count(64);
  d.count(64);
  using Q = BackgroundCompiler::Queued;
  std::deque<Q> q{Q{&a, 64}, Q{&b, 5000}, Q{&c, 64}, Q{&d, 64}};
  c.count(500);
  d.count(500);
  b.count(10);
  EXPECT_EQ(BackgroundCompiler::hottest_index(q), 2u);  // c: as fast as d, and older
  q.erase(q.begin() + 2);
  EXPECT_EQ(BackgroundCompiler::hottest_index(q), 2u);  // d, in the same batch
  q.erase(q.begin() + 2);
  BackgroundCompiler::mark_seen(q);  // the batch was taken
  a.count(100);
  b.count(5);
  EXPECT_EQ(BackgroundCompiler::hottest_index(q), 0u);  // a, although b's total is higher
  BackgroundCompiler::mark_seen(q);
  EXPECT_EQ(BackgroundCompiler::hottest_index(q), 0u);  // nothing ran: the oldest
  b.count(1);
  EXPECT_EQ(BackgroundCompiler::hottest_index(q), 1u);
}

TEST(CompilerOrder, ColdAndInvalidatedBlocksLeaveTheQueue) {
  exec::TranslationBlock a, b, c;
  for (auto* tb : {&a, &b, &c}) tb->count(64);
  for (auto* tb : {&a, &b, &c}) tb->compile_queued = true;
  using Q = BackgroundCompiler::Queued;
  std::deque<Q> q{Q{&a, 64}, Q{&b, 64}, Q{&c, 64}};
  std::vector<exec::TranslationBlock*> cold;
  uint64_t invalid = 0;
  c.valid = false;
  for (unsigned look = 0; look + 1 < BackgroundCompiler::kColdLooks; ++look) {
    a.count(10);  // a keeps running, b does not
    BackgroundCompiler::mark_seen(q, &cold, &invalid);
  }
  EXPECT_EQ(invalid, 1u);  // c, at the first look
  ASSERT_EQ(q.size(), 2u);
  EXPECT_TRUE(cold.empty());
  b.count(1);  // b ran once: idle again from here
  BackgroundCompiler::mark_seen(q, &cold, &invalid);
  EXPECT_TRUE(cold.empty());
  for (unsigned look = 0; look < BackgroundCompiler::kColdLooks; ++look) {
    a.count(10);
    BackgroundCompiler::mark_seen(q, &cold, &invalid);
  }
  ASSERT_EQ(cold.size(), 1u);
  EXPECT_EQ(cold[0], &b);
  EXPECT_FALSE(b.compile_queued.load()) << "a cold block may be queued again later";
  EXPECT_TRUE(a.compile_queued.load());
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].tb, &a);
}

// Blocks queued from the profile: a cached one (`first`) goes before hotter blocks, and none of
// them leaves the queue cold.
TEST(CompilerOrder, ProfiledBlocksGoFirstWhenCachedAndNeverCold) {
  exec::TranslationBlock hot, cached, miss;
  cached.ahead = miss.ahead = true;
  for (auto* tb : {&hot, &cached, &miss}) tb->compile_queued = true;
  using Q = BackgroundCompiler::Queued;
  std::deque<Q> q{Q{&hot, 0}, Q{&miss, 0}, Q{&cached, 0, 0, true}};
  hot.count(1000);
  EXPECT_EQ(BackgroundCompiler::hottest_index(q), 2u);
  q.erase(q.begin() + 2);
  EXPECT_EQ(BackgroundCompiler::hottest_index(q), 0u);
  std::vector<exec::TranslationBlock*> cold;
  for (unsigned look = 0; look < 2 * BackgroundCompiler::kColdLooks; ++look)
    BackgroundCompiler::mark_seen(q, &cold);
  ASSERT_EQ(cold.size(), 1u);
  EXPECT_EQ(cold[0], &hot);
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].tb, &miss);
}

}  // namespace
}  // namespace orrery::tcg::llvm::test
