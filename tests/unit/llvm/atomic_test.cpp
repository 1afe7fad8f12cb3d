// AtomicRmw and AtomicCmpxchg in the native tiers (LLVM and baseline): every op and size on the
// inline TLB hit, the slow path on a miss (operands, descriptor, instruction PC, faults), and
// atomicity between two threads running the same code.
#include <thread>

#include "llvm_test_util.h"
#include "tcg/softmmu/softmmu.h"
#include "tests/unit/atomic_oracle.h"

namespace orrery::tcg::llvm::test {
namespace {

using ir::AtomicOp;
using tcg::test::atomic_apply;

class AtomicTest : public BothBackends {};

uint64_t mask_bits(unsigned bits) {
  return bits >= 64 ? ~0ull : (1ull << bits) - 1;
}

TEST_P(AtomicTest, RmwEveryOpAndSizeOnATlbHit) {
  const Type types[] = {Type::I8, Type::I16, Type::I32, Type::I64};
  for (unsigned op = 0; op < ir::kNumAtomicOps; ++op) {
    for (unsigned s = 0; s < 4; ++s) {
      const unsigned size = 1u << s, bits = size * 8;
      const uint64_t addr = kRamBase + 64 + 8 * s;
      const uint64_t old = 0xf0e1d2c3b4a59687ull & mask_bits(bits);
      const uint64_t v = 0x8badf00d12345679ull & mask_bits(bits);
      auto tb = new_tb();
      Emitter e(tb->ir);
      e.insn_start(0x1000);
      Value r = e.atomic_rmw(AtomicOp(op), e.c64(addr),
                             e.trunc(types[s], e.get_reg(Type::I64, reg(1))), MemOp{});
      e.set_reg(reg(0), e.zext(Type::I64, r));
      e.jump(0x2000);
      exec::NativeFn fn = compile(*tb);
      ASSERT_NE(fn, nullptr);
      std::memcpy(&ram_[64 + 8 * s], &old, size);
      cpu_->r[1] = v | ~mask_bits(bits);  // high garbage the Trunc drops
      cpu_->r[0] = 0x5555;
      ASSERT_EQ(run(fn), exec::kRetNext);
      EXPECT_EQ(cpu_->r[0], old) << ir::atomic_op_name(AtomicOp(op)) << bits;
      uint64_t now = 0;
      std::memcpy(&now, &ram_[64 + 8 * s], size);
      EXPECT_EQ(now, atomic_apply(AtomicOp(op), old, v) & mask_bits(bits))
          << ir::atomic_op_name(AtomicOp(op)) << bits;
      EXPECT_TRUE(slow_.calls.empty());
    }
  }
}

TEST_P(AtomicTest, CmpxchgEverySizeSucceedsAndFails) {
  const Type types[] = {Type::I8, Type::I16, Type::I32, Type::I64};
  for (unsigned s = 0; s < 4; ++s) {
    const unsigned size = 1u << s, bits = size * 8;
    const uint64_t addr = kRamBase + 128 + 8 * s;
    auto tb = new_tb();
    Emitter e(tb->ir);
    e.insn_start(0x1000);
    Value r = e.atomic_cmpxchg(e.c64(addr), e.trunc(types[s], e.get_reg(Type::I64, reg(1))),
                               e.trunc(types[s], e.get_reg(Type::I64, reg(2))), MemOp{});
    e.set_reg(reg(0), e.zext(Type::I64, r));
    e.jump(0x2000);
    exec::NativeFn fn = compile(*tb);
    ASSERT_NE(fn, nullptr);
    const uint64_t old = 0x8877665544332211ull & mask_bits(bits);
    const uint64_t give = 0x0123456789abcdefull & mask_bits(bits);
    for (bool match : {false, true}) {
      std::memcpy(&ram_[128 + 8 * s], &old, size);
      cpu_->r[1] = match ? old : old ^ 1;
      cpu_->r[2] = give;
      ASSERT_EQ(run(fn), exec::kRetNext);
      EXPECT_EQ(cpu_->r[0], old) << bits << (match ? " match" : " mismatch");
      uint64_t now = 0;
      std::memcpy(&now, &ram_[128 + 8 * s], size);
      EXPECT_EQ(now, match ? give : old) << bits;
    }
  }
}

TEST_P(AtomicTest, MissesReachTheSlowPathWithOperandsAndInsnPc) {
  auto tb = new_tb(0x7000);
  Emitter e(tb->ir);
  e.insn_start(0x7000);
  e.set_reg(reg(0), e.atomic_rmw(AtomicOp::Or, e.c64(kNotDirtyBase + 8), e.c64(0x30), MemOp{3}));
  e.insn_start(0x7004);
  Value r = e.atomic_cmpxchg(e.c64(kRamBase + 6), e.c32(7), e.c32(9), MemOp{});  // misaligned
  e.set_reg(reg(1), e.zext(Type::I64, r));
  e.insn_start(0x7008);
  e.set_reg(reg(2), e.atomic_rmw(AtomicOp::Add, e.c64(kRomBase), e.c64(1), MemOp{3}));
  e.jump(0x2000);
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  ASSERT_EQ(run(fn), exec::kRetNext);
  ASSERT_EQ(slow_.calls.size(), 3u);
  EXPECT_EQ(slow_.calls[0].vaddr, kNotDirtyBase + 8);
  EXPECT_EQ(slow_.calls[0].value, 0x30u);
  EXPECT_EQ(slow_.calls[0].memop, softmmu::atomic_desc(MemOp{3}.encode(), unsigned(AtomicOp::Or)));
  EXPECT_EQ(slow_.calls[0].insn_pc, 0x7000u);
  EXPECT_EQ(cpu_->r[0], fake_mmio_value(kNotDirtyBase + 8, 8));
  EXPECT_EQ(slow_.calls[1].vaddr, kRamBase + 6);
  EXPECT_EQ(slow_.calls[1].value, 9u);  // the new value; the expected one is the 4th argument
  MemOp m32{2};
  EXPECT_EQ(slow_.calls[1].memop, softmmu::atomic_desc(m32.encode(), softmmu::kAtomicCmpxchg));
  EXPECT_EQ(slow_.calls[1].insn_pc, 0x7004u);
  EXPECT_EQ(cpu_->r[1], fake_mmio_value(kRamBase + 6, 4));
  EXPECT_EQ(slow_.calls[2].vaddr, kRomBase);  // read-only: writes miss
  EXPECT_EQ(slow_.calls[2].insn_pc, 0x7008u);
}

TEST_P(AtomicTest, FaultLeavesTheBlockBeforeLaterEffects) {
  auto tb = new_tb(0x7000);
  Emitter e(tb->ir);
  e.insn_start(0x7000);
  e.set_reg(reg(0), e.atomic_rmw(AtomicOp::Xchg, e.c64(kRomBase), e.c64(1), MemOp{3}));
  e.insn_start(0x7004);
  e.set_reg(reg(1), e.c64(42));
  e.jump(0x2000);
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  slow_.fault_vaddr = kRomBase;
  cpu_->r[1] = 0;
  EXPECT_EQ(run(fn), exec::kRetPending);
  EXPECT_EQ(cpu_->common.pc, 0x7000u);
  EXPECT_EQ(cpu_->r[1], 0u);
}

// Two threads add to one counter (AtomicRmw) and increment another with a compare-exchange
// loop (AtomicCmpxchg): both totals add up only if the host operations are atomic.
TEST_P(AtomicTest, TwoThreadsCountsAddUp) {
  auto tb = new_tb(0x3000);
  Emitter e(tb->ir);
  e.insn_start(0x3000);
  e.atomic_rmw(AtomicOp::Add, e.c64(kRamBase + 256), e.c32(1), MemOp{2});
  // r0 = cmpxchg(counter2, r0, r0 + 1): r0 tracks the last value seen.
  Value seen = e.get_reg(Type::I64, reg(0));
  Value old = e.atomic_cmpxchg(e.c64(kRamBase + 264), seen, e.add(seen, e.c64(1)), MemOp{3});
  e.set_reg(reg(0), old);
  e.set_reg(reg(1),
            e.add(e.get_reg(Type::I64, reg(1)), e.zext(Type::I64, e.cmp(Cond::Eq, old, seen))));
  e.jump(0x3004);  // not its own PC, which the LLVM tier compiles as a loop
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  constexpr unsigned kIters = 200000;
  std::unique_ptr<TestCpu> cpus[2];
  for (auto& c : cpus) {
    c = std::make_unique<TestCpu>();
    c->common.tlb = cpu_->common.tlb;
    c->common.jump_cache = cpu_->common.jump_cache;
    c->slow = &slow_;
  }
  auto worker = [&](TestCpu* c) {
    for (unsigned i = 0; i < kIters; ++i) fn(&c->common);
  };
  std::thread t0(worker, cpus[0].get()), t1(worker, cpus[1].get());
  t0.join();
  t1.join();
  uint32_t adds = 0;
  uint64_t cas = 0;
  std::memcpy(&adds, &ram_[256], 4);
  std::memcpy(&cas, &ram_[264], 8);
  EXPECT_EQ(adds, 2 * kIters);
  // Every successful compare-exchange incremented by one, and no increment was lost.
  EXPECT_EQ(cas, cpus[0]->r[1] + cpus[1]->r[1]);
  EXPECT_GT(cas, 0u);
  EXPECT_TRUE(slow_.calls.empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, AtomicTest, ::testing::Values(Backend::Llvm, Backend::Baseline),
                         backend_name);

}  // namespace
}  // namespace orrery::tcg::llvm::test
