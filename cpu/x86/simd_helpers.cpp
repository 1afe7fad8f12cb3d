// SSE and SSE2 computations and the helper entry points (see simd_helpers.h). Only SSE2 is used
// here, the x86-64 baseline; simd_ext.cpp holds what needs later host extensions.
#include "cpu/x86/simd_helpers.h"

#include <cstring>

#include "cpu/x86/exception.h"
#include "cpu/x86/flags.h"

#include <Zydis/Zydis.h>

namespace orrery::cpu::x86 {

namespace {

union Lanes {
  __m128i v;
  uint8_t b[16];
  uint16_t w[8];
  uint32_t d[4];
  uint64_t q[2];
  float f[4];
  double g[2];
};

inline Lanes lanes(__m128i v) {
  Lanes l;
  l.v = v;
  return l;
}
inline __m128 ps(__m128i v) {
  return _mm_castsi128_ps(v);
}
inline __m128d pd(__m128i v) {
  return _mm_castsi128_pd(v);
}
inline __m128i pi(__m128 v) {
  return _mm_castps_si128(v);
}
inline __m128i pi(__m128d v) {
  return _mm_castpd_si128(v);
}

__m128i cmp_ps(__m128 a, __m128 b, unsigned p) {
  switch (p & 7) {
    case 0:
      return pi(_mm_cmpeq_ps(a, b));
    case 1:
      return pi(_mm_cmplt_ps(a, b));
    case 2:
      return pi(_mm_cmple_ps(a, b));
    case 3:
      return pi(_mm_cmpunord_ps(a, b));
    case 4:
      return pi(_mm_cmpneq_ps(a, b));
    case 5:
      return pi(_mm_cmpnlt_ps(a, b));
    case 6:
      return pi(_mm_cmpnle_ps(a, b));
    default:
      return pi(_mm_cmpord_ps(a, b));
  }
}
__m128i cmp_ss(__m128 a, __m128 b, unsigned p) {
  switch (p & 7) {
    case 0:
      return pi(_mm_cmpeq_ss(a, b));
    case 1:
      return pi(_mm_cmplt_ss(a, b));
    case 2:
      return pi(_mm_cmple_ss(a, b));
    case 3:
      return pi(_mm_cmpunord_ss(a, b));
    case 4:
      return pi(_mm_cmpneq_ss(a, b));
    case 5:
      return pi(_mm_cmpnlt_ss(a, b));
    case 6:
      return pi(_mm_cmpnle_ss(a, b));
    default:
      return pi(_mm_cmpord_ss(a, b));
  }
}
__m128i cmp_pd(__m128d a, __m128d b, unsigned p) {
  switch (p & 7) {
    case 0:
      return pi(_mm_cmpeq_pd(a, b));
    case 1:
      return pi(_mm_cmplt_pd(a, b));
    case 2:
      return pi(_mm_cmple_pd(a, b));
    case 3:
      return pi(_mm_cmpunord_pd(a, b));
    case 4:
      return pi(_mm_cmpneq_pd(a, b));
    case 5:
      return pi(_mm_cmpnlt_pd(a, b));
    case 6:
      return pi(_mm_cmpnle_pd(a, b));
    default:
      return pi(_mm_cmpord_pd(a, b));
  }
}
__m128i cmp_sd(__m128d a, __m128d b, unsigned p) {
  switch (p & 7) {
    case 0:
      return pi(_mm_cmpeq_sd(a, b));
    case 1:
      return pi(_mm_cmplt_sd(a, b));
    case 2:
      return pi(_mm_cmple_sd(a, b));
    case 3:
      return pi(_mm_cmpunord_sd(a, b));
    case 4:
      return pi(_mm_cmpneq_sd(a, b));
    case 5:
      return pi(_mm_cmpnlt_sd(a, b));
    case 6:
      return pi(_mm_cmpnle_sd(a, b));
    default:
      return pi(_mm_cmpord_sd(a, b));
  }
}

// (U)COMISS/SD: ZF PF CF as the host's instruction sets them (OF SF AF cleared).
template <bool kDouble, bool kOrdered>
uint64_t comis(__m128i a, __m128i b) {
  bool z, p, c;
  if constexpr (kDouble && kOrdered)
    asm volatile("comisd %3, %4" : "=@ccz"(z), "=@ccp"(p), "=@ccc"(c) : "x"(b), "x"(a));
  else if constexpr (kDouble)
    asm volatile("ucomisd %3, %4" : "=@ccz"(z), "=@ccp"(p), "=@ccc"(c) : "x"(b), "x"(a));
  else if constexpr (kOrdered)
    asm volatile("comiss %3, %4" : "=@ccz"(z), "=@ccp"(p), "=@ccc"(c) : "x"(b), "x"(a));
  else
    asm volatile("ucomiss %3, %4" : "=@ccz"(z), "=@ccp"(p), "=@ccc"(c) : "x"(b), "x"(a));
  return (z ? eflags::kZf : 0) | (p ? eflags::kPf : 0) | (c ? eflags::kCf : 0);
}

__m128i shuffle32(__m128i lo_src, __m128i hi_src, unsigned imm) {
  Lanes a = lanes(lo_src), b = lanes(hi_src), r;
  r.d[0] = a.d[imm & 3];
  r.d[1] = a.d[(imm >> 2) & 3];
  r.d[2] = b.d[(imm >> 4) & 3];
  r.d[3] = b.d[(imm >> 6) & 3];
  return r.v;
}

__m128i byte_shift(__m128i v, unsigned n, bool left) {
  Lanes a = lanes(v), r;
  r.v = _mm_setzero_si128();
  if (n > 15) return r.v;
  for (unsigned i = 0; i < 16; ++i) {
    if (left && i >= n) r.b[i] = a.b[i - n];
    if (!left && i + n < 16) r.b[i] = a.b[i + n];
  }
  return r.v;
}

// CVT*2SI: the host instruction (integer indefinite on overflow/NaN, MXCSR rounding).
template <bool kDouble, bool kTrunc, bool kWide>
uint64_t cvt_to_int(__m128i v) {
  if constexpr (kDouble) {
    if constexpr (kWide) return uint64_t(kTrunc ? _mm_cvttsd_si64(pd(v)) : _mm_cvtsd_si64(pd(v)));
    return uint32_t(kTrunc ? _mm_cvttsd_si32(pd(v)) : _mm_cvtsd_si32(pd(v)));
  } else {
    if constexpr (kWide) return uint64_t(kTrunc ? _mm_cvttss_si64(ps(v)) : _mm_cvtss_si64(ps(v)));
    return uint32_t(kTrunc ? _mm_cvttss_si32(ps(v)) : _mm_cvtss_si32(ps(v)));
  }
}

inline __m128i load_xmm(const X86State& s, unsigned r) {
  return _mm_load_si128(reinterpret_cast<const __m128i*>(&s.ymm[r & 15]));
}
inline void store_xmm(X86State& s, unsigned r, __m128i v) {
  _mm_store_si128(reinterpret_cast<__m128i*>(&s.ymm[r & 15]), v);
}

uint64_t helper_sse_op(tcg::CpuCommon* c, uint64_t packed, uint64_t lo, uint64_t hi) {
  X86State& s = state_of(c);
  const unsigned mn = packed & 0xffff, dst = (packed >> simd::kDstShift) & 15;
  const unsigned imm = ((packed >> simd::kImmShift) & 0xff) | (packed & simd::kWide ? 0x100 : 0);
  const bool mem = packed & simd::kSrcMem;
  const __m128i a = load_xmm(s, dst);
  const __m128i b = mem ? _mm_set_epi64x(int64_t(hi), int64_t(lo))
                        : load_xmm(s, (packed >> simd::kSrcShift) & 15);
  __m128i r = a;
  uint64_t aux = 0;
  bool known = false;
  unsigned flags = with_guest_mxcsr(s, [&] {
    known =
        simd_base_op(s, mn, a, b, imm, mem, r, aux) || simd_ext_op(s, mn, a, b, imm, mem, r, aux);
  });
  if (simd_fp_faulted(s.mxcsr, flags)) {
    const std::span<const uint8_t> sa(reinterpret_cast<const uint8_t*>(&a), 16);
    const std::span<const uint8_t> sb(reinterpret_cast<const uint8_t*>(&b), 16);
    flags = simd_fp_lane_flags(s, mn, sa, sb, sa, 16, imm & 0xff).value_or(flags);
  }
  if (account_flags(s, flags) || !known) return simd::kFault;
  const bool to_xmm0 = mn == ZYDIS_MNEMONIC_PCMPESTRM || mn == ZYDIS_MNEMONIC_PCMPISTRM;
  store_xmm(s, to_xmm0 ? 0 : dst, r);
  return aux;
}

uint64_t helper_sse_int_op(tcg::CpuCommon* c, uint64_t packed, uint64_t lo, uint64_t hi) {
  X86State& s = state_of(c);
  const unsigned mn = packed & 0xffff, dst = (packed >> simd::kDstShift) & 15;
  const unsigned imm = (packed >> simd::kImmShift) & 0xff;
  const bool mem = packed & simd::kSrcMem;
  const __m128i a = load_xmm(s, dst);
  const __m128i b = mem ? _mm_set_epi64x(int64_t(hi), int64_t(lo))
                        : load_xmm(s, (packed >> simd::kSrcShift) & 15);
  __m128i r = a;
  uint64_t aux = 0;
  if (simd_base_op(s, mn, a, b, imm, mem, r, aux) || simd_ext_op(s, mn, a, b, imm, mem, r, aux))
    store_xmm(s, dst, r);
  return 0;
}

uint64_t helper_sse_gpr(tcg::CpuCommon* c, uint64_t packed, uint64_t lo, uint64_t hi) {
  X86State& s = state_of(c);
  const unsigned mn = packed & 0xffff, dst = (packed >> simd::kDstShift) & 15;
  const bool mem = packed & simd::kSrcMem, wide = packed & simd::kWide;
  __m128i b = mem ? _mm_set_epi64x(int64_t(hi), int64_t(lo))
                  : load_xmm(s, (packed >> simd::kSrcShift) & 15);
  if (packed & simd::kMmx) {  // PMOVMSKB r, mm
    b = _mm_set_epi64x(0, int64_t(s.x87.st[(packed >> simd::kSrcShift) & 7].mant));
    s.x87.top = 0;
    s.x87.ftw = 0xff;
  }
  uint64_t v = 0;
  const unsigned flags = with_guest_mxcsr(s, [&] {
    switch (mn) {
      case ZYDIS_MNEMONIC_CVTSS2SI:
        v = wide ? cvt_to_int<false, false, true>(b) : cvt_to_int<false, false, false>(b);
        break;
      case ZYDIS_MNEMONIC_CVTTSS2SI:
        v = wide ? cvt_to_int<false, true, true>(b) : cvt_to_int<false, true, false>(b);
        break;
      case ZYDIS_MNEMONIC_CVTSD2SI:
        v = wide ? cvt_to_int<true, false, true>(b) : cvt_to_int<true, false, false>(b);
        break;
      case ZYDIS_MNEMONIC_CVTTSD2SI:
        v = wide ? cvt_to_int<true, true, true>(b) : cvt_to_int<true, true, false>(b);
        break;
      case ZYDIS_MNEMONIC_MOVMSKPS:
        v = unsigned(_mm_movemask_ps(ps(b)));
        break;
      case ZYDIS_MNEMONIC_MOVMSKPD:
        v = unsigned(_mm_movemask_pd(pd(b)));
        break;
      case ZYDIS_MNEMONIC_PMOVMSKB:
        v = unsigned(_mm_movemask_epi8(b));
        break;
      default:
        break;
    }
  });
  if (account_flags(s, flags)) return simd::kFault;
  s.gpr[dst] = wide ? v : uint32_t(v);
  return 0;
}

// MMX: the 64-bit operation is the 128-bit one on zero-extended values, except where lanes
// would cross the 64-bit boundary (unpack high, packs, horizontal ops, shuffles).
uint64_t helper_mmx_op(tcg::CpuCommon* c, uint64_t packed, uint64_t lo, uint64_t) {
  X86State& s = state_of(c);
  unsigned mn = packed & 0xffff;
  const unsigned dst = (packed >> simd::kDstShift) & 7, src = (packed >> simd::kSrcShift) & 7;
  const unsigned imm = (packed >> simd::kImmShift) & 0xff;
  const bool mem = packed & simd::kSrcMem;
  const uint64_t a = s.x87.st[dst].mant, b = mem ? lo : s.x87.st[src].mant;
  __m128i va = _mm_set_epi64x(0, int64_t(a)), vb = _mm_set_epi64x(0, int64_t(b)), r = va;
  uint64_t out = 0, aux = 0;
  switch (mn) {
    case ZYDIS_MNEMONIC_PUNPCKHBW:
    case ZYDIS_MNEMONIC_PUNPCKHWD:
    case ZYDIS_MNEMONIC_PUNPCKHDQ:
      va = _mm_set_epi64x(0, int64_t(a >> 32));
      vb = _mm_set_epi64x(0, int64_t(b >> 32));
      mn = mn == ZYDIS_MNEMONIC_PUNPCKHBW   ? ZYDIS_MNEMONIC_PUNPCKLBW
           : mn == ZYDIS_MNEMONIC_PUNPCKHWD ? ZYDIS_MNEMONIC_PUNPCKLWD
                                            : ZYDIS_MNEMONIC_PUNPCKLDQ;
      break;
    case ZYDIS_MNEMONIC_PACKSSWB:
    case ZYDIS_MNEMONIC_PACKSSDW:
    case ZYDIS_MNEMONIC_PACKUSWB:
    case ZYDIS_MNEMONIC_PHADDW:
    case ZYDIS_MNEMONIC_PHADDD:
    case ZYDIS_MNEMONIC_PHADDSW:
    case ZYDIS_MNEMONIC_PHSUBW:
    case ZYDIS_MNEMONIC_PHSUBD:
    case ZYDIS_MNEMONIC_PHSUBSW:
      va = _mm_set_epi64x(int64_t(b), int64_t(a));
      vb = _mm_setzero_si128();
      break;
    default:
      break;
  }
  if (mn == ZYDIS_MNEMONIC_PSHUFB) {
    for (unsigned i = 0; i < 8; ++i) {
      const unsigned idx = (b >> (8 * i)) & 0xff;
      out |= (idx & 0x80 ? 0 : (a >> (8 * (idx & 7))) & 0xff) << (8 * i);
    }
  } else if (mn == ZYDIS_MNEMONIC_PALIGNR) {
    for (unsigned i = 0; i < 8; ++i) {
      const unsigned k = i + imm;
      const uint64_t byte = k < 8    ? (b >> (8 * k)) & 0xff
                            : k < 16 ? (a >> (8 * (k - 8))) & 0xff
                                     : 0;
      out |= byte << (8 * i);
    }
  } else if (mn == ZYDIS_MNEMONIC_PSHUFW) {
    for (unsigned i = 0; i < 4; ++i)
      out |= ((b >> (16 * ((imm >> (2 * i)) & 3))) & 0xffff) << (16 * i);
  } else {
    if (!simd_base_op(s, mn, va, vb, imm, mem, r, aux) &&
        !simd_ext_op(s, mn, va, vb, imm, mem, r, aux))
      return simd::kFault;
    out = uint64_t(_mm_cvtsi128_si64(r));
  }
  s.x87.st[dst].mant = out;
  s.x87.st[dst].sign_exp = 0xffff;
  s.x87.top = 0;
  s.x87.ftw = 0xff;
  return 0;
}

uint64_t helper_simd_fault(tcg::CpuCommon* c, uint64_t, uint64_t insn_pc, uint64_t) {
  X86State& s = state_of(c);
  raise_exception(s, (s.cr4 & cr4::kOsxmmexcpt) ? vec::kXm : vec::kUd, -1, insn_pc);
  return 0;
}

}  // namespace

bool account_flags(X86State& s, unsigned flags) {
  // An unmasked pre-computation exception (IE, DE, ZE) aborts the operation before the
  // post-computation flags the host's masked run also raised.
  if (flags & ~(s.mxcsr >> 7) & 7) flags &= 7;
  s.mxcsr |= flags;
  return flags & ~(s.mxcsr >> 7) & 0x3f;
}

const tcg::ir::Helper kHelperSseOp{"x86_sse_op", helper_sse_op};
const tcg::ir::Helper kHelperSseIntOp{"x86_sse_int_op", helper_sse_int_op};
const tcg::ir::Helper kHelperSseGpr{"x86_sse_gpr", helper_sse_gpr};
const tcg::ir::Helper kHelperMmxOp{"x86_mmx_op", helper_mmx_op};
const tcg::ir::Helper kHelperSimdFault{"x86_simd_fault", helper_simd_fault};

bool simd_base_op(X86State&, unsigned mn, __m128i a, __m128i b, unsigned imm, bool src_mem,
                  __m128i& r, uint64_t& aux) {
  const __m128 fa = ps(a), fb = ps(b);
  const __m128d da = pd(a), db = pd(b);
  switch (mn) {
#define I(M, expr)         \
  case ZYDIS_MNEMONIC_##M: \
    r = (expr);            \
    return true;
    // ---- SSE2 integer ----
    I(PADDB, _mm_add_epi8(a, b))
    I(PADDW, _mm_add_epi16(a, b))
    I(PADDD, _mm_add_epi32(a, b))
    I(PADDQ, _mm_add_epi64(a, b))
    I(PSUBB, _mm_sub_epi8(a, b))
    I(PSUBW, _mm_sub_epi16(a, b))
    I(PSUBD, _mm_sub_epi32(a, b))
    I(PSUBQ, _mm_sub_epi64(a, b))
    I(PADDSB, _mm_adds_epi8(a, b))
    I(PADDSW, _mm_adds_epi16(a, b))
    I(PADDUSB, _mm_adds_epu8(a, b))
    I(PADDUSW, _mm_adds_epu16(a, b))
    I(PSUBSB, _mm_subs_epi8(a, b))
    I(PSUBSW, _mm_subs_epi16(a, b))
    I(PSUBUSB, _mm_subs_epu8(a, b))
    I(PSUBUSW, _mm_subs_epu16(a, b))
    I(PCMPEQB, _mm_cmpeq_epi8(a, b))
    I(PCMPEQW, _mm_cmpeq_epi16(a, b))
    I(PCMPEQD, _mm_cmpeq_epi32(a, b))
    I(PCMPGTB, _mm_cmpgt_epi8(a, b))
    I(PCMPGTW, _mm_cmpgt_epi16(a, b))
    I(PCMPGTD, _mm_cmpgt_epi32(a, b))
    I(PMULLW, _mm_mullo_epi16(a, b))
    I(PMULHW, _mm_mulhi_epi16(a, b))
    I(PMULHUW, _mm_mulhi_epu16(a, b))
    I(PMULUDQ, _mm_mul_epu32(a, b))
    I(PMADDWD, _mm_madd_epi16(a, b))
    I(PAND, _mm_and_si128(a, b))
    I(PANDN, _mm_andnot_si128(a, b))
    I(POR, _mm_or_si128(a, b))
    I(PXOR, _mm_xor_si128(a, b))
    I(ANDPS, _mm_and_si128(a, b))
    I(ANDPD, _mm_and_si128(a, b))
    I(ANDNPS, _mm_andnot_si128(a, b))
    I(ANDNPD, _mm_andnot_si128(a, b))
    I(ORPS, _mm_or_si128(a, b))
    I(ORPD, _mm_or_si128(a, b))
    I(XORPS, _mm_xor_si128(a, b))
    I(XORPD, _mm_xor_si128(a, b))
    // Shifts: the count is b's low quadword (xmm/m128 or the imm8 form's immediate).
    I(PSLLW, _mm_sll_epi16(a, _mm_move_epi64(b)))
    I(PSLLD, _mm_sll_epi32(a, _mm_move_epi64(b)))
    I(PSLLQ, _mm_sll_epi64(a, _mm_move_epi64(b)))
    I(PSRLW, _mm_srl_epi16(a, _mm_move_epi64(b)))
    I(PSRLD, _mm_srl_epi32(a, _mm_move_epi64(b)))
    I(PSRLQ, _mm_srl_epi64(a, _mm_move_epi64(b)))
    I(PSRAW, _mm_sra_epi16(a, _mm_move_epi64(b)))
    I(PSRAD, _mm_sra_epi32(a, _mm_move_epi64(b)))
    I(PSLLDQ, byte_shift(a, imm, true))
    I(PSRLDQ, byte_shift(a, imm, false))
    I(PSHUFD, shuffle32(b, b, imm))
    I(PUNPCKLBW, _mm_unpacklo_epi8(a, b))
    I(PUNPCKLWD, _mm_unpacklo_epi16(a, b))
    I(PUNPCKLDQ, _mm_unpacklo_epi32(a, b))
    I(PUNPCKLQDQ, _mm_unpacklo_epi64(a, b))
    I(PUNPCKHBW, _mm_unpackhi_epi8(a, b))
    I(PUNPCKHWD, _mm_unpackhi_epi16(a, b))
    I(PUNPCKHDQ, _mm_unpackhi_epi32(a, b))
    I(PUNPCKHQDQ, _mm_unpackhi_epi64(a, b))
    I(PACKSSWB, _mm_packs_epi16(a, b))
    I(PACKSSDW, _mm_packs_epi32(a, b))
    I(PACKUSWB, _mm_packus_epi16(a, b))
    I(PMINUB, _mm_min_epu8(a, b))
    I(PMAXUB, _mm_max_epu8(a, b))
    I(PMINSW, _mm_min_epi16(a, b))
    I(PMAXSW, _mm_max_epi16(a, b))
    I(PAVGB, _mm_avg_epu8(a, b))
    I(PAVGW, _mm_avg_epu16(a, b))
    I(PSADBW, _mm_sad_epu8(a, b))
    // ---- SSE/SSE2 floating point ----
    I(ADDPS, pi(_mm_add_ps(fa, fb)))
    I(ADDPD, pi(_mm_add_pd(da, db)))
    I(ADDSS, pi(_mm_add_ss(fa, fb)))
    I(ADDSD, pi(_mm_add_sd(da, db)))
    I(SUBPS, pi(_mm_sub_ps(fa, fb)))
    I(SUBPD, pi(_mm_sub_pd(da, db)))
    I(SUBSS, pi(_mm_sub_ss(fa, fb)))
    I(SUBSD, pi(_mm_sub_sd(da, db)))
    I(MULPS, pi(_mm_mul_ps(fa, fb)))
    I(MULPD, pi(_mm_mul_pd(da, db)))
    I(MULSS, pi(_mm_mul_ss(fa, fb)))
    I(MULSD, pi(_mm_mul_sd(da, db)))
    I(DIVPS, pi(_mm_div_ps(fa, fb)))
    I(DIVPD, pi(_mm_div_pd(da, db)))
    I(DIVSS, pi(_mm_div_ss(fa, fb)))
    I(DIVSD, pi(_mm_div_sd(da, db)))
    I(MINPS, pi(_mm_min_ps(fa, fb)))
    I(MINPD, pi(_mm_min_pd(da, db)))
    I(MINSS, pi(_mm_min_ss(fa, fb)))
    I(MINSD, pi(_mm_min_sd(da, db)))
    I(MAXPS, pi(_mm_max_ps(fa, fb)))
    I(MAXPD, pi(_mm_max_pd(da, db)))
    I(MAXSS, pi(_mm_max_ss(fa, fb)))
    I(MAXSD, pi(_mm_max_sd(da, db)))
    I(SQRTPS, pi(_mm_sqrt_ps(fb)))
    I(SQRTPD, pi(_mm_sqrt_pd(db)))
    I(SQRTSS, pi(_mm_move_ss(fa, _mm_sqrt_ss(fb))))
    I(SQRTSD, pi(_mm_sqrt_sd(da, db)))
    I(RCPPS, pi(_mm_rcp_ps(fb)))
    I(RCPSS, pi(_mm_move_ss(fa, _mm_rcp_ss(fb))))
    I(RSQRTPS, pi(_mm_rsqrt_ps(fb)))
    I(RSQRTSS, pi(_mm_move_ss(fa, _mm_rsqrt_ss(fb))))
    I(CMPPS, cmp_ps(fa, fb, imm))
    I(CMPPD, cmp_pd(da, db, imm))
    I(CMPSS, cmp_ss(fa, fb, imm))
    I(CMPSD, cmp_sd(da, db, imm))
    I(SHUFPS, shuffle32(a, b, imm))
    I(SHUFPD, _mm_set_epi64x(int64_t(lanes(b).q[(imm >> 1) & 1]), int64_t(lanes(a).q[imm & 1])))
    I(UNPCKLPS, _mm_unpacklo_epi32(a, b))
    I(UNPCKHPS, _mm_unpackhi_epi32(a, b))
    I(UNPCKLPD, _mm_unpacklo_epi64(a, b))
    I(UNPCKHPD, _mm_unpackhi_epi64(a, b))
    I(CVTPS2PD, pi(_mm_cvtps_pd(fb)))
    I(CVTPD2PS, pi(_mm_cvtpd_ps(db)))
    I(CVTSS2SD, pi(_mm_cvtss_sd(da, fb)))
    I(CVTSD2SS, pi(_mm_cvtsd_ss(fa, db)))
    I(CVTDQ2PS, pi(_mm_cvtepi32_ps(b)))
    I(CVTPS2DQ, _mm_cvtps_epi32(fb))
    I(CVTTPS2DQ, _mm_cvttps_epi32(fb))
    I(CVTDQ2PD, pi(_mm_cvtepi32_pd(b)))
    I(CVTPD2DQ, _mm_cvtpd_epi32(db))
    I(CVTTPD2DQ, _mm_cvttpd_epi32(db))
#undef I
    // CVTSI2SS/SD: b's low quadword is the integer; imm bit 8 (kWide) marks a 64-bit
    // source, whose rounding differs from a 32-bit one.
    case ZYDIS_MNEMONIC_CVTSI2SS:
      r = pi(imm & 0x100 ? _mm_cvtsi64_ss(fa, int64_t(lanes(b).q[0]))
                         : _mm_cvtsi32_ss(fa, int32_t(lanes(b).d[0])));
      return true;
    case ZYDIS_MNEMONIC_CVTSI2SD:
      r = pi(imm & 0x100 ? _mm_cvtsi64_sd(da, int64_t(lanes(b).q[0]))
                         : _mm_cvtsi32_sd(da, int32_t(lanes(b).d[0])));
      return true;
    case ZYDIS_MNEMONIC_COMISS:
      aux = comis<false, true>(a, b);
      return true;
    case ZYDIS_MNEMONIC_UCOMISS:
      aux = comis<false, false>(a, b);
      return true;
    case ZYDIS_MNEMONIC_COMISD:
      aux = comis<true, true>(a, b);
      return true;
    case ZYDIS_MNEMONIC_UCOMISD:
      aux = comis<true, false>(a, b);
      return true;
    case ZYDIS_MNEMONIC_PSHUFLW: {
      Lanes s = lanes(b), o = s;
      for (unsigned i = 0; i < 4; ++i) o.w[i] = s.w[(imm >> (2 * i)) & 3];
      r = o.v;
      return true;
    }
    case ZYDIS_MNEMONIC_PSHUFHW: {
      Lanes s = lanes(b), o = s;
      for (unsigned i = 0; i < 4; ++i) o.w[4 + i] = s.w[4 + ((imm >> (2 * i)) & 3)];
      r = o.v;
      return true;
    }
    default:
      (void)src_mem;
      return false;
  }
}

}  // namespace orrery::cpu::x86
