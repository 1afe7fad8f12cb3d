// The atomic tests' oracle for AtomicRmw (independent of the tiers' own code).
#pragma once

#include <cstdint>

#include "tcg/ir/ir.h"

namespace orrery::tcg::test {

/// The value AtomicRmw op leaves in memory that held old, with operand v.
inline uint64_t atomic_apply(ir::AtomicOp op, uint64_t old, uint64_t v) {
  switch (op) {
    case ir::AtomicOp::Add:
      return old + v;
    case ir::AtomicOp::And:
      return old & v;
    case ir::AtomicOp::Or:
      return old | v;
    case ir::AtomicOp::Xor:
      return old ^ v;
    case ir::AtomicOp::Xchg:
      return v;
  }
  return 0;
}

}  // namespace orrery::tcg::test
