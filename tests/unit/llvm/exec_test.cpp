// Helper calls and block terminals in the LLVM tier: the block-result protocol of
// tcg/exec/tb.h, direct chaining through TranslationBlock::link, the indirect-jump cache, and
// the exit_request check at block entry.
#include "llvm_test_util.h"

namespace orrery::tcg::llvm::test {
namespace {

class ExecTest : public BothBackends {};
class ExecTestLlvm : public LlvmTest {};  // LLVM-specific code properties

TestCpu& test_cpu(CpuCommon* c) {
  return *reinterpret_cast<TestCpu*>(c);
}

// Records its arguments in r[200..203] and returns their sum.
uint64_t h_record(CpuCommon* c, uint64_t a, uint64_t b, uint64_t d) {
  TestCpu& cpu = test_cpu(c);
  cpu.r[200] = a, cpu.r[201] = b, cpu.r[202] = d, ++cpu.r[203];
  return a + b + d;
}
// Returns r5 (guest state must be current) and writes r7 (later reads must see it).
uint64_t h_state(CpuCommon* c, uint64_t, uint64_t, uint64_t) {
  TestCpu& cpu = test_cpu(c);
  cpu.r[7] = 9;
  return cpu.r[5];
}
uint64_t h_raise(CpuCommon* c, uint64_t pc, uint64_t, uint64_t) {
  c->pc = pc;
  c->pending_exit = uint32_t(PendingExit::Exception);
  return 0;
}
uint64_t h_mul(CpuCommon*, uint64_t a, uint64_t b, uint64_t) {
  return a * b;
}
// Asks the vCPU to stop once the loop counter r0 reaches r1.
uint64_t h_kick(CpuCommon* c, uint64_t, uint64_t, uint64_t) {
  TestCpu& cpu = test_cpu(c);
  if (cpu.r[0] == cpu.r[1]) c->exit_request.store(1);
  return 0;
}
constexpr ir::Helper kRecord{"record", h_record};
constexpr ir::Helper kState{"state", h_state};
constexpr ir::Helper kRaise{"raise", h_raise};
constexpr ir::Helper kMul{"mul", h_mul, true};
constexpr ir::Helper kKick{"kick", h_kick};

TEST_P(ExecTest, CallPassesCpuAndArgumentsMissingOnesZero) {
  auto tb = new_tb();
  Emitter e(tb->ir);
  e.set_reg(reg(0), e.call(kRecord, {e.c64(1), e.c64(2), e.c64(3)}));
  e.set_reg(reg(1), e.call(kRecord, {e.get_reg(Type::I64, reg(10))}));
  e.set_reg(reg(2), e.call(kMul, {e.c64(6), e.get_reg(Type::I64, reg(10))}));
  e.jump(0x2000);
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  cpu_->r[10] = 7;
  cpu_->r[201] = cpu_->r[202] = 99;
  EXPECT_EQ(run(fn), exec::kRetNext);
  EXPECT_EQ(cpu_->r[0], 6u);
  EXPECT_EQ(cpu_->r[1], 7u);
  EXPECT_EQ(cpu_->r[2], 42u);
  EXPECT_EQ(cpu_->r[200], 7u);
  EXPECT_EQ(cpu_->r[201], 0u);
  EXPECT_EQ(cpu_->r[202], 0u);
  EXPECT_EQ(cpu_->r[203], 2u);
}

// Helpers read and write guest state in memory: stores before a call must be done, and values
// read after it must be reloaded.
TEST_P(ExecTest, CallSeesAndClobbersGuestState) {
  auto tb = new_tb();
  Emitter e(tb->ir);
  e.set_reg(reg(5), e.c64(42));
  e.set_reg(reg(7), e.c64(1));
  Value before = e.get_reg(Type::I64, reg(7));
  e.set_reg(reg(6), e.call(kState));
  e.set_reg(reg(8), e.get_reg(Type::I64, reg(7)));
  e.set_reg(reg(9), before);
  e.jump(0x2000);
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  EXPECT_EQ(run(fn), exec::kRetNext);
  EXPECT_EQ(cpu_->r[6], 42u);
  EXPECT_EQ(cpu_->r[8], 9u);
  EXPECT_EQ(cpu_->r[9], 1u);
}

TEST_P(ExecTest, CallSettingPendingExitStopsTheBlock) {
  auto tb = new_tb(0x100);
  Emitter e(tb->ir);
  e.insn_start(0x100);
  e.set_reg(reg(0), e.call(kRecord, {e.c64(1), e.c64(2), e.c64(3)}));
  e.insn_start(0x104);
  e.call(kRaise, {e.c64(0x104)});
  e.set_reg(reg(1), e.c64(5));
  e.store(e.c64(kRamBase), e.konst(Type::I8, 1), MemOp{0, false, 0});
  e.call(kRecord, {e.c64(100)});
  e.jump(0x108);
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  EXPECT_EQ(run(fn), exec::kRetPending);
  EXPECT_EQ(cpu_->common.pc, 0x104u);
  EXPECT_EQ(cpu_->r[0], 6u);
  EXPECT_EQ(cpu_->r[1], 0u);
  EXPECT_EQ(cpu_->r[203], 1u);  // the second record never ran
  EXPECT_EQ(ram_[0], 0);
}

TEST_P(ExecTest, JumpAndBranchWithoutLinks) {
  auto tb = new_tb(0x100);
  Emitter e(tb->ir);
  e.branch(e.cmp(Cond::Ne, e.get_reg(Type::I64, reg(0)), e.c64(0)), 0x200, 0x300);
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  cpu_->r[0] = 1;
  EXPECT_EQ(run(fn), exec::kRetNext);
  EXPECT_EQ(cpu_->common.pc, 0x200u);
  EXPECT_EQ(cpu_->common.last_tb, tb.get());
  EXPECT_EQ(cpu_->common.last_exit_slot, 0u);
  cpu_->r[0] = 0;
  cpu_->common.last_tb = nullptr;
  EXPECT_EQ(run(fn), exec::kRetNext);
  EXPECT_EQ(cpu_->common.pc, 0x300u);
  EXPECT_EQ(cpu_->common.last_tb, tb.get());
  EXPECT_EQ(cpu_->common.last_exit_slot, 1u);

  auto tj = new_tb(0x400);
  Emitter ej(tj->ir);
  ej.jump(0x500);
  exec::NativeFn fj = compile(*tj);
  ASSERT_NE(fj, nullptr);
  cpu_->common.last_exit_slot = 7;
  EXPECT_EQ(run(fj), exec::kRetNext);
  EXPECT_EQ(cpu_->common.pc, 0x500u);
  EXPECT_EQ(cpu_->common.last_tb, tj.get());
  EXPECT_EQ(cpu_->common.last_exit_slot, 0u);
}

// Compares used once and several times, feeding Select, the Branch terminal and ordinary uses
// (the baseline tier fuses single-use compares into jcc/cmov and drops dead stores), and a
// zero-extended compare sharing its slot: every result must match the interpreter's.
TEST_P(ExecTest, ComparesFeedingSelectsBranchesAndStores) {
  auto tb = new_tb(0x100);
  Emitter e(tb->ir);
  Value a = e.get_reg(Type::I64, reg(0)), b = e.get_reg(Type::I64, reg(1));
  Value lt = e.cmp(Cond::Slt, a, b);  // two uses: Select and SetReg (zext)
  e.set_reg(reg(2), e.select(lt, a, b));
  e.set_reg(reg(3), e.zext(Type::I64, lt));
  Value eq = e.cmp(Cond::Eq, e.trunc(Type::I32, a), e.c32(5));  // one use: Select
  e.set_reg(reg(4), e.select(eq, e.c64(0), b));
  Value sum = e.add(a, b);  // one use: the next SetReg
  e.set_reg(reg(5), sum);
  e.branch(e.cmp(Cond::Ugt, a, b), 0x200, 0x300);  // one use: the terminal
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  auto prog = interp::build(tb->ir, tb.get());
  const uint64_t vals[] = {0, 1, 5, 7, ~0ull, 0x8000000000000000ull, 0x100000005ull};
  for (uint64_t x : vals)
    for (uint64_t y : vals) {
      TestCpu want;
      want.r[0] = cpu_->r[0] = x;
      want.r[1] = cpu_->r[1] = y;
      const uint64_t rn = run(fn), ri = interp::run(*prog, &want.common);
      ASSERT_EQ(rn, ri);
      EXPECT_EQ(cpu_->common.pc, want.common.pc) << std::hex << x << " " << y;
      for (unsigned r = 2; r <= 5; ++r)
        EXPECT_EQ(cpu_->r[r], want.r[r]) << "r" << r << " " << std::hex << x << " " << y;
    }
}

// A block with more values than the baseline tier keeps on the stack is refused with a
// reason (the engine then interprets it, whose frames of that size live on the heap).
TEST_F(ExecTestLlvm, BaselineRefusesBlocksTooLargeForTheStack) {
  auto tb = new_tb(0x100);
  Emitter e(tb->ir);
  // 70,000 values live at once: more than the host registers and the frame hold.
  std::vector<Value> vs;
  for (int i = 0; i < 70000; ++i) vs.push_back(e.get_reg(Type::I64, reg(1)));
  Value v = e.get_reg(Type::I64, reg(0));
  for (Value x : vs) v = e.add(v, x);
  e.set_reg(reg(2), v);
  e.jump(0x200);
  std::string err;
  baseline::Options o;
  EXPECT_EQ(baseline::compile(*tb, *code_, o, &err), nullptr);
  EXPECT_NE(err.find("too large"), std::string::npos) << err;
}

TEST_P(ExecTest, ExitResults) {
  auto tb = new_tb(0x100);
  Emitter e(tb->ir);
  e.exit(ir::ExitReason::Hypercall, 0x104, 0xabcd);
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  EXPECT_EQ(run(fn), exec::make_exit_result(ir::ExitReason::Hypercall, 0xabcd));
  EXPECT_EQ(cpu_->common.pc, 0x104u);

  // pc_in_state: whatever wrote CpuCommon::pc (offset 0) stands.
  auto t2 = new_tb(0x100);
  Emitter e2(t2->ir);
  e2.set_reg(0, e2.c64(0x7777));
  e2.exit_pc_in_state(ir::ExitReason::Exception);
  exec::NativeFn f2 = compile(*t2);
  ASSERT_NE(f2, nullptr);
  EXPECT_EQ(run(f2), exec::make_exit_result(ir::ExitReason::Exception, 0));
  EXPECT_EQ(cpu_->common.pc, 0x7777u);
}

TEST_P(ExecTest, ExitRequestSeenAtEntry) {
  auto tb = new_tb(0x100);
  Emitter e(tb->ir);
  e.set_reg(reg(0), e.c64(9));
  e.exit(ir::ExitReason::Halt, 0x104);
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  cpu_->common.pc = 0x100;
  cpu_->common.exit_request = 1;
  EXPECT_EQ(run(fn), exec::kRetExitRequest);
  EXPECT_EQ(cpu_->r[0], 0u);
  EXPECT_EQ(cpu_->common.pc, 0x100u);
  cpu_->common.exit_request = 0;
  EXPECT_EQ(run(fn), exec::make_exit_result(ir::ExitReason::Halt, 0));
  EXPECT_EQ(cpu_->r[0], 9u);
}

// A -> B through link[0]; B exits. Running A runs both.
TEST_P(ExecTest, DirectChainRunsSuccessor) {
  auto a = new_tb(0x100), b = new_tb(0x200);
  {
    Emitter e(a->ir);
    e.set_reg(reg(0), e.c64(1));
    e.jump(0x200);
    Emitter f(b->ir);
    f.set_reg(reg(1), f.add(f.get_reg(Type::I64, reg(0)), f.c64(1)));
    f.exit(ir::ExitReason::Halt, 0x204, 3);
  }
  exec::NativeFn fa = compile(*a), fb = compile(*b);
  ASSERT_TRUE(fa && fb);
  a->link[0].store(fb);
  EXPECT_EQ(run(fa), exec::make_exit_result(ir::ExitReason::Halt, 3));
  EXPECT_EQ(cpu_->r[1], 2u);
  EXPECT_EQ(cpu_->common.pc, 0x204u);
  // Unlinking (invalidation) is seen by code that is already compiled.
  a->link[0].store(nullptr);
  cpu_->r[1] = 0;
  EXPECT_EQ(run(fa), exec::kRetNext);
  EXPECT_EQ(cpu_->common.pc, 0x200u);
  EXPECT_EQ(cpu_->r[1], 0u);
}

// One block looping to itself a million times through link[1] must not grow the stack
// (musttail); it leaves through the unlinked slot 0.
TEST_P(ExecTest, SelfLoopChainsAMillionTimes) {
  auto tb = new_tb(0x100);
  Emitter e(tb->ir);
  Value n = e.add(e.get_reg(Type::I64, reg(0)), e.c64(1));
  e.set_reg(reg(0), n);
  e.branch(e.cmp(Cond::Eq, n, e.c64(1000000)), 0x900, 0x100);
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  tb->link[1].store(fn);
  EXPECT_EQ(run(fn), exec::kRetNext);
  EXPECT_EQ(cpu_->r[0], 1000000u);
  EXPECT_EQ(cpu_->common.pc, 0x900u);
  EXPECT_EQ(cpu_->common.last_tb, tb.get());
  EXPECT_EQ(cpu_->common.last_exit_slot, 0u);
}

// Two blocks ping-ponging, with a helper call in one: tail calls across distinct functions.
TEST_P(ExecTest, TwoBlockLoopChainsAMillionTimes) {
  auto a = new_tb(0x100), b = new_tb(0x200);
  {
    Emitter e(a->ir);
    e.set_reg(reg(0), e.add(e.get_reg(Type::I64, reg(0)), e.c64(1)));
    e.call(kKick);
    e.jump(0x200);
    Emitter f(b->ir);
    Value n = f.get_reg(Type::I64, reg(0));
    f.branch(f.cmp(Cond::Ult, n, f.c64(1000000)), 0x100, 0x900);
  }
  exec::NativeFn fa = compile(*a), fb = compile(*b);
  ASSERT_TRUE(fa && fb);
  a->link[0].store(fb);
  b->link[0].store(fa);
  cpu_->r[1] = ~0ull;  // never kick
  EXPECT_EQ(run(fa), exec::kRetNext);
  EXPECT_EQ(cpu_->r[0], 1000000u);
  EXPECT_EQ(cpu_->common.pc, 0x900u);
  EXPECT_EQ(cpu_->common.last_tb, b.get());
  EXPECT_EQ(cpu_->common.last_exit_slot, 1u);
}

// exit_request raised during chained execution stops at the next block entry, with pc naming
// that block.
TEST_P(ExecTest, ExitRequestBreaksChainedLoop) {
  auto a = new_tb(0x100), b = new_tb(0x200);
  {
    Emitter e(a->ir);
    e.set_reg(reg(0), e.add(e.get_reg(Type::I64, reg(0)), e.c64(1)));
    e.call(kKick);
    e.jump(0x200);
    Emitter f(b->ir);
    f.jump(0x100);
  }
  exec::NativeFn fa = compile(*a), fb = compile(*b);
  ASSERT_TRUE(fa && fb);
  a->link[0].store(fb);
  b->link[0].store(fa);
  cpu_->r[1] = 12345;
  EXPECT_EQ(run(fa), exec::kRetExitRequest);
  EXPECT_EQ(cpu_->r[0], 12345u);
  EXPECT_EQ(cpu_->common.pc, 0x200u);  // stopped on entry to B
}

class IndirectTest : public ExecTest {
 protected:
  void SetUp() override {
    ExecTest::SetUp();
    src_ = new_tb(0x100);
    Emitter e(src_->ir);
    e.set_reg(reg(0), e.c64(5));
    e.jump_indirect(e.get_reg(Type::I64, reg(1)));
    dst_ = new_tb(kTarget);
    Emitter f(dst_->ir);
    f.set_reg(reg(2), f.c64(6));
    f.exit(ir::ExitReason::Step, kTarget + 4, 1);
    fsrc_ = compile(*src_);
    fdst_ = compile(*dst_);
    ASSERT_TRUE(fsrc_ && fdst_);
    cpu_->r[1] = kTarget;
    cpu_->common.tb_flags = 0x33;
    cpu_->common.jc_tag = jump_cache_tag(0x33, 0);  // what the dispatcher keeps current
  }
  JumpCacheEntry& slot() { return jc_[jump_cache_index(kTarget)]; }
  void fill() {
    slot().pc.store(kTarget);
    slot().flags = 0x33;
    slot().code = JumpCacheEntry::code_for(fdst_, nullptr);
    slot().tb = dst_.get();
  }
  void expect_miss() {
    cpu_->common.last_tb = src_.get();
    cpu_->r[2] = 0;
    EXPECT_EQ(run(fsrc_), exec::kRetNext);
    EXPECT_EQ(cpu_->common.pc, kTarget);
    EXPECT_EQ(cpu_->common.last_tb, nullptr);
    EXPECT_EQ(cpu_->r[0], 5u);
    EXPECT_EQ(cpu_->r[2], 0u);
  }
  static constexpr uint64_t kTarget = 0xffff000012345678ull;
  std::unique_ptr<exec::TranslationBlock> src_, dst_;
  exec::NativeFn fsrc_ = nullptr, fdst_ = nullptr;
};

TEST_P(IndirectTest, HitTailCallsCachedBlock) {
  fill();
  EXPECT_EQ(run(fsrc_), exec::make_exit_result(ir::ExitReason::Step, 1));
  EXPECT_EQ(cpu_->r[2], 6u);
  EXPECT_EQ(cpu_->common.pc, kTarget + 4);
}

// A 32-byte entry holds one code pointer: a baseline block's fast entry (bit 3 set) goes on in
// baseline code's frame, and LLVM code enters that block at its C entry, 24 bytes before.
TEST_P(IndirectTest, HitOnABaselineFastEntry) {
  std::string err;
  exec::NativeFn base = compile_baseline(*dst_, err);
  ASSERT_NE(base, nullptr) << err;
  fill();
  slot().code = JumpCacheEntry::code_for(base, baseline::fast_entry(base));
  ASSERT_TRUE(JumpCacheEntry::is_fast(slot().code));
  EXPECT_EQ(run(fsrc_), exec::make_exit_result(ir::ExitReason::Step, 1));
  EXPECT_EQ(cpu_->r[2], 6u);
  EXPECT_EQ(cpu_->common.pc, kTarget + 4);
  // A NativeFn that is not 16-byte aligned gets no code (the dispatcher runs it).
  EXPECT_EQ(JumpCacheEntry::code_for(
                reinterpret_cast<exec::NativeFn>(reinterpret_cast<uintptr_t>(base) + 8), nullptr),
            nullptr);
}

TEST_P(IndirectTest, EmptyCacheMisses) {
  expect_miss();
}

TEST_P(IndirectTest, FlagsMismatchMisses) {
  fill();
  slot().flags = 0x34;
  expect_miss();
}

// Native code compares the entry with jc_tag, which folds in the code-segment base: the same
// PC and tb_flags under another CS base is another block.
TEST_P(IndirectTest, CsBaseMismatchMisses) {
  fill();
  cpu_->common.cs_base = 0x10000;
  cpu_->common.jc_tag = jump_cache_tag(0x33, 0x10000);
  expect_miss();
  slot().flags = jump_cache_tag(0x33, 0x10000);
  EXPECT_EQ(run(fsrc_), exec::make_exit_result(ir::ExitReason::Step, 1));
}

TEST_P(IndirectTest, InvalidatedEntryMisses) {
  fill();
  slot().pc.store(JumpCacheEntry::kInvalidPc);
  expect_miss();
}

TEST_P(IndirectTest, NullNativeMisses) {
  fill();
  slot().code = nullptr;
  expect_miss();
}

TEST_P(IndirectTest, OtherPcInSameSlotMisses) {
  fill();
  // A PC with the same index but a different value.
  uint64_t other = kTarget ^ (uint64_t(1) << 40);  // far above every hashed bit
  ASSERT_NE(other, kTarget);
  ASSERT_EQ(jump_cache_index(other), jump_cache_index(kTarget));
  slot().pc.store(other);
  expect_miss();
}

// Index computation matches jump_cache_index() for many PCs: fill exactly the slot the C++
// function names and expect a hit.
TEST_P(IndirectTest, IndexMatchesJumpCacheIndex) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200; ++i) {
    uint64_t pc = i < 100 ? rng() : rng() & 0xfffffc;
    JumpCacheEntry& s = jc_[jump_cache_index(pc)];
    s.pc.store(pc);
    s.flags = 0x33;
    s.code = JumpCacheEntry::code_for(fdst_, nullptr);
    cpu_->r[1] = pc;
    cpu_->r[2] = 0;
    ASSERT_EQ(run(fsrc_), exec::make_exit_result(ir::ExitReason::Step, 1)) << std::hex << pc;
    EXPECT_EQ(cpu_->r[2], 6u);
    s.pc.store(JumpCacheEntry::kInvalidPc);
  }
}

