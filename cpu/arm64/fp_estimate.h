// The reciprocal and reciprocal-square-root estimates and steps (FRECPE, FRSQRTE, FRECPS,
// FRSQRTS, FRECPX, URECPE, URSQRTE), bit-exact to the Arm ARM's FPRecipEstimate,
// FPRSqrtEstimate, RecipEstimate/RecipSqrtEstimate tables, FPRecipStepFused, FPRSqrtStepFused
// and FPRecpX, including FPCR.FZ/DN, the rounding-mode-dependent overflow of tiny inputs and
// the FPSR flags.
#pragma once

#include <cstdint>

#include "cpu/arm64/fp.h"
#include "tcg/ir/helpers.h"

namespace orrery::cpu::arm64::fp {

enum class EstOp : unsigned {
  RecipEstimate,
  RSqrtEstimate,
  RecpX,
  RecipStep,
  RSqrtStep,
  URecipEstimate,
  URSqrtEstimate
};

constexpr uint64_t est_desc(EstOp op, Prec p) {
  return uint64_t(op) | uint64_t(p) << 16;
}

/// The 9-bit table lookups of the pseudocode (inputs 256..511, and 128..511 for the root).
unsigned recip_estimate(unsigned a);
unsigned rsqrt_estimate(unsigned a);

/// One operation on an element of precision p (b: the second operand of the steps).
uint64_t estimate(EstOp op, Prec p, uint64_t a, uint64_t b, uint64_t fpcr, uint32_t& flags);

uint64_t helper_fp_estimate(tcg::CpuCommon* cpu, uint64_t a, uint64_t b, uint64_t desc);
inline constexpr tcg::ir::Helper kHelperFpEstimate{"arm64_fp_estimate", &helper_fp_estimate};

}  // namespace orrery::cpu::arm64::fp
