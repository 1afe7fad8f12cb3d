// SSE3, SSSE3, SSE4.1, SSE4.2, AES-NI, PCLMULQDQ and SHA computations (see simd_helpers.h),
// compiled for hosts with those extensions: the guest's CPUID must not offer them elsewhere.
#pragma GCC target("sse3,ssse3,sse4.1,sse4.2,aes,pclmul,sha,popcnt")

#include <Zydis/Zydis.h>

#include <utility>

#include "cpu/x86/simd_helpers.h"

namespace orrery::cpu::x86 {

namespace {

union Lanes {
  __m128i v;
  uint8_t b[16];
  uint16_t w[8];
  uint32_t d[4];
  uint64_t q[2];
  float f[4];
};

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

// Calls f(std::integral_constant<unsigned, imm>) for a runtime imm < N: the host intrinsics
// need their immediate at compile time.
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

// PCMPxSTRx: the host instruction; flags CF ZF SF OF as it sets them, AF = PF = 0.
struct StrResult {
  __m128i mask;
  uint32_t index;
  uint64_t flags;
};
template <unsigned kImm, bool kExplicit, bool kIndex>
StrResult pcmpstr(__m128i a, __m128i b, uint64_t la, uint64_t lb) {
  StrResult out{};
  bool c, z, s, o;
  if constexpr (kExplicit && kIndex) {
    asm volatile("pcmpestri %[i], %[b], %[a]"
                 : "=c"(out.index), "=@ccc"(c), "=@ccz"(z), "=@ccs"(s), "=@cco"(o)
                 : [a] "x"(a), [b] "x"(b), [i] "i"(kImm), "a"(la), "d"(lb));
  } else if constexpr (kExplicit) {
    asm volatile("pcmpestrm %[i], %[b], %[a]"
                 : "=Yz"(out.mask), "=@ccc"(c), "=@ccz"(z), "=@ccs"(s), "=@cco"(o)
                 : [a] "x"(a), [b] "x"(b), [i] "i"(kImm), "a"(la), "d"(lb));
  } else if constexpr (kIndex) {
    asm volatile("pcmpistri %[i], %[b], %[a]"
                 : "=c"(out.index), "=@ccc"(c), "=@ccz"(z), "=@ccs"(s), "=@cco"(o)
                 : [a] "x"(a), [b] "x"(b), [i] "i"(kImm));
  } else {
    asm volatile("pcmpistrm %[i], %[b], %[a]"
                 : "=Yz"(out.mask), "=@ccc"(c), "=@ccz"(z), "=@ccs"(s), "=@cco"(o)
                 : [a] "x"(a), [b] "x"(b), [i] "i"(kImm));
  }
  out.flags =
      (c ? eflags::kCf : 0) | (z ? eflags::kZf : 0) | (s ? eflags::kSf : 0) | (o ? eflags::kOf : 0);
  return out;
}

// Explicit lengths are EAX/EDX (RAX/RDX with REX.W); the instruction saturates them itself.
template <bool kExplicit, bool kIndex>
StrResult pcmpstr_any(X86State& s, unsigned imm, __m128i a, __m128i b, bool wide) {
  const uint64_t la = wide ? s.gpr[kRax] : uint64_t(int64_t(int32_t(s.gpr[kRax])));
  const uint64_t lb = wide ? s.gpr[kRdx] : uint64_t(int64_t(int32_t(s.gpr[kRdx])));
  return dispatch<128>(imm & 0x7f, [&](auto i) {
    return pcmpstr<decltype(i)::value, kExplicit, kIndex>(a, b, la, lb);
  });
}

__m128i clmul(__m128i a, __m128i b, unsigned imm) {
  Lanes x{a}, y{b}, r{};
  const uint64_t p = x.q[imm & 1], q = y.q[(imm >> 4) & 1];
  uint64_t lo = 0, hi = 0;
  for (unsigned i = 0; i < 64; ++i)
    if ((q >> i) & 1) {
      lo ^= p << i;
      if (i) hi ^= p >> (64 - i);
    }
  r.q[0] = lo;
  r.q[1] = hi;
  return r.v;
}

__m128i palignr(__m128i a, __m128i b, unsigned n) {
  uint8_t cat[32];
  _mm_storeu_si128(reinterpret_cast<__m128i*>(cat), b);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(cat + 16), a);
  Lanes r{};
  for (unsigned i = 0; i < 16; ++i) r.b[i] = i + n < 32 ? cat[i + n] : 0;
  return r.v;
}

__m128i blend(__m128i a, __m128i b, unsigned imm, unsigned lane_bytes) {
  Lanes x{a}, y{b}, r{a};
  for (unsigned i = 0; i < 16; ++i)
    if ((imm >> (i / lane_bytes)) & 1) r.b[i] = y.b[i];
  (void)x;
  return r.v;
}

__m128i insertps(__m128i a, __m128i b, unsigned imm, bool src_mem) {
  Lanes x{a}, y{b};
  x.d[(imm >> 4) & 3] = src_mem ? y.d[0] : y.d[(imm >> 6) & 3];
  for (unsigned i = 0; i < 4; ++i)
    if ((imm >> i) & 1) x.d[i] = 0;
  return x.v;
}

uint64_t ptest_flags(__m128i a, __m128i b) {
  const bool z = _mm_testz_si128(a, b), c = _mm_testc_si128(a, b);
  return (z ? eflags::kZf : 0) | (c ? eflags::kCf : 0);
}

}  // namespace

