// Saturating Advanced SIMD integer operations as runtime helpers over the vector register file
// (Arm ARM SatQ semantics, FPSR.QC set on saturation): shifts by immediate and by register,
// narrowing shifts and extracts, doubling multiplies (SQDMULH, SQRDMULH, SQRDMLAH/SQRDMLSH,
// SQDMULL/SQDMLAL/SQDMLSL, by element too), SUQADD/USQADD. Scalar and vector forms share one
// lane loop; the translator has already rejected unallocated encodings.
#pragma once

#include <cstdint>

#include "tcg/ir/helpers.h"

namespace orrery::cpu::arm64 {

enum class SatOp : uint8_t {
  ShlImm,     // SQSHL/UQSHL/SQSHLU (immediate): imm = shift
  ShlReg,     // SQSHL/UQSHL/SQRSHL/UQRSHL/SRSHL/URSHL (register); saturate and round flags
  ShrNarrow,  // SQSHRN/UQSHRN/SQSHRUN and the rounding forms: imm = shift, esize = narrow size
  Xtn,        // SQXTN/UQXTN/SQXTUN: esize = narrow size
  Dmulh,      // SQDMULH/SQRDMULH (round flag)
  Rdmlah,     // SQRDMLAH/SQRDMLSH (acc 2: subtract)
  Dmull,      // SQDMULL/SQDMLAL/SQDMLSL (acc 0 none, 1 add, 2 subtract): esize = source size
  SuqAdd,     // SUQADD (signed mode) / USQADD (unsigned mode)
};

/// Signedness of a saturating operation: sources and result signed, both unsigned, or signed
/// sources with an unsigned result (SQSHLU, SQSHRUN, SQXTUN).
enum class SatMode : uint8_t { Signed, Unsigned, SignedToUnsigned };

struct SatDesc {
  SatOp op{};
  unsigned d = 0, n = 0, m = 0;
  bool q = false;  // 128-bit vector (narrowing forms: write the upper half, the "2" forms)
  bool scalar = false;
  unsigned esize_log2 = 0;  // 0..3: 8..64-bit lanes
  SatMode mode = SatMode::Signed;
  bool round = false;
  bool saturate = true;  // ShlReg: false for SRSHL/URSHL
  unsigned acc = 0;
  bool by_elem = false;  // Vm's element `index` for every lane
  unsigned index = 0;
  unsigned imm = 0;  // shift amount

  constexpr uint64_t encode() const {
    return uint64_t(op) | uint64_t(d) << 4 | uint64_t(n) << 9 | uint64_t(m) << 14 |
           uint64_t(q) << 19 | uint64_t(scalar) << 20 | uint64_t(esize_log2) << 21 |
           uint64_t(mode) << 23 | uint64_t(round) << 25 | uint64_t(saturate) << 26 |
           uint64_t(acc) << 27 | uint64_t(by_elem) << 29 | uint64_t(index) << 30 |
           uint64_t(imm) << 34;
  }
  static constexpr SatDesc decode(uint64_t v) {
    SatDesc s;
    s.op = SatOp(v & 15);
    s.d = unsigned(v >> 4) & 31;
    s.n = unsigned(v >> 9) & 31;
    s.m = unsigned(v >> 14) & 31;
    s.q = (v >> 19) & 1;
    s.scalar = (v >> 20) & 1;
    s.esize_log2 = unsigned(v >> 21) & 3;
    s.mode = SatMode((v >> 23) & 3);
    s.round = (v >> 25) & 1;
    s.saturate = (v >> 26) & 1;
    s.acc = unsigned(v >> 27) & 3;
    s.by_elem = (v >> 29) & 1;
    s.index = unsigned(v >> 30) & 15;
    s.imm = unsigned(v >> 34) & 127;
    return s;
  }
};

uint64_t helper_simd_sat(tcg::CpuCommon* cpu, uint64_t desc, uint64_t, uint64_t);

/// Every SatOp: reads the sources, writes Vd and ORs FPSR.QC in the state.
inline constexpr tcg::ir::Helper kHelperSimdSat{"arm64_simd_sat", &helper_simd_sat};

}  // namespace orrery::cpu::arm64