// An indirect self-loop through the jump cache also runs in constant stack.
TEST_P(ExecTest, IndirectLoopChainsAMillionTimes) {
  auto tb = new_tb(0x100);
  Emitter e(tb->ir);
  Value n = e.add(e.get_reg(Type::I64, reg(0)), e.c64(1));
  e.set_reg(reg(0), n);
  // pc = n < 1e6 ? 0x100 : 0x900
  e.jump_indirect(e.select(e.cmp(Cond::Ult, n, e.c64(1000000)), e.c64(0x100), e.c64(0x900)));
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  JumpCacheEntry& s = jc_[jump_cache_index(0x100)];
  s.pc.store(0x100);
  s.flags = cpu_->common.jc_tag;
  s.code = JumpCacheEntry::code_for(fn, nullptr);
  EXPECT_EQ(run(fn), exec::kRetNext);
  EXPECT_EQ(cpu_->r[0], 1000000u);
  EXPECT_EQ(cpu_->common.pc, 0x900u);
}

TEST_F(ExecTestLlvm, ChainedCodeUsesMustTail) {
  auto tb = new_tb(0x100);
  Emitter e(tb->ir);
  e.jump(0x200);
  std::string err;
  std::string text = jit_->ir_text(*tb, true, &err);
  ASSERT_EQ(err, "");
  EXPECT_NE(text.find("musttail call"), std::string::npos) << text;
}

