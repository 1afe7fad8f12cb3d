// Every pure op at every width, compiled by the LLVM tier and checked against (a) an
// independent reference model written here with 128-bit arithmetic and bit loops, and (b) the
// interpreter. I8 is exhaustive; wider types use edge values plus random ones.
#include <algorithm>
#include <functional>

#include "llvm_test_util.h"

namespace orrery::tcg::llvm::test {
namespace {

using u128 = unsigned __int128;
using i128 = __int128;

uint64_t mask_of(unsigned w) {
  return w >= 64 ? ~0ull : (1ull << w) - 1;
}
int64_t sx(uint64_t v, unsigned w) {
  v &= mask_of(w);
  if (w < 64 && (v >> (w - 1)) & 1) v |= ~mask_of(w);
  return int64_t(v);
}
uint64_t bit(uint64_t v, unsigned i) {
  return (v >> i) & 1;
}

// The reference model (independent of tcg/ir/eval.h).
uint64_t ref(Opcode op, unsigned w, uint64_t a, uint64_t b, uint64_t cin, Cond cond = Cond::Eq) {
  const uint64_t m = mask_of(w);
  const unsigned amt = unsigned(b % w);
  switch (op) {
    case Opcode::Add:
      return (a + b) & m;
    case Opcode::Sub:
      return (a - b) & m;
    case Opcode::Mul:
      return uint64_t(u128(a) * b) & m;
    case Opcode::MulHiU:
      return uint64_t((u128(a) * b) >> w) & m;
    case Opcode::MulHiS:
      return uint64_t((i128(sx(a, w)) * sx(b, w)) >> w) & m;
    case Opcode::DivU:
      return b ? a / b : 0;
    case Opcode::DivS:  // 128-bit division makes INT_MIN / -1 = 2^(w-1), i.e. INT_MIN again
      return b ? uint64_t(i128(sx(a, w)) / sx(b, w)) & m : 0;
    case Opcode::And:
      return a & b;
    case Opcode::Or:
      return a | b;
    case Opcode::Xor:
      return a ^ b;
    case Opcode::Shl:
      return uint64_t(u128(a) << amt) & m;
    case Opcode::Lshr:
      return a >> amt;
    case Opcode::Ashr:
      return uint64_t(sx(a, w) >> amt) & m;
    case Opcode::Rotr: {
      uint64_t r = 0;
      for (unsigned i = 0; i < w; ++i) r |= bit(a, (i + amt) % w) << i;
      return r;
    }
    case Opcode::Not:
      return ~a & m;
    case Opcode::Neg:
      return (0 - a) & m;
    case Opcode::Clz: {
      unsigned n = 0;
      for (int i = int(w) - 1; i >= 0 && !bit(a, i); --i) ++n;
      return n;
    }
    case Opcode::Ctz: {
      unsigned n = 0;
      for (unsigned i = 0; i < w && !bit(a, i); ++i) ++n;
      return n;
    }
    case Opcode::Popcnt: {
      unsigned n = 0;
      for (unsigned i = 0; i < w; ++i) n += unsigned(bit(a, i));
      return n;
    }
    case Opcode::Bswap: {
      uint64_t r = 0;
      for (unsigned i = 0; i < w / 8; ++i) r |= ((a >> (8 * i)) & 0xff) << (w - 8 - 8 * i);
      return r;
    }
    case Opcode::Bitrev: {
      uint64_t r = 0;
      for (unsigned i = 0; i < w; ++i) r |= bit(a, i) << (w - 1 - i);
      return r;
    }
    case Opcode::AddC:
      return (a + b + cin) & m;
    case Opcode::AddCarry:
      return uint64_t((u128(a) + b + cin) >> w) & 1;
    case Opcode::AddOvf: {
      i128 s = i128(sx(a, w)) + sx(b, w) + i128(cin);
      i128 lo = -(i128(1) << (w - 1)), hi = (i128(1) << (w - 1)) - 1;
      return s < lo || s > hi;
    }
    case Opcode::Cmp: {
      int64_t sa = sx(a, w), sb = sx(b, w);
      switch (cond) {
        case Cond::Eq:
          return a == b;
        case Cond::Ne:
          return a != b;
        case Cond::Ult:
          return a < b;
        case Cond::Ule:
          return a <= b;
        case Cond::Ugt:
          return a > b;
        case Cond::Uge:
          return a >= b;
        case Cond::Slt:
          return sa < sb;
        case Cond::Sle:
          return sa <= sb;
        case Cond::Sgt:
          return sa > sb;
        case Cond::Sge:
          return sa >= sb;
      }
      return 0;
    }
    default:
      ADD_FAILURE() << "no reference for op " << unsigned(op);
      return 0;
  }
}

constexpr Opcode kBinary[] = {Opcode::Add,    Opcode::Sub,  Opcode::Mul,  Opcode::MulHiU,
                              Opcode::MulHiS, Opcode::DivU, Opcode::DivS, Opcode::And,
                              Opcode::Or,     Opcode::Xor,  Opcode::Shl,  Opcode::Lshr,
                              Opcode::Ashr,   Opcode::Rotr};
constexpr Opcode kUnary[] = {Opcode::Not,    Opcode::Neg,   Opcode::Clz,   Opcode::Ctz,
                             Opcode::Popcnt, Opcode::Bswap, Opcode::Bitrev};
constexpr Opcode kCarry[] = {Opcode::AddC, Opcode::AddCarry, Opcode::AddOvf};
constexpr Cond kConds[] = {Cond::Eq,  Cond::Ne,  Cond::Ult, Cond::Ule, Cond::Ugt,
                           Cond::Uge, Cond::Slt, Cond::Sle, Cond::Sgt, Cond::Sge};
constexpr uint64_t kSentinel = 0xdededededededede;

// How a carry case's operands differ from (a, b, cin): the LLVM tier lowers a constant carry-in,
// and a subtraction's a + ~b + 1, through the host's flags.
// ZeroOfSub: a compare of a - b with 0 (arm64's N and Z): the baseline tier reads ZF/SF of the
// subtraction (or of the previous compare with 0) without a compare of its own, so a - b that
// overflows must still give slt from the sign alone.
enum class CarryForm { AsGiven, CinZero, NotBCinOne, ConstBCinOne, ZeroOfSub };
constexpr uint64_t kCarryConst = 0x41;  // b's constant for ConstBCinOne: a - ~0x41 (SUBS #imm)

struct OutCase {
  Opcode op;
  Cond cond;
  unsigned width;  // of the stored result
  CarryForm form = CarryForm::AsGiven;
};

// Inputs: r0 = a, r1 = b (with junk above the width, which GetReg must ignore), r2 = carry byte.
// Outputs: r[8 + k] for case k.
class AluTest : public BothBackends {
 protected:
  std::unique_ptr<exec::TranslationBlock> build(Type t, std::vector<OutCase>& cases) {
    auto tb = new_tb();
    Emitter e(tb->ir);
    e.insn_start(0x1000);
    Value a = e.get_reg(t, reg(0)), b = e.get_reg(t, reg(1));
    Value cin = e.get_reg(Type::I1, reg(2));
    auto out = [&](Value v, Opcode op, Cond c = Cond::Eq, CarryForm f = CarryForm::AsGiven) {
      e.set_reg(reg(8 + unsigned(cases.size())), v);
      cases.push_back({op, c, ir::bits(e.type_of(v)), f});
    };
    for (Opcode op : kBinary) out(e.emit(op, t, {a, b}), op);
    for (Opcode op : kUnary) out(e.emit(op, t, {a}), op);
    out(e.addc(a, b, cin), Opcode::AddC);
    out(e.add_carry(a, b, cin), Opcode::AddCarry);
    out(e.add_ovf(a, b, cin), Opcode::AddOvf);
    for (Opcode op : {Opcode::AddCarry, Opcode::AddOvf}) {
      auto flag = [&](Value x, Value y, Value c) {
        return op == Opcode::AddOvf ? e.add_ovf(x, y, c) : e.add_carry(x, y, c);
      };
      out(flag(a, b, e.c1(false)), op, Cond::Eq, CarryForm::CinZero);
      out(flag(a, e.not_(b), e.c1(true)), op, Cond::Eq, CarryForm::NotBCinOne);
      out(flag(a, e.konst(t, ~kCarryConst), e.c1(true)), op, Cond::Eq, CarryForm::ConstBCinOne);
    }
    for (Cond c : kConds) out(e.cmp(c, a, b), Opcode::Cmp, c);
    for (Cond c : kConds) {  // each right after its subtraction, and again after that compare
      const Value diff = e.emit(Opcode::Sub, t, {a, b});
      out(e.cmp(c, diff, e.konst(t, 0)), Opcode::Cmp, c, CarryForm::ZeroOfSub);
      out(e.cmp(c, diff, e.konst(t, 0)), Opcode::Cmp, c, CarryForm::ZeroOfSub);
    }
    // Select on a computed condition, both ways.
    out(e.select(e.cmp(Cond::Ult, a, b), a, b), Opcode::Select, Cond::Ult);
    e.jump(0x2000);
    return tb;
  }

