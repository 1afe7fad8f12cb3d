// Silicon's MXCSR flags for a SIMD FP instruction that raised an unmasked exception. The
// helpers compute with every exception masked, and a masked run cannot tell these flags: each
// computation (lane) reports its own conditions and the instruction their OR (SDM vol. 1
// 11.5.3; vol. 3 "Interrupt 19", the SIMD floating-point exception priorities), an unmasked
// pre-computation condition in any lane keeps every post-computation flag out, a lane whose
// overflow or underflow is unmasked reports OE or UE with PE only when its result rounded to
// the destination precision with an unbounded exponent is inexact (the masked responses report
// PE for the denormalized or infinite result instead), an unmasked underflow is raised by a tiny
// result even when it is exact, and DPPS/DPPD end at the first rounding step that faults. So
// this file redoes the instruction lane by lane on the host (each lane's pre-computation and
// masked conditions are the host's own) and decides PE of the unmasked lanes exactly on the
// operands' significands. Checked against native runs on the AMD host (an unmasked exception
// arrives as SIGFPE with the MXCSR it left): diff_regress_mxcsr_test.cpp.
#include <Zydis/Zydis.h>
#include <immintrin.h>

#include <bit>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "cpu/x86/simd_helpers.h"

namespace orrery::cpu::x86 {

namespace {

using U128 = unsigned __int128;

constexpr unsigned kPre = mxcsr_bits::kIe | mxcsr_bits::kDe | mxcsr_bits::kZe;

// A finite value as sign * m * 2^e with m odd (m == 0: a zero).
struct Dyadic {
  bool neg = false;
  U128 m = 0;
  int e = 0;
};

Dyadic normalized(bool neg, U128 m, int e) {
  if (m == 0) return {neg, 0, 0};
  while (!(m & 1)) {
    m >>= 1;
    ++e;
  }
  return {neg, m, e};
}

unsigned width(U128 m) {
  const uint64_t hi = uint64_t(m >> 64);
  return hi ? 128 - std::countl_zero(hi) : 64 - std::countl_zero(uint64_t(m));
}

Dyadic decode(uint64_t bits, bool dbl, bool daz) {
  const unsigned fbits = dbl ? 52 : 23, ebits = dbl ? 11 : 8;
  const bool neg = (bits >> (fbits + ebits)) & 1;
  const uint64_t frac = bits & ((1ull << fbits) - 1);
  const int exp = int((bits >> fbits) & ((1u << ebits) - 1));
  const int bias = (1 << (ebits - 1)) - 1;
  if (exp == 0) return daz ? Dyadic{neg, 0, 0} : normalized(neg, frac, 1 - bias - int(fbits));
  return normalized(neg, frac | 1ull << fbits, exp - bias - int(fbits));
}

Dyadic negate(Dyadic v) {
  v.neg = !v.neg;
  return v;
}

// Whether x + y is a p-bit number (any exponent). Significands have at most 106 bits.
bool sum_fits(Dyadic x, Dyadic y, unsigned p) {
  if (x.m == 0) return width(y.m) <= p;
  if (y.m == 0) return width(x.m) <= p;
  if (x.e < y.e) std::swap(x, y);
  const unsigned d = unsigned(x.e - y.e);
  // y.m < 2^106 and x.m * 2^d >= 2^126: the sum needs more than 120 bits.
  if (width(x.m) + d > 126) return false;
  const U128 xs = x.m << d;
  const U128 s = x.neg == y.neg ? xs + y.m : (xs > y.m ? xs - y.m : y.m - xs);
  return width(normalized(false, s, 0).m) <= p;
}

Dyadic product(const Dyadic& x, const Dyadic& y) {
  return normalized(x.neg != y.neg, x.m * y.m, x.e + y.e);
}

enum class Kind : uint8_t { Add, Sub, Mul, Div, Fma, Narrow, Half };

// One computation: x op y (Fma: x * y + z, the signs folded into the operands; Narrow: x
// converted to single precision; Half: single x to half precision under VCVTPS2PH's imm).
struct Lane {
  Kind kind;
  bool dbl;  // the operands' format (Narrow: double to single)
  uint64_t x, y = 0, z = 0;
  unsigned imm = 0;
};

// The host's flags for one lane under the guest's control bits (FTZ when UM = 0, see
// with_guest_mxcsr), and its result bits.
unsigned host_lane(const X86State& s, const Lane& l, uint64_t& out) {
  __m128i r = _mm_setzero_si128();
  const __m128i x = _mm_cvtsi64_si128(int64_t(l.x)), y = _mm_cvtsi64_si128(int64_t(l.y));
  const __m128i z = _mm_cvtsi64_si128(int64_t(l.z));
  const auto ps = [](__m128i v) { return _mm_castsi128_ps(v); };
  const auto pd = [](__m128i v) { return _mm_castsi128_pd(v); };
  const unsigned flags = with_guest_mxcsr(s, [&] {
    switch (l.kind) {
      case Kind::Add:
        r = l.dbl ? _mm_castpd_si128(_mm_add_sd(pd(x), pd(y)))
                  : _mm_castps_si128(_mm_add_ss(ps(x), ps(y)));
        break;
      case Kind::Sub:
        r = l.dbl ? _mm_castpd_si128(_mm_sub_sd(pd(x), pd(y)))
                  : _mm_castps_si128(_mm_sub_ss(ps(x), ps(y)));
        break;
      case Kind::Mul:
        r = l.dbl ? _mm_castpd_si128(_mm_mul_sd(pd(x), pd(y)))
                  : _mm_castps_si128(_mm_mul_ss(ps(x), ps(y)));
        break;
      case Kind::Div:
        r = l.dbl ? _mm_castpd_si128(_mm_div_sd(pd(x), pd(y)))
                  : _mm_castps_si128(_mm_div_ss(ps(x), ps(y)));
        break;
      case Kind::Fma:  // only reached for VEX FMA instructions, which need the host's
        r = z;
        if (l.dbl)
          asm volatile("vfmadd231sd %2, %1, %0" : "+x"(r) : "x"(x), "x"(y));
        else
          asm volatile("vfmadd231ss %2, %1, %0" : "+x"(r) : "x"(x), "x"(y));
        break;
      case Kind::Narrow:
        r = _mm_castps_si128(_mm_cvtsd_ss(_mm_setzero_ps(), pd(x)));
        break;
      case Kind::Half:  // VEX only, like Fma
        switch (l.imm & 7) {
#define HALF(I)                                                   \
  case I:                                                         \
    asm volatile("vcvtps2ph $" #I ", %1, %0" : "=x"(r) : "x"(x)); \
    break;
          HALF(0) HALF(1) HALF(2) HALF(3) HALF(4) HALF(5) HALF(6) HALF(7)
#undef HALF
        }
        break;
    }
  });
  out = l.kind == Kind::Half               ? uint16_t(_mm_cvtsi128_si32(r))
        : l.kind == Kind::Narrow || !l.dbl ? uint32_t(_mm_cvtsi128_si32(r))
                                           : uint64_t(_mm_cvtsi128_si64(r));
  return flags;
}

// Whether the lane's exact result is a number of the destination's precision.
bool exact(const X86State& s, const Lane& l) {
  const bool daz = s.mxcsr & mxcsr_bits::kDaz;
  const Dyadic x = decode(l.x, l.dbl, daz), y = decode(l.y, l.dbl, daz);
  const unsigned p = l.kind == Kind::Half ? 11 : l.dbl && l.kind != Kind::Narrow ? 53 : 24;
  switch (l.kind) {
    case Kind::Add:
      return sum_fits(x, y, p);
    case Kind::Sub:
      return sum_fits(x, negate(y), p);
    case Kind::Mul:
      return width(product(x, y).m) <= p;
    case Kind::Div:
      return y.m != 0 && x.m % y.m == 0 && width(x.m / y.m) <= p;
    case Kind::Fma:
      return sum_fits(product(x, y), decode(l.z, l.dbl, daz), p);
    case Kind::Narrow:
    case Kind::Half:
      return width(x.m) <= p;
  }
  return false;
}

// One lane's flags as silicon reports them.
unsigned lane_flags(const X86State& s, const Lane& l, uint64_t& out) {
  unsigned f = host_lane(s, l, out);
  const unsigned unmasked = ~(s.mxcsr >> 7) & 0x3f;
  // FTZ does not apply to VCVTPS2PH, so an exact tiny half shows as a nonzero denormal.
  if (l.kind == Kind::Half && (unmasked & mxcsr_bits::kUe) && !(out & 0x7c00) && (out & 0x3ff))
    f |= mxcsr_bits::kUe;
  if (f & unmasked & kPre) return f & kPre;
  const unsigned post = f & (mxcsr_bits::kOe | mxcsr_bits::kUe) & unmasked;
  if (post) f = (f & kPre) | post | (exact(s, l) ? 0 : mxcsr_bits::kPe);
  return f;
}

template <class T>
T elem(std::span<const uint8_t> v, unsigned i) {
  T t;
  std::memcpy(&t, v.data() + i * sizeof(T), sizeof(T));
  return t;
}

uint64_t elem_bits(std::span<const uint8_t> v, unsigned i, bool dbl) {
  return dbl ? elem<uint64_t>(v, i) : elem<uint32_t>(v, i);
}

uint64_t neg_bits(uint64_t v, bool dbl) {
  return v ^ (dbl ? 1ull << 63 : 1ull << 31);
}

// DPPS/DPPD in their rounding steps (products, then pairwise sums; VEX.256: both 128-bit lanes
// side by side); a step with an unmasked exception ends the instruction with the flags raised
// so far. Products the immediate leaves out are +0 and raise nothing.
unsigned dot_product_flags(const X86State& s, bool dbl, std::span<const uint8_t> a,
                           std::span<const uint8_t> b, unsigned bytes, unsigned imm) {
  const unsigned n = dbl ? 2 : 4, halves = bytes / 16, unmasked = ~(s.mxcsr >> 7) & 0x3f;
  unsigned flags = 0, step = 0;
  // Ends a step: true when it faulted (an unmasked pre-computation condition keeps that step's
  // post-computation flags out).
  const auto end_step = [&] {
    if (step & unmasked & kPre) step &= kPre;
    flags |= step;
    step = 0;
    return (flags & unmasked) != 0;
  };
  uint64_t t[2][4] = {};
  for (unsigned h = 0; h < halves; ++h)
    for (unsigned i = 0; i < n; ++i)
      if ((imm >> (4 + i)) & 1)
        step |= lane_flags(
            s, {Kind::Mul, dbl, elem_bits(a, h * n + i, dbl), elem_bits(b, h * n + i, dbl)},
            t[h][i]);
  if (end_step()) return flags;
  for (unsigned round = 0; round < (dbl ? 1u : 2u); ++round) {
    for (unsigned h = 0; h < halves; ++h) {
      uint64_t* v = t[h];
      if (dbl || round == 1) {
        step |= lane_flags(s, {Kind::Add, dbl, v[0], dbl ? v[1] : v[2]}, v[0]);
      } else {
        step |= lane_flags(s, {Kind::Add, dbl, v[0], v[1]}, v[0]);
        step |= lane_flags(s, {Kind::Add, dbl, v[2], v[3]}, v[2]);
      }
    }
    if (end_step()) return flags;
  }
  return flags;
}

// The FMA forms: which operands multiply and which adds, and the signs.
struct FmaForm {
  int order;      // 132: d * b + a; 213: a * d + b; 231: a * b + d
  bool neg_prod;  // FNMADD, FNMSUB
  int addend;     // +1 add, -1 subtract, 0 alternate (even lanes subtract: FMADDSUB), 2 (even
                  // lanes add: FMSUBADD)
  bool dbl, scalar;
};

std::optional<FmaForm> fma_form(unsigned mn) {
  const char* name = ZydisMnemonicGetString(ZydisMnemonic(mn));
  if (!name || std::strncmp(name, "vf", 2) != 0) return std::nullopt;
  std::string_view v(name + 2);
  FmaForm f{};
  if (v.starts_with("maddsub")) {
    f.addend = 0;
    v.remove_prefix(7);
  } else if (v.starts_with("msubadd")) {
    f.addend = 2;
    v.remove_prefix(7);
  } else if (v.starts_with("madd")) {
    f.addend = 1;
    v.remove_prefix(4);
  } else if (v.starts_with("msub")) {
    f.addend = -1;
    v.remove_prefix(4);
  } else if (v.starts_with("nmadd")) {
    f.neg_prod = true;
    f.addend = 1;
    v.remove_prefix(5);
  } else if (v.starts_with("nmsub")) {
    f.neg_prod = true;
    f.addend = -1;
    v.remove_prefix(5);
  } else {
    return std::nullopt;
  }
  if (v.size() != 5) return std::nullopt;
  f.order = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
  if (f.order != 132 && f.order != 213 && f.order != 231) return std::nullopt;
  f.scalar = v[3] == 's';
  f.dbl = v[4] == 'd';
  return f;
}

}  // namespace

std::optional<unsigned> simd_fp_lane_flags(const X86State& s, unsigned mn,
                                           std::span<const uint8_t> a, std::span<const uint8_t> b,
                                           std::span<const uint8_t> d, unsigned bytes,
                                           unsigned imm) {
  std::vector<Lane> lanes;
  const auto binary = [&](Kind k, bool dbl, unsigned n) {
    for (unsigned i = 0; i < n; ++i)
      lanes.push_back({k, dbl, elem_bits(a, i, dbl), elem_bits(b, i, dbl)});
  };
  const auto horizontal = [&](Kind k, bool dbl) {
    const unsigned per_half = dbl ? 2 : 4;
    for (unsigned h = 0; h < bytes / 16; ++h)
      for (auto src : {a, b})
        for (unsigned i = 0; i < per_half; i += 2)
          lanes.push_back({k, dbl, elem_bits(src, h * per_half + i, dbl),
                           elem_bits(src, h * per_half + i + 1, dbl)});
  };
  if (const auto f = fma_form(mn)) {
    const unsigned n = f->scalar ? 1 : bytes / (f->dbl ? 8 : 4);
    for (unsigned i = 0; i < n; ++i) {
      const uint64_t av = elem_bits(a, i, f->dbl), bv = elem_bits(b, i, f->dbl);
      const uint64_t dv = elem_bits(d, i, f->dbl);
      uint64_t x = f->order == 132 ? dv : av, y = f->order == 213 ? dv : bv;
      uint64_t z = f->order == 132 ? av : f->order == 213 ? bv : dv;
      const bool sub =
          f->addend == -1 || (f->addend == 0 && !(i & 1)) || (f->addend == 2 && (i & 1));
      if (f->neg_prod) x = neg_bits(x, f->dbl);
      if (sub) z = neg_bits(z, f->dbl);
      lanes.push_back({Kind::Fma, f->dbl, x, y, z});
    }
  } else {
    const unsigned lm = legacy_mnemonic(mn) ? legacy_mnemonic(mn) : mn;
    switch (lm) {
#define BINARY(M, K)                   \
  case ZYDIS_MNEMONIC_##M##PS:         \
    binary(Kind::K, false, bytes / 4); \
    break;                             \
  case ZYDIS_MNEMONIC_##M##PD:         \
    binary(Kind::K, true, bytes / 8);  \
    break;                             \
  case ZYDIS_MNEMONIC_##M##SS:         \
    binary(Kind::K, false, 1);         \
    break;                             \
  case ZYDIS_MNEMONIC_##M##SD:         \
    binary(Kind::K, true, 1);          \
    break;
      BINARY(ADD, Add)
      BINARY(SUB, Sub)
      BINARY(MUL, Mul)
      BINARY(DIV, Div)
#undef BINARY
      case ZYDIS_MNEMONIC_ADDSUBPS:
      case ZYDIS_MNEMONIC_ADDSUBPD: {
        const bool dbl = lm == ZYDIS_MNEMONIC_ADDSUBPD;
        for (unsigned i = 0; i < bytes / (dbl ? 8 : 4); ++i)
          lanes.push_back(
              {i & 1 ? Kind::Add : Kind::Sub, dbl, elem_bits(a, i, dbl), elem_bits(b, i, dbl)});
        break;
      }
      case ZYDIS_MNEMONIC_HADDPS:
        horizontal(Kind::Add, false);
        break;
      case ZYDIS_MNEMONIC_HADDPD:
        horizontal(Kind::Add, true);
        break;
      case ZYDIS_MNEMONIC_HSUBPS:
        horizontal(Kind::Sub, false);
        break;
      case ZYDIS_MNEMONIC_HSUBPD:
        horizontal(Kind::Sub, true);
        break;
      case ZYDIS_MNEMONIC_CVTSD2SS:
        lanes.push_back({Kind::Narrow, true, elem_bits(b, 0, true)});
        break;
      case ZYDIS_MNEMONIC_CVTPD2PS:
        for (unsigned i = 0; i < bytes / 8; ++i)
          lanes.push_back({Kind::Narrow, true, elem_bits(b, i, true)});
        break;
      case ZYDIS_MNEMONIC_VCVTPS2PH:
        for (unsigned i = 0; i < bytes / 4; ++i)
          lanes.push_back({Kind::Half, false, elem_bits(b, i, false), 0, 0, imm});
        break;
      case ZYDIS_MNEMONIC_DPPS:
        return dot_product_flags(s, false, a, b, bytes, imm);
      case ZYDIS_MNEMONIC_DPPD:
        return dot_product_flags(s, true, a, b, bytes, imm);
      default:
        return std::nullopt;
    }
  }
  unsigned flags = 0;
  for (const Lane& l : lanes) {
    uint64_t out;
    flags |= lane_flags(s, l, out);
  }
  // An unmasked pre-computation condition in any lane stops every lane before computing.
  if (flags & ~(s.mxcsr >> 7) & kPre) flags &= kPre;
  return flags;
}

}  // namespace orrery::cpu::x86
