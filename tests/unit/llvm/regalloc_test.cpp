// The baseline tier's register allocator (tcg/baseline/regalloc.h): where values are placed,
// and that values held in host registers survive helper calls, generic operations and slow
// paths whose callees clobber every caller-saved register.
#include "tcg/baseline/regalloc.h"
#include "llvm_test_util.h"

namespace orrery::tcg::llvm::test {
namespace {

using baseline::Allocation;
using baseline::ValueHome;

// Overwrites the registers a C++ callee may clobber (the compiler's own code might not).
#define CLOBBER_CALLER_SAVED()                                            \
  asm volatile(                                                           \
      "mov $-1, %%r8\n mov $-1, %%r9\n mov $-1, %%r10\n mov $-1, %%r11\n" \
      "mov $-1, %%rsi\n mov $-1, %%rdi\n" ::                              \
          : "r8", "r9", "r10", "r11", "rsi", "rdi")

uint64_t h_add(CpuCommon*, uint64_t a, uint64_t b, uint64_t) {
  CLOBBER_CALLER_SAVED();
  return a + b;
}
constexpr ir::Helper kAdd{"add", h_add};
uint64_t h_never(CpuCommon* c, uint64_t, uint64_t, uint64_t) {
  c->pending_exit = uint32_t(PendingExit::Exception);
  return 0;
}
constexpr ir::Helper kNever{"never", h_never};

uint64_t clobbering_load(CpuCommon* c, uint64_t vaddr, uint64_t memop, uint64_t pc) {
  CLOBBER_CALLER_SAVED();
  return fake_slow_load(c, vaddr, memop, pc);
}
void clobbering_store(CpuCommon* c, uint64_t vaddr, uint64_t value, uint64_t memop, uint64_t pc) {
  CLOBBER_CALLER_SAVED();
  fake_slow_store(c, vaddr, value, memop, pc);
}
uint64_t clobbering_atomic(CpuCommon* c, uint64_t vaddr, uint64_t operand, uint64_t x,
                           uint64_t desc, uint64_t pc) {
  CLOBBER_CALLER_SAVED();
  return fake_slow_atomic(c, vaddr, operand, x, desc, pc);
}

class RegAllocTest : public LlvmTest {
 protected:
  exec::NativeFn compile_baseline(const exec::TranslationBlock& tb, bool registers = true) {
    EXPECT_EQ(ir::verify(tb.ir), "");
    baseline::Options o;
    o.slow_load = &clobbering_load;
    o.slow_store = &clobbering_store;
    o.slow_atomic = &clobbering_atomic;
    o.registers = registers;
    std::string err;
    exec::NativeFn fn = baseline::compile(tb, *code_, o, &err);
    EXPECT_NE(fn, nullptr) << err << "\n" << ir::print(tb.ir);
    return fn;
  }
};

TEST(RegAlloc, PlacesShortRangesInCallerSavedAndCallCrossingOnesInCalleeSaved) {
  ir::Block b;
  Emitter e(b);
  Value a = e.get_reg(Type::I64, reg(0));  // read after the call
  Value x = e.get_reg(Type::I64, reg(1));  // read before it only
  Value s = e.call(kAdd, {x, x});          // its result: no call after
  e.set_reg(reg(2), e.add(a, s));
  e.jump(0x2000);
  std::vector<ValueHome> homes;
  Allocation out;
  baseline::allocate(b, homes, out);
  EXPECT_TRUE(homes[a.id].in_reg());
  EXPECT_FALSE(baseline::is_caller_pool(homes[a.id].reg));
  EXPECT_TRUE(baseline::is_caller_pool(homes[x.id].reg));
  EXPECT_TRUE(baseline::is_caller_pool(homes[s.id].reg));
  EXPECT_EQ(out.callee.size(), 1u);
  EXPECT_EQ(out.slots, 0);
  baseline::allocate(b, homes, out, /*registers=*/false);
  EXPECT_FALSE(homes[a.id].in_reg());
  EXPECT_TRUE(out.callee.empty());
}

TEST(RegAlloc, SpillsToSlotsWhenThePoolIsExhaustedAndReusesFreedRegisters) {
  ir::Block b;
  Emitter e(b);
  std::vector<Value> v;
  for (unsigned k = 0; k < 10; ++k) v.push_back(e.get_reg(Type::I64, reg(k)));
  Value sum = v[0];
  for (unsigned k = 1; k < 10; ++k) sum = e.add(sum, v[k]);
  e.set_reg(reg(20), sum);
  e.jump(0x2000);
  std::vector<ValueHome> homes;
  Allocation out;
  baseline::allocate(b, homes, out);
  unsigned in_regs = 0;
  for (Value x : v) in_regs += homes[x.id].in_reg();
  EXPECT_EQ(in_regs, 8u);  // 10 values live at once, 8 registers
  EXPECT_GE(out.slots, 2);
  EXPECT_TRUE(homes[sum.id].in_reg());  // the sums reuse the operands' freed registers
}

// Twelve values stay live across a helper call, a generic operation and load, store, atomic
// and trap slow paths, each clobbering every caller-saved register; the result must match the
// slot-only code and the arithmetic.
TEST_F(RegAllocTest, ValuesSurviveCallsGenericOpsAndSlowPaths) {
  for (bool registers : {true, false}) {
    SCOPED_TRACE(registers);
    auto tb = new_tb();
    Emitter e(tb->ir);
    e.insn_start(0x1000);
    std::vector<Value> v;
    for (unsigned k = 0; k < 12; ++k) v.push_back(e.get_reg(Type::I64, reg(k)));
    Value c = e.call(kAdd, {v[0], v[1]});
    Value g = e.divu(v[2], e.add(v[3], e.c64(1)));  // generic evaluation: a call
    Value ld = e.load(Type::I64, e.c64(0x70000000), MemOp{3, false, 0});  // a miss
    e.store(e.c64(kNotDirtyBase + 8), v[4], MemOp{3, false, 0});          // a miss
    Value at = e.atomic_rmw(ir::AtomicOp::Add, e.c64(0x70000100), v[5], MemOp{3, false, 0});
    e.trap_if(e.cmp(Cond::Eq, v[6], e.c64(12345)), kNever, 0);  // no trap
    Value hit = e.load(Type::I64, e.c64(kRamBase + 16), MemOp{3, false, 0});
    Value sum = e.add(c, e.add(g, e.add(ld, e.add(at, hit))));
    for (unsigned k = 0; k < 12; ++k) sum = e.add(e.mul(sum, e.c64(3)), v[k]);
    e.set_reg(reg(100), sum);
    e.set_reg(reg(101), e.select(e.cmp(Cond::Ult, v[7], v[8]), v[9], v[10]));
    e.jump(0x2000);
    exec::NativeFn fn = compile_baseline(*tb, registers);
    ASSERT_NE(fn, nullptr);
    uint64_t r[12];
    for (unsigned k = 0; k < 12; ++k) cpu_->r[k] = r[k] = 0x1111111111111111ull * (k + 1) + k;
    const uint64_t hit_value = 0x123456789abcdefull;
    std::memcpy(&ram_[16], &hit_value, 8);
    slow_.calls.clear();
    EXPECT_EQ(run(fn), exec::kRetNext);
    uint64_t want = (r[0] + r[1]) + r[2] / (r[3] + 1) + fake_mmio_value(0x70000000, 8) +
                    fake_mmio_value(0x70000100, 8) + hit_value;
    for (unsigned k = 0; k < 12; ++k) want = want * 3 + r[k];
    EXPECT_EQ(cpu_->r[100], want);
    EXPECT_EQ(cpu_->r[101], r[7] < r[8] ? r[9] : r[10]);
    ASSERT_EQ(slow_.calls.size(), 3u);
    EXPECT_EQ(slow_.calls[1].value, r[4]);
    EXPECT_EQ(slow_.calls[2].value, r[5]);
  }
}

// A value in a register feeding the TLB-miss store path (and read again afterwards).
TEST_F(RegAllocTest, StoreMissReadsItsValueFromARegister) {
  auto tb = new_tb();
  Emitter e(tb->ir);
  Value x = e.get_reg(Type::I64, reg(0));
  Value y = e.add(x, e.c64(5));
  e.store(e.c64(kRomBase), y, MemOp{3, false, 0});  // read-only: the write misses
  e.set_reg(reg(1), e.add(y, x));
  e.jump(0x2000);
  exec::NativeFn fn = compile_baseline(*tb);
  ASSERT_NE(fn, nullptr);
  cpu_->r[0] = 40;
  EXPECT_EQ(run(fn), exec::kRetNext);
  ASSERT_EQ(slow_.calls.size(), 1u);
  EXPECT_EQ(slow_.calls[0].value, 45u);
  EXPECT_EQ(cpu_->r[1], 85u);
}

}  // namespace
}  // namespace orrery::tcg::llvm::test
