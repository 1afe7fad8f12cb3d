// AArch64 FP semantics over the host FPU. Operands that are NaN never reach the host (Arm's NaN
// rules are applied here), so the host only ever produces a NaN for an invalid operation, which
// becomes Arm's default NaN. Rounding and exception flags come from MXCSR, set for each operation
// and restored afterwards; compiler barriers keep the arithmetic between the MXCSR writes.
#include "cpu/arm64/fp.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "cpu/arm64/state.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define ORRERY_FP_SSE 1
#else
#include <cfenv>
#endif

namespace orrery::cpu::arm64::fp {
namespace {

/// Tag for half precision: Bits<Half> classifies and builds NaNs; arithmetic goes through double.
struct Half {};

template <typename F>
struct Fmt;
template <>
struct Fmt<Half> {
  using U = uint16_t;
  static constexpr int kFrac = 10;
};
template <>
struct Fmt<float> {
  using U = uint32_t;
  static constexpr int kFrac = 23;
};
template <>
struct Fmt<double> {
  using U = uint64_t;
  static constexpr int kFrac = 52;
};

/// Bit-level classification of one format.
template <typename F>
struct Bits {
  using U = typename Fmt<F>::U;
  static constexpr int kFrac = Fmt<F>::kFrac;
  static constexpr U kSign = U(1) << (sizeof(U) * 8 - 1);
  static constexpr U kFracMask = (U(1) << kFrac) - 1;
  static constexpr U kExp = U(~kSign) & U(~kFracMask);
  static constexpr U kQuiet = U(1) << (kFrac - 1);
  static constexpr U kDefaultNaN = kExp | kQuiet;
  static constexpr U kMinNormal = U(1) << kFrac;
  static bool nan(U x) { return (x & kExp) == kExp && (x & kFracMask); }
  static bool snan(U x) { return nan(x) && !(x & kQuiet); }
  static bool qnan(U x) { return nan(x) && (x & kQuiet); }
  static bool inf(U x) { return (x & ~kSign) == kExp; }
  static bool zero(U x) { return (x & ~kSign) == 0; }
  static bool denormal(U x) { return !(x & kExp) && (x & kFracMask); }
  static F f(U x) { return std::bit_cast<F>(x); }
  static U u(F x) { return std::bit_cast<U>(x); }
};

/// Keeps the compiler from moving or folding a value across the MXCSR writes.
template <typename T>
inline void opaque(T& x) {
#if defined(ORRERY_FP_SSE)
  if constexpr (std::is_floating_point_v<T>)
    asm volatile("" : "+x"(x));
  else
    asm volatile("" : "+r"(x));
#else
  asm volatile("" : "+g"(x));
#endif
}

// Host exception bits as Arm FPSR bits (x86 UE is handled separately: Arm detects tininess
// before rounding, x86 after).
constexpr uint32_t kHostInvalid = 1, kHostDivZero = 4, kHostOverflow = 8, kHostUnderflow = 16,
                   kHostInexact = 32;

/// MXCSR for one operation: all exceptions masked, flags clear, Arm's rounding mode; restores
/// the thread's previous MXCSR on destruction so the host is never left in a non-default mode.
class HostFpEnv {
 public:
  explicit HostFpEnv(unsigned rmode) {
#if defined(ORRERY_FP_SSE)
    static constexpr uint32_t kRc[4] = {0, 2, 1, 3};  // RN, RP, RM, RZ -> MXCSR.RC
    saved_ = _mm_getcsr();
    _mm_setcsr(0x1f80u | kRc[rmode & 3] << 13);
#else
    static constexpr int kRound[4] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
    saved_round_ = std::fegetround();
    std::fesetround(kRound[rmode & 3]);
    std::feclearexcept(FE_ALL_EXCEPT);
#endif
  }
  ~HostFpEnv() {
#if defined(ORRERY_FP_SSE)
    _mm_setcsr(saved_);
#else
    std::fesetround(saved_round_);
#endif
  }
  HostFpEnv(const HostFpEnv&) = delete;
  HostFpEnv& operator=(const HostFpEnv&) = delete;

  uint32_t flags() const {
#if defined(ORRERY_FP_SSE)
    uint32_t m = _mm_getcsr();
    return (m & 1 ? kHostInvalid : 0) | (m & 4 ? kHostDivZero : 0) | (m & 8 ? kHostOverflow : 0) |
           (m & 16 ? kHostUnderflow : 0) | (m & 32 ? kHostInexact : 0);
#else
    int e = std::fetestexcept(FE_ALL_EXCEPT);
    return (e & FE_INVALID ? kHostInvalid : 0) | (e & FE_DIVBYZERO ? kHostDivZero : 0) |
           (e & FE_OVERFLOW ? kHostOverflow : 0) | (e & FE_UNDERFLOW ? kHostUnderflow : 0) |
           (e & FE_INEXACT ? kHostInexact : 0);
#endif
  }

