// The reference of the SSE floating-point vector operations (vec_ops.inc): each runs the host's
// own SSE instruction under MXCSR = 0x1f80 and reads the exception flags it raised, in one asm
// statement so the compiler can neither move the operation out of that environment nor fold
// it. The baseline and LLVM tiers emit the same three instructions.
#include <immintrin.h>

#include "tcg/ir/vec_eval.h"

namespace orrery::tcg::ir {

namespace {

constexpr uint32_t kDefaultCsr = kVecFpMxcsr;

// `insn b, a` (AT&T) with MXCSR set to the default and read back after it.
#define FP_ASM(insn)                                                 \
  asm volatile("ldmxcsr %[k]\n\t" insn " %[b], %[a]\n\tstmxcsr %[c]" \
               : [a] "+x"(a), [c] "=m"(csr)                          \
               : [b] "x"(b), [k] "m"(kDefaultCsr))

template <int P>
__m128i cmp(VecOp op, __m128i a, __m128i b, uint32_t& csr) {
  switch (op) {
    case VecOp::CmpPS:
      asm volatile("ldmxcsr %[k]\n\tcmpps %[p], %[b], %[a]\n\tstmxcsr %[c]"
                   : [a] "+x"(a), [c] "=m"(csr)
                   : [b] "x"(b), [k] "m"(kDefaultCsr), [p] "i"(P));
      break;
    case VecOp::CmpPD:
      asm volatile("ldmxcsr %[k]\n\tcmppd %[p], %[b], %[a]\n\tstmxcsr %[c]"
                   : [a] "+x"(a), [c] "=m"(csr)
                   : [b] "x"(b), [k] "m"(kDefaultCsr), [p] "i"(P));
      break;
    case VecOp::CmpSS:
      asm volatile("ldmxcsr %[k]\n\tcmpss %[p], %[b], %[a]\n\tstmxcsr %[c]"
                   : [a] "+x"(a), [c] "=m"(csr)
                   : [b] "x"(b), [k] "m"(kDefaultCsr), [p] "i"(P));
      break;
    default:
      asm volatile("ldmxcsr %[k]\n\tcmpsd %[p], %[b], %[a]\n\tstmxcsr %[c]"
                   : [a] "+x"(a), [c] "=m"(csr)
                   : [b] "x"(b), [k] "m"(kDefaultCsr), [p] "i"(P));
      break;
  }
  return a;
}

}  // namespace

bool is_fp_vec_op(VecOp op) {
  return op >= VecOp::AddPS && op <= VecOp::CvtTPD2DQ;
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
      switch (imm & 7) {
        case 0:
          a = cmp<0>(op, a, b, csr);
          break;
        case 1:
          a = cmp<1>(op, a, b, csr);
          break;
        case 2:
          a = cmp<2>(op, a, b, csr);
          break;
        case 3:
          a = cmp<3>(op, a, b, csr);
          break;
        case 4:
          a = cmp<4>(op, a, b, csr);
          break;
        case 5:
          a = cmp<5>(op, a, b, csr);
          break;
        case 6:
          a = cmp<6>(op, a, b, csr);
          break;
        default:
          a = cmp<7>(op, a, b, csr);
          break;
      }
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
