#include "cpu/arm64/fp_estimate.h"

#include <algorithm>
#include <utility>

#include "cpu/arm64/state.h"

namespace orrery::cpu::arm64::fp {

namespace {

/// Field layout of one precision.
struct Format {
  unsigned n, e, f;  // total, exponent and fraction bits
  uint64_t sign_bit() const { return 1ull << (n - 1); }
  uint64_t exp_max() const { return (1ull << e) - 1; }
  uint64_t frac_mask() const { return (1ull << f) - 1; }
  uint64_t quiet() const { return 1ull << (f - 1); }
  uint64_t inf(bool sign) const { return (sign ? sign_bit() : 0) | exp_max() << f; }
  uint64_t default_nan() const { return exp_max() << f | quiet(); }
  uint64_t max_normal(bool sign) const {
    return (sign ? sign_bit() : 0) | (exp_max() - 1) << f | frac_mask();
  }
};

Format format(Prec p) {
  return p == kD ? Format{64, 11, 52} : p == kS ? Format{32, 8, 23} : Format{16, 5, 10};
}

struct Unpacked {
  bool sign, nan, snan, inf, zero;
  uint64_t exp, frac;
};

/// FPUnpack: denormals are zeros under FPCR.FZ (FZ16 for half precision), signalling IDC.
Unpacked unpack(const Format& fm, uint64_t a, uint64_t fpcr, uint32_t& flags) {
  Unpacked u{};
  u.sign = (a >> (fm.n - 1)) & 1;
  u.exp = (a >> fm.f) & fm.exp_max();
  u.frac = a & fm.frac_mask();
  u.nan = u.exp == fm.exp_max() && u.frac;
  u.snan = u.nan && !(u.frac & fm.quiet());
  u.inf = u.exp == fm.exp_max() && !u.frac;
  u.zero = u.exp == 0 && u.frac == 0;
  const bool fz = fm.n == 16 ? (fpcr >> 19) & 1 : (fpcr & kFpcrFz) != 0;
  if (u.exp == 0 && u.frac && fz) {
    u.zero = true;
    if (fm.n != 16) flags |= kIdc;
  }
  return u;
}

/// FPProcessNaNs over one or two operands (a first).
uint64_t process_nans(const Format& fm, uint64_t a, const Unpacked& ua, uint64_t b,
                      const Unpacked* ub, uint64_t fpcr, uint32_t& flags) {
  uint64_t pick;
  if (ua.snan || (ub && ub->snan)) {
    flags |= kIoc;
    pick = ua.snan ? a : b;
  } else {
    pick = ua.nan ? a : b;
  }
  return (fpcr & kFpcrDn) ? fm.default_nan() : (pick | fm.quiet());
}

/// The operand's fraction widened to 52 bits.
uint64_t frac52(const Format& fm, uint64_t frac) {
  return frac << (52 - fm.f);
}
constexpr uint64_t kMask52 = (1ull << 52) - 1;

uint64_t recip_estimate_fp(const Format& fm, uint64_t a, uint64_t fpcr, uint32_t& flags) {
  const Unpacked u = unpack(fm, a, fpcr, flags);
  if (u.nan) return process_nans(fm, a, u, 0, nullptr, fpcr, flags);
  if (u.inf) return u.sign ? fm.sign_bit() : 0;
  if (u.zero) {
    flags |= kDzc;
    return fm.inf(u.sign);
  }
  if (u.exp == 0 && u.frac < (1ull << (fm.f - 2))) {  // |value| < 2^-(2^(e-1)): 1/x overflows
    const unsigned rm = unsigned(fpcr >> kFpcrRModeShift) & 3;
    const bool to_inf = rm == kRN ? true : rm == kRP ? !u.sign : rm == kRM ? u.sign : false;
    flags |= kOfc | kIxc;
    return to_inf ? fm.inf(u.sign) : fm.max_normal(u.sign);
  }
  const bool fz = fm.n != 16 && (fpcr & kFpcrFz);
  if (fz && u.exp >= fm.exp_max() - 2) {  // |value| >= 2^(emax-1): the result is denormal
    flags |= kUfc;
    return u.sign ? fm.sign_bit() : 0;
  }
  uint64_t fraction = frac52(fm, u.frac);
  int64_t exp = int64_t(u.exp);
  if (exp == 0) {
    if (!((fraction >> 51) & 1)) {
      exp = -1;
      fraction = (fraction << 2) & kMask52;
    } else {
      fraction = (fraction << 1) & kMask52;
    }
  }
  const unsigned scaled = unsigned(256 | (fraction >> 44));
  // 2 * bias - 1 - exp: the biased exponent of 1/x's estimate.
  int64_t result_exp = int64_t(2 * (fm.exp_max() >> 1) - 1) - exp;
  const unsigned est = recip_estimate(scaled);
  fraction = uint64_t(est & 0xff) << 44;
  if (result_exp == 0) {
    fraction = 1ull << 51 | fraction >> 1;
  } else if (result_exp == -1) {
    fraction = 1ull << 50 | fraction >> 2;
    result_exp = 0;
  }
  return (u.sign ? fm.sign_bit() : 0) | uint64_t(result_exp) << fm.f | fraction >> (52 - fm.f);
}

uint64_t rsqrt_estimate_fp(const Format& fm, uint64_t a, uint64_t fpcr, uint32_t& flags) {
  const Unpacked u = unpack(fm, a, fpcr, flags);
  if (u.nan) return process_nans(fm, a, u, 0, nullptr, fpcr, flags);
  if (u.zero) {
    flags |= kDzc;
    return fm.inf(u.sign);
  }
  if (u.sign) {
    flags |= kIoc;
    return fm.default_nan();
  }
  if (u.inf) return 0;
  uint64_t fraction = frac52(fm, u.frac);
  int64_t exp = int64_t(u.exp);
  if (exp == 0) {
    while (!((fraction >> 51) & 1)) {
      fraction = (fraction << 1) & kMask52;
      --exp;
    }
    fraction = (fraction << 1) & kMask52;
  }
  const unsigned scaled =
      (exp & 1) == 0 ? unsigned(256 | (fraction >> 44)) : unsigned(128 | (fraction >> 45));
  // (3 * bias - 1 - exp) / 2 (bias = 15, 127, 1023: 44, 380, 3068).
  const int64_t result_exp = (int64_t(3 * (fm.exp_max() >> 1)) - 1 - exp) / 2;
  const unsigned est = rsqrt_estimate(scaled);
  return uint64_t(result_exp) << fm.f | uint64_t(est & 0xff) << (fm.f - 8);
}

uint64_t recpx(const Format& fm, uint64_t a, uint64_t fpcr, uint32_t& flags) {
  const Unpacked u = unpack(fm, a, fpcr, flags);
  if (u.nan) return process_nans(fm, a, u, 0, nullptr, fpcr, flags);
  const uint64_t sign = u.sign ? fm.sign_bit() : 0;
  if (u.exp == 0) return sign | (fm.exp_max() - 1) << fm.f;  // zero or denormal
  return sign | (~u.exp & fm.exp_max()) << fm.f;
}

/// FPRecipStepFused (2 - a*b) and FPRSqrtStepFused ((3 - a*b) / 2), each rounded once.
uint64_t step(const Format& fm, Prec p, bool rsqrt, uint64_t a, uint64_t b, uint64_t fpcr,
              uint32_t& flags) {
  const uint64_t na = a ^ fm.sign_bit();  // FPNeg(op1), before the NaN checks
  const Unpacked u1 = unpack(fm, na, fpcr, flags), u2 = unpack(fm, b, fpcr, flags);
  if (u1.nan || u2.nan) return process_nans(fm, na, u1, b, &u2, fpcr, flags);
  const uint64_t one_five = (fm.exp_max() >> 1) << fm.f | 1ull << (fm.f - 1);
  const uint64_t two = ((fm.exp_max() >> 1) + 1) << fm.f;
  if ((u1.inf && u2.zero) || (u1.zero && u2.inf)) return rsqrt ? one_five : two;
  if (u1.inf || u2.inf) return fm.inf(u1.sign != u2.sign);
  if (!rsqrt) return fma(p, two, na, b, fpcr, flags);
  // 1.5 + (-a/2) * b: halving the operand of larger magnitude is exact while it stays normal
  // (biased exponent >= 2). If neither qualifies the product is far below half an ulp of 1.5
  // and only its sign matters, which the unscaled product has too.
  uint64_t x = na, y = b;
  const uint64_t ex = (x >> fm.f) & fm.exp_max(), ey = (y >> fm.f) & fm.exp_max();
  if (ey > ex) {
    std::swap(x, y);
  }
  const uint64_t emax = std::max(ex, ey);
  if (emax >= 2 && !u1.zero && !u2.zero) x -= 1ull << fm.f;
  return fma(p, one_five, x, y, fpcr, flags);
}

}  // namespace

unsigned recip_estimate(unsigned a) {
  a = a * 2 + 1;
  const unsigned b = (1u << 19) / a;
  return (b + 1) / 2;
}

unsigned rsqrt_estimate(unsigned a) {
  if (a < 256)
    a = a * 2 + 1;
  else
    a = ((a >> 1) << 1) * 2 + 2;  // (a<8:1>:'0' + 1) * 2
  unsigned b = 512;
  while (uint64_t(a) * (b + 1) * (b + 1) < (1ull << 28)) ++b;
  return (b + 1) / 2;
}

uint64_t estimate(EstOp op, Prec p, uint64_t a, uint64_t b, uint64_t fpcr, uint32_t& flags) {
  const Format fm = format(p);
  switch (op) {
    case EstOp::RecipEstimate:
      return recip_estimate_fp(fm, a, fpcr, flags);
    case EstOp::RSqrtEstimate:
      return rsqrt_estimate_fp(fm, a, fpcr, flags);
    case EstOp::RecpX:
      return recpx(fm, a, fpcr, flags);
    case EstOp::RecipStep:
      return step(fm, p, false, a, b, fpcr, flags);
    case EstOp::RSqrtStep:
      return step(fm, p, true, a, b, fpcr, flags);
    case EstOp::URecipEstimate:
      if (!((a >> 31) & 1)) return 0xffffffffu;
      return uint64_t(recip_estimate(unsigned(a >> 23) & 0x1ff) & 0x1ff) << 23;
    case EstOp::URSqrtEstimate:
      if (!((a >> 30) & 3)) return 0xffffffffu;
      return uint64_t(rsqrt_estimate(unsigned(a >> 23) & 0x1ff) & 0x1ff) << 23;
  }
  return 0;
}

uint64_t helper_fp_estimate(tcg::CpuCommon* c, uint64_t a, uint64_t b, uint64_t desc) {
  Arm64State& s = state_of(*c);
  uint32_t flags = 0;
  const uint64_t r = estimate(EstOp(desc & 0xff), Prec((desc >> 16) & 3), a, b, s.fpcr, flags);
  s.fpsr |= flags;
  return r;
}

}  // namespace orrery::cpu::arm64::fp