// Nop (left by optimiser passes) and InsnStart produce no code and no values.
TEST_P(ExecTest, NopAndInsnStartAreSkipped) {
  auto tb = new_tb(0x100);
  Emitter e(tb->ir);
  e.insn_start(0x100);
  Value dead = e.add(e.c64(1), e.c64(2));
  e.insn_start(0x104);
  e.set_reg(reg(0), e.c64(7));
  e.jump(0x108);
  tb->ir.insts[dead.id] = ir::Inst{};  // what DCE leaves behind
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  EXPECT_EQ(run(fn), exec::kRetNext);
  EXPECT_EQ(cpu_->r[0], 7u);
  EXPECT_EQ(cpu_->common.pc, 0x108u);
}

// Code can be freed wholesale (translation-cache flush) and compiling continues afterwards.
TEST_F(ExecTestLlvm, ReleaseAllCodeThenCompileAgain) {
  auto a = new_tb(0x100);
  Emitter(a->ir).exit(ir::ExitReason::Halt, 0x104, 1);
  ASSERT_NE(compile(*a), nullptr);
  EXPECT_EQ(jit_->release_all_code(), "");
  auto b = new_tb(0x200);
  {
    Emitter e(b->ir);
    e.set_reg(reg(0), e.call(kRecord, {e.c64(2)}));
    e.exit(ir::ExitReason::Halt, 0x204, 2);
  }
  exec::NativeFn fb = compile(*b);
  ASSERT_NE(fb, nullptr);
  EXPECT_EQ(run(fb), exec::make_exit_result(ir::ExitReason::Halt, 2));
  EXPECT_EQ(cpu_->r[0], 2u);
}

