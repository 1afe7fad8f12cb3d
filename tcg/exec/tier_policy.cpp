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
  // Each compile's weight decays by 1/16 per later compile: the fit follows the host's speed
  // and the kind of code the guest runs without jumping on one slow compile.
  constexpr double kKeep = 15.0 / 16.0;
  const double x = double(ir_insts), y = double(cpu_ns);
  std::lock_guard<std::mutex> g(fit_mu_);
  CostFit& f = fit_;
  f.w = f.w * kKeep + 1;
  f.x = f.x * kKeep + x;
  f.y = f.y * kKeep + y;
  f.xx = f.xx * kKeep + x * x;
  f.xy = f.xy * kKeep + x * y;
  // Least squares y = fixed + per_ir * x. With too few or too alike sizes the data gives no
  // slope: keep the initial slope and fit the fixed part alone (the first compiles are often
  // one-instruction blocks, all fixed cost; a line through the origin charged a big loop a
  // thousand times its cost). A fit that says bigger compiles are cheaper, or a negative fixed
  // cost, falls back to the simpler line that the data does support.
  double per_ir = opt_.initial_cost_ns_per_ir;
  double fixed = (f.y - per_ir * f.x) / f.w;
  if (fixed < 0) {
    fixed = 0;
    per_ir = f.y / f.x;
  }
  const double var = f.w * f.xx - f.x * f.x;
  if (f.w >= 3 && var > 1e-6 * f.x * f.x) {
    per_ir = (f.w * f.xy - f.x * f.y) / var;
    fixed = (f.y - per_ir * f.x) / f.w;
    if (per_ir <= 0) {
      per_ir = 0;
      fixed = f.y / f.w;
    } else if (fixed < 0) {
      fixed = 0;
      per_ir = f.xy / f.xx;
    }
  }
  fixed_ns_.store(fixed, std::memory_order_relaxed);
  cost_ns_per_ir_.store(per_ir, std::memory_order_relaxed);
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
