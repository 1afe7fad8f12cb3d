// ARMv8.2 Advanced SIMD: the FP16 groups (three same, two-register misc, scalar forms; FEAT_FP16
// lanes are forwarded to the FP translators with 16-bit elements), the FP across-lanes
// reductions (FMAXV/FMINV/FMAXNMV/FMINNMV on 4H/8H/4S), and SDOT/UDOT (FEAT_DotProd).
#include "cpu/arm64/fp.h"
#include "cpu/arm64/translate.h"

namespace orrery::cpu::arm64 {

using tcg::ir::Value;

namespace {
constexpr unsigned kIsarDp = 44;  // ID_AA64ISAR0_EL1.DP
}  // namespace

// ---- FP16 groups: the same opcodes as the single/double groups, a in place of size<1> ----

bool Translator::SIMD_3same_fp16(u32 Q, u32 U, u32 a, u32 m, u32 opc, u32 n, u32 d) {
  if (!half_ok(fp::kH)) return unallocated();
  if (opc == 7 && !U) return simd_fp_step(Q, a << 1, m, n, d, false, true);  // FRECPS/FRSQRTS
  return simd_fp_3same(Q, U, a << 1, m, 0x18 | opc, n, d, false, true);
}

bool Translator::SIMD_scalar_3same_fp16(u32 U, u32 a, u32 m, u32 opc, u32 n, u32 d) {
  if (!half_ok(fp::kH)) return unallocated();
  if (opc == 7 && !U) return simd_fp_step(0, a << 1, m, n, d, true, true);
  return simd_fp_3same(0, U, a << 1, m, 0x18 | opc, n, d, true, true);
}

bool Translator::SIMD_2misc_fp16(u32 Q, u32 U, u32 a, u32 opc, u32 n, u32 d) {
  if (!half_ok(fp::kH)) return unallocated();
  if (a && opc == 0x1d) return simd_fp_estimate(Q, U, 2, opc, n, d, false, true);
  return simd_fp_2misc(Q, U, a << 1, opc, n, d, false, true);
}

bool Translator::SIMD_scalar_2misc_fp16(u32 U, u32 a, u32 opc, u32 n, u32 d) {
  if (!half_ok(fp::kH)) return unallocated();
  if (a && opc == 0x1d) return simd_fp_estimate(0, U, 2, opc, n, d, true, true);
  if (a && opc == 0x1f && !U) return simd_fp_estimate(0, 0, 2, opc, n, d, true, true);  // FRECPX
  return simd_fp_2misc(0, U, a << 1, opc, n, d, true, true);
}

// ---- FP across lanes ----

bool Translator::simd_fp_across(u32 Q, u32 U, u32 size, u32 opc, u32 n, u32 d) {
  // U = 0: half precision (FEAT_FP16; size<0> is ignored), U = 1: single (4S only; size<0>
  // set would be double, which is reserved).
  if ((U && ((size & 1) || !Q)) || (!U && !half_ok(fp::kH))) return unallocated();
  const bool min = size >> 1;
  const fp::BinOp op = opc == 0x0c ? (min ? fp::BinOp::MinNm : fp::BinOp::MaxNm)
                                   : (min ? fp::BinOp::Min : fp::BinOp::Max);
  if (!fp_access_check()) return true;
  const fp::Prec p = U ? fp::kS : fp::kH;
  const unsigned esize = 8u << p;
  unsigned lanes = (Q ? 128 : 64) / esize;
  Vec a = read_vec(n);
  Value v[8];
  for (unsigned i = 0; i < lanes; ++i) v[i] = get_lane(a, esize, i);
  // Reduce() of the pseudocode: a balanced tree, lower half first.
  for (; lanes > 1; lanes /= 2)
    for (unsigned i = 0; i < lanes / 2; ++i)
      v[i] = fp_call(fp::kHelperFpBinop, v[2 * i], v[2 * i + 1], fp::bin_desc(op, p));
  write_vreg(d, v[0], Value{});
  return true;
}

// ---- Dot product ----

bool Translator::dot_product(u32 Q, u32 U, u32 m, u32 n, u32 d, int index) {
  if (!fp_access_check()) return true;
  const bool sign = !U;
  Vec va = read_vec(n), vm = read_vec(m), vd = read_vec(d);
  Vec out{{e_.c64(0), e_.c64(0)}};
  const unsigned lanes = Q ? 4 : 2;
  for (unsigned i = 0; i < lanes; ++i) {
    const unsigned g = index < 0 ? i : unsigned(index);  // the group of 4 bytes of Vm
    Value sum = get_lane(vd, 32, i);
    for (unsigned k = 0; k < 4; ++k)
      sum =
          e_.add(sum, e_.mul(lane_wide(va, 8, 4 * i + k, sign), lane_wide(vm, 8, 4 * g + k, sign)));
    set_lane(out, 32, i, sum);
  }
  write_vec(d, out, Q);
  return true;
}

bool Translator::simd_dot(u32 Q, u32 U, u32 size, u32 m, u32 n, u32 d) {
  if (size != 2 || isar0_field(kIsarDp) < 1) return unallocated();
  return dot_product(Q, U, m, n, d, -1);
}

}  // namespace orrery::cpu::arm64
