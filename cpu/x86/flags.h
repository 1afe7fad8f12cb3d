// The lazy condition flags (see state.h): deriving EFLAGS from cc_op/cc_dst/cc_src/cc_src2, and
// storing a whole EFLAGS value. Everything outside generated code reads and writes EFLAGS only
// through compute_eflags/set_eflags.
#pragma once

#include <cstdint>

#include "cpu/x86/state.h"

namespace orrery::cpu::x86 {

/// The arithmetic flags (CF PF AF ZF SF OF, in their EFLAGS positions) of a lazy state that is
/// not CcOp::Eflags. src2 is the carry/borrow in of Adc/Sbb (0 or 1).
uint64_t compute_arith_flags(CcOp op, uint64_t dst, uint64_t src, uint64_t src2);

/// The full EFLAGS value: the arithmetic bits derived from cc_op, the rest from `eflags`.
uint64_t compute_eflags(const X86State& s);

/// Stores EFLAGS: bits in writable_mask come from value, the others keep their current value
/// (arithmetic ones resolved first); bit 1 stays set. Sets cc_op = CcOp::Eflags.
void set_eflags(X86State& s, uint64_t value, uint64_t writable_mask);

/// The operand size in bytes (1, 2, 4, 8) of a cc_op other than Eflags.
inline unsigned cc_op_size(CcOp op) {
  return 1u << ((uint32_t(op) - 1) & 3);
}

}  // namespace orrery::cpu::x86
