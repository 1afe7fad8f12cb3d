// IR optimisation passes: plain functions over a Block. Each keeps the block valid (verify()
// passes before and after) and preserves guest-visible behaviour, including the exact guest
// register state at every instruction that may fault.
#pragma once

#include "tcg/ir/ir.h"

namespace orrery::tcg::opt {

/// Folds pure operations on constants and simple identities (x+0, x&0, x*1, ...).
void const_fold(ir::Block& b);

/// Forwards guest-register values within the block and removes redundant GetReg, and SetReg
/// that a later SetReg of the same register overwrites with no fault point or helper between.
void reg_elim(ir::Block& b);

/// Removes pure instructions whose values are unused.
void dce(ir::Block& b);

/// Drops Nops and renumbers values densely.
void compact(ir::Block& b);

/// The standard pipeline used for new blocks.
void optimize(ir::Block& b);

}  // namespace orrery::tcg::opt
