// The reference of the SSE floating-point vector operations (vec_ops.inc): each runs the host's
// own SSE instruction under MXCSR = 0x1f80 and reads the exception flags it raised, in one asm
// statement so the compiler can neither move the operation out of that environment nor fold
// it. The baseline and LLVM tiers emit the same instructions. CMPxx predicates 8-31 run VCMPxx,
// so they need a host with AVX (only VEX guest code, offered only on such hosts, uses them).
#include <immintrin.h>

#include <utility>

#include "tcg/ir/vec_eval.h"

namespace orrery::tcg::ir {

namespace {

constexpr uint32_t kDefaultCsr = kVecFpMxcsr;

// `insn b, a` (AT&T) with MXCSR set to the default and read back after it.
#define FP_ASM(insn)                                                 \
  asm volatile("ldmxcsr %[k]\n\t" insn " %[b], %[a]\n\tstmxcsr %[c]" \
               : [a] "+x"(a), [c] "=m"(csr)                          \
               : [b] "x"(b), [k] "m"(kDefaultCsr))

// CMPxx with predicate P: the legacy instruction for 0-7, VEX VCMPxx (AVX hosts) for 8-31.
#define CMP_ASM(legacy, vex)                                                      \
  if constexpr (P < 8)                                                            \
    asm volatile("ldmxcsr %[k]\n\t" legacy " %[p], %[b], %[a]\n\tstmxcsr %[c]"    \
                 : [a] "+x"(a), [c] "=m"(csr)                                     \
                 : [b] "x"(b), [k] "m"(kDefaultCsr), [p] "i"(P));                 \
  else                                                                            \
    asm volatile("ldmxcsr %[k]\n\t" vex " %[p], %[b], %[a], %[a]\n\tstmxcsr %[c]" \
                 : [a] "+x"(a), [c] "=m"(csr)                                     \
                 : [b] "x"(b), [k] "m"(kDefaultCsr), [p] "i"(P));

template <int P>
__m128i cmp(VecOp op, __m128i a, __m128i b, uint32_t& csr) {
  switch (op) {
    case VecOp::CmpPS:
      CMP_ASM("cmpps", "vcmpps")
      break;
    case VecOp::CmpPD:
      CMP_ASM("cmppd", "vcmppd")
      break;
    case VecOp::CmpSS:
      CMP_ASM("cmpss", "vcmpss")
      break;
    default:
      CMP_ASM("cmpsd", "vcmpsd")
      break;
  }
  return a;
}
#undef CMP_ASM

template <int... P>
__m128i cmp_any(unsigned p, VecOp op, __m128i a, __m128i b, uint32_t& csr,
                std::integer_sequence<int, P...>) {
  __m128i r = a;
  ((p == unsigned(P) ? (r = cmp<P>(op, a, b, csr), true) : false) || ...);
  return r;
}

// The integer-conversion and EFLAGS rows: their sequence on xmm0/xmm1 (vec_fp_asm.inc).
__m128i fp_gpr(VecOp op, __m128i a, __m128i b, uint32_t& csr) {
  register __m128i x0 asm("xmm0") = a;
  register __m128i x1 asm("xmm1") = b;
  switch (op) {
#define FP_GPR(name, text)                                  \
  case VecOp::name:                                         \
    asm volatile("ldmxcsr %[k]\n\t" text "\n\tstmxcsr %[c]" \
                 : "+x"(x0), [c] "=m"(csr)                  \
                 : "x"(x1), [k] "m"(kDefaultCsr)            \
                 : "rax", "cc");                            \
    break;
#include "tcg/ir/vec_fp_asm.inc"
#undef FP_GPR
    default:
      return _mm_setzero_si128();
  }
  return x0;
}

}  // namespace

bool is_fp_vec_op(VecOp op) {
  return op >= VecOp::AddPS && op <= VecOp::UcomiSD;
}

Vec128 eval_vec_fp(VecOp op, const Vec128& va, const Vec128& vb, unsigned imm) {
  __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(va.q));
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(vb.q));
  uint32_t csr = 0;
  switch (op) {
#define C(name, insn) \
  case VecOp::name:   \
    FP_ASM(insn);     \
    break;
    C(AddPS, "addps")
    C(AddPD, "addpd")
    C(AddSS, "addss")
    C(AddSD, "addsd")
    C(SubPS, "subps")
    C(SubPD, "subpd")
    C(SubSS, "subss")
    C(SubSD, "subsd")
    C(MulPS, "mulps")
    C(MulPD, "mulpd")
    C(MulSS, "mulss")
    C(MulSD, "mulsd")
    C(DivPS, "divps")
    C(DivPD, "divpd")
    C(DivSS, "divss")
    C(DivSD, "divsd")
    C(MinPS, "minps")
    C(MinPD, "minpd")
    C(MinSS, "minss")
    C(MinSD, "minsd")
    C(MaxPS, "maxps")
    C(MaxPD, "maxpd")
    C(MaxSS, "maxss")
    C(MaxSD, "maxsd")
    C(SqrtPS, "sqrtps")
    C(SqrtPD, "sqrtpd")
    C(SqrtSS, "sqrtss")
    C(SqrtSD, "sqrtsd")
    C(CvtDQ2PS, "cvtdq2ps")
    C(CvtPS2DQ, "cvtps2dq")
    C(CvtTPS2DQ, "cvttps2dq")
    C(CvtPS2PD, "cvtps2pd")
    C(CvtPD2PS, "cvtpd2ps")
    C(CvtSS2SD, "cvtss2sd")
    C(CvtSD2SS, "cvtsd2ss")
    C(CvtDQ2PD, "cvtdq2pd")
    C(CvtPD2DQ, "cvtpd2dq")
    C(CvtTPD2DQ, "cvttpd2dq")
#undef C
    case VecOp::CmpPS:
    case VecOp::CmpPD:
    case VecOp::CmpSS:
    case VecOp::CmpSD:
      a = cmp_any(imm & kVecFpPredMask, op, a, b, csr, std::make_integer_sequence<int, 32>{});
      break;
#define FP_GPR(name, text) case VecOp::name:
#include "tcg/ir/vec_fp_asm.inc"
#undef FP_GPR
      a = fp_gpr(op, a, b, csr);
      break;
    default:
      return Vec128{};
  }
  if (imm & kVecFpFlags) return Vec128{csr & 0x3fu, 0};
  Vec128 r;
  _mm_storeu_si128(reinterpret_cast<__m128i*>(r.q), a);
  return r;
}

}  // namespace orrery::tcg::ir
