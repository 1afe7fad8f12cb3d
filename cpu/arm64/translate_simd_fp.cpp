// Vector (and scalar-SIMD) floating point on 4H/8H/2S/4S/2D lanes: the FP opcodes of "three
// same" and "two-register misc" (and their FP16 groups), conversions to/from fixed point by
// immediate, FCVTL/FCVTN. Each lane calls the same helper as the scalar instruction, so NaN,
// rounding, FZ/FZ16 and FPSR behaviour is shared. FCVTXN stays unimplemented.
#include <bit>

#include "cpu/arm64/fp.h"
#include "cpu/arm64/translate.h"

namespace orrery::cpu::arm64 {

using tcg::ir::Type;
using tcg::ir::Value;

bool Translator::simd_fp_3same(u32 Q, u32 U, u32 size, u32 m, u32 opc, u32 n, u32 d, bool scalar,
                               bool half) {
  const unsigned sz = size & 1, a = size >> 1, op = opc & 7;
  if (!scalar && sz && !Q) return unallocated();
  const fp::Prec p = half ? fp::kH : sz ? fp::kD : fp::kS;
  const unsigned esize = 8u << p;
  using B = fp::BinOp;
  // Per (U, a, opcode<2:0>): the operation; pairwise ops mark 'P'; FMLA/FMLS use the FMA helper.
  bool pairwise = false;
  int fma = 0;  // 1 FMLA, -1 FMLS
  B bop = B::Add;
  const unsigned key = U << 4 | a << 3 | op;
  switch (key) {
    case 0x00: bop = B::MaxNm; break;
    case 0x01: fma = 1; break;
    case 0x02: bop = B::Add; break;
    case 0x03: bop = B::Mulx; break;
    case 0x04: bop = B::CmEq; break;
    case 0x06: bop = B::Max; break;
    case 0x08: bop = B::MinNm; break;
    case 0x09: fma = -1; break;
    case 0x0a: bop = B::Sub; break;
    case 0x0e: bop = B::Min; break;
    case 0x10: bop = B::MaxNm, pairwise = true; break;
    case 0x12: bop = B::Add, pairwise = true; break;
    case 0x13: bop = B::Mul; break;
    case 0x14: bop = B::CmGe; break;
    case 0x15: bop = B::AcGe; break;
    case 0x16: bop = B::Max, pairwise = true; break;
    case 0x17: bop = B::Div; break;
    case 0x18: bop = B::MinNm, pairwise = true; break;
    case 0x1a: bop = B::Abd; break;
    case 0x1c: bop = B::CmGt; break;
    case 0x1d: bop = B::AcGt; break;
    case 0x1e: bop = B::Min, pairwise = true; break;
    default:
      return unimplemented("Advanced SIMD FP three-same opcode " + std::to_string(opc) +
                           (U ? " U" : "") + (a ? " a" : ""));
  }
  if (scalar) {  // only FMULX, FCMEQ/FCMGE/FCMGT, FACGE/FACGT and FABD have scalar forms
    const bool ok = key == 0x03 || key == 0x04 || key == 0x14 || key == 0x15 || key == 0x1a ||
                    key == 0x1c || key == 0x1d;
    if (!ok) return unallocated();
  }
  if (!fp_access_check()) return true;
  const unsigned lanes = scalar ? 1 : (Q ? 128 : 64) / esize;
  Vec va = read_vec(n), vb = read_vec(m), vd = read_vec(d);
  Vec out{{e_.c64(0), e_.c64(0)}};
  for (unsigned i = 0; i < lanes; ++i) {
    Value x, y;
    if (pairwise) {
      auto src = [&](unsigned k) {
        return k < lanes ? get_lane(va, esize, k) : get_lane(vb, esize, k - lanes);
      };
      x = src(2 * i);
      y = src(2 * i + 1);
    } else {
      x = get_lane(va, esize, i);
      y = get_lane(vb, esize, i);
    }
    Value r;
    if (fma) {
      if (fma < 0) x = e_.xor_(x, e_.c64(1ull << (esize - 1)));
      r = e_.call(fp_fma_helper(p), {get_lane(vd, esize, i), x, y});
    } else {
      r = fp_call(fp::kHelperFpBinop, x, y, fp::bin_desc(bop, p));
      if (esize < 64) r = e_.and_(r, e_.c64(~0ull >> (64 - esize)));  // compare masks are 64 bits
    }
    set_lane(out, esize, i, r);
  }
  write_vec(d, out, Q && !scalar);
  return true;
}

bool Translator::simd_fp_2misc(u32 Q, u32 U, u32 size, u32 opc, u32 n, u32 d, bool scalar,
                               bool half) {
  const unsigned sz = size & 1, hi = size >> 1;
  const fp::Prec p = half ? fp::kH : sz ? fp::kD : fp::kS;
  const unsigned esize = 8u << p;
  // FCVTN / FCVTL (and the "2" forms); the FP16 group has no such opcodes.
  if (!half && !scalar && (opc == 0x16 || opc == 0x17) && !U) {
    if (hi) return unallocated();
    if (!fp_access_check()) return true;
    Vec a = read_vec(n);
    Vec out{{e_.c64(0), e_.c64(0)}};
    const unsigned wide = sz ? 64 : 32, narrow = sz ? 32 : 16, lanes = 64 / narrow;
    const fp::Prec wp = sz ? fp::kD : fp::kS, np = sz ? fp::kS : fp::kH;
    for (unsigned i = 0; i < lanes; ++i) {
      if (opc == 0x16) {
        Value r = e_.call(fp::kHelperFpUnop,
                          {get_lane(a, wide, i),
                           e_.c64(fp::un_desc(sz ? fp::UnOp::CvtToS : fp::UnOp::CvtToH, wp)),
                           e_.c64(0)});
        set_lane(out, narrow, i, r);
      } else {
        Value x = get_lane(a, narrow, (Q ? lanes : 0) + i);
        Value r = e_.call(fp::kHelperFpUnop,
                          {x, e_.c64(fp::un_desc(sz ? fp::UnOp::CvtToD : fp::UnOp::CvtToS, np)),
                           e_.c64(0)});
        set_lane(out, wide, i, r);
      }
    }
    if (opc == 0x16)
      write_narrow(d, out.h[0], Q);
    else
      write_vec(d, out, true);
    return true;
  }
  if (!scalar && sz && !Q) return unallocated();
  // Classify: kind 0 unop helper, 1 to-int, 2 from-int, 3 compare with zero, 4 FABS, 5 FNEG.
  int kind = -1;
  fp::UnOp uop = fp::UnOp::Sqrt;
  fp::RMode rm = fp::kRFpcr;
  fp::BinOp cmp = fp::BinOp::CmEq;
  bool swap = false, is_signed = !U;
  static constexpr fp::RMode kRound0[2] = {fp::kRN, fp::kRM}, kRound1[2] = {fp::kRP, fp::kRZ};
  switch (opc) {
    case 0x18: case 0x19:  // FRINTN/M, FRINTP/Z (U=0); FRINTA/X, FRINTI (U=1)
      if (scalar) break;
      kind = 0;
      if (!U) {
        uop = fp::UnOp::RoundInt;
        rm = hi ? kRound1[opc & 1] : kRound0[opc & 1];
      } else if (!hi) {
        uop = opc == 0x18 ? fp::UnOp::RoundInt : fp::UnOp::RoundIntExact;
        rm = opc == 0x18 ? fp::kRA : fp::kRFpcr;
      } else if (opc == 0x19) {
        uop = fp::UnOp::RoundInt;
      } else {
        kind = -1;
      }
      break;
    case 0x1a: case 0x1b:  // FCVTN/M (lo), FCVTP/Z (hi) to S/U
      kind = 1;
      rm = hi ? kRound1[opc & 1] : kRound0[opc & 1];
      break;
    case 0x1c:  // FCVTAS/AU (lo)
      if (!hi) kind = 1, rm = fp::kRA;
      break;
    case 0x1d:  // SCVTF/UCVTF (lo)
      if (!hi) kind = 2;
      break;
    case 0x0c: case 0x0d: case 0x0e:  // FCMGT/FCMGE, FCMEQ/FCMLE, FCMLT with zero
      if (!hi || (opc == 0x0e && U)) break;
      kind = 3;
      if (opc == 0x0c) cmp = U ? fp::BinOp::CmGe : fp::BinOp::CmGt;
      if (opc == 0x0d) cmp = U ? fp::BinOp::CmGe : fp::BinOp::CmEq, swap = U;
      if (opc == 0x0e) cmp = fp::BinOp::CmGt, swap = true;
      break;
    case 0x0f:
      if (hi && !scalar) kind = U ? 5 : 4;
      break;
    case 0x1f:
      if (hi && U && !scalar) kind = 0, uop = fp::UnOp::Sqrt;
      break;
    default:
      break;
  }
  if (kind < 0)
    return unimplemented("Advanced SIMD FP two-register misc opcode " + std::to_string(opc));
  if (!fp_access_check()) return true;
  const unsigned lanes = scalar ? 1 : (Q ? 128 : 64) / esize;
  Vec a = read_vec(n);
  Vec out{{e_.c64(0), e_.c64(0)}};
  const uint64_t sign = 1ull << (esize - 1);
  for (unsigned i = 0; i < lanes; ++i) {
    Value x = get_lane(a, esize, i), r;
    switch (kind) {
      case 0:
        r = e_.call(fp::kHelperFpUnop, {x, e_.c64(fp::un_desc(uop, p, rm)), e_.c64(0)});
        break;
      case 1:
        r = e_.call(fp::kHelperFpToInt,
                    {x, e_.c64(fp::to_int_desc(p, rm, is_signed, sz, 0, half)), e_.c64(0)});
        break;
      case 2:
        r = e_.call(fp::kHelperIntToFp,
                    {x, e_.c64(fp::from_int_desc(p, is_signed, sz, 0, half)), e_.c64(0)});
        break;
      case 3:
        r = swap ? fp_call(fp::kHelperFpBinop, e_.c64(0), x, fp::bin_desc(cmp, p))
                 : fp_call(fp::kHelperFpBinop, x, e_.c64(0), fp::bin_desc(cmp, p));
        if (esize < 64) r = e_.and_(r, e_.c64(~0ull >> (64 - esize)));
        break;
      case 4:
        r = e_.and_(x, e_.c64(~sign));
        break;
      default:
        r = e_.xor_(x, e_.c64(sign));
        break;
    }
    set_lane(out, esize, i, r);
  }
  write_vec(d, out, Q && !scalar);
  return true;
}

bool Translator::simd_fp_fixed(u32 Q, u32 U, u32 immhb, u32 opc, u32 n, u32 d, bool scalar) {
  const unsigned immh = immhb >> 3;
  if (!(immh & 0xe) || (!(immh & 0xc) && !half_ok(fp::kH))) return unallocated();
  const unsigned esize = (immh & 8) ? 64 : (immh & 4) ? 32 : 16;
  if (!scalar && esize == 64 && !Q) return unallocated();
  if (!fp_access_check()) return true;
  const unsigned fbits = 2 * esize - immhb;
  const fp::Prec p = esize == 64 ? fp::kD : esize == 32 ? fp::kS : fp::kH;
  const bool h16 = esize == 16;
  const unsigned lanes = scalar ? 1 : (Q ? 128 : 64) / esize;
  Vec a = read_vec(n);
  Vec out{{e_.c64(0), e_.c64(0)}};
  for (unsigned i = 0; i < lanes; ++i) {
    Value x = get_lane(a, esize, i), r;
    if (opc == 0x1c)  // SCVTF/UCVTF
      r = e_.call(fp::kHelperIntToFp,
                  {x, e_.c64(fp::from_int_desc(p, !U, esize == 64, fbits, h16)), e_.c64(0)});
    else  // FCVTZS/FCVTZU
      r = e_.call(fp::kHelperFpToInt,
                  {x, e_.c64(fp::to_int_desc(p, fp::kRZ, !U, esize == 64, fbits, h16)), e_.c64(0)});
    set_lane(out, esize, i, r);
  }
  write_vec(d, out, Q && !scalar);
  return true;
}

}  // namespace orrery::cpu::arm64