  uint64_t expect(const OutCase& c, unsigned w, uint64_t a, uint64_t b, uint64_t cin) {
    if (c.op == Opcode::Select) return a < b ? a : b;
    switch (c.form) {
      case CarryForm::AsGiven:
        break;
      case CarryForm::CinZero:
        return ref(c.op, w, a, b, 0, c.cond);
      case CarryForm::NotBCinOne:
        return ref(c.op, w, a, ~b & mask_of(w), 1, c.cond);
      case CarryForm::ConstBCinOne:
        return ref(c.op, w, a, ~kCarryConst & mask_of(w), 1, c.cond);
      case CarryForm::ZeroOfSub:
        return ref(c.op, w, (a - b) & mask_of(w), 0, 0, c.cond);
    }
    return ref(c.op, w, a, b, cin, c.cond);
  }

  void set_inputs(TestCpu& cpu, unsigned w, uint64_t a, uint64_t b, uint64_t cin, size_t n) {
    uint64_t junk = 0xa5a5a5a5a5a5a5a5ull & ~mask_of(w);
    cpu.r[0] = a | junk;
    cpu.r[1] = b | junk;
    cpu.r[2] = cin | 0xfe00;  // only the low byte's bit 0 is the flag
    for (size_t k = 0; k < n; ++k) cpu.r[8 + k] = kSentinel;
  }

