// Saturating Advanced SIMD integer instructions (shifts, narrows, doubling multiplies,
// SUQADD/USQADD) and the "by element" groups. The saturating operations are one helper call
// each (cpu/arm64/simd_sat.h): they are rare in compiled code and exact 128-bit intermediate
// arithmetic is simplest there. The non-saturating by-element multiplies and the FP by-element
// forms are IR, like their three-same counterparts.
#include <bit>

#include "cpu/arm64/fp.h"
#include "cpu/arm64/simd_sat.h"
#include "cpu/arm64/translate.h"

namespace orrery::cpu::arm64 {

using tcg::ir::Type;
using tcg::ir::Value;

namespace {
constexpr unsigned kIsarRdm = 28;  // ID_AA64ISAR0_EL1.RDM
}  // namespace

bool Translator::sat_op(uint64_t desc) {
  if (!fp_access_check()) return true;
  e_.call(kHelperSimdSat, {e_.c64(desc)});
  return true;
}

std::optional<bool> Translator::sat_3same(u32 Q, u32 U, u32 size, u32 m, u32 opc, u32 n, u32 d,
                                          bool scalar) {
  SatDesc c;
  c.d = d, c.n = n, c.m = m, c.q = Q, c.scalar = scalar, c.esize_log2 = size;
  c.mode = U ? SatMode::Unsigned : SatMode::Signed;
  switch (opc) {
    case 0x09:
    case 0x0a:
    case 0x0b:  // [SU]QSHL, [SU]RSHL, [SU]QRSHL (register)
      if (scalar ? (opc == 0x0a && size != 3) : (size == 3 && !Q)) return unallocated();
      c.op = SatOp::ShlReg;
      c.saturate = opc != 0x0a;
      c.round = opc != 0x09;
      return sat_op(c.encode());
    case 0x16:  // SQDMULH / SQRDMULH
      if (size == 0 || size == 3) return unallocated();
      c.op = SatOp::Dmulh;
      c.mode = SatMode::Signed;
      c.round = U;
      return sat_op(c.encode());
    default:
      return std::nullopt;
  }
}

std::optional<bool> Translator::sat_2misc(u32 Q, u32 U, u32 size, u32 opc, u32 n, u32 d,
                                          bool scalar) {
  SatDesc c;
  c.d = d, c.n = n, c.q = Q, c.scalar = scalar, c.esize_log2 = size;
  if (opc == 0x03) {  // SUQADD / USQADD
    if (!scalar && size == 3 && !Q) return unallocated();
    c.op = SatOp::SuqAdd;
    c.mode = U ? SatMode::Unsigned : SatMode::Signed;
    return sat_op(c.encode());
  }
  if (opc == 0x12 && !U && scalar) return unallocated();  // XTN has no scalar form
  if ((opc == 0x12 && U) || opc == 0x14) {  // SQXTUN, SQXTN/UQXTN: size is the narrow size
    if (size == 3) return unallocated();
    c.op = SatOp::Xtn;
    c.mode = opc == 0x12 ? SatMode::SignedToUnsigned : U ? SatMode::Unsigned : SatMode::Signed;
    return sat_op(c.encode());
  }
  return std::nullopt;
}

std::optional<bool> Translator::sat_shift_imm(u32 Q, u32 U, u32 immhb, u32 opc, u32 n, u32 d,
                                              bool scalar) {
  const unsigned immh = immhb >> 3, log2 = unsigned(std::bit_width(immh)) - 1, esize = 8u << log2;
  SatDesc c;
  c.d = d, c.n = n, c.q = Q, c.scalar = scalar, c.esize_log2 = log2;
  if (opc == 0x0c || opc == 0x0e) {  // SQSHLU, SQSHL/UQSHL (immediate)
    if (opc == 0x0c && !U) return unallocated();
    if (!scalar && esize == 64 && !Q) return unallocated();
    c.op = SatOp::ShlImm;
    c.mode = opc == 0x0c ? SatMode::SignedToUnsigned : U ? SatMode::Unsigned : SatMode::Signed;
    c.imm = immhb - esize;
    return sat_op(c.encode());
  }
  // SQSHRUN, SQRSHRUN (U only; U = 0 is SHRN/RSHRN), SQSHRN/UQSHRN, SQRSHRN/UQRSHRN.
  if ((opc == 0x10 || opc == 0x11) ? U : (opc == 0x12 || opc == 0x13)) {
    if (immh & 8) return unallocated();
    c.op = SatOp::ShrNarrow;
    c.mode = opc <= 0x11 ? SatMode::SignedToUnsigned : U ? SatMode::Unsigned : SatMode::Signed;
    c.round = opc & 1;
    c.imm = 2 * esize - immhb;
    return sat_op(c.encode());
  }
  return std::nullopt;
}

bool Translator::sat_3diff(u32 Q, u32 U, u32 size, u32 m, u32 opc, u32 n, u32 d, bool scalar) {
  if (U || (size != 1 && size != 2)) return unallocated();
  SatDesc c;
  c.op = SatOp::Dmull;
  c.d = d, c.n = n, c.m = m, c.q = Q, c.scalar = scalar, c.esize_log2 = size;
  c.acc = opc == 9 ? 1 : opc == 11 ? 2 : 0;
  return sat_op(c.encode());
}

bool Translator::SIMD_scalar_3diff(u32 U, u32 size, u32 m, u32 opc, u32 n, u32 d) {
  if (opc != 9 && opc != 11 && opc != 13) return unallocated();
  return sat_3diff(0, U, size, m, opc, n, d, true);
}

bool Translator::SIMD_3same_extra(u32 Q, u32 U, u32 size, u32 m, u32 opc, u32 n, u32 d) {
  if (!U || opc > 1) {
    if (opc == 2) return unimplemented("SDOT/UDOT (FEAT_DotProd)");
    return unimplemented("Advanced SIMD three-same extra opcode " + std::to_string(opc));
  }
  if (isar0_field(kIsarRdm) < 1 || size == 0 || size == 3) return unallocated();
  SatDesc c;
  c.op = SatOp::Rdmlah;
  c.d = d, c.n = n, c.m = m, c.q = Q, c.esize_log2 = size;
  c.acc = opc ? 2 : 1;
  return sat_op(c.encode());
}

bool Translator::SIMD_scalar_3same_extra(u32 U, u32 size, u32 m, u32 opc, u32 n, u32 d) {
  if (!U || opc > 1) return unallocated();
  if (isar0_field(kIsarRdm) < 1 || size == 0 || size == 3) return unallocated();
  SatDesc c;
  c.op = SatOp::Rdmlah;
  c.d = d, c.n = n, c.m = m, c.scalar = true, c.esize_log2 = size;
  c.acc = opc ? 2 : 1;
  return sat_op(c.encode());
}

// ---- By element ----

bool Translator::SIMD_elem(u32 Q, u32 U, u32 size, u32 L, u32 M, u32 m, u32 opc, u32 H, u32 n,
                           u32 d) {
  return simd_elem(Q, U, size, L, M, m, opc, H, n, d, false);
}

bool Translator::SIMD_scalar_elem(u32 U, u32 size, u32 L, u32 M, u32 m, u32 opc, u32 H, u32 n,
                                  u32 d) {
  return simd_elem(0, U, size, L, M, m, opc, H, n, d, true);
}

bool Translator::simd_elem(u32 Q, u32 U, u32 size, u32 L, u32 M, u32 m, u32 opc, u32 H, u32 n,
                           u32 d, bool scalar) {
  const unsigned key = U << 4 | opc;
  const bool fp_op = key == 0x01 || key == 0x05 || key == 0x09 || key == 0x19;
  if (fp_op) {  // FMLA, FMLS, FMUL, FMULX (by element)
    if (size == 0) return unimplemented("half-precision by element (FEAT_FP16)");
    if (size == 1 || (size == 3 && (L || (!scalar && !Q)))) return unallocated();
    const bool dbl = size == 3;
    const unsigned esize = dbl ? 64 : 32, index = dbl ? H : (H << 1 | L), rm = M << 4 | m;
    const fp::Prec p = dbl ? fp::kD : fp::kS;
    if (!fp_access_check()) return true;
    Vec va = read_vec(n), vd = read_vec(d);
    Value y = get_lane(read_vec(rm), esize, index);
    Vec out{{e_.c64(0), e_.c64(0)}};
    const unsigned lanes = scalar ? 1 : (Q ? 128 : 64) / esize;
    for (unsigned i = 0; i < lanes; ++i) {
      Value x = get_lane(va, esize, i), r;
      if (opc == 1 || opc == 5) {
        if (opc == 5) x = e_.xor_(x, e_.c64(1ull << (esize - 1)));  // FMLS: FPNeg(element1)
        r = e_.call(dbl ? fp::kHelperFpFmaD : fp::kHelperFpFmaS, {get_lane(vd, esize, i), x, y});
      } else {
        r = fp_call(fp::kHelperFpBinop, x, y,
                    fp::bin_desc(U ? fp::BinOp::Mulx : fp::BinOp::Mul, p));
      }
      set_lane(out, esize, i, r);
    }
    write_vec(d, out, Q && !scalar);
    return true;
  }
  if (key == 0x0e || key == 0x1e) return unimplemented("SDOT/UDOT by element (FEAT_DotProd)");
  if (key == 0x00 || key == 0x04 || key == 0x18 || key == 0x1c)
    return unimplemented("FMLAL/FMLSL by element (FEAT_FHM)");
  if (size == 0 || size == 3) return unallocated();
  const unsigned esize = 8u << size;
  const unsigned index = size == 1 ? (H << 2 | L << 1 | M) : (H << 1 | L);
  const unsigned rm = size == 1 ? m : (M << 4 | m);

  // Saturating: SQDMLAL, SQDMLSL, SQDMULL, SQDMULH, SQRDMULH, SQRDMLAH, SQRDMLSH.
  SatDesc c;
  c.d = d, c.n = n, c.m = rm, c.q = Q, c.scalar = scalar, c.esize_log2 = size;
  c.by_elem = true, c.index = index;
  switch (key) {
    case 0x03:
    case 0x07:
    case 0x0b:
      c.op = SatOp::Dmull;
      c.acc = opc == 3 ? 1 : opc == 7 ? 2 : 0;
      return sat_op(c.encode());
    case 0x0c:
    case 0x0d:
      c.op = SatOp::Dmulh;
      c.round = opc == 0x0d;
      return sat_op(c.encode());
    case 0x1d:
    case 0x1f:
      if (isar0_field(kIsarRdm) < 1) return unallocated();
      c.op = SatOp::Rdmlah;
      c.acc = opc == 0x0d ? 1 : 2;
      return sat_op(c.encode());
    default:
      break;
  }
  if (scalar) return unallocated();

  // MUL, MLA, MLS; [SU]MULL, [SU]MLAL, [SU]MLSL (by element).
  const bool same = key == 0x08 || key == 0x10 || key == 0x14;
  const bool is_long = opc == 0x02 || opc == 0x06 || opc == 0x0a;
  if (!same && !is_long) return unallocated();
  if (!fp_access_check()) return true;
  const bool sign = !U;
  Vec va = read_vec(n), vd = read_vec(d), vm = read_vec(rm);
  Vec out{{e_.c64(0), e_.c64(0)}};
  if (same) {
    Value y = get_lane(vm, esize, index);
    const unsigned lanes = (Q ? 128 : 64) / esize;
    for (unsigned i = 0; i < lanes; ++i) {
      Value r = e_.mul(get_lane(va, esize, i), y);
      if (key == 0x10) r = e_.add(get_lane(vd, esize, i), r);
      if (key == 0x14) r = e_.sub(get_lane(vd, esize, i), r);
      set_lane(out, esize, i, r);
    }
    write_vec(d, out, Q);
    return true;
  }
  Value y = lane_wide(vm, esize, index, sign);
  const unsigned lanes = 64 / esize, base = Q ? lanes : 0;
  for (unsigned i = 0; i < lanes; ++i) {
    Value r = e_.mul(lane_wide(va, esize, base + i, sign), y);
    if (opc == 0x02) r = e_.add(get_lane(vd, 2 * esize, i), r);
    if (opc == 0x06) r = e_.sub(get_lane(vd, 2 * esize, i), r);
    set_lane(out, 2 * esize, i, r);
  }
  write_vec(d, out, true);
  return true;
}

// ---- Scalar pairwise ----

bool Translator::SIMD_scalar_pairwise(u32 U, u32 size, u32 opc, u32 n, u32 d) {
  if (!U) {
    if (opc == 0x1b && size == 3) {  // ADDP (scalar): the two doublewords of Vn
      if (!fp_access_check()) return true;
      Vec a = read_vec(n);
      write_vreg(d, e_.add(a.h[0], a.h[1]), Value{});
      return true;
    }
    if ((opc == 0x0c || opc == 0x0d || opc == 0x0f) && !(size & 1))
      return unimplemented("half-precision pairwise (FEAT_FP16)");
    return unallocated();
  }
  // FMAXNMP/FMINNMP, FADDP, FMAXP/FMINP on the two elements of Vn (2S or 2D).
  fp::BinOp op;
  const bool min = size >> 1;
  switch (opc) {
    case 0x0c:
      op = min ? fp::BinOp::MinNm : fp::BinOp::MaxNm;
      break;
    case 0x0d:
      if (min) return unallocated();
      op = fp::BinOp::Add;
      break;
    case 0x0f:
      op = min ? fp::BinOp::Min : fp::BinOp::Max;
      break;
    default:
      return unallocated();
  }
  if (!fp_access_check()) return true;
  const bool dbl = size & 1;
  const unsigned esize = dbl ? 64 : 32;
  Vec a = read_vec(n);
  Value r = fp_call(fp::kHelperFpBinop, get_lane(a, esize, 0), get_lane(a, esize, 1),
                    fp::bin_desc(op, dbl ? fp::kD : fp::kS));
  write_vreg(d, r, Value{});
  return true;
}

}  // namespace orrery::cpu::arm64
