// Region compilation: several blocks in one function, jumps between them as branches and guest
// registers promoted to SSA. State must be exact wherever it can be observed: at exits, at
// exit_request stops, at faults and around helper calls.
#include "llvm_test_util.h"

namespace orrery::tcg::llvm::test {
namespace {

class RegionTest : public LlvmTest {
 protected:
  // A: r0 += 1; r2 = r2 + r0 (sum); jump B.  B: if r0 < r1 goto A else exit 0x900.
  void build_loop(exec::TranslationBlock& a, exec::TranslationBlock& b) {
    Emitter e(a.ir);
    e.insn_start(0x100);
    Value n = e.add(e.get_reg(Type::I64, reg(0)), e.c64(1));
    e.set_reg(reg(0), n);
    e.set_reg(reg(2), e.add(e.get_reg(Type::I64, reg(2)), n));
    e.jump(0x200);
    Emitter f(b.ir);
    f.insn_start(0x200);
    f.branch(f.cmp(Cond::Ult, f.get_reg(Type::I64, reg(0)), f.get_reg(Type::I64, reg(1))), 0x100,
             0x900);
  }
};

uint64_t h_kick_at(CpuCommon* c, uint64_t, uint64_t, uint64_t) {
  auto* cpu = reinterpret_cast<TestCpu*>(c);
  if (cpu->r[0] == 777) c->exit_request.store(1);
  return 0;
}
uint64_t h_double_r3(CpuCommon* c, uint64_t, uint64_t, uint64_t) {
  auto* cpu = reinterpret_cast<TestCpu*>(c);
  cpu->r[3] = cpu->r[3] * 2 + cpu->r[0];  // reads the loop counter: it must be in memory
  return 0;
}
constexpr ir::Helper kKickAt{"kick_at", h_kick_at};
constexpr ir::Helper kDouble{"double_r3", h_double_r3};

TEST_F(RegionTest, LoopRunsInsideOneFunction) {
  auto a = new_tb(0x100), b = new_tb(0x200);
  build_loop(*a, *b);
  a->region = {a.get(), b.get()};
  exec::NativeFn fa = compile(*a);
  ASSERT_TRUE(fa);
  cpu_->r[1] = 100000;
  EXPECT_EQ(run(fa), exec::kRetNext);
  EXPECT_EQ(cpu_->r[0], 100000u);
  EXPECT_EQ(cpu_->r[2], 100000ull * 100001 / 2);
  EXPECT_EQ(cpu_->common.pc, 0x900u);
  EXPECT_EQ(cpu_->common.last_tb, b.get());  // the exit names the member it left from
  EXPECT_EQ(cpu_->common.last_exit_slot, 1u);
}

TEST_F(RegionTest, ExitRequestInsideLoopLeavesExactState) {
  auto a = new_tb(0x100), b = new_tb(0x200);
  build_loop(*a, *b);
  b->ir.insts.clear();
  {
    Emitter f(b->ir);
    f.insn_start(0x200);
    f.call(kKickAt);
    f.branch(f.cmp(Cond::Ult, f.get_reg(Type::I64, reg(0)), f.get_reg(Type::I64, reg(1))), 0x100,
             0x900);
  }
  a->region = {a.get(), b.get()};
  exec::NativeFn fa = compile(*a);
  ASSERT_TRUE(fa);
  cpu_->r[1] = 100000;
  EXPECT_EQ(run(fa), exec::kRetExitRequest);
  EXPECT_EQ(cpu_->r[0], 777u);
  EXPECT_EQ(cpu_->r[2], 777ull * 778 / 2);
  EXPECT_EQ(cpu_->common.pc, 0x100u);  // stopped on entry to A, inside the region
}

TEST_F(RegionTest, ExitRequestStopsALoopThatDoesNotContainTheHead) {
  // A: r2 = 5; jump B.  B: r0 += 1; jump C.  C: kick at r0 == 777; r0 < r1 ? B : exit. Only the
  // head and B (the back edge's target) check exit_request; the loop B-C still stops, at B.
  auto a = new_tb(0x100), b = new_tb(0x200), c = new_tb(0x300);
  {
    Emitter e(a->ir);
    e.insn_start(0x100);
    e.set_reg(reg(2), e.c64(5));
    e.jump(0x200);
    Emitter f(b->ir);
    f.insn_start(0x200);
    f.set_reg(reg(0), f.add(f.get_reg(Type::I64, reg(0)), f.c64(1)));
    f.jump(0x300);
    Emitter g(c->ir);
    g.insn_start(0x300);
    g.call(kKickAt);
    g.set_reg(reg(2), g.add(g.get_reg(Type::I64, reg(2)), g.c64(1)));
    g.branch(g.cmp(Cond::Ult, g.get_reg(Type::I64, reg(0)), g.get_reg(Type::I64, reg(1))), 0x200,
             0x900);
  }
  a->region = {a.get(), b.get(), c.get()};
  exec::NativeFn fa = compile(*a);
  ASSERT_TRUE(fa);
  cpu_->r[1] = 100000;
  EXPECT_EQ(run(fa), exec::kRetExitRequest);
  EXPECT_EQ(cpu_->r[0], 777u);
  EXPECT_EQ(cpu_->r[2], 5u + 777);
  EXPECT_EQ(cpu_->common.pc, 0x200u);
}

TEST_F(RegionTest, FaultInsideLoopLeavesExactState) {
  auto a = new_tb(0x100), b = new_tb(0x200);
  {
    Emitter e(a->ir);
    e.insn_start(0x100);
    Value n = e.add(e.get_reg(Type::I64, reg(0)), e.c64(1));
    e.set_reg(reg(0), n);
    e.insn_start(0x104);
    // Load from kRamBase + r0*8, with the fault address at the 50th element.
    Value addr = e.add(e.c64(0x70000000), e.shl(n, e.c64(3)));
    e.set_reg(reg(2), e.add(e.get_reg(Type::I64, reg(2)), e.load(Type::I64, addr, MemOp{3})));
    e.jump(0x200);
    Emitter f(b->ir);
    f.insn_start(0x200);
    f.branch(f.cmp(Cond::Ult, f.get_reg(Type::I64, reg(0)), f.c64(1000)), 0x100, 0x900);
  }
  a->region = {a.get(), b.get()};
  slow_.fault_vaddr = 0x70000000 + 50 * 8;
  exec::NativeFn fa = compile(*a);
  ASSERT_TRUE(fa);
  EXPECT_EQ(run(fa), exec::kRetPending);
  EXPECT_EQ(cpu_->r[0], 50u);          // the increment before the faulting load landed
  EXPECT_EQ(cpu_->common.pc, 0x104u);  // the faulting instruction
  uint64_t sum = 0;
  for (uint64_t i = 1; i < 50; ++i) sum += fake_mmio_value(0x70000000 + i * 8, 8);
  EXPECT_EQ(cpu_->r[2], sum);
}

TEST_F(RegionTest, FlagsWrittenButNeverReadAreExactAtFaultsAndExits) {
  // Flags a block sets and never reads back stay out of the promoted set (stored where they are
  // written); the one B reads stays promoted. A fault must see each as of its instruction.
  auto a = new_tb(0x100), b = new_tb(0x200);
  {
    Emitter e(a->ir);
    e.insn_start(0x100);
    Value n = e.add(e.get_reg(Type::I64, reg(0)), e.c64(1));
    e.set_reg(reg(0), n);
    Value even = e.cmp(Cond::Eq, e.and_(n, e.c64(1)), e.c64(0));
    e.set_reg(reg(4), even);  // written before the load
    e.insn_start(0x104);
    Value addr = e.add(e.c64(0x70000000), e.shl(n, e.c64(3)));
    Value v = e.load(Type::I64, addr, MemOp{3});
    e.set_reg(reg(2), e.add(e.get_reg(Type::I64, reg(2)), v));
    e.set_reg(reg(5), e.cmp(Cond::Slt, v, e.c64(0)));  // written after it
    e.set_reg(reg(6), e.not_(even));                   // read by B
    e.jump(0x200);
    Emitter f(b->ir);
    f.insn_start(0x200);
    Value odd = f.get_reg(Type::I1, reg(6));
    f.set_reg(reg(3), f.add(f.get_reg(Type::I64, reg(3)), f.zext(Type::I64, odd)));
    f.branch(f.cmp(Cond::Ult, f.get_reg(Type::I64, reg(0)), f.get_reg(Type::I64, reg(1))), 0x100,
             0x900);
  }
  a->region = {a.get(), b.get()};
  exec::NativeFn fa = compile(*a);
  ASSERT_TRUE(fa);
  auto start = [&] {
    cpu_->r[0] = cpu_->r[2] = cpu_->r[3] = 0;
    cpu_->common.pending_exit = 0;
    cpu_->r[4] = cpu_->r[5] = cpu_->r[6] = 0xdededededededede;  // I1 is one byte: the rest stays
  };
  auto flag_of = [](uint64_t v) { return int64_t(v) < 0 ? 1u : 0u; };

  start();
  cpu_->r[1] = 1000;
  slow_.fault_vaddr = 0x70000000 + 51 * 8;
  EXPECT_EQ(run(fa), exec::kRetPending);
  EXPECT_EQ(cpu_->r[0], 51u);
  EXPECT_EQ(cpu_->common.pc, 0x104u);
  EXPECT_EQ(cpu_->r[4], 0xdedededededede00u);  // n = 51: odd, set before the fault
  EXPECT_EQ(cpu_->r[5], 0xdedededededede00u | flag_of(fake_mmio_value(0x70000000 + 50 * 8, 8)));
  EXPECT_EQ(cpu_->r[6], 0xdedededededede00u);  // n = 50: not odd
  EXPECT_EQ(cpu_->r[3], 25u);                  // odd n among 1..50

  start();
  cpu_->r[1] = 10;
  slow_.fault_vaddr = ~0ull;
  EXPECT_EQ(run(fa), exec::kRetNext);
  EXPECT_EQ(cpu_->common.pc, 0x900u);
  EXPECT_EQ(cpu_->r[4], 0xdedededededede01u);  // n = 10
  EXPECT_EQ(cpu_->r[5], 0xdedededededede00u | flag_of(fake_mmio_value(0x70000000 + 10 * 8, 8)));
  EXPECT_EQ(cpu_->r[6], 0xdedededededede00u);
  EXPECT_EQ(cpu_->r[3], 5u);
}

uint64_t h_copy_flag(CpuCommon* c, uint64_t, uint64_t, uint64_t) {
  auto* cpu = reinterpret_cast<TestCpu*>(c);
  cpu->r[7] = cpu->r[7] * 2 + (cpu->r[4] & 1);  // the flag as the helper finds it in memory
  return 0;
}
constexpr ir::Helper kCopyFlag{"copy_flag", h_copy_flag};

TEST_F(RegionTest, AFlagRewrittenInOneBlockIsExactAtFaultsHelpersAndExits) {
  // One block loops on itself and writes the flag r4 three times an iteration (as SUBS ... ADDS
  // do NZCV): only the last write is stored on the main path, the others reach memory only on
  // the paths that can observe them (a fault's slow path, a helper).
  auto a = new_tb(0x100);
  {
    Emitter e(a->ir);
    e.insn_start(0x100);
    Value n = e.add(e.get_reg(Type::I64, reg(0)), e.c64(1));
    e.set_reg(reg(0), n);
    e.set_reg(reg(4), e.cmp(Cond::Ne, e.and_(n, e.c64(1)), e.c64(0)));  // odd
    e.insn_start(0x104);
    Value v = e.load(Type::I64, e.add(e.c64(0x70000000), e.shl(n, e.c64(3))), MemOp{3});
    e.set_reg(reg(2), e.add(e.get_reg(Type::I64, reg(2)), v));
    e.set_reg(reg(4), e.cmp(Cond::Slt, v, e.c64(0)));  // the load's sign
    e.insn_start(0x108);
    e.call(kCopyFlag);
    e.set_reg(reg(4), e.cmp(Cond::Eq, e.and_(n, e.c64(3)), e.c64(0)));  // a multiple of 4
    e.branch(e.cmp(Cond::Ult, n, e.get_reg(Type::I64, reg(1))), 0x100, 0x900);
  }
  a->region = {a.get()};
  exec::NativeFn fa = compile(*a);
  ASSERT_TRUE(fa);
  auto sign = [](uint64_t vaddr) { return uint64_t(int64_t(fake_mmio_value(vaddr, 8)) < 0); };
  auto start = [&](uint64_t iterations, uint64_t fault) {
    cpu_->r[0] = cpu_->r[2] = cpu_->r[7] = 0;
    cpu_->r[1] = iterations;
    cpu_->r[4] = 0xdededededededede;
    cpu_->common.pending_exit = 0;
    slow_.fault_vaddr = fault;
  };
  auto copies = [&](uint64_t upto) {  // what the helper saw, one bit an iteration
    uint64_t bits = 0;
    for (uint64_t i = 1; i <= upto; ++i) bits = bits * 2 + sign(0x70000000 + i * 8);
    return bits;
  };

  start(1000, 0x70000000 + 43 * 8);
  EXPECT_EQ(run(fa), exec::kRetPending);
  EXPECT_EQ(cpu_->common.pc, 0x104u);
  EXPECT_EQ(cpu_->r[0], 43u);
  EXPECT_EQ(cpu_->r[4], 0xdedededededede01u);  // 43 is odd: the write before the fault
  EXPECT_EQ(cpu_->r[7], copies(42));

  start(1000, 0x70000000 + 44 * 8);
  EXPECT_EQ(run(fa), exec::kRetPending);
  EXPECT_EQ(cpu_->r[4], 0xdedededededede00u);  // 44 is even

  start(20, ~0ull);
  EXPECT_EQ(run(fa), exec::kRetNext);
  EXPECT_EQ(cpu_->common.pc, 0x900u);
  EXPECT_EQ(cpu_->r[4], 0xdedededededede01u);  // the last write: 20 is a multiple of 4
  EXPECT_EQ(cpu_->r[7], copies(20));
}

TEST_F(RegionTest, AFlagRewrittenWithNothingBetweenIsStoredOnce) {
  auto a = new_tb(0x100);
  Emitter e(a->ir);
  e.insn_start(0x100);
  Value n = e.add(e.get_reg(Type::I64, reg(0)), e.c64(1));
  e.set_reg(reg(4), e.cmp(Cond::Eq, n, e.c64(7)));
  e.set_reg(reg(4), e.cmp(Cond::Eq, n, e.c64(9)));
  e.jump(0x900);
  a->region = {a.get()};
  std::string err;
  // As lowered, before LLVM's passes: the first value never reaches memory.
  const std::string text = jit_->ir_text(*a, /*optimized=*/false, &err);
  ASSERT_EQ(err, "");
  size_t stores = 0;
  for (size_t at = text.find("store i8"); at != std::string::npos;
       at = text.find("store i8", at + 1))
    ++stores;
  EXPECT_EQ(stores, 1u) << text;
  exec::NativeFn fa = compile(*a);
  ASSERT_TRUE(fa);
  cpu_->r[0] = 8;
  cpu_->r[4] = 0;
  EXPECT_EQ(run(fa), exec::kRetNext);
  EXPECT_EQ(cpu_->r[4], 1u);
}

TEST_F(RegionTest, HelperSeesAndChangesPromotedRegisters) {
  auto a = new_tb(0x100), b = new_tb(0x200);
  {
    Emitter e(a->ir);
    e.insn_start(0x100);
    e.set_reg(reg(0), e.add(e.get_reg(Type::I64, reg(0)), e.c64(1)));
    e.set_reg(reg(3), e.add(e.get_reg(Type::I64, reg(3)), e.c64(1)));
    e.call(kDouble);
    e.set_reg(reg(3), e.sub(e.get_reg(Type::I64, reg(3)), e.c64(1)));
    e.jump(0x200);
    Emitter f(b->ir);
    f.insn_start(0x200);
    f.branch(f.cmp(Cond::Ult, f.get_reg(Type::I64, reg(0)), f.c64(10)), 0x100, 0x900);
  }
  a->region = {a.get(), b.get()};
  exec::NativeFn fa = compile(*a);
  ASSERT_TRUE(fa);
  uint64_t r3 = 0;
  for (uint64_t i = 1; i <= 10; ++i) r3 = (r3 + 1) * 2 + i - 1;
  EXPECT_EQ(run(fa), exec::kRetNext);
  EXPECT_EQ(cpu_->r[3], r3);
}

TEST_F(RegionTest, PartialRegisterAccessesStayInMemory) {
  // x86-style: a byte write into a register also read as 64 bits must not be promoted apart.
  auto a = new_tb(0x100), b = new_tb(0x200);
  {
    Emitter e(a->ir);
    e.insn_start(0x100);
    e.set_reg(reg(0), e.add(e.get_reg(Type::I64, reg(0)), e.c64(0x101)));
    e.jump(0x200);
    Emitter f(b->ir);
    f.insn_start(0x200);
    f.set_reg(reg(0), f.konst(Type::I8, 0));  // clears the low byte
    f.branch(f.cmp(Cond::Ult, f.get_reg(Type::I64, reg(0)), f.c64(0x1000)), 0x100, 0x900);
  }
  a->region = {a.get(), b.get()};
  exec::NativeFn fa = compile(*a);
  ASSERT_TRUE(fa);
  EXPECT_EQ(run(fa), exec::kRetNext);
  EXPECT_EQ(cpu_->r[0], 0x1000u);
}

}  // namespace
}  // namespace orrery::tcg::llvm::test
