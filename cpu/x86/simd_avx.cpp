// AVX, AVX2, FMA and F16C computations for the VEX encodings (see simd_helpers.h), compiled for
// hosts with those extensions: the frontend raises #UD and CPUID does not offer them elsewhere.
//
// Most VEX operations are their SSE counterpart on each 128-bit lane with a separate first
// source, so kHelperAvxOp runs the legacy computation (simd_base_op/simd_ext_op) per lane and
// handles here only what crosses lanes, widens, or is new (permutes, broadcasts, variable
// shifts, 32 compare predicates, FMA, F16C). FMA runs the host's own instruction of the same
// form, so operand order, NaN choice and the untouched upper bits are the silicon's.
#pragma GCC target("avx,avx2,fma,f16c,sse4.2,aes,pclmul")

#include <Zydis/Zydis.h>

#include <cstring>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cpu/x86/exception.h"
#include "cpu/x86/simd_helpers.h"
#include "tcg/softmmu/softmmu.h"

namespace orrery::cpu::x86 {

namespace {

union Y {
  __m256i v;
  __m128i x[2];
  uint8_t b[32];
  uint16_t w[16];
  uint32_t d[8];
  uint64_t q[4];
};

inline YmmReg& reg(X86State& s, unsigned r) {
  return r < 16 ? s.ymm[r] : s.vex_tmp[(r - 16) & 1];
}
inline Y get(X86State& s, unsigned r) {
  Y y;
  std::memcpy(&y, &reg(s, r), 32);
  return y;
}
inline void put(X86State& s, unsigned r, const Y& y) {
  std::memcpy(static_cast<void*>(&reg(s, r)), &y, 32);
}

__m256 ps(__m256i v) {
  return _mm256_castsi256_ps(v);
}
__m256d pd(__m256i v) {
  return _mm256_castsi256_pd(v);
}
__m256i pi(__m256 v) {
  return _mm256_castps_si256(v);
}
__m256i pi(__m256d v) {
  return _mm256_castpd_si256(v);
}

// Calls f(std::integral_constant<unsigned, imm>) for a runtime imm < N.
template <unsigned N, class F, unsigned... I>
auto dispatch_impl(unsigned imm, F&& f, std::integer_sequence<unsigned, I...>) {
  using R = decltype(f(std::integral_constant<unsigned, 0>{}));
  R r{};
  ((imm == I ? (r = f(std::integral_constant<unsigned, I>{}), true) : false) || ...);
  return r;
}
template <unsigned N, class F>
auto dispatch(unsigned imm, F&& f) {
  return dispatch_impl<N>(imm % N, f, std::make_integer_sequence<unsigned, N>{});
}

bool is_shift_by_count(unsigned lm) {
  switch (lm) {
    case ZYDIS_MNEMONIC_PSLLW:
    case ZYDIS_MNEMONIC_PSLLD:
    case ZYDIS_MNEMONIC_PSLLQ:
    case ZYDIS_MNEMONIC_PSRLW:
    case ZYDIS_MNEMONIC_PSRLD:
    case ZYDIS_MNEMONIC_PSRLQ:
    case ZYDIS_MNEMONIC_PSRAW:
    case ZYDIS_MNEMONIC_PSRAD:
      return true;
    default:
      return false;
  }
}

// FMA in the instruction's own form: d = op(d, a (vvvv), b (r/m)).
#define ORRERY_FMA_FORMS(X)                                                                       \
  X(VFMADD132PS)                                                                                  \
  X(VFMADD213PS) X(VFMADD231PS) X(VFMADD132PD) X(VFMADD213PD) X(VFMADD231PD) X(VFMSUB132PS)       \
      X(VFMSUB213PS) X(VFMSUB231PS) X(VFMSUB132PD) X(VFMSUB213PD) X(VFMSUB231PD) X(VFNMADD132PS)  \
          X(VFNMADD213PS) X(VFNMADD231PS) X(VFNMADD132PD) X(VFNMADD213PD) X(VFNMADD231PD)         \
              X(VFNMSUB132PS) X(VFNMSUB213PS) X(VFNMSUB231PS) X(VFNMSUB132PD) X(VFNMSUB213PD)     \
                  X(VFNMSUB231PD) X(VFMADDSUB132PS) X(VFMADDSUB213PS) X(VFMADDSUB231PS)           \
                      X(VFMADDSUB132PD) X(VFMADDSUB213PD) X(VFMADDSUB231PD) X(VFMSUBADD132PS)     \
                          X(VFMSUBADD213PS) X(VFMSUBADD231PS) X(VFMSUBADD132PD) X(VFMSUBADD213PD) \
                              X(VFMSUBADD231PD)
#define ORRERY_FMA_SCALARS(X)                                                                    \
  X(VFMADD132SS)                                                                                 \
  X(VFMADD213SS) X(VFMADD231SS) X(VFMADD132SD) X(VFMADD213SD) X(VFMADD231SD) X(VFMSUB132SS)      \
      X(VFMSUB213SS) X(VFMSUB231SS) X(VFMSUB132SD) X(VFMSUB213SD) X(VFMSUB231SD) X(VFNMADD132SS) \
          X(VFNMADD213SS) X(VFNMADD231SS) X(VFNMADD132SD) X(VFNMADD213SD) X(VFNMADD231SD)        \
              X(VFNMSUB132SS) X(VFNMSUB213SS) X(VFNMSUB231SS) X(VFNMSUB132SD) X(VFNMSUB213SD)    \
                  X(VFNMSUB231SD)

bool fma(unsigned mn, bool wide, Y& d, const Y& a, const Y& b) {
  __m256i d256 = d.v;
  __m128i d128 = d.x[0];
  switch (mn) {
#define PACKED(M)                                                    \
  case ZYDIS_MNEMONIC_##M:                                           \
    if (wide)                                                        \
      asm(#M " %2, %1, %0" : "+x"(d256) : "x"(a.v), "x"(b.v));       \
    else                                                             \
      asm(#M " %2, %1, %0" : "+x"(d128) : "x"(a.x[0]), "x"(b.x[0])); \
    break;
#define SCALAR(M)                                                  \
  case ZYDIS_MNEMONIC_##M:                                         \
    asm(#M " %2, %1, %0" : "+x"(d128) : "x"(a.x[0]), "x"(b.x[0])); \
    break;
    ORRERY_FMA_FORMS(PACKED)
    ORRERY_FMA_SCALARS(SCALAR)
#undef PACKED
#undef SCALAR
    default:
      return false;
  }
  if (wide) {
    d.v = d256;
  } else {
    d.x[0] = d128;
    d.x[1] = _mm_setzero_si128();
  }
  return true;
}

// The mnemonics whose VEX.256 form widens a 128-bit source (the VEX.128 form is the legacy one).
__m256i widen(unsigned mn, __m128i b, bool& ok) {
  ok = true;
  switch (mn) {
    case ZYDIS_MNEMONIC_VCVTPS2PD:
      return pi(_mm256_cvtps_pd(_mm_castsi128_ps(b)));
    case ZYDIS_MNEMONIC_VCVTDQ2PD:
      return pi(_mm256_cvtepi32_pd(b));
    case ZYDIS_MNEMONIC_VCVTPH2PS:
      return pi(_mm256_cvtph_ps(b));
    case ZYDIS_MNEMONIC_VPMOVSXBW:
      return _mm256_cvtepi8_epi16(b);
    case ZYDIS_MNEMONIC_VPMOVSXBD:
      return _mm256_cvtepi8_epi32(b);
    case ZYDIS_MNEMONIC_VPMOVSXBQ:
      return _mm256_cvtepi8_epi64(b);
    case ZYDIS_MNEMONIC_VPMOVSXWD:
      return _mm256_cvtepi16_epi32(b);
    case ZYDIS_MNEMONIC_VPMOVSXWQ:
      return _mm256_cvtepi16_epi64(b);
    case ZYDIS_MNEMONIC_VPMOVSXDQ:
      return _mm256_cvtepi32_epi64(b);
    case ZYDIS_MNEMONIC_VPMOVZXBW:
      return _mm256_cvtepu8_epi16(b);
    case ZYDIS_MNEMONIC_VPMOVZXBD:
      return _mm256_cvtepu8_epi32(b);
    case ZYDIS_MNEMONIC_VPMOVZXBQ:
      return _mm256_cvtepu8_epi64(b);
    case ZYDIS_MNEMONIC_VPMOVZXWD:
      return _mm256_cvtepu16_epi32(b);
    case ZYDIS_MNEMONIC_VPMOVZXWQ:
      return _mm256_cvtepu16_epi64(b);
    case ZYDIS_MNEMONIC_VPMOVZXDQ:
      return _mm256_cvtepu32_epi64(b);
    default:
      ok = false;
      return _mm256_setzero_si256();
  }
}

template <class T>
uint64_t sign_mask(const T* v, unsigned n) {
  uint64_t m = 0;
  for (unsigned i = 0; i < n; ++i) m |= uint64_t(v[i] >> (sizeof(T) * 8 - 1)) << i;
  return m;
}

// VTESTPS/PD and VPTEST: ZF when (a AND b) has no selected bit, CF when (NOT a AND b) has none.
uint64_t test_flags(const Y& a, const Y& b, unsigned qwords, uint64_t bits) {
  bool z = true, c = true;
  for (unsigned i = 0; i < qwords; ++i) {
    if (a.q[i] & b.q[i] & bits) z = false;
    if (~a.q[i] & b.q[i] & bits) c = false;
  }
  return (z ? eflags::kZf : 0) | (c ? eflags::kCf : 0);
}

// One VEX computation. a = ymm[vvvv] (or the single source), b = the r/m source, d = the
// destination's old value (FMA). Returns false for a mnemonic it does not know.
bool avx_op(X86State& s, unsigned mn, Y a, Y b, Y d, unsigned imm, uint64_t packed, Y& r,
            uint64_t& aux) {
  const bool dst256 = packed & simd::kDst256, vexl = packed & simd::kVexL;
  const unsigned lanes = dst256 ? 2 : 1;
  const unsigned n32 = dst256 ? 8 : 4, n64 = dst256 ? 4 : 2;
  r.v = _mm256_setzero_si256();
  switch (mn) {
    case ZYDIS_MNEMONIC_VCMPPS:
      if (!vexl) {  // only the lanes the instruction has may raise exception flags
        r.x[0] = dispatch<32>(imm, [&](auto i) {
          return _mm_castps_si128(
              _mm_cmp_ps(_mm_castsi128_ps(a.x[0]), _mm_castsi128_ps(b.x[0]), i.value));
        });
        return true;
      }
      r.v = dispatch<32>(imm, [&](auto i) { return pi(_mm256_cmp_ps(ps(a.v), ps(b.v), i.value)); });
      return true;
    case ZYDIS_MNEMONIC_VCMPPD:
      if (!vexl) {
        r.x[0] = dispatch<32>(imm, [&](auto i) {
          return _mm_castpd_si128(
              _mm_cmp_pd(_mm_castsi128_pd(a.x[0]), _mm_castsi128_pd(b.x[0]), i.value));
        });
        return true;
      }
      r.v = dispatch<32>(imm, [&](auto i) { return pi(_mm256_cmp_pd(pd(a.v), pd(b.v), i.value)); });
      return true;
    case ZYDIS_MNEMONIC_VCMPSS:
      r.x[0] = dispatch<32>(imm, [&](auto i) {
        return _mm_castps_si128(
            _mm_cmp_ss(_mm_castsi128_ps(a.x[0]), _mm_castsi128_ps(b.x[0]), i.value));
      });
      return true;
    case ZYDIS_MNEMONIC_VCMPSD:
      r.x[0] = dispatch<32>(imm, [&](auto i) {
        return _mm_castpd_si128(
            _mm_cmp_sd(_mm_castsi128_pd(a.x[0]), _mm_castsi128_pd(b.x[0]), i.value));
      });
      return true;
    case ZYDIS_MNEMONIC_VBLENDVPS: {
      const Y m = get(s, (imm >> 4) & 15);
      r.v = pi(_mm256_blendv_ps(ps(a.v), ps(b.v), ps(m.v)));
      return true;
    }
    case ZYDIS_MNEMONIC_VBLENDVPD: {
      const Y m = get(s, (imm >> 4) & 15);
      r.v = pi(_mm256_blendv_pd(pd(a.v), pd(b.v), pd(m.v)));
      return true;
    }
    case ZYDIS_MNEMONIC_VPBLENDVB: {
      const Y m = get(s, (imm >> 4) & 15);
      r.v = _mm256_blendv_epi8(a.v, b.v, m.v);
      return true;
    }
    case ZYDIS_MNEMONIC_VPBLENDD:
      for (unsigned i = 0; i < n32; ++i) r.d[i] = (imm >> i) & 1 ? b.d[i] : a.d[i];
      return true;
    case ZYDIS_MNEMONIC_VPERMILPS:
      for (unsigned i = 0; i < n32; ++i) {
        const unsigned base = i & 4;
        r.d[i] = packed & simd::kImmForm ? b.d[base + ((imm >> (2 * (i & 3))) & 3)]
                                         : a.d[base + (b.d[i] & 3)];
      }
      return true;
    case ZYDIS_MNEMONIC_VPERMILPD:
      for (unsigned i = 0; i < n64; ++i) {
        const unsigned base = i & 2;
        r.q[i] = packed & simd::kImmForm ? b.q[base + ((imm >> i) & 1)]
                                         : a.q[base + ((b.q[i] >> 1) & 1)];
      }
      return true;
    case ZYDIS_MNEMONIC_VPERM2F128:
    case ZYDIS_MNEMONIC_VPERM2I128:
      for (unsigned h = 0; h < 2; ++h) {
        const unsigned c = imm >> (4 * h);
        const __m128i src[4] = {a.x[0], a.x[1], b.x[0], b.x[1]};
        r.x[h] = c & 8 ? _mm_setzero_si128() : src[c & 3];
      }
      return true;
    case ZYDIS_MNEMONIC_VINSERTF128:
    case ZYDIS_MNEMONIC_VINSERTI128:
      r = a;
      r.x[imm & 1] = b.x[0];
      return true;
    case ZYDIS_MNEMONIC_VEXTRACTF128:
    case ZYDIS_MNEMONIC_VEXTRACTI128:
      r.x[0] = b.x[imm & 1];
      return true;
    case ZYDIS_MNEMONIC_VBROADCASTSS:
    case ZYDIS_MNEMONIC_VPBROADCASTD:
      for (unsigned i = 0; i < n32; ++i) r.d[i] = b.d[0];
      return true;
    case ZYDIS_MNEMONIC_VBROADCASTSD:
    case ZYDIS_MNEMONIC_VPBROADCASTQ:
      for (unsigned i = 0; i < n64; ++i) r.q[i] = b.q[0];
      return true;
    case ZYDIS_MNEMONIC_VPBROADCASTB:
      for (unsigned i = 0; i < 16 * lanes; ++i) r.b[i] = b.b[0];
      return true;
    case ZYDIS_MNEMONIC_VPBROADCASTW:
      for (unsigned i = 0; i < 8 * lanes; ++i) r.w[i] = b.w[0];
      return true;
    case ZYDIS_MNEMONIC_VBROADCASTF128:
    case ZYDIS_MNEMONIC_VBROADCASTI128:
      r.x[0] = r.x[1] = b.x[0];
      return true;
    case ZYDIS_MNEMONIC_VPERMD:
    case ZYDIS_MNEMONIC_VPERMPS:
      for (unsigned i = 0; i < 8; ++i) r.d[i] = b.d[a.d[i] & 7];
      return true;
    case ZYDIS_MNEMONIC_VPERMQ:
    case ZYDIS_MNEMONIC_VPERMPD:
      for (unsigned i = 0; i < 4; ++i) r.q[i] = b.q[(imm >> (2 * i)) & 3];
      return true;
    case ZYDIS_MNEMONIC_VPSLLVD:
      for (unsigned i = 0; i < n32; ++i) r.d[i] = b.d[i] > 31 ? 0 : a.d[i] << b.d[i];
      return true;
    case ZYDIS_MNEMONIC_VPSRLVD:
      for (unsigned i = 0; i < n32; ++i) r.d[i] = b.d[i] > 31 ? 0 : a.d[i] >> b.d[i];
      return true;
    case ZYDIS_MNEMONIC_VPSRAVD:
      for (unsigned i = 0; i < n32; ++i)
        r.d[i] = uint32_t(int32_t(a.d[i]) >> (b.d[i] > 31 ? 31 : b.d[i]));
      return true;
    case ZYDIS_MNEMONIC_VPSLLVQ:
      for (unsigned i = 0; i < n64; ++i) r.q[i] = b.q[i] > 63 ? 0 : a.q[i] << b.q[i];
      return true;
    case ZYDIS_MNEMONIC_VPSRLVQ:
      for (unsigned i = 0; i < n64; ++i) r.q[i] = b.q[i] > 63 ? 0 : a.q[i] >> b.q[i];
      return true;
    case ZYDIS_MNEMONIC_VTESTPS:
      aux = test_flags(a, b, vexl ? 4 : 2, 0x8000000080000000ull);
      return true;
    case ZYDIS_MNEMONIC_VTESTPD:
      aux = test_flags(a, b, vexl ? 4 : 2, 0x8000000000000000ull);
      return true;
    case ZYDIS_MNEMONIC_VPTEST:
      aux = test_flags(a, b, vexl ? 4 : 2, ~0ull);
      return true;
    case ZYDIS_MNEMONIC_VMOVMSKPS:
      aux = sign_mask(b.d, vexl ? 8 : 4);
      return true;
    case ZYDIS_MNEMONIC_VMOVMSKPD:
      aux = sign_mask(b.q, vexl ? 4 : 2);
      return true;
    case ZYDIS_MNEMONIC_VPMOVMSKB:
      aux = sign_mask(b.b, vexl ? 32 : 16);
      return true;
    case ZYDIS_MNEMONIC_VCVTPH2PS:
      if (dst256) break;
      r.x[0] = _mm_castps_si128(_mm_cvtph_ps(b.x[0]));
      return true;
    case ZYDIS_MNEMONIC_VCVTPS2PH:
      r.x[0] = dispatch<8>(imm, [&](auto i) {
        return vexl ? _mm256_cvtps_ph(ps(b.v), i.value)
                    : _mm_cvtps_ph(_mm_castsi128_ps(b.x[0]), i.value);
      });
      return true;
    case ZYDIS_MNEMONIC_VCVTPD2PS:
      if (!vexl) break;
      r.x[0] = _mm_castps_si128(_mm256_cvtpd_ps(pd(b.v)));
      return true;
    case ZYDIS_MNEMONIC_VCVTPD2DQ:
      if (!vexl) break;
      r.x[0] = _mm256_cvtpd_epi32(pd(b.v));
      return true;
    case ZYDIS_MNEMONIC_VCVTTPD2DQ:
      if (!vexl) break;
      r.x[0] = _mm256_cvttpd_epi32(pd(b.v));
      return true;
    default:
      break;
  }
  if (fma(mn, dst256, d, a, b)) {
    r = d;
    return true;
  }
  if (dst256) {
    bool ok = false;
    r.v = widen(mn, b.x[0], ok);
    if (ok) return true;
  }
  // Per 128-bit lane: the legacy computation.
  const unsigned lm = legacy_mnemonic(mn);
  if (!lm) return false;
  unsigned imm_hi = imm;  // the immediate bits the upper lane uses
  switch (lm) {
    case ZYDIS_MNEMONIC_BLENDPS:
      imm_hi = imm >> 4;
      break;
    case ZYDIS_MNEMONIC_BLENDPD:
    case ZYDIS_MNEMONIC_SHUFPD:
      imm_hi = imm >> 2;
      break;
    case ZYDIS_MNEMONIC_MPSADBW:
      imm_hi = imm >> 3;
      break;
    default:
      break;
  }
  const bool mem = packed & simd::kSrcMem;
  const unsigned wide = packed & simd::kWide ? 0x100 : 0;
  for (unsigned h = 0; h < lanes; ++h) {
    const __m128i bh = h && is_shift_by_count(lm) ? b.x[0] : b.x[h];
    const unsigned ih = (h ? imm_hi : imm) & 0xff;
    if (!simd_base_op(s, lm, a.x[h], bh, ih | wide, mem, r.x[h], aux) &&
        !simd_ext_op(s, lm, a.x[h], bh, ih | wide, mem, r.x[h], aux))
      return false;
  }
  return true;
}

uint64_t helper_avx_op(tcg::CpuCommon* c, uint64_t packed, uint64_t, uint64_t) {
  X86State& s = state_of(c);
  const unsigned mn = packed & 0xffff;
  const unsigned dst = (packed >> simd::kDstShift) & 0xff, src = (packed >> simd::kSrcShift) & 0xff;
  const unsigned vvvv = (packed >> simd::kVvvvShift) & 0xff;
  const unsigned imm = (packed >> simd::kImmShift) & 0xff;
  const Y a = get(s, vvvv), b = get(s, src), d = get(s, dst);
  Y r;
  uint64_t aux = 0;
  bool known = false;
  unsigned flags =
      with_guest_mxcsr(s, [&] { known = avx_op(s, mn, a, b, d, imm, packed, r, aux); });
  // VCVTPS2PH ignores FTZ, so with UM = 0 an exact tiny half raises no flag in the masked run.
  const bool half_um0 = mn == ZYDIS_MNEMONIC_VCVTPS2PH && !(s.mxcsr & (mxcsr_bits::kUe << 7));
  if (simd_fp_faulted(s.mxcsr, flags) || half_um0)
    flags = simd_fp_lane_flags(s, mn, a.b, b.b, d.b, packed & simd::kVexL ? 32 : 16, imm)
                .value_or(flags);
  if (account_flags(s, flags) || !known) return simd::kFault;
  if (!(packed & simd::kDst256)) r.x[1] = _mm_setzero_si128();
  put(s, dst, r);
  return aux;
}

// kHelperAvxMem: packed = mnemonic | dst << 16 | index (gathers) or mask (masked moves) << 24 |
// mask (gathers) << 32 | VEX.L << 40 | scale_log2 << 41 | mmu_idx << 44 | seg << 48 |
// address size log2 - 4 (0: 16, 1: 32, 2: 64) << 52 | code64 << 54.
uint64_t helper_avx_mem(tcg::CpuCommon* c, uint64_t packed, uint64_t addr, uint64_t insn_pc) {
  X86State& s = state_of(c);
  const unsigned mn = packed & 0xffff;
  const unsigned dst = (packed >> 16) & 0xff, r2 = (packed >> 24) & 0xff;
  const unsigned r3 = (packed >> 32) & 0xff;
  const bool l = (packed >> 40) & 1;
  const unsigned scale = (packed >> 41) & 3, mmu_idx = (packed >> 44) & 0xf;
  const unsigned seg = (packed >> 48) & 7, abits = 16u << ((packed >> 52) & 3);
  const bool code64 = (packed >> 54) & 1;
  tcg::ir::MemOp mo;
  mo.mmu_idx = uint8_t(mmu_idx);
  switch (mn) {
    case ZYDIS_MNEMONIC_VMASKMOVPS:
    case ZYDIS_MNEMONIC_VMASKMOVPD:
    case ZYDIS_MNEMONIC_VPMASKMOVD:
    case ZYDIS_MNEMONIC_VPMASKMOVQ: {
      // dst: the register loaded, or kVexDstTmp for a store of ymm[r3]; r2: the mask.
      const bool q = mn == ZYDIS_MNEMONIC_VMASKMOVPD || mn == ZYDIS_MNEMONIC_VPMASKMOVQ;
      const unsigned n = (l ? 32u : 16u) >> (q ? 3 : 2);
      mo.size_log2 = q ? 3 : 2;
      const Y m = get(s, r2);
      const uint64_t amask = abits == 64 ? ~0ull : 0xffffffffull;
      if (dst == kVexDstTmp) {  // store: every selected element, in order
        const Y v = get(s, r3);
        for (unsigned i = 0; i < n; ++i) {
          if (!(q ? m.q[i] >> 63 : m.d[i] >> 31)) continue;
          c->mmu->store((addr + i * (q ? 8 : 4)) & amask, q ? v.q[i] : v.d[i], mo, insn_pc);
          if (c->pending_exit) return 0;
        }
        return 0;
      }
      Y r;
      r.v = _mm256_setzero_si256();
      for (unsigned i = 0; i < n; ++i) {
        if (!(q ? m.q[i] >> 63 : m.d[i] >> 31)) continue;
        const uint64_t v = c->mmu->load((addr + i * (q ? 8 : 4)) & amask, mo, insn_pc);
        if (c->pending_exit) return 0;  // the destination is unchanged
        q ? void(r.q[i] = v) : void(r.d[i] = uint32_t(v));
      }
      put(s, dst, r);
      return 0;
    }
    case ZYDIS_MNEMONIC_MASKMOVQ:
    case ZYDIS_MNEMONIC_MASKMOVDQU:
    case ZYDIS_MNEMONIC_VMASKMOVDQU: {
      // dst: the data, r2: the mask; each selected byte is stored in order (non-temporal on
      // hardware, an ordinary store here).
      const unsigned n = mn == ZYDIS_MNEMONIC_MASKMOVQ ? 8 : 16;
      const Y v = get(s, dst), m = get(s, r2);
      const uint64_t amask = abits == 64 ? ~0ull : 0xffffffffull;
      mo.size_log2 = 0;
      for (unsigned i = 0; i < n; ++i) {
        if (!(m.b[i] & 0x80)) continue;
        c->mmu->store((addr + i) & amask, v.b[i], mo, insn_pc);
        if (c->pending_exit) return 0;
      }
      return 0;
    }
    default:
      break;
  }
  // Gathers: dst, index r2, mask r3. Elements are loaded in order; each one loaded clears its
  // mask element, so after a fault the instruction restarts where it stopped.
  bool idx64 = false, elem64 = false;
  switch (mn) {
    case ZYDIS_MNEMONIC_VGATHERDPS:
    case ZYDIS_MNEMONIC_VPGATHERDD:
      break;
    case ZYDIS_MNEMONIC_VGATHERDPD:
    case ZYDIS_MNEMONIC_VPGATHERDQ:
      elem64 = true;
      break;
    case ZYDIS_MNEMONIC_VGATHERQPS:
    case ZYDIS_MNEMONIC_VPGATHERQD:
      idx64 = true;
      break;
    default:  // VGATHERQPD, VPGATHERQQ
      idx64 = elem64 = true;
      break;
  }
  const unsigned n = elem64 || idx64 ? (l ? 4 : 2) : (l ? 8 : 4);
  const bool dst_wide = elem64 ? l : (!idx64 && l);  // the destination and mask are YMM
  mo.size_log2 = elem64 ? 3 : 2;
  Y d = get(s, dst), m = get(s, r3);
  const Y ix = get(s, r2);
  if (!dst_wide) d.x[1] = m.x[1] = _mm_setzero_si128();
  const uint64_t amask = abits == 64 ? ~0ull : (1ull << abits) - 1;
  for (unsigned i = 0; i < n; ++i) {
    const bool on = elem64 ? m.q[i] >> 63 : m.d[i] >> 31;
    if (!on) continue;
    const int64_t index = idx64 ? int64_t(ix.q[i]) : int64_t(int32_t(ix.d[i]));
    uint64_t off = (addr + (uint64_t(index) << scale)) & amask;
    uint64_t lin = off;
    if (code64) {
      if (seg == kFs || seg == kGs) lin += s.seg[seg].base;
    } else {
      lin = (off + s.seg[seg].base) & 0xffffffff;
    }
    const uint64_t v = c->mmu->load(lin, mo, insn_pc);
    if (c->pending_exit) {
      put(s, dst, d);
      put(s, r3, m);
      return 0;
    }
    if (elem64) {
      d.q[i] = v;
      m.q[i] = 0;
    } else {
      d.d[i] = uint32_t(v);
      m.d[i] = 0;
    }
  }
  // Done: the whole mask is cleared; elements past n are zero in the destination.
  m.v = _mm256_setzero_si256();
  if (elem64) {
    for (unsigned i = n; i < 4; ++i) d.q[i] = 0;
  } else {
    for (unsigned i = n; i < 8; ++i) d.d[i] = 0;
  }
  put(s, dst, d);
  put(s, r3, m);
  return 0;
}

}  // namespace

unsigned legacy_mnemonic(unsigned vex_mnemonic) {
  static const std::vector<uint16_t> table = [] {
    std::unordered_map<std::string, uint16_t> by_name;
    for (unsigned m = 1; m <= ZYDIS_MNEMONIC_MAX_VALUE; ++m)
      if (const char* n = ZydisMnemonicGetString(ZydisMnemonic(m))) by_name[n] = uint16_t(m);
    std::vector<uint16_t> t(ZYDIS_MNEMONIC_MAX_VALUE + 1, 0);
    for (const auto& [name, m] : by_name)
      if (name.size() > 1 && name[0] == 'v')
        if (auto it = by_name.find(name.substr(1)); it != by_name.end()) t[m] = it->second;
    return t;
  }();
  return vex_mnemonic < table.size() ? table[vex_mnemonic] : 0;
}

const tcg::ir::Helper kHelperAvxOp{"x86_avx_op", helper_avx_op};
const tcg::ir::Helper kHelperAvxMem{"x86_avx_mem", helper_avx_mem};

}  // namespace orrery::cpu::x86