TEST_F(ExecTestLlvm, MalformedBlocksAreRejectedNotCrashed) {
  auto none = new_tb();  // no terminal
  std::string err;
  EXPECT_EQ(jit_->compile(*none, &err), nullptr);
  EXPECT_NE(err, "");

  auto bad = new_tb();
  {
    Emitter e(bad->ir);
    Value a = e.c32(1);
    Value b = e.c64(2);
    e.emit(Opcode::Add, Type::I64, {a, b});  // mismatched argument type
    e.jump(0);
  }
  EXPECT_EQ(jit_->compile(*bad, &err), nullptr);
  EXPECT_NE(err.find("wrong type"), std::string::npos) << err;

  auto fwd = new_tb();
  {
    Emitter e(fwd->ir);
    e.emit(Opcode::Not, Type::I64, {Value{5}});  // not yet defined
    e.jump(0);
  }
  EXPECT_EQ(jit_->compile(*fwd, &err), nullptr);
  EXPECT_NE(err, "");

  // A good block still compiles afterwards.
  auto ok = new_tb();
  Emitter(ok->ir).jump(0x40);
  EXPECT_NE(compile(*ok), nullptr);
  EXPECT_EQ(jit_->stats().failures, 3u);
}

INSTANTIATE_TEST_SUITE_P(Backends, ExecTest, ::testing::Values(Backend::Llvm, Backend::Baseline),
                         backend_name);
INSTANTIATE_TEST_SUITE_P(Backends, IndirectTest,
                         ::testing::Values(Backend::Llvm, Backend::Baseline), backend_name);

}  // namespace
}  // namespace orrery::tcg::llvm::test
