// AArch64 floating point for the translator: IEEE arithmetic on the host FPU (SSE, with MXCSR set
// per operation and restored) wrapped in the Arm rules the host does not share: NaN propagation
// (SNaN before QNaN, first operand first, results quieted; default NaN is positive), FPCR.DN,
// FPCR.FZ (inputs flushed with IDC, tiny-before-rounding outputs flushed with UFC), tininess
// detected before rounding, saturating FP->int conversions, and half precision in software.
//
// Helpers are `Call` helpers, not CallPure: they read FPCR from the state and OR their exception
// flags into FPSR there. That keeps one call per operation (a pure helper would need a second
// call or a packed result to return the flags) at the price of a register-elimination barrier.
#pragma once

#include <cstdint>

#include "tcg/ir/helpers.h"

namespace orrery::cpu::arm64::fp {

// FPCR fields.
constexpr uint64_t kFpcrAhp = 1u << 26, kFpcrDn = 1u << 25, kFpcrFz = 1u << 24;
constexpr uint64_t kFpcrFz16 = 1u << 19;  // FEAT_FP16: flush half-precision denormals
constexpr unsigned kFpcrRModeShift = 22;
// FPSR cumulative flags.
constexpr uint32_t kIoc = 1, kDzc = 2, kOfc = 4, kUfc = 8, kIxc = 0x10, kIdc = 0x80;
constexpr uint64_t kFpsrQc = 1u << 27;

/// Rounding modes: FPCR.RMode values 0..3, plus ties-away (FCVTA*/FRINTA) and "use FPCR".
enum RMode : unsigned { kRN = 0, kRP = 1, kRM = 2, kRZ = 3, kRA = 4, kRFpcr = 5 };

/// Element precision as log2 of its size in bytes.
enum Prec : unsigned { kH = 1, kS = 2, kD = 3 };

/// Two-operand operations (helper_fp_binop's desc low byte).
enum class BinOp : unsigned {
  Add, Sub, Mul, Div, Max, Min, MaxNm, MinNm, Abd,
  CmEq, CmGe, CmGt, AcGe, AcGt,  // vector compares: all-ones or zero
  Mulx,
};
/// One-operand operations (helper_fp_unop's desc low byte); the rounding mode is in bits 8..10.
enum class UnOp : unsigned { Sqrt, RoundInt, RoundIntExact, CvtToS, CvtToD, CvtToH };

constexpr uint64_t bin_desc(BinOp op, Prec p) {
  return uint64_t(op) | uint64_t(p) << 16;
}
constexpr uint64_t un_desc(UnOp op, Prec p, RMode rm = kRFpcr) {
  return uint64_t(op) | uint64_t(rm) << 8 | uint64_t(p) << 16;
}
/// FP -> integer: source precision, rounding, signedness, 64-bit result, fixed-point fraction bits;
/// h16 makes the integer 16 bits wide (half-precision SIMD lanes).
constexpr uint64_t to_int_desc(Prec p, RMode rm, bool is_signed, bool wide, unsigned fbits,
                               bool h16 = false) {
  return uint64_t(rm) | uint64_t(is_signed) << 4 | uint64_t(wide) << 5 | uint64_t(h16) << 6 |
         uint64_t(fbits) << 8 | uint64_t(p) << 16;
}
/// Integer -> FP: destination precision, signedness, 64-bit source, fixed-point fraction bits;
/// h16 takes a 16-bit integer.
constexpr uint64_t from_int_desc(Prec p, bool is_signed, bool wide, unsigned fbits,
                                 bool h16 = false) {
  return uint64_t(is_signed) << 4 | uint64_t(wide) << 5 | uint64_t(h16) << 6 |
         uint64_t(fbits) << 8 | uint64_t(p) << 16;
}
/// Compares: precision and whether a quiet NaN also signals (FCMPE).
constexpr uint64_t cmp_desc(Prec p, bool signal_all) {
  return uint64_t(signal_all) | uint64_t(p) << 16;
}

uint64_t helper_fp_binop(tcg::CpuCommon* cpu, uint64_t a, uint64_t b, uint64_t desc);
uint64_t helper_fp_unop(tcg::CpuCommon* cpu, uint64_t a, uint64_t desc, uint64_t);
uint64_t helper_fp_fma_s(tcg::CpuCommon* cpu, uint64_t addend, uint64_t n, uint64_t m);
uint64_t helper_fp_fma_d(tcg::CpuCommon* cpu, uint64_t addend, uint64_t n, uint64_t m);
uint64_t helper_fp_fma_h(tcg::CpuCommon* cpu, uint64_t addend, uint64_t n, uint64_t m);
uint64_t helper_fp_cmp(tcg::CpuCommon* cpu, uint64_t a, uint64_t b, uint64_t desc);
uint64_t helper_fp_to_int(tcg::CpuCommon* cpu, uint64_t a, uint64_t desc, uint64_t);
uint64_t helper_int_to_fp(tcg::CpuCommon* cpu, uint64_t a, uint64_t desc, uint64_t);

/// a OP b for a BinOp; vector compares return an all-ones/zero mask of the element size.
inline constexpr tcg::ir::Helper kHelperFpBinop{"arm64_fp_binop", &helper_fp_binop};
/// OP a for an UnOp (square root, round to integral, precision conversion).
inline constexpr tcg::ir::Helper kHelperFpUnop{"arm64_fp_unop", &helper_fp_unop};
/// addend + n * m with one rounding; negations are applied by the translator (as FPNeg).
inline constexpr tcg::ir::Helper kHelperFpFmaS{"arm64_fp_fma_s", &helper_fp_fma_s};
inline constexpr tcg::ir::Helper kHelperFpFmaD{"arm64_fp_fma_d", &helper_fp_fma_d};
inline constexpr tcg::ir::Helper kHelperFpFmaH{"arm64_fp_fma_h", &helper_fp_fma_h};
/// FCMP/FCMPE: returns NZCV as bits 3..0.
inline constexpr tcg::ir::Helper kHelperFpCmp{"arm64_fp_cmp", &helper_fp_cmp};
/// FCVT[NPMZA][SU] / FCVTZ[SU] (fixed point): saturating, NaN -> 0, with IOC/IXC.
inline constexpr tcg::ir::Helper kHelperFpToInt{"arm64_fp_to_int", &helper_fp_to_int};
/// SCVTF/UCVTF (integer and fixed point), rounded per FPCR.
inline constexpr tcg::ir::Helper kHelperIntToFp{"arm64_int_to_fp", &helper_int_to_fp};

// Pure entry points with explicit FPCR and flags, for unit tests and the helpers above.
uint64_t binop(BinOp op, Prec p, uint64_t a, uint64_t b, uint64_t fpcr, uint32_t& flags);
uint64_t unop(UnOp op, Prec p, RMode rm, uint64_t a, uint64_t fpcr, uint32_t& flags);
uint64_t fma(Prec p, uint64_t addend, uint64_t n, uint64_t m, uint64_t fpcr, uint32_t& flags);
unsigned compare(Prec p, uint64_t a, uint64_t b, bool signal_all, uint64_t fpcr, uint32_t& flags);
uint64_t to_int(uint64_t desc, uint64_t a, uint64_t fpcr, uint32_t& flags);
uint64_t from_int(uint64_t desc, uint64_t a, uint64_t fpcr, uint32_t& flags);

}  // namespace orrery::cpu::arm64::fp
