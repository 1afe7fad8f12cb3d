#include "tcg/exec/tier_policy.h"

#include <algorithm>

namespace orrery::tcg::exec {

unsigned TierPolicy::backoffs(const TbKey& key) const {
  auto it = history_.find(key);
  return it == history_.end() ? 0 : it->second;
}

void TierPolicy::note_invalidated(const TbKey& key) {
  if (history_.size() >= kMaxHistory && !history_.count(key)) history_.clear();
  uint8_t& n = history_[key];
  if (n < 255) ++n;
}

void TierPolicy::note_compile(uint64_t ir_insts, uint64_t cpu_ns) {
  if (ir_insts == 0) return;
  // An exponential moving average over compiles (weight 1/16): follows the host's speed and
  // the kind of code the guest runs without jumping on one slow compile.
  const double sample = double(cpu_ns) / double(ir_insts);
  double old = cost_ns_per_ir_.load(std::memory_order_relaxed);
  cost_ns_per_ir_.store(old + (sample - old) / 16, std::memory_order_relaxed);
}

TierPolicy::Decision TierPolicy::decide(uint32_t count, uint64_t guest_insns, uint64_t ir_insts,
                                        unsigned backoffs) const {
  using Kind = Decision::Kind;
  if (backoffs >= opt_.never_after) return {Kind::Never};
  const double penalty = double(uint64_t(1) << std::min(backoffs, 30u));
  if (!opt_.by_benefit) {
    const uint64_t required = uint64_t(opt_.hot_threshold) * uint64_t(penalty);
    if (count >= required) return {Kind::Compile};
    return {Kind::Defer, uint32_t(std::min<uint64_t>(required, UINT32_MAX))};
  }
  const double cost = cost_ns(ir_insts) * opt_.payback * penalty;
  const double benefit = saving_ns(guest_insns);
  if (benefit >= cost) return {Kind::Compile};
  // The benefit grows with the count: ask again where it would pay, but at most 16 times
  // further out, so a block whose loop grows around it is looked at again.
  const double ratio = std::clamp(cost / std::max(benefit, 1e-3), 1.25, 16.0);
  const uint64_t next =
      std::max<uint64_t>(uint64_t(double(count) * ratio), uint64_t(count) + opt_.hot_threshold);
  if (next >= UINT32_MAX) return {Kind::Never};  // the 32-bit count cannot get there
  return {Kind::Defer, uint32_t(next)};
}

TierPolicy::Decision TierPolicy::decide_forced(uint32_t count, unsigned backoffs) const {
  using Kind = Decision::Kind;
  if (backoffs == 0) return {Kind::Compile};
  if (backoffs >= opt_.never_after) return {Kind::Never};
  const uint64_t required = uint64_t(opt_.hot_threshold) << std::min(backoffs - 1, 24u);
  if (count >= required) return {Kind::Compile};
  return {Kind::Defer, uint32_t(std::min<uint64_t>(required, UINT32_MAX))};
}

}  // namespace orrery::tcg::exec