  // Runs one input through native code and the interpreter and checks every output.
  bool check(exec::NativeFn fn, const interp::Program& prog, const std::vector<OutCase>& cases,
             unsigned w, uint64_t a, uint64_t b, uint64_t cin) {
    set_inputs(*cpu_, w, a, b, cin, cases.size());
    set_inputs(*icpu_, w, a, b, cin, cases.size());
    uint64_t rn = run(fn);
    uint64_t ri = interp::run(prog, &icpu_->common);
    bool ok = true;
    if (rn != exec::kRetNext || ri != exec::kRetNext || cpu_->common.pc != 0x2000) {
      ADD_FAILURE() << "bad block result " << rn << " / " << ri;
      return false;
    }
    for (size_t k = 0; k < cases.size(); ++k) {
      const OutCase& c = cases[k];
      uint64_t m = mask_of(c.width == 1 ? 8 : c.width);  // I1 is stored as one byte
      uint64_t want = (kSentinel & ~m) | expect(c, w, a, b, cin);
      uint64_t got = cpu_->r[8 + k], interp = icpu_->r[8 + k];
      if (got != want || interp != want) {
        ADD_FAILURE() << "op " << unsigned(c.op) << " cond " << unsigned(c.cond) << " width " << w
                      << " a=0x" << std::hex << a << " b=0x" << b << " cin=" << cin << ": llvm 0x"
                      << got << " interp 0x" << interp << " want 0x" << want;
        ok = false;
      }
    }
    return ok;
  }

  void run_width(
      Type t,
      const std::function<void(const std::function<bool(uint64_t, uint64_t, uint64_t)>&)>& gen) {
    std::vector<OutCase> cases;
    auto tb = build(t, cases);
    exec::NativeFn fn = compile(*tb);
    ASSERT_NE(fn, nullptr);
    auto prog = interp::build(tb->ir, tb.get());
    const unsigned w = ir::bits(t);
    int failures = 0;
    gen([&](uint64_t a, uint64_t b, uint64_t cin) {
      if (!check(fn, *prog, cases, w, a & mask_of(w), b & mask_of(w), cin)) ++failures;
      return failures < 5;  // stop early on a broken op
    });
  }

