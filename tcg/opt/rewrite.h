// Shared by the passes: value replacement via a forwarding table.
#pragma once

#include <vector>

#include "tcg/ir/ir.h"

namespace orrery::tcg::opt {

/// Replacement map: forward[v] is the value to use instead of v (itself when unchanged).
class Forwarding {
 public:
  explicit Forwarding(size_t n) : fwd_(n) {
    for (size_t i = 0; i < n; ++i) fwd_[i] = uint32_t(i);
  }
  void replace(ir::Value from, ir::Value to) { fwd_[from.id] = resolve(to).id; }
  ir::Value resolve(ir::Value v) const {
    while (v.valid() && fwd_[v.id] != v.id) v.id = fwd_[v.id];
    return v;
  }
  /// Rewrites the arguments of instruction n (and nothing else).
  void apply(ir::Inst& i) const {
    for (unsigned k = 0; k < i.nargs; ++k) i.args[k] = resolve(i.args[k]);
  }
  void apply(ir::Terminal& t) const {
    if (t.cond.valid()) t.cond = resolve(t.cond);
    if (t.value.valid()) t.value = resolve(t.value);
  }

 private:
  std::vector<uint32_t> fwd_;
};

}  // namespace orrery::tcg::opt
