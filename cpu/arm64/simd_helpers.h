// Runtime helpers for Advanced SIMD operations that are clearer as a loop over the register
// file than as IR: TBL/TBX (a byte-indexed lookup across up to four table registers).
#pragma once

#include <cstdint>

#include "tcg/ir/helpers.h"

namespace orrery::cpu::arm64 {

/// TBL/TBX operands, packed into one helper argument.
struct TblDesc {
  unsigned d = 0, n = 0, m = 0;
  unsigned regs = 1;  // table registers: 1..4, starting at n (wrapping at 32)
  bool q = false;     // 16 result bytes (else 8, upper half cleared)
  bool tbx = false;   // out-of-range indexes keep Vd's byte (else 0)

  constexpr uint64_t encode() const {
    return uint64_t(d) | uint64_t(n) << 5 | uint64_t(m) << 10 | uint64_t(regs) << 15 |
           uint64_t(q) << 18 | uint64_t(tbx) << 19;
  }
  static constexpr TblDesc decode(uint64_t v) {
    TblDesc t;
    t.d = unsigned(v & 31);
    t.n = unsigned((v >> 5) & 31);
    t.m = unsigned((v >> 10) & 31);
    t.regs = unsigned((v >> 15) & 7);
    t.q = (v >> 18) & 1;
    t.tbx = (v >> 19) & 1;
    return t;
  }
};

uint64_t helper_tbl(tcg::CpuCommon* cpu, uint64_t desc, uint64_t, uint64_t);

/// TBL/TBX: reads the table and index registers and writes Vd in the state.
inline constexpr tcg::ir::Helper kHelperTbl{"arm64_tbl", &helper_tbl};

}  // namespace orrery::cpu::arm64