 private:
#if defined(ORRERY_FP_SSE)
  uint32_t saved_ = 0;
#else
  int saved_round_ = 0;
#endif
};

unsigned fpcr_rmode(uint64_t fpcr) {
  return unsigned(fpcr >> kFpcrRModeShift) & 3;
}

/// Runs op (a callable returning F) on the host in Arm rounding mode rm and applies Arm's
/// result rules: default NaN, tininess before rounding, and FPCR.FZ output flushing.
template <typename F, typename Op>
typename Bits<F>::U host_round(Op op, unsigned rm, uint64_t fpcr, uint32_t& flags) {
  using B = Bits<F>;
  F r;
  uint32_t hf;
  {
    HostFpEnv env(rm);
    r = op();
    opaque(r);
    hf = env.flags();
  }
  typename B::U u = B::u(r);
  if (B::nan(u)) u = B::kDefaultNaN;  // operands were numbers: an invalid operation
  uint32_t f = (hf & kHostInvalid ? kIoc : 0) | (hf & kHostDivZero ? kDzc : 0) |
               (hf & kHostOverflow ? kOfc : 0) | (hf & kHostInexact ? kIxc : 0);
  // Tiny before rounding: the host says so (it may detect after rounding, which implies before),
  // or the result is subnormal, or it rounded up to the smallest normal from below (seen by
  // recomputing toward zero).
  bool tiny = (hf & kHostUnderflow) || B::denormal(u);
  if (!tiny && (hf & kHostInexact) && (u & ~B::kSign) == B::kMinNormal) {
    F t;
    {
      HostFpEnv env(kRZ);
      t = op();
      opaque(t);
    }
    tiny = (B::u(t) & ~B::kSign) < B::kMinNormal;
  }
  if (tiny && (fpcr & kFpcrFz)) {
    u &= B::kSign;  // flushed: UFC only, not IXC
    f = kUfc;
  } else if (tiny && (hf & kHostInexact)) {
    f |= kUfc;
  }
  flags |= f;
  return u;
}

template <typename F>
typename Bits<F>::U flush_in(typename Bits<F>::U x, uint64_t fpcr, uint32_t& flags) {
  using B = Bits<F>;
  if ((fpcr & kFpcrFz) && B::denormal(x)) {
    flags |= kIdc;
    return x & B::kSign;
  }
  return x;
}

/// FPProcessNaNs over up to three operands: the first SNaN (signalling IOC), else the first
/// QNaN, quieted; the default NaN under FPCR.DN. False when no operand is a NaN.
template <typename F>
bool process_nans(std::initializer_list<typename Bits<F>::U> ops, uint64_t fpcr, uint32_t& flags,
                  typename Bits<F>::U& out) {
  using B = Bits<F>;
  const typename B::U* pick = nullptr;
  for (const auto& x : ops)
    if (B::snan(x)) {
      pick = &x;
      flags |= kIoc;
      break;
    }
  if (!pick)
    for (const auto& x : ops)
      if (B::nan(x)) {
        pick = &x;
        break;
      }
  if (!pick) return false;
  out = (fpcr & kFpcrDn) ? B::kDefaultNaN : (*pick | B::kQuiet);
  return true;
}

/// Rounds x to an integral value (exactly, in software) in mode rm; zero keeps x's sign.
double round_integral(double x, unsigned rm) {
  if (!(std::fabs(x) < 0x1p52)) return x;  // already integral, or infinite
  const double t = std::trunc(x), frac = x - t, away = std::copysign(1.0, x);
  double r = t;
  switch (rm) {
    case kRN:
      if (std::fabs(frac) > 0.5 || (std::fabs(frac) == 0.5 && std::fmod(t, 2.0) != 0)) r = t + away;
      break;
    case kRA:
      if (std::fabs(frac) >= 0.5) r = t + away;
      break;
    case kRP:
      if (frac > 0) r = t + 1;
      break;
    case kRM:
      if (frac < 0) r = t - 1;
      break;
    default:
      break;
  }
  return r == 0 ? std::copysign(0.0, x) : r;
}

#if defined(ORRERY_FP_SSE)
__attribute__((target("fma"))) double fma_hw(double a, double b, double c) {
  return __builtin_fma(a, b, c);
}
__attribute__((target("fma"))) float fma_hw(float a, float b, float c) {
  return __builtin_fmaf(a, b, c);
}
#endif

template <typename F>
F host_fma(F a, F b, F c) {
#if defined(ORRERY_FP_SSE)
  static const bool kHasFma = __builtin_cpu_supports("fma");
  if (kHasFma) return fma_hw(a, b, c);
#endif
  return std::fma(a, b, c);  // glibc's software fma honours the rounding mode and flags
}

template <typename F>
typename Bits<F>::U binop_t(BinOp op, typename Bits<F>::U a, typename Bits<F>::U b, uint64_t fpcr,
                            uint32_t& flags) {
  using B = Bits<F>;
  using U = typename B::U;
  a = flush_in<F>(a, fpcr, flags);
  b = flush_in<F>(b, fpcr, flags);
  const unsigned rm = fpcr_rmode(fpcr);
  U out = 0;
  auto arith = [&](auto fn) -> U {
    if (process_nans<F>({a, b}, fpcr, flags, out)) return out;
    F x = B::f(a), y = B::f(b);
    return host_round<F>(
        [&] {
          F p = x, q = y;
          opaque(p);
          opaque(q);
          F r = fn(p, q);
          return r;
        },
        rm, fpcr, flags);
  };
  switch (op) {
    case BinOp::Add:
      return arith([](F p, F q) { return p + q; });
    case BinOp::Sub:
      return arith([](F p, F q) { return p - q; });
    case BinOp::Mul:
      return arith([](F p, F q) { return p * q; });
    case BinOp::Div:
      return arith([](F p, F q) { return p / q; });
    case BinOp::Abd: {
      U r = arith([](F p, F q) { return p - q; });
      return r & ~B::kSign;  // FPAbs, also of a NaN
    }
    case BinOp::Mulx:
      if (!B::nan(a) && !B::nan(b) &&
          ((B::inf(a) && B::zero(b)) || (B::zero(a) && B::inf(b))))
        return ((a ^ b) & B::kSign) | B::u(F(2));
      return arith([](F p, F q) { return p * q; });
    case BinOp::Max:
    case BinOp::Min:
    case BinOp::MaxNm:
    case BinOp::MinNm: {
      const bool is_max = op == BinOp::Max || op == BinOp::MaxNm;
      if (op == BinOp::MaxNm || op == BinOp::MinNm) {
        // A single quiet NaN loses to a number: replace it by the infinity that always loses.
        const U loser = is_max ? (B::kExp | B::kSign) : B::kExp;
        if (B::qnan(a) && !B::nan(b))
          a = loser;
        else if (B::qnan(b) && !B::nan(a))
          b = loser;
      }
      if (process_nans<F>({a, b}, fpcr, flags, out)) return out;
      F x = B::f(a), y = B::f(b);
      if (x == y) return is_max ? (a & b) : (a | b);  // +0/-0: max is +0, min is -0
      return (x > y) == is_max ? a : b;
    }
    case BinOp::CmEq:
    case BinOp::CmGe:
    case BinOp::CmGt:
    case BinOp::AcGe:
    case BinOp::AcGt: {
      const U ones = ~U(0);
      if (B::nan(a) || B::nan(b)) {
        // FCMEQ signals only for SNaN; the ordered compares for any NaN.
        if (op != BinOp::CmEq || B::snan(a) || B::snan(b)) flags |= kIoc;
        return 0;
      }
      F x = B::f(a), y = B::f(b);
      if (op == BinOp::AcGe || op == BinOp::AcGt) x = std::fabs(x), y = std::fabs(y);
      bool r = op == BinOp::CmEq ? x == y
               : (op == BinOp::CmGe || op == BinOp::AcGe) ? x >= y
                                                          : x > y;
      return r ? ones : 0;
    }
    default:
      return 0;
  }
}

template <typename F>
typename Bits<F>::U fma_t(typename Bits<F>::U c, typename Bits<F>::U a, typename Bits<F>::U b,
                          uint64_t fpcr, uint32_t& flags) {
  using B = Bits<F>;
  using U = typename B::U;
  c = flush_in<F>(c, fpcr, flags);
  a = flush_in<F>(a, fpcr, flags);
  b = flush_in<F>(b, fpcr, flags);
  U out = 0;
  if (process_nans<F>({c, a, b}, fpcr, flags, out)) {
    const bool inf_zero = (B::inf(a) && B::zero(b)) || (B::zero(a) && B::inf(b));
    if (B::qnan(c) && inf_zero) {  // the product is invalid even though the addend is a NaN
      flags |= kIoc;
      return B::kDefaultNaN;
    }
    return out;
  }
  F x = B::f(a), y = B::f(b), z = B::f(c);
  return host_round<F>(
      [&] {
        F p = x, q = y, r = z;
        opaque(p);
        opaque(q);
        opaque(r);
        return host_fma(p, q, r);
      },
      fpcr_rmode(fpcr), fpcr, flags);
}

// ---- Conversions ----

/// A NaN's sign and fraction, the fraction left-aligned in 64 bits (FPConvertNaN).
struct NanBits {
  uint64_t sign = 0;
  uint64_t frac = 0;  // left-aligned, quiet bit included
  bool signalling = false;
};

struct Unpacked {
  bool nan = false;
  NanBits n;
  double value = 0;  // exact (when not a NaN)
};

/// The exact value of a half, single or double (no flushing).
Unpacked unpack_exact(Prec p, uint64_t a) {
  Unpacked r;
  if (p == kH) {
    const uint64_t sign = (a >> 15) & 1, exp = (a >> 10) & 31, frac = a & 0x3ff;
    if (exp == 31 && frac) {
      r.nan = true;
      r.n = {sign, frac << 54, !(frac & 0x200)};
    } else if (exp == 31) {
      r.value = sign ? -INFINITY : INFINITY;
    } else {
      double m = exp ? std::ldexp(double(frac | 0x400), int(exp) - 25) : std::ldexp(double(frac), -24);
      r.value = sign ? -m : m;
    }
  } else if (p == kS) {
    using B = Bits<float>;
    uint32_t x = uint32_t(a);
    if (B::nan(x)) {
      r.nan = true;
      r.n = {x >> 31, uint64_t(x & B::kFracMask) << 41, B::snan(x)};
    } else {
      r.value = B::f(x);
    }
  } else {
    using B = Bits<double>;
    if (B::nan(a)) {
      r.nan = true;
      r.n = {a >> 63, (a & B::kFracMask) << 12, B::snan(a)};
    } else {
      r.value = B::f(a);
    }
  }
  return r;
}

uint64_t pack_nan(Prec p, const NanBits& n, uint64_t fpcr) {
  const bool dn = fpcr & kFpcrDn;
  switch (p) {
    case kH:
      return dn ? 0x7e00 : (n.sign << 15 | 0x7c00 | 0x200 | n.frac >> 54);
    case kS:
      return dn ? Bits<float>::kDefaultNaN
                : (n.sign << 31 | Bits<float>::kExp | Bits<float>::kQuiet | n.frac >> 41);
    default:
      return dn ? Bits<double>::kDefaultNaN
                : (n.sign << 63 | Bits<double>::kExp | Bits<double>::kQuiet | n.frac >> 12);
  }
}

/// Rounds an exact non-NaN value to half precision in software (Arm's FPRound, no flushing:
/// FPCR.FZ does not apply to half-precision conversion results).
uint64_t round_to_half(double v, unsigned rm, uint32_t& flags, bool alt = false) {
  const uint64_t sign = std::signbit(v) ? 0x8000 : 0;
  if (std::isinf(v)) return sign | 0x7c00;  // (alternative half precision handles inf itself)
  if (v == 0) return sign;
  int e = 0;
  std::frexp(std::fabs(v), &e);
  const int exp = e - 1;                      // v = 1.f * 2^exp
  int q = std::max(exp, -14) - 10;            // exponent of the result's last place
  const double scaled = std::ldexp(std::fabs(v), -q);  // exact: a power-of-two scaling
  const double ip = std::trunc(scaled), frac = scaled - ip;
  uint64_t mant = uint64_t(ip);
  const bool inexact = frac != 0;
  bool up = false;
  switch (rm) {
    case kRN:
      up = frac > 0.5 || (frac == 0.5 && (mant & 1));
      break;
    case kRA:
      up = frac >= 0.5;
      break;
    case kRP:
      up = inexact && !sign;
      break;
    case kRM:
      up = inexact && sign;
      break;
    default:
      break;
  }
  if (up) ++mant;
  if (mant >= 2048) {
    mant >>= 1;
    ++q;
  }
  const int biased = mant >= 1024 ? q + 10 + 15 : 0;
  if (alt && biased >= 32) {  // FPCR.AHP: exponent 31 is a number; beyond it saturate, IOC only
    flags |= kIoc;
    return sign | 0x7fff;
  }
  if (inexact) {
    flags |= kIxc;
    if (exp < -14) flags |= kUfc;
  }
  if (!alt && biased >= 31) {
    flags |= kOfc | kIxc;
    const bool to_inf = rm == kRN || rm == kRA || (rm == kRP && !sign) || (rm == kRM && sign);
    return sign | (to_inf ? 0x7c00 : 0x7bff);
  }
  return sign | uint64_t(biased) << 10 | (mant & 0x3ff);
}

uint64_t convert_precision(Prec from, Prec to, uint64_t a, uint64_t fpcr, uint32_t& flags) {
  if (from == kS) a = flush_in<float>(uint32_t(a), fpcr, flags);
  if (from == kD) a = flush_in<double>(a, fpcr, flags);
  // FPCR.AHP: the half-precision side is the alternative format (no infinities or NaNs).
  const bool ahp = fpcr & kFpcrAhp;
  Unpacked u;
  if (from == kH && ahp && ((a >> 10) & 31) == 31) {
    const double m = std::ldexp(double((a & 0x3ff) | 0x400), 16 - 10);
    u.value = (a & 0x8000) ? -m : m;
  } else {
    u = unpack_exact(from, a);
  }
  if (to == kH && ahp && (u.nan || std::isinf(u.value))) {  // zero or the largest number, IOC
    flags |= kIoc;
    const uint64_t sign = u.nan ? u.n.sign << 15 : std::signbit(u.value) ? 0x8000 : 0;
    return u.nan ? sign : sign | 0x7fff;
  }
  if (u.nan) {
    if (u.n.signalling) flags |= kIoc;
    return pack_nan(to, u.n, fpcr);
  }
  const unsigned rm = fpcr_rmode(fpcr);
  switch (to) {
    case kH:
      return round_to_half(u.value, rm, flags, ahp);
    case kS: {
      if (from != kD) return Bits<float>::u(float(u.value));  // exact
      double x = u.value;
      return host_round<float>(
          [&] {
            double y = x;
            opaque(y);
            return float(y);
          },
          rm, fpcr, flags);
    }
    default:
      return Bits<double>::u(u.value);  // widening is exact
  }
}

template <typename F>
typename Bits<F>::U unop_t(UnOp op, unsigned rm, typename Bits<F>::U a, uint64_t fpcr,
                           uint32_t& flags) {
  using B = Bits<F>;
  using U = typename B::U;
  a = flush_in<F>(a, fpcr, flags);
  U out = 0;
  if (process_nans<F>({a}, fpcr, flags, out)) return out;
  switch (op) {
    case UnOp::Sqrt: {
      if ((a & B::kSign) && !B::zero(a)) {
        flags |= kIoc;
        return B::kDefaultNaN;
      }
      F x = B::f(a);
      return host_round<F>(
          [&] {
            F y = x;
            opaque(y);
            return std::sqrt(y);
          },
          fpcr_rmode(fpcr), fpcr, flags);
    }
    case UnOp::RoundInt:
    case UnOp::RoundIntExact: {
      if (rm == kRFpcr) rm = fpcr_rmode(fpcr);
      double x = B::f(a), r = round_integral(x, rm);
      if (op == UnOp::RoundIntExact && r != x) flags |= kIxc;
      return B::u(F(r));
    }
    default:
      return 0;
  }
}

// ---- Half precision (FEAT_FP16) ----
//
// Halves are exact doubles. Each operation runs on the host in double precision rounding toward
// zero with the inexact bit ORed into the last place ("round to odd"): 53 bits are more than
// 11 + 2, so rounding that result to half precision once more gives the correctly rounded
// half-precision result in every mode, with Arm's flags from FPRound (tininess before rounding).
// FPCR.FZ16 flushes denormal inputs to zero without IDC and tiny results to zero with UFC; it
// does not apply to FCVT between precisions (FPUnpackCV/FPRoundCV).

using BH = Bits<Half>;

uint64_t flush16(uint64_t x, uint64_t fpcr) {
  x &= 0xffff;
  return (fpcr & kFpcrFz16) && BH::denormal(uint16_t(x)) ? x & BH::kSign : x;
}

double half_value(uint64_t x) {
  return unpack_exact(kH, x).value;
}

/// FPRound to half precision of an exact (or round-to-odd) value, with FZ16 output flushing.
uint64_t round_half(double v, unsigned rm, uint64_t fpcr, uint32_t& flags) {
  if ((fpcr & kFpcrFz16) && v != 0 && std::fabs(v) < 0x1p-14) {
    flags |= kUfc;
    return std::signbit(v) ? 0x8000 : 0;
  }
  return round_to_half(v, rm, flags);
}

/// Runs op (returning double) rounding to odd, then rounds to half in Arm mode rm.
template <typename Op>
uint64_t half_arith(Op op, unsigned rm, uint64_t fpcr, uint32_t& flags) {
  double r;
  uint32_t hf;
  {
    HostFpEnv env(kRZ);
    r = op();
    opaque(r);
    hf = env.flags();
  }
  if (hf & kHostInvalid) {
    flags |= kIoc;
    return BH::kDefaultNaN;
  }
  if (hf & kHostDivZero) flags |= kDzc;
  if (r == 0) {  // an exact zero: its sign depends on the rounding mode (x + -x is -0 only in RM)
    HostFpEnv env(rm == kRA ? kRN : rm);
    r = op();
    opaque(r);
  } else if (hf & kHostInexact) {
    r = std::bit_cast<double>(std::bit_cast<uint64_t>(r) | 1);
  }
  return round_half(r, rm, fpcr, flags);
}

uint64_t binop_h(BinOp op, uint64_t a, uint64_t b, uint64_t fpcr, uint32_t& flags) {
  a = flush16(a, fpcr);
  b = flush16(b, fpcr);
  const unsigned rm = fpcr_rmode(fpcr);
  uint16_t out = 0;
  auto arith = [&](auto fn) -> uint64_t {
    if (process_nans<Half>({uint16_t(a), uint16_t(b)}, fpcr, flags, out)) return out;
    const double x = half_value(a), y = half_value(b);
    return half_arith(
        [&] {
          double p = x, q = y;
          opaque(p);
          opaque(q);
          return fn(p, q);
        },
        rm, fpcr, flags);
  };
  switch (op) {
    case BinOp::Add:
      return arith([](double p, double q) { return p + q; });
    case BinOp::Sub:
      return arith([](double p, double q) { return p - q; });
    case BinOp::Mul:
      return arith([](double p, double q) { return p * q; });
    case BinOp::Div:
      return arith([](double p, double q) { return p / q; });
    case BinOp::Abd:
      return arith([](double p, double q) { return p - q; }) & ~uint64_t(BH::kSign);
    case BinOp::Mulx:
      if (!BH::nan(a) && !BH::nan(b) &&
          ((BH::inf(a) && BH::zero(b)) || (BH::zero(a) && BH::inf(b))))
        return ((a ^ b) & BH::kSign) | 0x4000;  // +-2.0
      return arith([](double p, double q) { return p * q; });
    case BinOp::Max:
    case BinOp::Min:
    case BinOp::MaxNm:
    case BinOp::MinNm: {
      const bool is_max = op == BinOp::Max || op == BinOp::MaxNm;
      if (op == BinOp::MaxNm || op == BinOp::MinNm) {
        const uint64_t loser = is_max ? 0xfc00 : 0x7c00;
        if (BH::qnan(a) && !BH::nan(b))
          a = loser;
        else if (BH::qnan(b) && !BH::nan(a))
          b = loser;
      }
      if (process_nans<Half>({uint16_t(a), uint16_t(b)}, fpcr, flags, out)) return out;
      const double x = half_value(a), y = half_value(b);
      if (x == y) return is_max ? (a & b) : (a | b);
      return (x > y) == is_max ? a : b;
    }
    case BinOp::CmEq:
    case BinOp::CmGe:
    case BinOp::CmGt:
    case BinOp::AcGe:
    case BinOp::AcGt: {
      if (BH::nan(a) || BH::nan(b)) {
        if (op != BinOp::CmEq || BH::snan(a) || BH::snan(b)) flags |= kIoc;
        return 0;
      }
      double x = half_value(a), y = half_value(b);
      if (op == BinOp::AcGe || op == BinOp::AcGt) x = std::fabs(x), y = std::fabs(y);
      const bool r = op == BinOp::CmEq                          ? x == y
                     : (op == BinOp::CmGe || op == BinOp::AcGe) ? x >= y
                                                                : x > y;
      return r ? 0xffff : 0;
    }
    default:
      return 0;
  }
}

uint64_t fma_h(uint64_t c, uint64_t a, uint64_t b, uint64_t fpcr, uint32_t& flags) {
  c = flush16(c, fpcr);
  a = flush16(a, fpcr);
  b = flush16(b, fpcr);
  uint16_t out = 0;
  if (process_nans<Half>({uint16_t(c), uint16_t(a), uint16_t(b)}, fpcr, flags, out)) {
    const bool inf_zero = (BH::inf(a) && BH::zero(b)) || (BH::zero(a) && BH::inf(b));
    if (BH::qnan(c) && inf_zero) {
      flags |= kIoc;
      return BH::kDefaultNaN;
    }
    return out;
  }
  const double x = half_value(a), y = half_value(b), z = half_value(c);
  return half_arith(
      [&] {
        double p = x, q = y, r = z;
        opaque(p);
        opaque(q);
        opaque(r);
        return host_fma(p, q, r);  // the product is exact in double; the sum rounds to odd
      },
      fpcr_rmode(fpcr), fpcr, flags);
}

uint64_t unop_h(UnOp op, unsigned rm, uint64_t a, uint64_t fpcr, uint32_t& flags) {
  a = flush16(a, fpcr);
  uint16_t out = 0;
  if (process_nans<Half>({uint16_t(a)}, fpcr, flags, out)) return out;
  const double x = half_value(a);
  switch (op) {
    case UnOp::Sqrt:
      return half_arith(
          [&] {
            double y = x;
            opaque(y);
            return std::sqrt(y);
          },
          fpcr_rmode(fpcr), fpcr, flags);
    case UnOp::RoundInt:
    case UnOp::RoundIntExact: {
      if (rm == kRFpcr) rm = fpcr_rmode(fpcr);
      const double r = round_integral(x, rm);
      if (op == UnOp::RoundIntExact && r != x) flags |= kIxc;
      uint32_t none = 0;
      return round_to_half(r, kRN, none);  // integral halves are exact
    }
    default:
      return 0;
  }
}

}  // namespace

// ---- Pure entry points ----

uint64_t binop(BinOp op, Prec p, uint64_t a, uint64_t b, uint64_t fpcr, uint32_t& flags) {
  if (p == kS) return binop_t<float>(op, uint32_t(a), uint32_t(b), fpcr, flags);
  if (p == kD) return binop_t<double>(op, a, b, fpcr, flags);
  return binop_h(op, a, b, fpcr, flags);
}

uint64_t unop(UnOp op, Prec p, RMode rm, uint64_t a, uint64_t fpcr, uint32_t& flags) {
  switch (op) {
    case UnOp::CvtToH:
      return convert_precision(p, kH, a, fpcr, flags);
    case UnOp::CvtToS:
      return convert_precision(p, kS, a, fpcr, flags);
    case UnOp::CvtToD:
      return convert_precision(p, kD, a, fpcr, flags);
    default:
      break;
  }
  if (p == kS) return unop_t<float>(op, rm, uint32_t(a), fpcr, flags);
  if (p == kD) return unop_t<double>(op, rm, a, fpcr, flags);
  return unop_h(op, rm, a, fpcr, flags);
}

uint64_t fma(Prec p, uint64_t addend, uint64_t n, uint64_t m, uint64_t fpcr, uint32_t& flags) {
  if (p == kS) return fma_t<float>(uint32_t(addend), uint32_t(n), uint32_t(m), fpcr, flags);
  if (p == kH) return fma_h(addend, n, m, fpcr, flags);
  return fma_t<double>(addend, n, m, fpcr, flags);
}

unsigned compare(Prec p, uint64_t a, uint64_t b, bool signal_all, uint64_t fpcr, uint32_t& flags) {
  auto cmp = [&](auto tag, auto x, auto y) -> unsigned {
    using F = decltype(tag);
    using B = Bits<F>;
    x = flush_in<F>(x, fpcr, flags);
    y = flush_in<F>(y, fpcr, flags);
    if (B::nan(x) || B::nan(y)) {
      if (signal_all || B::snan(x) || B::snan(y)) flags |= kIoc;
      return 0x3;  // unordered: C and V
    }
    F fx = B::f(x), fy = B::f(y);
    if (fx == fy) return 0x6;  // Z and C
    return fx < fy ? 0x8 : 0x2;
  };
  if (p == kS) return cmp(float{}, uint32_t(a), uint32_t(b));
  if (p == kH) {
    a = flush16(a, fpcr);
    b = flush16(b, fpcr);
    if (BH::nan(uint16_t(a)) || BH::nan(uint16_t(b))) {
      if (signal_all || BH::snan(uint16_t(a)) || BH::snan(uint16_t(b))) flags |= kIoc;
      return 0x3;
    }
    const double x = half_value(a), y = half_value(b);
    if (x == y) return 0x6;
    return x < y ? 0x8 : 0x2;
  }
  return cmp(double{}, a, b);
}

uint64_t to_int(uint64_t desc, uint64_t a, uint64_t fpcr, uint32_t& flags) {
  unsigned rm = unsigned(desc & 7);
  const bool is_signed = (desc >> 4) & 1, wide = (desc >> 5) & 1, h16 = (desc >> 6) & 1;
  const unsigned fbits = unsigned(desc >> 8) & 0xff;
  const Prec p = Prec((desc >> 16) & 3);
  if (rm == kRFpcr) rm = fpcr_rmode(fpcr);
  if (p == kS) a = flush_in<float>(uint32_t(a), fpcr, flags);
  if (p == kD) a = flush_in<double>(a, fpcr, flags);
  if (p == kH) a = flush16(a, fpcr);
  Unpacked u = unpack_exact(p, a);
  if (u.nan) {
    flags |= kIoc;
    return 0;
  }
  const double v = std::ldexp(u.value, int(fbits));  // exact (or overflows to a saturating inf)
  const double r = round_integral(v, rm);
  const unsigned width = h16 ? 16 : wide ? 64 : 32;
  const double hi = std::ldexp(1.0, is_signed ? int(width) - 1 : int(width));
  const double lo = is_signed ? -hi : 0.0;
  const uint64_t mask = ~0ull >> (64 - width);
  if (r >= hi) {
    flags |= kIoc;
    return is_signed ? mask >> 1 : mask;
  }
  if (r < lo) {
    flags |= kIoc;
    return is_signed ? (uint64_t(1) << (width - 1)) & mask : 0;
  }
  if (r != v) flags |= kIxc;
  if (is_signed) return uint64_t(int64_t(r)) & mask;
  return uint64_t(r) & mask;
}

uint64_t from_int(uint64_t desc, uint64_t a, uint64_t fpcr, uint32_t& flags) {
  const bool is_signed = (desc >> 4) & 1, wide = (desc >> 5) & 1, h16 = (desc >> 6) & 1;
  const int fbits = int(desc >> 8) & 0xff;
  const Prec p = Prec((desc >> 16) & 3);
  const unsigned rm = fpcr_rmode(fpcr);
  if (h16) {  // a 16-bit integer lane: widen it, it converts exactly
    a = is_signed ? uint64_t(int64_t(int16_t(uint16_t(a)))) : (a & 0xffff);
    if (p != kH) return 0;  // only half-precision lanes are 16 bits wide
  }
  if (p == kH) {
    // The integer, rounded to odd in double, then scaled (exactly) and rounded to half.
    const uint64_t x = a;
    const bool sx = is_signed && (wide || h16) ? int64_t(x) < 0 : is_signed && int32_t(x) < 0;
    return half_arith(
        [&] {
          uint64_t y = x;
          opaque(y);
          double v = (wide || h16)
                         ? (sx ? double(int64_t(y)) : double(y))
                         : (is_signed ? double(int32_t(uint32_t(y))) : double(uint32_t(y)));
          opaque(v);
          return std::ldexp(v, -fbits);
        },
        rm, fpcr, flags);
  }
  auto conv = [&](auto tag) {
    using F = decltype(tag);
    using B = Bits<F>;
    uint64_t x = a;
    typename B::U r = host_round<F>(
        [&] {
          uint64_t y = x;
          opaque(y);
          if (is_signed) return wide ? F(int64_t(y)) : F(int32_t(uint32_t(y)));
          return wide ? F(y) : F(uint32_t(y));
        },
        rm, fpcr, flags);
    // Fixed point: a power-of-two scaling of a rounded integer is exact (never subnormal here).
    return fbits ? B::u(std::ldexp(B::f(r), -fbits)) : r;
  };
  if (p == kS) return conv(float{});
  return conv(double{});
}

// ---- Helpers: FPCR in, FPSR flags accumulated in the state ----

namespace {
template <typename Fn>
uint64_t with_state(tcg::CpuCommon* c, Fn fn) {
  Arm64State& s = state_of(*c);
  uint32_t flags = 0;
  uint64_t r = fn(s.fpcr, flags);
  s.fpsr |= flags;
  return r;
}
}  // namespace

uint64_t helper_fp_binop(tcg::CpuCommon* c, uint64_t a, uint64_t b, uint64_t desc) {
  return with_state(c, [&](uint64_t fpcr, uint32_t& f) {
    return binop(BinOp(desc & 0xff), Prec((desc >> 16) & 3), a, b, fpcr, f);
  });
}

uint64_t helper_fp_unop(tcg::CpuCommon* c, uint64_t a, uint64_t desc, uint64_t) {
  return with_state(c, [&](uint64_t fpcr, uint32_t& f) {
    return unop(UnOp(desc & 0xff), Prec((desc >> 16) & 3), RMode((desc >> 8) & 7), a, fpcr, f);
  });
}

uint64_t helper_fp_fma_s(tcg::CpuCommon* c, uint64_t addend, uint64_t n, uint64_t m) {
  return with_state(c, [&](uint64_t fpcr, uint32_t& f) { return fma(kS, addend, n, m, fpcr, f); });
}

uint64_t helper_fp_fma_d(tcg::CpuCommon* c, uint64_t addend, uint64_t n, uint64_t m) {
  return with_state(c, [&](uint64_t fpcr, uint32_t& f) { return fma(kD, addend, n, m, fpcr, f); });
}

uint64_t helper_fp_fma_h(tcg::CpuCommon* c, uint64_t addend, uint64_t n, uint64_t m) {
  return with_state(c, [&](uint64_t fpcr, uint32_t& f) { return fma(kH, addend, n, m, fpcr, f); });
}

uint64_t helper_fp_cmp(tcg::CpuCommon* c, uint64_t a, uint64_t b, uint64_t desc) {
  return with_state(c, [&](uint64_t fpcr, uint32_t& f) {
    return uint64_t(compare(Prec((desc >> 16) & 3), a, b, desc & 1, fpcr, f));
  });
}

uint64_t helper_fp_to_int(tcg::CpuCommon* c, uint64_t a, uint64_t desc, uint64_t) {
  return with_state(c, [&](uint64_t fpcr, uint32_t& f) { return to_int(desc, a, fpcr, f); });
}

uint64_t helper_int_to_fp(tcg::CpuCommon* c, uint64_t a, uint64_t desc, uint64_t) {
  return with_state(c, [&](uint64_t fpcr, uint32_t& f) { return from_int(desc, a, fpcr, f); });
}

}  // namespace orrery::cpu::arm64::fp
