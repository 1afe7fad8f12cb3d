// Reciprocal and reciprocal-square-root estimates and Newton-Raphson steps, vector and scalar:
// one fp::kHelperFpEstimate call per lane (cpu/arm64/fp_estimate.h).
#include "cpu/arm64/fp_estimate.h"
#include "cpu/arm64/translate.h"

namespace orrery::cpu::arm64 {

using tcg::ir::Value;

bool Translator::simd_fp_estimate(u32 Q, u32 U, u32 size, u32 opc, u32 n, u32 d, bool scalar) {
  const bool dbl = size & 1;
  fp::EstOp op;
  if (opc == 0x1c) {  // URECPE / URSQRTE: 32-bit lanes only
    if (dbl) return unallocated();
    op = U ? fp::EstOp::URSqrtEstimate : fp::EstOp::URecipEstimate;
  } else if (opc == 0x1d) {
    op = U ? fp::EstOp::RSqrtEstimate : fp::EstOp::RecipEstimate;
  } else {
    op = fp::EstOp::RecpX;
  }
  if (!scalar && dbl && !Q) return unallocated();
  if (!fp_access_check()) return true;
  const unsigned esize = dbl ? 64 : 32, lanes = scalar ? 1 : (Q ? 128 : 64) / esize;
  const uint64_t desc = fp::est_desc(op, dbl ? fp::kD : fp::kS);
  Vec a = read_vec(n);
  Vec out{{e_.c64(0), e_.c64(0)}};
  for (unsigned i = 0; i < lanes; ++i)
    set_lane(out, esize, i,
             e_.call(fp::kHelperFpEstimate, {get_lane(a, esize, i), e_.c64(0), e_.c64(desc)}));
  write_vec(d, out, Q && !scalar);
  return true;
}

bool Translator::simd_fp_step(u32 Q, u32 size, u32 m, u32 n, u32 d, bool scalar) {
  const bool dbl = size & 1, rsqrt = size >> 1;
  if (!scalar && dbl && !Q) return unallocated();
  if (!fp_access_check()) return true;
  const unsigned esize = dbl ? 64 : 32, lanes = scalar ? 1 : (Q ? 128 : 64) / esize;
  const uint64_t desc =
      fp::est_desc(rsqrt ? fp::EstOp::RSqrtStep : fp::EstOp::RecipStep, dbl ? fp::kD : fp::kS);
  Vec a = read_vec(n), b = read_vec(m);
  Vec out{{e_.c64(0), e_.c64(0)}};
  for (unsigned i = 0; i < lanes; ++i)
    set_lane(out, esize, i,
             e_.call(fp::kHelperFpEstimate,
                     {get_lane(a, esize, i), get_lane(b, esize, i), e_.c64(desc)}));
  write_vec(d, out, Q && !scalar);
  return true;
}

}  // namespace orrery::cpu::arm64