  void SetUp() override {
    LlvmTest::SetUp();
    icpu_ = std::make_unique<TestCpu>();
  }
  std::unique_ptr<TestCpu> icpu_;
};

std::vector<uint64_t> edge_values(unsigned w) {
  uint64_t m = mask_of(w), min = 1ull << (w - 1);
  std::vector<uint64_t> v = {0,
                             1,
                             2,
                             3,
                             7,
                             m,
                             m - 1,
                             min,
                             min - 1,
                             min + 1,
                             w - 1,
                             w,
                             w + 1,
                             2 * w,
                             0x5555555555555555ull & m,
                             0xaaaaaaaaaaaaaaaaull & m};
  for (unsigned i = 0; i < w; i += 7) v.push_back(1ull << i);
  return v;
}

void edge_and_random(unsigned w, unsigned n_random,
                     const std::function<bool(uint64_t, uint64_t, uint64_t)>& f) {
  std::vector<uint64_t> edges = edge_values(w);
  for (uint64_t a : edges)
    for (uint64_t b : edges)
      for (uint64_t cin : {0, 1})
        if (!f(a, b, cin)) return;
  std::mt19937_64 rng(w * 7919);
  for (unsigned i = 0; i < n_random; ++i) {
    uint64_t a = rng(), b = rng();
    // Bias toward small shift amounts and divisors sometimes.
    if (i % 4 == 1) b &= 0x7f;
    if (i % 8 == 3) b = uint64_t(-int64_t(b & 3));
    if (!f(a, b, rng() & 1)) return;
  }
}

TEST_P(AluTest, AllOpsI8Exhaustive) {
  run_width(Type::I8, [](const auto& f) {
    for (uint64_t a = 0; a < 256; ++a)
      for (uint64_t b = 0; b < 256; ++b)
        for (uint64_t cin = 0; cin < 2; ++cin)
          if (!f(a, b, cin)) return;
  });
}

TEST_P(AluTest, AllOpsI16) {
  run_width(Type::I16, [](const auto& f) { edge_and_random(16, 50000, f); });
}

TEST_P(AluTest, AllOpsI32) {
  run_width(Type::I32, [](const auto& f) { edge_and_random(32, 50000, f); });
}

TEST_P(AluTest, AllOpsI64) {
  run_width(Type::I64, [](const auto& f) { edge_and_random(64, 50000, f); });
}

// Hand-computed spot checks, readable on their own.
TEST_P(AluTest, HandComputedEdgeCases) {
  struct Case {
    Opcode op;
    Type t;
    uint64_t a, b, want;
  };
  const Case cases[] = {
      {Opcode::DivU, Type::I64, 7, 0, 0},
      {Opcode::DivS, Type::I32, 0x80000000, 0xffffffff, 0x80000000},
      {Opcode::DivS, Type::I64, 1ull << 63, ~0ull, 1ull << 63},
      {Opcode::DivS, Type::I8, 0x80, 0xff, 0x80},
      {Opcode::DivS, Type::I16, uint16_t(-7), 2, uint16_t(-3)},
      {Opcode::DivS, Type::I16, 5, 0, 0},
      {Opcode::Shl, Type::I32, 1, 33, 2},
      {Opcode::Shl, Type::I8, 1, 8, 1},
      {Opcode::Lshr, Type::I64, 1ull << 63, 64 + 63, 1},
      {Opcode::Ashr, Type::I8, 0x80, 7, 0xff},
      {Opcode::Ashr, Type::I16, 0x8000, 17, 0xc000},
      {Opcode::Rotr, Type::I16, 1, 1, 0x8000},
      {Opcode::Rotr, Type::I64, 1, 65, 1ull << 63},
      {Opcode::Rotr, Type::I32, 0x12345678, 0, 0x12345678},
      {Opcode::Clz, Type::I32, 0, 0, 32},
      {Opcode::Clz, Type::I16, 1, 0, 15},
      {Opcode::Clz, Type::I8, 0, 0, 8},
      {Opcode::Ctz, Type::I64, 0, 0, 64},
      {Opcode::Ctz, Type::I16, 0x100, 0, 8},
      {Opcode::Popcnt, Type::I64, ~0ull, 0, 64},
      {Opcode::Bswap, Type::I32, 0x11223344, 0, 0x44332211},
      {Opcode::Bswap, Type::I16, 0x1122, 0, 0x2211},
      {Opcode::Bswap, Type::I8, 0x12, 0, 0x12},
      {Opcode::Bitrev, Type::I8, 0x01, 0, 0x80},
      {Opcode::Bitrev, Type::I64, 1, 0, 1ull << 63},
      {Opcode::MulHiS, Type::I64, ~0ull, 1, ~0ull},
      {Opcode::MulHiU, Type::I64, ~0ull, 2, 1},
      {Opcode::MulHiS, Type::I32, 0x80000000, 2, 0xffffffff},
      {Opcode::MulHiU, Type::I8, 0xff, 0xff, 0xfe},
      {Opcode::Neg, Type::I16, 1, 0, 0xffff},
  };
  auto tb = new_tb();
  Emitter e(tb->ir);
  unsigned k = 0;
  for (const Case& c : cases) {
    Value a = e.konst(c.t, c.a), b = e.konst(c.t, c.b);
    bool unary = c.op == Opcode::Clz || c.op == Opcode::Ctz || c.op == Opcode::Popcnt ||
                 c.op == Opcode::Bswap || c.op == Opcode::Bitrev || c.op == Opcode::Neg;
    Value r = unary ? e.emit(c.op, c.t, {a}) : e.emit(c.op, c.t, {a, b});
    e.set_reg(reg(k++), e.zext(Type::I64, r));
  }
  // Carry chain of AArch64 SUBS 5 - 5: 5 + ~5 + 1 carries out and does not overflow.
  Value five = e.c64(5), nfive = e.c64(~5ull), one = e.c1(true);
  e.set_reg(reg(k++), e.zext(Type::I64, e.add_carry(five, nfive, one)));
  e.set_reg(reg(k++), e.zext(Type::I64, e.add_ovf(e.c32(0x7fffffff), e.c32(0), one)));
  e.set_reg(reg(k++),
            e.zext(Type::I64, e.add_carry(e.konst(Type::I8, 0xff), e.konst(Type::I8, 0), one)));
  e.set_reg(reg(k++), e.addc(e.c64(~0ull), e.c64(0), one));
  e.jump(0x2000);
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  EXPECT_EQ(run(fn), exec::kRetNext);
  for (size_t i = 0; i < std::size(cases); ++i)
    EXPECT_EQ(cpu_->r[i], cases[i].want) << "case " << i << " op " << unsigned(cases[i].op);
  size_t i = std::size(cases);
  EXPECT_EQ(cpu_->r[i], 1u);
  EXPECT_EQ(cpu_->r[i + 1], 1u);
  EXPECT_EQ(cpu_->r[i + 2], 1u);
  EXPECT_EQ(cpu_->r[i + 3], 0u);
}

// ZExt/SExt/Trunc between every pair of types the verifier allows, including I1.
TEST_P(AluTest, ExtensionsBetweenAllTypes) {
  const Type types[] = {Type::I1, Type::I8, Type::I16, Type::I32, Type::I64};
  struct Out {
    Opcode op;
    Type from, to;
  };
  std::vector<Out> outs;
  auto tb = new_tb();
  Emitter e(tb->ir);
  for (unsigned s = 0; s < std::size(types); ++s) {
    Value v = e.get_reg(types[s], reg(s));
    for (Type to : types) {
      unsigned fb = ir::bits(types[s]), tbits = ir::bits(to);
      for (Opcode op : {Opcode::ZExt, Opcode::SExt, Opcode::Trunc}) {
        bool ok = op == Opcode::Trunc ? tbits < fb : (tbits > fb && to != Type::I1);
        if (!ok) continue;
        Value r = e.emit(op, to, {v});
        e.set_reg(reg(16 + unsigned(outs.size())), r);
        outs.push_back({op, types[s], to});
      }
    }
  }
  e.jump(0x2000);
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  auto prog = interp::build(tb->ir, tb.get());
  std::mt19937_64 rng(42);
  for (int iter = 0; iter < 2000; ++iter) {
    uint64_t in[5];
    for (unsigned s = 0; s < 5; ++s) {
      in[s] = iter < 4 ? (iter & 1 ? ~0ull : 0) : rng();
      if (iter == 2) in[s] = 0x8080808080808080ull;
      cpu_->r[s] = icpu_->r[s] = in[s];
    }
    for (size_t k = 0; k < outs.size(); ++k) cpu_->r[16 + k] = icpu_->r[16 + k] = kSentinel;
    ASSERT_EQ(run(fn), exec::kRetNext);
    ASSERT_EQ(interp::run(*prog, &icpu_->common), exec::kRetNext);
    for (size_t k = 0; k < outs.size(); ++k) {
      const Out& o = outs[k];
      unsigned fb = ir::bits(o.from), tbits = ir::bits(o.to);
      unsigned s = unsigned(std::find(std::begin(types), std::end(types), o.from) - types);
      uint64_t a = in[s] & mask_of(fb);
      uint64_t r = o.op == Opcode::SExt ? uint64_t(sx(a, fb)) & mask_of(tbits) : a & mask_of(tbits);
      uint64_t store_mask = mask_of(tbits == 1 ? 8 : tbits);
      uint64_t want = (kSentinel & ~store_mask) | r;
      ASSERT_EQ(cpu_->r[16 + k], want)
          << "op " << unsigned(o.op) << " " << fb << "->" << tbits << " in 0x" << std::hex << in[s];
      ASSERT_EQ(icpu_->r[16 + k], want) << "interp";
    }
  }
}

// Bitfield extract/deposit at many positions and lengths (all of them for I8/I16/I32).
TEST_P(AluTest, ExtractAndDeposit) {
  for (Type t : {Type::I8, Type::I16, Type::I32, Type::I64}) {
    const unsigned w = ir::bits(t);
    std::vector<std::pair<unsigned, unsigned>> fields;
    const unsigned picks[] = {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 62, 63, 64};
    for (unsigned pos = 0; pos < w; ++pos)
      for (unsigned len = 1; pos + len <= w; ++len) {
        bool pick = w <= 32 || (std::count(std::begin(picks), std::end(picks), pos) &&
                                std::count(std::begin(picks), std::end(picks), len));
        if (pick) fields.push_back({pos, len});
      }
    auto tb = new_tb();
    Emitter e(tb->ir);
    Value a = e.get_reg(t, reg(0)), b = e.get_reg(t, reg(1));
    unsigned k = 0;
    for (auto [pos, len] : fields) {
      e.set_reg(reg(8 + k++), e.extract_u(a, pos, len));
      e.set_reg(reg(8 + k++), e.extract_s(a, pos, len));
      e.set_reg(reg(8 + k++), e.deposit(a, b, pos, len));
    }
    ASSERT_LT(8 + k, kNumRegs);
    e.jump(0x2000);
    exec::NativeFn fn = compile(*tb);
    ASSERT_NE(fn, nullptr);
    auto prog = interp::build(tb->ir, tb.get());
    std::mt19937_64 rng(w);
    for (int iter = 0; iter < 64; ++iter) {
      uint64_t a0 = iter == 0 ? 0 : iter == 1 ? ~0ull : rng(), b0 = iter == 2 ? ~0ull : rng();
      for (TestCpu* c : {cpu_.get(), icpu_.get()}) {
        c->r[0] = a0, c->r[1] = b0;
        for (unsigned i = 0; i < k; ++i) c->r[8 + i] = kSentinel;
      }
      ASSERT_EQ(run(fn), exec::kRetNext);
      ASSERT_EQ(interp::run(*prog, &icpu_->common), exec::kRetNext);
      const uint64_t m = mask_of(w), a = a0 & m, b = b0 & m;
      unsigned i = 0;
      for (auto [pos, len] : fields) {
        uint64_t fm = mask_of(len);
        uint64_t xu = (a >> pos) & fm;
        uint64_t xs = uint64_t(sx(xu, len)) & m;
        uint64_t dep = ((a & ~(fm << pos)) | ((b & fm) << pos)) & m;
        for (uint64_t want : {xu, xs, dep}) {
          uint64_t full = (kSentinel & ~m) | want;
          ASSERT_EQ(cpu_->r[8 + i], full) << "w" << w << " pos " << pos << " len " << len
                                          << " kind " << i % 3 << " a=0x" << std::hex << a;
          ASSERT_EQ(icpu_->r[8 + i], full) << "interp";
          ++i;
        }
      }
    }
  }
}

// I1 values: the logic ops, Select, Cmp and Const the verifier allows at I1, and flag storage.
TEST_P(AluTest, BooleanOps) {
  auto tb = new_tb();
  Emitter e(tb->ir);
  Value p = e.get_reg(Type::I1, reg(0)), q = e.get_reg(Type::I1, reg(1));
  e.set_reg(reg(8), e.and_(p, q));
  e.set_reg(reg(9), e.or_(p, q));
  e.set_reg(reg(10), e.xor_(p, q));
  e.set_reg(reg(11), e.not_(p));
  e.set_reg(reg(12), e.select(p, q, e.c1(true)));
  e.set_reg(reg(13), e.cmp(Cond::Slt, p, q));  // as signed, true is -1
  e.set_reg(reg(14), e.cmp(Cond::Ult, p, q));
  e.set_reg(reg(15), e.xor_(p, e.c1(true)));
  e.jump(0x2000);
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  auto prog = interp::build(tb->ir, tb.get());
  for (uint64_t pv = 0; pv < 2; ++pv)
    for (uint64_t qv = 0; qv < 2; ++qv) {
      for (TestCpu* c : {cpu_.get(), icpu_.get()}) {
        c->r[0] = pv | 0x1200, c->r[1] = qv | 0x3400;
        for (unsigned i = 8; i < 16; ++i) c->r[i] = kSentinel;
      }
      ASSERT_EQ(run(fn), exec::kRetNext);
      ASSERT_EQ(interp::run(*prog, &icpu_->common), exec::kRetNext);
      uint64_t want[] = {pv & qv,     pv | qv,     pv ^ qv,     !pv,
                         pv ? qv : 1, (pv && !qv), (!pv && qv), !pv};
      for (unsigned i = 0; i < 8; ++i) {
        EXPECT_EQ(cpu_->r[8 + i], (kSentinel & ~0xffull) | want[i])
            << i << " p" << pv << " q" << qv;
        EXPECT_EQ(icpu_->r[8 + i], cpu_->r[8 + i]) << "interp " << i;
      }
    }
}

// arm64's SUBS/CMP: a Sub, then N and Z from its result, C as a compare of its operands and V
// as AddOvf(a, ~b, 1), each stored at once (the baseline tier reads all four from the Sub's
// host flags). More compares of the operands follow, then one after an Add that changed the
// host flags, which must not be taken from the Sub. Register and constant b, both widths.
TEST_P(AluTest, SubFlagsAndCompareOfTheSameOperands) {
  for (Type t : {Type::I32, Type::I64})
    for (bool konst : {false, true}) {
      const unsigned w = ir::bits(t);
      const uint64_t kb = konst ? (t == Type::I64 ? 0x8000000000000001ull : 0x80000001ull) : 0;
      auto tb = new_tb();
      Emitter e(tb->ir);
      const Value a = e.get_reg(t, reg(0));
      const Value b = konst ? e.konst(t, kb) : e.get_reg(t, reg(1));
      const Value r = e.sub(a, b);
      const Value zero = e.konst(t, 0);
      e.set_reg(reg(8), e.cmp(Cond::Slt, r, zero));
      e.set_reg(reg(9), e.cmp(Cond::Eq, r, zero));
      e.set_reg(reg(10), e.cmp(Cond::Uge, a, b));
      e.set_reg(reg(11),
                e.add_ovf(a, konst ? e.konst(t, ~kb & ir::mask(t)) : e.not_(b), e.c1(true)));
      e.set_reg(reg(12), e.cmp(Cond::Sgt, a, b));
      e.set_reg(reg(13), e.cmp(Cond::Ult, a, b));
      e.set_reg(reg(14), e.add(a, e.get_reg(t, reg(2))));
      e.set_reg(reg(15), e.cmp(Cond::Ule, a, b));
      e.set_reg(reg(7), r);
      e.jump(0x2000);
      exec::NativeFn fn = compile(*tb);
      ASSERT_NE(fn, nullptr);
      const uint64_t m = mask_of(w), top = 1ull << (w - 1);
      const uint64_t vals[] = {0, 1, 2, m, m - 1, top, top - 1, top + 1, 0x1234567 & m, kb & m};
      for (uint64_t av : vals)
        for (uint64_t bv : vals) {
          if (konst) bv = kb;
          cpu_->r[0] = av, cpu_->r[1] = bv, cpu_->r[2] = ~av & m;  // a + r2 = all ones: not 0
          ASSERT_EQ(run(fn), exec::kRetNext);
          const uint64_t d = (av - bv) & m;
          const bool v = ((av ^ bv) & (av ^ d) & top) != 0;
          const uint64_t want[] = {(d & top) != 0,        d == 0, av >= bv, v,
                                   sx(av, w) > sx(bv, w), av < bv};
          for (unsigned i = 0; i < 6; ++i)
            EXPECT_EQ(cpu_->r[8 + i] & 1, want[i])
                << ir::type_name(t) << (konst ? " const" : " reg") << " flag " << i << " a 0x"
                << std::hex << av << " b 0x" << bv;
          EXPECT_EQ(cpu_->r[15] & 1, uint64_t(av <= bv)) << std::hex << av << " " << bv;
          EXPECT_EQ(cpu_->r[7] & m, d);
        }
    }
}

// arm64's ADDS/CMN: N and Z of the sum, its C and V with the same operands (the baseline tier
// reads them off the add's host flags), then a C of other operands (a fresh add); and constant
// flags (a logical op's C and V) stored as single bytes.
TEST_P(AluTest, AddFlagsOfTheSameOperands) {
  for (Type t : {Type::I32, Type::I64})
    for (int carry : {0, 1, -1}) {  // -1: the carry in from a register
      const unsigned w = ir::bits(t);
      auto tb = new_tb();
      Emitter e(tb->ir);
      const Value a = e.get_reg(t, reg(0));
      const Value b = e.get_reg(t, reg(1));
      const Value c = carry < 0 ? e.trunc(Type::I1, e.get_reg(Type::I64, reg(2))) : e.c1(carry);
      const Value r = e.addc(a, b, c);
      const Value zero = e.konst(t, 0);
      e.set_reg(reg(8), e.cmp(Cond::Slt, r, zero));
      e.set_reg(reg(9), e.cmp(Cond::Eq, r, zero));
      e.set_reg(reg(10), e.add_carry(a, b, c));
      e.set_reg(reg(11), e.add_ovf(a, b, c));
      e.set_reg(reg(12), e.add_carry(a, a, c));
      e.set_reg(reg(13), e.c1(false));
      e.set_reg(reg(13) + 1, e.c1(true));
      e.set_reg(reg(7), r);
      e.jump(0x2000);
      exec::NativeFn fn = compile(*tb);
      ASSERT_NE(fn, nullptr);
      const uint64_t m = mask_of(w), top = 1ull << (w - 1);
      const uint64_t vals[] = {0, 1, 2, m, m - 1, top, top - 1, top + 1, 0x1234567 & m};
      const uint64_t cin = carry < 0 ? 1 : uint64_t(carry);
      for (uint64_t av : vals)
        for (uint64_t bv : vals) {
          cpu_->r[0] = av, cpu_->r[1] = bv, cpu_->r[2] = cin;
          cpu_->r[13] = ~0ull;
          ASSERT_EQ(run(fn), exec::kRetNext);
          const u128 sum = u128(av) + bv + cin;
          const uint64_t d = uint64_t(sum) & m;
          const bool v = ((~(av ^ bv)) & (av ^ d) & top) != 0;
          const uint64_t want[] = {(d & top) != 0, d == 0, (sum >> w) != 0, v,
                                   ((u128(av) + av + cin) >> w) != 0};
          for (unsigned i = 0; i < 5; ++i)
            EXPECT_EQ(cpu_->r[8 + i] & 1, want[i])
                << ir::type_name(t) << " carry " << carry << " flag " << i << " a 0x" << std::hex
                << av << " b 0x" << bv;
          EXPECT_EQ(cpu_->r[13], 0xffffffffffff0100ull);  // two bytes written, no more
          EXPECT_EQ(cpu_->r[7] & m, d);
        }
    }
}

// base + (index << 1..3), the Shl read only by the Add (arm64's [Xn, Xm, LSL #3]), either
// operand order, with the index also needed afterwards and not: one lea in the baseline tier.
TEST_P(AluTest, AddOfAShiftedIndex) {
  auto tb = new_tb();
  Emitter e(tb->ir);
  const Value base = e.get_reg(Type::I64, reg(0)), index = e.get_reg(Type::I64, reg(1));
  unsigned k = 0;
  for (unsigned sh = 1; sh <= 4; ++sh) {
    const Value s = e.shl(index, e.c64(sh));
    e.set_reg(reg(8 + k++), sh % 2 ? e.add(base, s) : e.add(s, base));
  }
  e.set_reg(reg(8 + k++), e.add(base, e.shl(e.get_reg(Type::I64, reg(2)), e.c64(3))));
  e.set_reg(reg(8 + k++), index);
  e.jump(0x2000);
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  for (uint64_t b : {0ull, 0x1000ull, ~0ull, 0x8000000000000000ull})
    for (uint64_t x : {0ull, 1ull, ~0ull, 0x4000000000000001ull}) {
      cpu_->r[0] = b, cpu_->r[1] = x, cpu_->r[2] = x ^ 5;
      ASSERT_EQ(run(fn), exec::kRetNext);
      for (unsigned sh = 1; sh <= 4; ++sh) EXPECT_EQ(cpu_->r[7 + sh], b + (x << sh)) << sh;
      EXPECT_EQ(cpu_->r[12], b + ((x ^ 5) << 3));
      EXPECT_EQ(cpu_->r[13], x);
    }
}

// Partial-register reads and writes touch exactly their bytes (x86 AH-style offsets).
TEST_P(AluTest, PartialRegisterAccess) {
  auto tb = new_tb();
  Emitter e(tb->ir);
  Value ah = e.get_reg(Type::I8, reg(0) + 1);
  Value w = e.get_reg(Type::I16, reg(0) + 3);  // unaligned
  e.set_reg(reg(1) + 1, e.add(ah, e.konst(Type::I8, 1)));
  e.set_reg(reg(1) + 5, w);
  e.set_reg(reg(2) + 4, e.get_reg(Type::I32, reg(0) + 2));
  e.jump(0x2000);
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  cpu_->r[0] = 0x8877665544332211ull;
  cpu_->r[1] = 0;
  cpu_->r[2] = 0xffffffffffffffffull;
  ASSERT_EQ(run(fn), exec::kRetNext);
  EXPECT_EQ(cpu_->r[1], 0x0055440000002300ull);
  EXPECT_EQ(cpu_->r[2], 0x66554433ffffffffull);
}

INSTANTIATE_TEST_SUITE_P(Backends, AluTest, ::testing::Values(Backend::Llvm, Backend::Baseline),
                         backend_name);

}  // namespace
}  // namespace orrery::tcg::llvm::test
