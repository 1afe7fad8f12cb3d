#include <vector>

#include "tcg/opt/passes.h"
#include "tcg/opt/rewrite.h"

namespace orrery::tcg::opt {

using ir::Inst;
using ir::Opcode;

namespace {

// A guest-register byte range with a known value, and whether the SetReg that produced it is
// still removable (no fault point or helper has observed it since).
struct Known {
  uint64_t off;
  unsigned size;  // bytes
  ir::Type type;
  ir::Value value;
  int32_t store = -1;  // index of a removable SetReg, or -1
};

unsigned reg_bytes(ir::Type t) { return t == ir::Type::I1 ? 1 : ir::bits(t) / 8; }
bool overlaps(const Known& k, uint64_t off, unsigned size) {
  return off < k.off + k.size && k.off < off + size;
}

}  // namespace

void reg_elim(ir::Block& b) {
  Forwarding fwd(b.insts.size());
  std::vector<Known> known;
  for (size_t n = 0; n < b.insts.size(); ++n) {
    Inst& i = b.insts[n];
    fwd.apply(i);
    const uint8_t flags = ir::op_info(i.op).flags;
    if (i.op == Opcode::GetReg) {
      const unsigned size = reg_bytes(i.type);
      bool done = false;
      for (Known& k : known) {
        if (k.off == i.imm && k.size == size && k.type == i.type) {
          fwd.replace(ir::Value{uint32_t(n)}, k.value);
          i = Inst{};
          done = true;
          break;
        }
        // A partial read observes the bytes of an overlapping pending store.
        if (overlaps(k, i.imm, size)) k.store = -1;
      }
      if (!done) known.push_back({i.imm, size, i.type, ir::Value{uint32_t(n)}, -1});
    } else if (i.op == Opcode::SetReg) {
      const unsigned size = reg_bytes(i.type);
      for (size_t k = 0; k < known.size();) {
        if (!overlaps(known[k], i.imm, size)) {
          ++k;
          continue;
        }
        // The same register rewritten before anyone looked: the earlier store is dead.
        if (known[k].off == i.imm && known[k].size == size && known[k].store >= 0)
          b.insts[known[k].store] = Inst{};
        known[k] = known.back();
        known.pop_back();
      }
      known.push_back({i.imm, size, i.type, i.args[0], int32_t(n)});
    } else if (flags & ir::kRegsBarrier) {
      known.clear();
    } else if (flags & ir::kMayFault) {
      // State must be exact here: pending stores become permanent, values stay known.
      for (Known& k : known) k.store = -1;
    }
  }
  fwd.apply(b.term);
}

}  // namespace orrery::tcg::opt
