// The SSE floating-point vector rows (vec_ops.inc, "x86fp") on the LLVM and baseline tiers and
// the interpreter, against the host's SSE intrinsics under MXCSR 0x1f80 as the oracle: results
// and raised exception flags, for NaNs (quiet and signalling), denormals, infinities, signed
// zeros, out-of-range conversions and random lanes.
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <utility>

#include "llvm_test_util.h"
#include "tcg/ir/vec_eval.h"
#include "vec_host.h"

namespace orrery::tcg::llvm::test {
namespace {

using ir::Vec128;
using ir::VecOp;

__m128 ps(__m128i v) {
  return _mm_castsi128_ps(v);
}
__m128d pd(__m128i v) {
  return _mm_castsi128_pd(v);
}
__m128i pi(__m128 v) {
  return _mm_castps_si128(v);
}
__m128i pi(__m128d v) {
  return _mm_castpd_si128(v);
}

// Eight lambdas of their own types (a std::function<__m128i()> drops the vector type's
// attributes, which the compiler warns about).
template <typename Eq, typename Lt, typename Le, typename Un, typename Ne, typename Nlt,
          typename Nle, typename Ord>
__m128i cmp8(unsigned p, Eq eq, Lt lt, Le le, Un un, Ne ne, Nlt nlt, Nle nle, Ord ord) {
  switch (p & 7) {
    case 0:
      return eq();
    case 1:
      return lt();
    case 2:
      return le();
    case 3:
      return un();
    case 4:
      return ne();
    case 5:
      return nlt();
    case 6:
      return nle();
    default:
      return ord();
  }
}

#define CMP8(suffix, cast)                                           \
  cmp8(                                                              \
      imm, [&] { return pi(_mm_cmpeq_##suffix(cast(a), cast(b))); }, \
      [&] { return pi(_mm_cmplt_##suffix(cast(a), cast(b))); },      \
      [&] { return pi(_mm_cmple_##suffix(cast(a), cast(b))); },      \
      [&] { return pi(_mm_cmpunord_##suffix(cast(a), cast(b))); },   \
      [&] { return pi(_mm_cmpneq_##suffix(cast(a), cast(b))); },     \
      [&] { return pi(_mm_cmpnlt_##suffix(cast(a), cast(b))); },     \
      [&] { return pi(_mm_cmpnle_##suffix(cast(a), cast(b))); },     \
      [&] { return pi(_mm_cmpord_##suffix(cast(a), cast(b))); })

/// VCMPxx with a VEX-only predicate (8-31), in the instruction's operand order: the compiler
/// may swap the operands of the intrinsics for a symmetric predicate, which changes the flags
/// (silicon reports DE for a denormal src1 only when src2 is not an SNaN ...).
template <int P>
__m128i cmp_vex(VecOp op, __m128i a, __m128i b) {
  if (op == VecOp::CmpPS) asm volatile("vcmpps %2, %1, %0, %0" : "+x"(a) : "x"(b), "i"(P));
  if (op == VecOp::CmpPD) asm volatile("vcmppd %2, %1, %0, %0" : "+x"(a) : "x"(b), "i"(P));
  if (op == VecOp::CmpSS) asm volatile("vcmpss %2, %1, %0, %0" : "+x"(a) : "x"(b), "i"(P));
  if (op == VecOp::CmpSD) asm volatile("vcmpsd %2, %1, %0, %0" : "+x"(a) : "x"(b), "i"(P));
  return a;
}
template <int... P>
__m128i cmp_vex_any(unsigned p, VecOp op, __m128i a, __m128i b, std::integer_sequence<int, P...>) {
  __m128i r = a;
  ((p == unsigned(P) ? (r = cmp_vex<P>(op, a, b), true) : false) || ...);
  return r;
}

/// (U)COMISS/SD: the low byte of EFLAGS they leave (SF AF clear, bit 1 set), read through the
/// compiler's flag outputs.
template <int K>
__m128i comis(__m128i a, __m128i b) {
  bool z, p, c;
  if constexpr (K == 0)
    asm volatile("comiss %3, %4" : "=@ccz"(z), "=@ccp"(p), "=@ccc"(c) : "x"(b), "x"(a));
  if constexpr (K == 1)
    asm volatile("ucomiss %3, %4" : "=@ccz"(z), "=@ccp"(p), "=@ccc"(c) : "x"(b), "x"(a));
  if constexpr (K == 2)
    asm volatile("comisd %3, %4" : "=@ccz"(z), "=@ccp"(p), "=@ccc"(c) : "x"(b), "x"(a));
  if constexpr (K == 3)
    asm volatile("ucomisd %3, %4" : "=@ccz"(z), "=@ccp"(p), "=@ccc"(c) : "x"(b), "x"(a));
  return _mm_cvtsi64_si128(int64_t((z ? 0x40 : 0) | (p ? 4 : 0) | 2 | (c ? 1 : 0)));
}
__m128i q0(uint64_t v) {
  return _mm_cvtsi64_si128(int64_t(v));
}

/// ADD/MUL in the instruction's operand order: the compiler treats the intrinsics as
/// commutative and may swap them, which changes which NaN propagates.
template <int K>
__m128i ordered(__m128i a, __m128i b) {
  if constexpr (K == 0) asm volatile("addps %1, %0" : "+x"(a) : "x"(b));
  if constexpr (K == 1) asm volatile("addpd %1, %0" : "+x"(a) : "x"(b));
  if constexpr (K == 2) asm volatile("addss %1, %0" : "+x"(a) : "x"(b));
  if constexpr (K == 3) asm volatile("addsd %1, %0" : "+x"(a) : "x"(b));
  if constexpr (K == 4) asm volatile("mulps %1, %0" : "+x"(a) : "x"(b));
  if constexpr (K == 5) asm volatile("mulpd %1, %0" : "+x"(a) : "x"(b));
  if constexpr (K == 6) asm volatile("mulss %1, %0" : "+x"(a) : "x"(b));
  if constexpr (K == 7) asm volatile("mulsd %1, %0" : "+x"(a) : "x"(b));
  return a;
}

__m128i compute(VecOp op, __m128i a, __m128i b, unsigned imm) {
  switch (op) {
    case VecOp::AddPS:
      return ordered<0>(a, b);
    case VecOp::AddPD:
      return ordered<1>(a, b);
    case VecOp::AddSS:
      return ordered<2>(a, b);
    case VecOp::AddSD:
      return ordered<3>(a, b);
    case VecOp::SubPS:
      return pi(_mm_sub_ps(ps(a), ps(b)));
    case VecOp::SubPD:
      return pi(_mm_sub_pd(pd(a), pd(b)));
    case VecOp::SubSS:
      return pi(_mm_sub_ss(ps(a), ps(b)));
    case VecOp::SubSD:
      return pi(_mm_sub_sd(pd(a), pd(b)));
    case VecOp::MulPS:
      return ordered<4>(a, b);
    case VecOp::MulPD:
      return ordered<5>(a, b);
    case VecOp::MulSS:
      return ordered<6>(a, b);
    case VecOp::MulSD:
      return ordered<7>(a, b);
    case VecOp::DivPS:
      return pi(_mm_div_ps(ps(a), ps(b)));
    case VecOp::DivPD:
      return pi(_mm_div_pd(pd(a), pd(b)));
    case VecOp::DivSS:
      return pi(_mm_div_ss(ps(a), ps(b)));
    case VecOp::DivSD:
      return pi(_mm_div_sd(pd(a), pd(b)));
    case VecOp::MinPS:
      return pi(_mm_min_ps(ps(a), ps(b)));
    case VecOp::MinPD:
      return pi(_mm_min_pd(pd(a), pd(b)));
    case VecOp::MinSS:
      return pi(_mm_min_ss(ps(a), ps(b)));
    case VecOp::MinSD:
      return pi(_mm_min_sd(pd(a), pd(b)));
    case VecOp::MaxPS:
      return pi(_mm_max_ps(ps(a), ps(b)));
    case VecOp::MaxPD:
      return pi(_mm_max_pd(pd(a), pd(b)));
    case VecOp::MaxSS:
      return pi(_mm_max_ss(ps(a), ps(b)));
    case VecOp::MaxSD:
      return pi(_mm_max_sd(pd(a), pd(b)));
    case VecOp::SqrtPS:
      return pi(_mm_sqrt_ps(ps(b)));
    case VecOp::SqrtPD:
      return pi(_mm_sqrt_pd(pd(b)));
    case VecOp::SqrtSS:
      return pi(_mm_move_ss(ps(a), _mm_sqrt_ss(ps(b))));
    case VecOp::SqrtSD:
      return pi(_mm_sqrt_sd(pd(a), pd(b)));
    case VecOp::CmpPS:
      if (imm >= 8) return cmp_vex_any(imm, op, a, b, std::make_integer_sequence<int, 32>{});
      return CMP8(ps, ps);
    case VecOp::CmpPD:
      if (imm >= 8) return cmp_vex_any(imm, op, a, b, std::make_integer_sequence<int, 32>{});
      return CMP8(pd, pd);
    case VecOp::CmpSS:
      if (imm >= 8) return cmp_vex_any(imm, op, a, b, std::make_integer_sequence<int, 32>{});
      return CMP8(ss, ps);
    case VecOp::CmpSD:
      if (imm >= 8) return cmp_vex_any(imm, op, a, b, std::make_integer_sequence<int, 32>{});
      return CMP8(sd, pd);
    case VecOp::CvtDQ2PS:
      return pi(_mm_cvtepi32_ps(b));
    case VecOp::CvtPS2DQ:
      return _mm_cvtps_epi32(ps(b));
    case VecOp::CvtTPS2DQ:
      return _mm_cvttps_epi32(ps(b));
    case VecOp::CvtPS2PD:
      return pi(_mm_cvtps_pd(ps(b)));
    case VecOp::CvtPD2PS:
      return pi(_mm_cvtpd_ps(pd(b)));
    case VecOp::CvtSS2SD:
      return pi(_mm_cvtss_sd(pd(a), ps(b)));
    case VecOp::CvtSD2SS:
      return pi(_mm_cvtsd_ss(ps(a), pd(b)));
    case VecOp::CvtDQ2PD:
      return pi(_mm_cvtepi32_pd(b));
    case VecOp::CvtPD2DQ:
      return _mm_cvtpd_epi32(pd(b));
    case VecOp::CvtTPD2DQ:
      return _mm_cvttpd_epi32(pd(b));
    case VecOp::CvtSI2SS:
      return pi(_mm_cvtsi32_ss(ps(a), _mm_cvtsi128_si32(b)));
    case VecOp::CvtSI2SD:
      return pi(_mm_cvtsi32_sd(pd(a), _mm_cvtsi128_si32(b)));
    case VecOp::CvtSQ2SS:
      return pi(_mm_cvtsi64_ss(ps(a), _mm_cvtsi128_si64(b)));
    case VecOp::CvtSQ2SD:
      return pi(_mm_cvtsi64_sd(pd(a), _mm_cvtsi128_si64(b)));
    case VecOp::CvtSS2SI:
      return q0(uint32_t(_mm_cvtss_si32(ps(b))));
    case VecOp::CvtTSS2SI:
      return q0(uint32_t(_mm_cvttss_si32(ps(b))));
    case VecOp::CvtSD2SI:
      return q0(uint32_t(_mm_cvtsd_si32(pd(b))));
    case VecOp::CvtTSD2SI:
      return q0(uint32_t(_mm_cvttsd_si32(pd(b))));
    case VecOp::CvtSS2SQ:
      return q0(uint64_t(_mm_cvtss_si64(ps(b))));
    case VecOp::CvtTSS2SQ:
      return q0(uint64_t(_mm_cvttss_si64(ps(b))));
    case VecOp::CvtSD2SQ:
      return q0(uint64_t(_mm_cvtsd_si64(pd(b))));
    case VecOp::CvtTSD2SQ:
      return q0(uint64_t(_mm_cvttsd_si64(pd(b))));
    case VecOp::ComiSS:
      return comis<0>(a, b);
    case VecOp::UcomiSS:
      return comis<1>(a, b);
    case VecOp::ComiSD:
      return comis<2>(a, b);
    case VecOp::UcomiSD:
      return comis<3>(a, b);
    default:
      return _mm_setzero_si128();
  }
}

/// The host's result and raised flags for op (independent of ir::eval_vec's asm). The empty
/// asm statements keep the operation between the two MXCSR accesses.
std::pair<Vec128, unsigned> oracle(VecOp op, const Vec128& va, const Vec128& vb, unsigned imm) {
  __m128i a = to_m(va), b = to_m(vb);
  const unsigned saved = _mm_getcsr();
  _mm_setcsr(0x1f80);
  asm volatile("" : "+x"(a), "+x"(b));
  __m128i r = compute(op, a, b, imm);
  asm volatile("" : "+x"(r));
  const unsigned flags = _mm_getcsr() & 0x3f;
  _mm_setcsr(saved);
  return {from_m(r), flags};
}

class VecFpTest : public BothBackends {
 protected:
  /// A block: r0..1 = op(r2..3, r4..5); r6 = the flags (quadword 0 of the flags form), r7 its
  /// quadword 1.
  std::unique_ptr<exec::TranslationBlock> block(VecOp op, unsigned imm) {
    auto tb = new_tb();
    Emitter e(tb->ir);
    Value a = e.get_reg(Type::I128, reg(2)), b = e.get_reg(Type::I128, reg(4));
    e.set_reg(reg(0), e.vec_fp(op, a, b, imm));
    Value f = e.vec_fp(op, a, b, imm | ir::kVecFpFlags);
    e.set_reg(reg(6), e.vec_lane(f, 0));
    e.set_reg(reg(7), e.vec_lane(f, 1));
    e.jump(0x2000);
    return tb;
  }

  void check(VecOp op, unsigned imm, const std::vector<std::pair<Vec128, Vec128>>& inputs) {
    auto tb = block(op, imm);
    const Tiers tiers = both_tiers(*tb);
    ASSERT_NE(tiers.fn, nullptr);
    for (const auto& [a, b] : inputs) {
      const auto [want, flags] = oracle(op, a, b, imm);
      const char* name = ir::vec_op_info(op).name;
      ASSERT_EQ(ir::eval_vec(op, a, b, imm), want) << name << " imm " << imm;
      ASSERT_EQ(ir::eval_vec(op, a, b, imm | ir::kVecFpFlags), (Vec128{flags, 0}))
          << name << " imm " << imm << std::hex << " a " << a.q[0] << ":" << a.q[1] << " b "
          << b.q[0] << ":" << b.q[1];
      for (int tier = 0; tier < kBothTiers; ++tier) {
        cpu_->r[2] = a.q[0], cpu_->r[3] = a.q[1], cpu_->r[4] = b.q[0], cpu_->r[5] = b.q[1];
        cpu_->r[6] = cpu_->r[7] = 0xdead;
        EXPECT_EQ(run_tier(tiers, tier), exec::kRetNext);
        const char* who = tier_name(tier);
        ASSERT_EQ(cpu_->r[0], want.q[0]) << who << " " << name << " imm " << imm << std::hex
                                         << " a " << a.q[0] << " b " << b.q[0];
        ASSERT_EQ(cpu_->r[1], want.q[1]) << who << " " << name << " imm " << imm;
        ASSERT_EQ(cpu_->r[6], flags) << who << " " << name << " imm " << imm << std::hex << " a "
                                     << a.q[0] << ":" << a.q[1] << " b " << b.q[0] << ":" << b.q[1];
        ASSERT_EQ(cpu_->r[7], 0u) << who;
      }
    }
  }
};

uint64_t f2(float x, float y) {
  uint32_t a, b;
  std::memcpy(&a, &x, 4);
  std::memcpy(&b, &y, 4);
  return uint64_t(b) << 32 | a;
}
uint64_t d1(double x) {
  uint64_t a;
  std::memcpy(&a, &x, 8);
  return a;
}

/// Lanes that exercise every flag: (single pairs, double) values.
std::vector<std::pair<Vec128, Vec128>> inputs(bool dbl, std::mt19937_64& rng) {
  const float fi = INFINITY, fmax = 3.4028235e38f, fden = 1e-40f, fmin = 1.17549435e-38f;
  const double di = INFINITY, dmax = 1.7976931348623157e308, dden = 4e-320, dmin = 2.2e-308;
  std::vector<uint64_t> fv = {
      f2(1.0f, 3.0f),        f2(0.0f, -0.0f), f2(fi, -fi),       f2(fmax, -fmax),
      f2(fden, -fden),       f2(fmin, 0.1f),  f2(-1.0f, 2.5e9f), f2(NAN, -NAN),
      0x7fa000007f800001ull,  // signalling NaNs
      0xffc12345ffa00001ull, f2(3e9f, -3e9f), f2(1e-30f, 1e30f), f2(-0.0f, 7.0f),
      0x800000017f7fffffull,  // -denormal, max
      0xcf000000cf000001ull,  // -2^31 exactly and just past it
      0xdf000000df000001ull,  // -2^63 exactly and just past it
      f2(9.3e18f, 2.0e9f),    // out of range for int64; for int32
      0x000000017fffffffull,  // integer sources: INT32_MAX, 1
  };
  std::vector<uint64_t> dv = {
      d1(1.0),
      d1(3.0),
      d1(0.0),
      d1(-0.0),
      d1(di),
      d1(-di),
      d1(dmax),
      d1(-dmax),
      d1(dden),
      d1(-dden),
      d1(dmin),
      d1(0.1),
      d1(NAN),
      d1(-NAN),
      0x7ff0000000000001ull,
      0xfff4000000000000ull,
      d1(3e9),
      d1(-2147483648.5),
      d1(-2147483648.0),
      d1(1e300),
      d1(1e-300),
      d1(1e39),
      d1(1e-46),
      d1(2147483647.5),
      d1(9.2233720368547758e18),   // 2^63: out of range for int64
      d1(-9.2233720368547758e18),  // -2^63: in range
      d1(4294967296.0),
      0x80000000ull,          // as an integer source: INT32_MIN
      0xffffffff7fffffffull,  // INT32_MAX; as int64 negative
      0x8000000000000000ull,  // -0.0 / INT64_MIN
      0x7fffffffffffffffull,
  };
  const std::vector<uint64_t>& v = dbl ? dv : fv;
  std::vector<std::pair<Vec128, Vec128>> in;
  for (size_t i = 0; i < v.size(); ++i)
    for (size_t j = 0; j < v.size(); j += 3)
      in.push_back({Vec128{v[i], v[(i + 5) % v.size()]}, Vec128{v[j], v[(j + 7) % v.size()]}});
  for (int k = 0; k < 16; ++k) {
    Vec128 a{rng(), rng()}, b{rng(), rng()};
    if (k & 1) b = a;
    in.push_back({a, b});
  }
  return in;
}

bool host_avx() {
  return __builtin_cpu_supports("avx");
}

TEST_P(VecFpTest, EveryFpRowMatchesTheHostSseWithFlags) {
  std::mt19937_64 rng(11);
  unsigned rows = 0;
  for (unsigned o = 0; o < ir::kNumVecOps; ++o) {
    const auto op = VecOp(o);
    if (!ir::is_fp_vec_op(op)) continue;
    ++rows;
    const bool cmp =
        op == VecOp::CmpPS || op == VecOp::CmpPD || op == VecOp::CmpSS || op == VecOp::CmpSD;
    const bool dbl_in = ir::vec_op_info(op).lane_bits == 64 && op != VecOp::CvtPS2PD &&
                        op != VecOp::CvtSS2SD && op != VecOp::CvtDQ2PD && op != VecOp::CvtSI2SD &&
                        op != VecOp::CvtSQ2SD;
    // Predicates 8-31 are VEX-only: the rows run VCMPxx there, on AVX hosts.
    for (unsigned imm = 0; imm < (cmp ? (host_avx() ? 32u : 8u) : 1u); ++imm) {
      check(op, imm, inputs(dbl_in, rng));
      if (HasFatalFailure()) return;
    }
  }
  EXPECT_EQ(rows, 58u);
}

// Every flag bit is raised by some row on these inputs (the oracle is not vacuous).
TEST_P(VecFpTest, TheInputsRaiseEveryFlag) {
  std::mt19937_64 rng(11);
  unsigned seen = 0;
  for (VecOp op :
       {VecOp::AddPS, VecOp::MulPD, VecOp::DivPS, VecOp::SqrtPD, VecOp::CvtPD2PS, VecOp::CvtTPS2DQ})
    for (const auto& [a, b] : inputs(ir::vec_op_info(op).lane_bits == 64, rng))
      seen |= oracle(op, a, b, 0).second;
  EXPECT_EQ(seen, 0x3fu);
}

// The integer-side rows against the SDM's own statements (not the host): the integer
// indefinite with IE when out of range or NaN, ZF PF CF of (U)COMIS, IE on a QNaN only for
// COMIS, DE for a denormal operand.
TEST(VecFpRows, IntegerAndEflagsRowsFollowTheSdm) {
  auto run = [](VecOp op, uint64_t a, uint64_t b) {
    return std::pair{ir::eval_vec(op, Vec128{a, 0}, Vec128{b, 0}, 0).q[0],
                     ir::eval_vec(op, Vec128{a, 0}, Vec128{b, 0}, ir::kVecFpFlags).q[0]};
  };
  using P = std::pair<uint64_t, uint64_t>;
  EXPECT_EQ(run(VecOp::CvtTSD2SI, 0, d1(3e9)), (P{0x80000000u, 1}));
  EXPECT_EQ(run(VecOp::CvtSD2SI, 0, d1(-2147483648.0)), (P{0x80000000u, 0}));
  EXPECT_EQ(run(VecOp::CvtSD2SI, 0, d1(2.5)), (P{2, 0x20}));  // round to nearest even, PE
  EXPECT_EQ(run(VecOp::CvtTSD2SQ, 0, d1(9.2233720368547758e18)), (P{1ull << 63, 1}));
  EXPECT_EQ(run(VecOp::CvtSS2SQ, 0, 0x7fc00000), (P{1ull << 63, 1}));  // QNaN
  EXPECT_EQ(run(VecOp::CvtTSS2SI, 0, f2(-7.9f, 0)), (P{0xfffffff9u, 0x20}));
  EXPECT_EQ(run(VecOp::CvtSQ2SD, d1(1.0), 0x7fffffffffffffffull),
            (P{d1(9.2233720368547758e18), 0x20}));
  EXPECT_EQ(run(VecOp::CvtSI2SS, 0, 0xfffffffeu), (P{f2(-2.0f, 0), 0}));
  const uint64_t qnan = d1(NAN), snan = 0x7ff0000000000001ull;
  EXPECT_EQ(run(VecOp::ComiSD, d1(1.0), d1(2.0)), (P{0x03, 0}));    // less: CF
  EXPECT_EQ(run(VecOp::ComiSD, d1(2.0), d1(1.0)), (P{0x02, 0}));    // greater
  EXPECT_EQ(run(VecOp::UcomiSD, d1(-0.0), d1(0.0)), (P{0x42, 0}));  // equal: ZF
  EXPECT_EQ(run(VecOp::ComiSD, d1(1.0), qnan), (P{0x47, 1}));       // unordered: ZF PF CF, IE
  EXPECT_EQ(run(VecOp::UcomiSD, d1(1.0), qnan), (P{0x47, 0}));
  EXPECT_EQ(run(VecOp::UcomiSD, snan, d1(1.0)), (P{0x47, 1}));
  EXPECT_EQ(run(VecOp::UcomiSS, f2(1e-40f, 0), f2(0.0f, 0)), (P{0x02, 2}));  // DE
}

INSTANTIATE_TEST_SUITE_P(Backends, VecFpTest, ::testing::Values(Backend::Llvm, Backend::Baseline),
                         backend_name);

}  // namespace
}  // namespace orrery::tcg::llvm::test
