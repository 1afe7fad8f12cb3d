#include <vector>

#include "tcg/opt/passes.h"

namespace orrery::tcg::opt {

using ir::Opcode;

void dce(ir::Block& b) {
  std::vector<bool> live(b.insts.size(), false);
  if (b.term.cond.valid()) live[b.term.cond.id] = true;
  if (b.term.value.valid()) live[b.term.value.id] = true;
  for (size_t n = b.insts.size(); n-- > 0;) {
    ir::Inst& i = b.insts[n];
    if (!live[n] && ir::is_pure(i.op)) {
      i = ir::Inst{};  // Nop
      continue;
    }
    for (unsigned k = 0; k < i.nargs; ++k) live[i.args[k].id] = true;
  }
}

void compact(ir::Block& b) {
  // In place (a kept instruction only moves down), so the vector keeps its capacity: the
  // translator reuses one Block for every new block, and a fresh vector here made it regrow.
  std::vector<uint32_t> map(b.insts.size(), ir::Value::kNone);
  size_t out = 0;
  for (size_t n = 0; n < b.insts.size(); ++n) {
    ir::Inst i = b.insts[n];
    if (i.op == Opcode::Nop) continue;
    for (unsigned k = 0; k < i.nargs; ++k) i.args[k].id = map[i.args[k].id];
    map[n] = uint32_t(out);
    b.insts[out++] = i;
  }
  b.insts.resize(out);
  if (b.term.cond.valid()) b.term.cond.id = map[b.term.cond.id];
  if (b.term.value.valid()) b.term.value.id = map[b.term.value.id];
}

void optimize(ir::Block& b) {
  reg_elim(b);
  const_fold(b);
  dce(b);
  compact(b);
}

}  // namespace orrery::tcg::opt