bool simd_ext_op(X86State& s, unsigned mn, __m128i a, __m128i b, unsigned imm, bool src_mem,
                 __m128i& r, uint64_t& aux) {
  const __m128 fa = ps(a), fb = ps(b);
  const __m128d da = pd(a), db = pd(b);
  const __m128i x0 = _mm_load_si128(reinterpret_cast<const __m128i*>(&s.ymm[0]));
  switch (mn) {
#define I(M, expr)         \
  case ZYDIS_MNEMONIC_##M: \
    r = (expr);            \
    return true;
    // ---- SSE3 ----
    I(ADDSUBPS, pi(_mm_addsub_ps(fa, fb)))
    I(ADDSUBPD, pi(_mm_addsub_pd(da, db)))
    I(HADDPS, pi(_mm_hadd_ps(fa, fb)))
    I(HADDPD, pi(_mm_hadd_pd(da, db)))
    I(HSUBPS, pi(_mm_hsub_ps(fa, fb)))
    I(HSUBPD, pi(_mm_hsub_pd(da, db)))
    I(MOVSLDUP, pi(_mm_moveldup_ps(fb)))
    I(MOVSHDUP, pi(_mm_movehdup_ps(fb)))
    I(MOVDDUP, pi(_mm_movedup_pd(db)))
    // ---- SSSE3 ----
    I(PSHUFB, _mm_shuffle_epi8(a, b))
    I(PHADDW, _mm_hadd_epi16(a, b))
    I(PHADDD, _mm_hadd_epi32(a, b))
    I(PHADDSW, _mm_hadds_epi16(a, b))
    I(PHSUBW, _mm_hsub_epi16(a, b))
    I(PHSUBD, _mm_hsub_epi32(a, b))
    I(PHSUBSW, _mm_hsubs_epi16(a, b))
    I(PMADDUBSW, _mm_maddubs_epi16(a, b))
    I(PMULHRSW, _mm_mulhrs_epi16(a, b))
    I(PABSB, _mm_abs_epi8(b))
    I(PABSW, _mm_abs_epi16(b))
    I(PABSD, _mm_abs_epi32(b))
    I(PSIGNB, _mm_sign_epi8(a, b))
    I(PSIGNW, _mm_sign_epi16(a, b))
    I(PSIGND, _mm_sign_epi32(a, b))
    I(PALIGNR, palignr(a, b, imm))
    // ---- SSE4.1 ----
    I(PBLENDW, blend(a, b, imm, 2))
    I(BLENDPS, blend(a, b, imm & 15, 4))
    I(BLENDPD, blend(a, b, imm & 3, 8))
    I(BLENDVPS, pi(_mm_blendv_ps(fa, fb, ps(x0))))
    I(BLENDVPD, pi(_mm_blendv_pd(da, db, pd(x0))))
    I(PBLENDVB, _mm_blendv_epi8(a, b, x0))
    I(PMINSB, _mm_min_epi8(a, b))
    I(PMINSD, _mm_min_epi32(a, b))
    I(PMINUW, _mm_min_epu16(a, b))
    I(PMINUD, _mm_min_epu32(a, b))
    I(PMAXSB, _mm_max_epi8(a, b))
    I(PMAXSD, _mm_max_epi32(a, b))
    I(PMAXUW, _mm_max_epu16(a, b))
    I(PMAXUD, _mm_max_epu32(a, b))
    I(PMULLD, _mm_mullo_epi32(a, b))
    I(PMULDQ, _mm_mul_epi32(a, b))
    I(PCMPEQQ, _mm_cmpeq_epi64(a, b))
    I(PACKUSDW, _mm_packus_epi32(a, b))
    I(PMOVSXBW, _mm_cvtepi8_epi16(b))
    I(PMOVSXBD, _mm_cvtepi8_epi32(b))
    I(PMOVSXBQ, _mm_cvtepi8_epi64(b))
    I(PMOVSXWD, _mm_cvtepi16_epi32(b))
    I(PMOVSXWQ, _mm_cvtepi16_epi64(b))
    I(PMOVSXDQ, _mm_cvtepi32_epi64(b))
    I(PMOVZXBW, _mm_cvtepu8_epi16(b))
    I(PMOVZXBD, _mm_cvtepu8_epi32(b))
    I(PMOVZXBQ, _mm_cvtepu8_epi64(b))
    I(PMOVZXWD, _mm_cvtepu16_epi32(b))
    I(PMOVZXWQ, _mm_cvtepu16_epi64(b))
    I(PMOVZXDQ, _mm_cvtepu32_epi64(b))
    I(PHMINPOSUW, _mm_minpos_epu16(b))
    I(INSERTPS, insertps(a, b, imm, src_mem))
    I(ROUNDPS, dispatch<16>(imm, [&](auto i) { return pi(_mm_round_ps(fb, decltype(i)::value)); }))
    I(ROUNDPD, dispatch<16>(imm, [&](auto i) { return pi(_mm_round_pd(db, decltype(i)::value)); }))
    I(ROUNDSS,
      dispatch<16>(imm, [&](auto i) { return pi(_mm_round_ss(fa, fb, decltype(i)::value)); }))
    I(ROUNDSD,
      dispatch<16>(imm, [&](auto i) { return pi(_mm_round_sd(da, db, decltype(i)::value)); }))
    I(DPPS, dispatch<256>(imm, [&](auto i) { return pi(_mm_dp_ps(fa, fb, decltype(i)::value)); }))
    I(DPPD, dispatch<256>(imm, [&](auto i) { return pi(_mm_dp_pd(da, db, decltype(i)::value)); }))
    I(MPSADBW, dispatch<8>(imm, [&](auto i) { return _mm_mpsadbw_epu8(a, b, decltype(i)::value); }))
    // ---- SSE4.2 ----
    I(PCMPGTQ, _mm_cmpgt_epi64(a, b))
    // ---- AES-NI, PCLMULQDQ, SHA ----
    I(AESENC, _mm_aesenc_si128(a, b))
    I(AESENCLAST, _mm_aesenclast_si128(a, b))
    I(AESDEC, _mm_aesdec_si128(a, b))
    I(AESDECLAST, _mm_aesdeclast_si128(a, b))
    I(AESIMC, _mm_aesimc_si128(b))
    I(AESKEYGENASSIST,
      dispatch<256>(imm, [&](auto i) { return _mm_aeskeygenassist_si128(b, decltype(i)::value); }))
    I(PCLMULQDQ, clmul(a, b, imm))
    I(SHA1NEXTE, _mm_sha1nexte_epu32(a, b))
    I(SHA1MSG1, _mm_sha1msg1_epu32(a, b))
    I(SHA1MSG2, _mm_sha1msg2_epu32(a, b))
    I(SHA1RNDS4,
      dispatch<4>(imm, [&](auto i) { return _mm_sha1rnds4_epu32(a, b, decltype(i)::value); }))
    I(SHA256MSG1, _mm_sha256msg1_epu32(a, b))
    I(SHA256MSG2, _mm_sha256msg2_epu32(a, b))
    I(SHA256RNDS2, _mm_sha256rnds2_epu32(a, b, x0))
#undef I
    case ZYDIS_MNEMONIC_PTEST:
      aux = ptest_flags(a, b);
      return true;
    // PCMPxSTRx: ECX (written here) or XMM0 (r; the helper stores it there) is the result,
    // the flags are returned. imm bit 8 (above the imm8) marks REX.W for explicit lengths.
    case ZYDIS_MNEMONIC_PCMPESTRI:
    case ZYDIS_MNEMONIC_PCMPISTRI: {
      const StrResult o = mn == ZYDIS_MNEMONIC_PCMPESTRI
                              ? pcmpstr_any<true, true>(s, imm, a, b, imm & 0x100)
                              : pcmpstr_any<false, true>(s, imm, a, b, false);
      s.gpr[kRcx] = o.index;
      aux = o.flags;
      return true;
    }
    case ZYDIS_MNEMONIC_PCMPESTRM:
    case ZYDIS_MNEMONIC_PCMPISTRM: {
      const StrResult o = mn == ZYDIS_MNEMONIC_PCMPESTRM
                              ? pcmpstr_any<true, false>(s, imm, a, b, imm & 0x100)
                              : pcmpstr_any<false, false>(s, imm, a, b, false);
      r = o.mask;  // the helper stores it to XMM0
      aux = o.flags;
      return true;
    }
    default:
      return false;
  }
}

namespace {
uint64_t helper_crc32(tcg::CpuCommon*, uint64_t crc, uint64_t v, uint64_t bytes) {
  switch (bytes) {
    case 1:
      return _mm_crc32_u8(uint32_t(crc), uint8_t(v));
    case 2:
      return _mm_crc32_u16(uint32_t(crc), uint16_t(v));
    case 4:
      return _mm_crc32_u32(uint32_t(crc), uint32_t(v));
    default:
      return uint32_t(_mm_crc32_u64(uint32_t(crc), v));
  }
}
}  // namespace

const tcg::ir::Helper kHelperCrc32{"x86_crc32", helper_crc32, true};

}  // namespace orrery::cpu::x86
