// The baseline tier's register allocator (tcg/baseline/regalloc.h): where values are placed,
// and that values held in host registers survive helper calls, generic operations and slow
// paths whose callees clobber every caller-saved register.
#include "tcg/baseline/regalloc.h"

#include <functional>

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
  exec::NativeFn compile_baseline(exec::TranslationBlock& tb, bool registers = true) {
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

TEST(RegAlloc, AResultTakesTheRegisterOfAnOperandReadForTheLastTime) {
  ir::Block b;
  Emitter e(b);
  Value x = e.get_reg(Type::I64, reg(0));  // r8, read again below
  Value y = e.get_reg(Type::I64, reg(1));  // r9, last read by the Sub
  Value d = e.sub(x, y);
  e.set_reg(reg(2), d);
  e.set_reg(reg(3), x);
  e.jump(0x2000);
  std::vector<ValueHome> homes;
  Allocation out;
  baseline::allocate(b, homes, out);
  EXPECT_EQ(homes[x.id].reg, baseline::R8);
  EXPECT_EQ(homes[y.id].reg, baseline::R9);
  EXPECT_EQ(homes[d.id].reg, baseline::R9);
}

// Each case makes the result's register the one of an operand read for the last time by the
// operation (the allocator's first fit: x lives on in r8, the aliased operand dies in r9), in
// the positions where a two-operand form would overwrite it before reading it.
TEST_F(RegAllocTest, ResultsAliasingAnOperandRegister) {
  struct Case {
    const char* name;
    Type t;
    std::function<Value(Emitter&, Value x, Value y)> op;
    std::function<uint64_t(uint64_t x, uint64_t y)> want;
  };
  const Case cases[] = {
      {"sub", Type::I64, [](Emitter& e, Value x, Value y) { return e.sub(x, y); },
       [](uint64_t x, uint64_t y) { return x - y; }},
      {"sub32", Type::I32, [](Emitter& e, Value x, Value y) { return e.sub(x, y); },
       [](uint64_t x, uint64_t y) { return uint64_t(uint32_t(x - y)); }},
      {"sub8", Type::I8, [](Emitter& e, Value x, Value y) { return e.sub(x, y); },
       [](uint64_t x, uint64_t y) { return uint64_t(uint8_t(x - y)); }},
      {"and", Type::I64, [](Emitter& e, Value x, Value y) { return e.and_(x, y); },
       [](uint64_t x, uint64_t y) { return x & y; }},
      {"mul", Type::I64, [](Emitter& e, Value x, Value y) { return e.mul(x, y); },
       [](uint64_t x, uint64_t y) { return x * y; }},
      {"shl by y", Type::I64, [](Emitter& e, Value x, Value y) { return e.shl(x, y); },
       [](uint64_t x, uint64_t y) { return x << (y & 63); }},
      {"sar32 by y", Type::I32, [](Emitter& e, Value x, Value y) { return e.ashr(x, y); },
       [](uint64_t x, uint64_t y) { return uint64_t(uint32_t(int32_t(x) >> (y & 31))); }},
      {"divu", Type::I64,
       [](Emitter& e, Value x, Value y) { return e.divu(x, e.or_(y, e.c64(1))); },
       [](uint64_t x, uint64_t y) { return x / (y | 1); }},
      {"deposit y", Type::I64, [](Emitter& e, Value x, Value y) { return e.deposit(x, y, 8, 12); },
       [](uint64_t x, uint64_t y) { return (x & ~0xfff00ull) | ((y & 0xfff) << 8); }},
      {"select y (flags)", Type::I64,
       [](Emitter& e, Value x, Value y) {
         return e.select(e.cmp(Cond::Ult, x, e.c64(0x5000000000000000ull)), x, y);
       },
       [](uint64_t x, uint64_t y) { return x < 0x5000000000000000ull ? x : y; }},
      {"select y (test)", Type::I64,
       [](Emitter& e, Value x, Value y) {
         Value c = e.cmp(Cond::Ult, x, e.c64(0x5000000000000000ull));
         e.set_reg(reg(9), c);  // between the Cmp and the Select: no flags to reuse
         return e.select(c, x, y);
       },
       [](uint64_t x, uint64_t y) { return x < 0x5000000000000000ull ? x : y; }},
      {"select x", Type::I64,
       [](Emitter& e, Value x, Value y) { return e.select(e.cmp(Cond::Ne, y, e.c64(0)), y, x); },
       [](uint64_t x, uint64_t y) { return y != 0 ? y : x; }},
  };
  const std::pair<uint64_t, uint64_t> inputs[] = {{0x123456789abcdef0ull, 0x0fedcba987654321ull},
                                                  {0x7000000000000005ull, 3},
                                                  {5, 0x8000000000000041ull}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto tb = new_tb();
    Emitter e(tb->ir);
    e.insn_start(0x1000);
    Value x = e.get_reg(c.t, reg(0));
    Value y = e.get_reg(c.t, reg(1));
    e.set_reg(reg(2), c.op(e, x, y));
    e.set_reg(reg(3), x);  // x outlives the operation
    e.jump(0x2000);
    exec::NativeFn fn = compile_baseline(*tb);
    ASSERT_NE(fn, nullptr);
    for (auto [x0, y0] : inputs) {
      const uint64_t m = ir::mask(c.t);
      cpu_->r[0] = x0;
      cpu_->r[1] = y0;
      cpu_->r[2] = cpu_->r[3] = 0;
      EXPECT_EQ(run(fn), exec::kRetNext);
      EXPECT_EQ(cpu_->r[2], c.want(x0 & m, y0 & m)) << std::hex << x0 << " " << y0;
      EXPECT_EQ(cpu_->r[3], x0 & m);
    }
  }
}

// A load's result in the register of its address (read for the last time), on a TLB hit, a
// miss, and as a member of an access run.
TEST_F(RegAllocTest, LoadResultInItsAddressRegister) {
  auto tb = new_tb();
  Emitter e(tb->ir);
  e.insn_start(0x1000);
  Value keep = e.get_reg(Type::I64, reg(0));
  Value a = e.get_reg(Type::I64, reg(1));
  Value v = e.load(Type::I64, a, MemOp{3, false, 0});
  Value b = e.get_reg(Type::I64, reg(2));
  Value w = e.load(Type::I32, b, MemOp{2, true, 0});  // sign-extending
  Value p = e.get_reg(Type::I64, reg(3));
  Value r1 = e.load(Type::I64, p, MemOp{3, false, 0});
  Value r2 = e.load(Type::I64, e.add(p, e.c64(8)), MemOp{3, false, 0});
  e.set_reg(reg(10), v);
  e.set_reg(reg(11), w);
  e.set_reg(reg(12), e.add(r1, r2));
  e.set_reg(reg(13), keep);
  e.jump(0x2000);
  exec::NativeFn fn = compile_baseline(*tb);
  ASSERT_NE(fn, nullptr);
  const uint64_t q[3] = {0x1122334455667788ull, 0x00000000f0000001ull, 0x0101010101010101ull};
  std::memcpy(&ram_[0x100], q, sizeof q);
  for (bool miss : {false, true}) {
    SCOPED_TRACE(miss);
    cpu_->r[0] = 77;
    cpu_->r[1] = miss ? 0x70000000 : kRamBase + 0x100;
    cpu_->r[2] = miss ? 0x70000008 : kRamBase + 0x108;
    cpu_->r[3] = miss ? 0x70000010 : kRamBase + 0x108;
    EXPECT_EQ(run(fn), exec::kRetNext);
    EXPECT_EQ(cpu_->r[10], miss ? fake_mmio_value(0x70000000, 8) : q[0]);
    const uint32_t w32 = miss ? uint32_t(fake_mmio_value(0x70000008, 4)) : uint32_t(q[1]);
    EXPECT_EQ(cpu_->r[11], uint64_t(uint32_t(int32_t(w32))));
    EXPECT_EQ(cpu_->r[12],
              miss ? fake_mmio_value(0x70000010, 8) + fake_mmio_value(0x70000018, 8) : q[1] + q[2]);
    EXPECT_EQ(cpu_->r[13], 77u);
  }
}

// A Trunc of a value with no bits above its width (a zero-extending load no wider, a narrow
// field) shares the value's home and has no code; a Trunc of a sign-extending or wider load
// still clears the high bits. Checked on hits and on slow-path misses.
TEST_F(RegAllocTest, TruncOfANarrowValueSharesItsHome) {
  auto tb = new_tb();
  Emitter e(tb->ir);
  e.insn_start(0x1000);
  Value a = e.get_reg(Type::I64, reg(0));
  Value u32 = e.load(Type::I64, a, MemOp{2, false, 0});
  Value s16 = e.load(Type::I64, e.add(a, e.c64(8)), MemOp{1, true, 0});
  Value u8 = e.load(Type::I64, e.add(a, e.c64(16)), MemOp{0, false, 0});
  Value field = e.extract_u(e.get_reg(Type::I64, reg(1)), 0, 8);
  Value t_u32 = e.trunc(Type::I32, u32);     // shares
  Value t_s16 = e.trunc(Type::I32, s16);     // clears bits 32..63
  Value t_u8 = e.trunc(Type::I16, u8);       // shares
  Value t_wide = e.trunc(Type::I16, u32);    // clears bits 16..31
  Value t_field = e.trunc(Type::I8, field);  // shares
  e.set_reg(reg(10), e.zext(Type::I64, e.add(t_u32, e.c32(1))));
  e.set_reg(reg(11), e.zext(Type::I64, t_s16));
  e.set_reg(reg(12), e.zext(Type::I64, e.add(t_u8, e.konst(Type::I16, 1))));
  e.set_reg(reg(13), e.zext(Type::I64, t_wide));
  e.set_reg(reg(14), e.zext(Type::I64, e.add(t_field, e.konst(Type::I8, 1))));
  e.jump(0x2000);

  std::vector<ValueHome> homes;
  Allocation alloc;
  baseline::allocate(tb->ir, homes, alloc);
  EXPECT_EQ(homes[t_u32.id].root, u32.id);
  EXPECT_EQ(homes[t_s16.id].root, t_s16.id);
  EXPECT_EQ(homes[t_u8.id].root, u8.id);
  EXPECT_EQ(homes[t_wide.id].root, t_wide.id);
  EXPECT_EQ(homes[t_field.id].root, field.id);

  exec::NativeFn fn = compile_baseline(*tb);
  ASSERT_NE(fn, nullptr);
  const uint64_t q[3] = {0x00000000fffffffeull, 0x0000000000008001ull, 0x00000000000000ffull};
  std::memcpy(&ram_[0x100], q, sizeof q);
  for (bool miss : {false, true}) {
    SCOPED_TRACE(miss);
    cpu_->r[0] = miss ? 0x70000000 : kRamBase + 0x100;
    cpu_->r[1] = 0x1234567890abcdffull;
    EXPECT_EQ(run(fn), exec::kRetNext);
    const uint64_t w = miss ? fake_mmio_value(0x70000000, 4) : q[0];
    const uint64_t h = miss ? fake_mmio_value(0x70000008, 2) : q[1];
    const uint64_t b = miss ? fake_mmio_value(0x70000010, 1) : q[2];
    EXPECT_EQ(cpu_->r[10], uint64_t(uint32_t(w + 1)));
    EXPECT_EQ(cpu_->r[11], uint64_t(uint32_t(int32_t(int16_t(h)))));
    EXPECT_EQ(cpu_->r[12], uint64_t(uint16_t(b + 1)));
    EXPECT_EQ(cpu_->r[13], uint64_t(uint16_t(w)));
    EXPECT_EQ(cpu_->r[14], 0u);  // 0xff + 1 in 8 bits
  }
}

// Random straight-line blocks whose operands come mostly from the latest values, so that many
// values die at their last use and results take their registers: the baseline code must agree
// with the interpreter on every guest register and on memory.
TEST_F(RegAllocTest, RandomBlocksAgreeWithTheInterpreter) {
  std::mt19937_64 rng(20261204);
  const Type kTypes[] = {Type::I8, Type::I16, Type::I32, Type::I64};
  auto icpu = std::make_unique<TestCpu>();
  for (int iter = 0; iter < 400; ++iter) {
    auto tb = new_tb();
    Emitter e(tb->ir);
    e.insn_start(0x1000);
    std::vector<Value> vals;
    for (unsigned k = 0; k < 4; ++k) vals.push_back(e.get_reg(kTypes[rng() % 4], reg(k)));
    // A value of type t: a recent one, converted if needed, or a constant.
    auto pick = [&](Type t) {
      if (rng() % 8 == 0) return e.konst(t, rng() % 3 == 0 ? rng() % 70 : rng());
      const size_t back = std::min<size_t>(vals.size(), 1 + rng() % 6);
      const Value v = vals[vals.size() - 1 - rng() % back];
      const Type s = e.type_of(v);
      if (s == t) return v;
      if (ir::bits(s) > ir::bits(t)) return e.trunc(t, v);
      return rng() % 2 ? e.zext(t, v) : e.sext(t, v);
    };
    unsigned out = 16;
    const unsigned n = 8 + unsigned(rng() % 40);
    for (unsigned k = 0; k < n; ++k) {
      const Type t = kTypes[rng() % 4];
      const unsigned w = ir::bits(t);
      Value x = pick(t), y = pick(t), r;
      switch (rng() % 16) {
        case 0:
          if (t == Type::I64 && rng() % 2) {  // base + (index << 1..3): one lea in baseline
            const Value sh = e.shl(y, e.konst(t, 1 + rng() % 3));
            r = rng() % 2 ? e.add(x, sh) : e.add(sh, x);
            break;
          }
          r = e.add(x, y);
          break;
        case 1:
          r = e.sub(x, y);
          break;
        case 2:
          r = e.emit(rng() % 2 ? Opcode::And : Opcode::Or, t, {x, y});
          break;
        case 3:
          r = e.xor_(x, y);
          break;
        case 4:
          r = e.mul(x, y);
          break;
        case 5: {
          const Opcode ops[] = {Opcode::Shl, Opcode::Lshr, Opcode::Ashr, Opcode::Rotr};
          if (rng() % 2) y = e.konst(t, rng() % w);
          r = e.emit(ops[rng() % 4], t, {x, y});
          break;
        }
        case 6:
          r = rng() % 2 ? e.not_(x) : e.neg(x);
          break;
        case 7: {
          const unsigned pos = unsigned(rng() % w), len = 1 + unsigned(rng() % (w - pos));
          r = rng() % 2 ? e.extract_u(x, pos, len) : e.extract_s(x, pos, len);
          break;
        }
        case 8: {
          const unsigned pos = unsigned(rng() % w), len = 1 + unsigned(rng() % (w - pos));
          r = e.deposit(x, y, pos, len);
          break;
        }
        case 9: {  // a compare, used at once (flags) or later, or kept as an I1 value
          Value c = e.cmp(Cond(rng() % 10), x, y);
          if (rng() % 3 == 0) {
            vals.push_back(c);
            continue;
          }
          if (rng() % 2) e.set_reg(reg(out++), pick(Type::I64));
          r = e.select(c, pick(t), pick(t));
          break;
        }
        case 10:
          r = e.divu(x, e.or_(y, e.konst(t, 1)));
          break;    // a generic (called) op
        case 11: {  // a RAM load or store at an address computed from x
          Value a = e.add(e.and_(e.zext(Type::I64, x), e.c64(0x3ff8)), e.c64(kRamBase));
          const unsigned max_lg = w == 64 ? 3 : w == 32 ? 2 : w == 16 ? 1 : 0;
          const auto lg = uint8_t(std::min(unsigned(rng() % 4), max_lg));
          if (rng() % 3 == 0) {
            e.store(a, y, MemOp{lg, false, 0});
            continue;
          }
          r = e.load(t, a, MemOp{lg, rng() % 2 == 0, 0});
          break;
        }
        case 12:
          r = e.call(kAdd, {pick(Type::I64), pick(Type::I64)});
          break;
        case 13:
          r = e.get_reg(t, reg(unsigned(rng() % 8)));
          break;
        case 14:
          r = rng() % 2 ? e.sext(Type::I64, x) : e.zext(Type::I64, x);
          break;
        default:
          r = e.trunc(kTypes[rng() % (t == Type::I8 ? 1 : 3)], pick(Type::I64));
          break;
      }
      vals.push_back(r);
      if (rng() % 4 == 0) e.set_reg(reg(out++), pick(Type::I64));
    }
    for (size_t k = vals.size() - std::min<size_t>(vals.size(), 4); k < vals.size(); ++k)
      e.set_reg(reg(out++), e.zext(Type::I64, vals[k]));
    e.jump(0x2000);
    SCOPED_TRACE(ir::print(tb->ir));
    exec::NativeFn fn = compile_baseline(*tb);
    ASSERT_NE(fn, nullptr);
    auto prog = interp::build(tb->ir, tb.get());
    ASSERT_NE(prog, nullptr);
    std::vector<uint8_t> ram0(ram_.size());
    for (uint8_t& b : ram0) b = uint8_t(rng());
    for (unsigned k = 0; k < 8; ++k) cpu_->r[k] = rng() % 4 == 0 ? rng() % 100 : rng();
    for (unsigned k = 8; k < out; ++k) cpu_->r[k] = 0;
    std::memcpy(icpu->r, cpu_->r, sizeof cpu_->r);
    icpu->common.tlb = cpu_->common.tlb;
    icpu->common.jump_cache = cpu_->common.jump_cache;
    icpu->slow = &slow_;
    std::copy(ram0.begin(), ram0.end(), ram_.begin());  // the TLB points into ram_
    ASSERT_EQ(interp::run(*prog, &icpu->common), exec::kRetNext);
    const std::vector<uint8_t> ram_interp = ram_;
    std::copy(ram0.begin(), ram0.end(), ram_.begin());
    ASSERT_EQ(run(fn), exec::kRetNext);
    for (unsigned k = 0; k < out; ++k) ASSERT_EQ(cpu_->r[k], icpu->r[k]) << "r" << k;
    ASSERT_TRUE(ram_ == ram_interp);
  }
}

}  // namespace
}  // namespace orrery::tcg::llvm::test
