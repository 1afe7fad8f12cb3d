// Which hot blocks the LLVM tier compiles, and when: compile only what pays back.
//
// A block's baseline code counts its executions down and asks the engine when the count-down
// armed by the last decision runs out (TranslationBlock::arm). The policy answers from three
// facts:
//  - Benefit against cost (ski rental): executions so far predict as many again, so a block is
//    compiled once the time its executions would have saved (guest instructions executed times
//    the saving per instruction) reaches the measured cost of compiling it. Until then its next
//    check moves out in proportion. Waiting like this never wastes more than the compile would
//    have cost; compiling at a fixed small count spent a whole core on blocks that ran a few
//    hundred times (short-lived processes).
//  - Back-off: a block whose compiled (or queued) code was invalidated must show 2^k times the
//    benefit after k invalidations, and after never_after it stays in the baseline tier. Keyed
//    by the block key, since every invalidation makes a new block (code and data on one page).
//  - Measured compile cost: a fixed cost per compile (a fresh LLVM context and module, the
//    code generator's per-function work, linking: ~3 ms here even for one IR instruction) plus
//    CPU nanoseconds per IR instruction, fitted by least squares over the compile thread's
//    recent measurements. A cost per IR instruction alone (the old estimate) was pulled up by
//    the many small compiles and then over-charged big regions, the hot loops, 2-3x. Until
//    the compiles differ enough in size to give a slope (the first ones, or all of one size)
//    the slope stays initial_cost_ns_per_ir and only the fixed part is fitted.
// Thread safety: decide()/backoffs()/note_invalidated() run under the engine's lock;
// note_compile() runs on the compile thread (an atomic estimate).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "tcg/exec/tb.h"

namespace orrery::tcg::exec {

struct TierPolicyOptions {
  uint32_t hot_threshold = 64;  // first check; nothing is compiled before it
  // Estimated time saved per guest instruction executed in LLVM code instead of baseline code.
  // A fixed estimate (bench/run.sh: the baseline tier alone takes ~1.6x the default tier's
  // time on hot loops, at roughly 1 ns per guest instruction); unlike the cost it is not
  // measured at run time.
  double saving_ns_per_insn = 0.5;
  // Compile cost until the first measurement: CPU ns per IR instruction (a typical block of
  // ~60 IR instructions takes about 1 ms); the fit replaces it once the compiles' sizes
  // give a slope.
  double initial_cost_ns_per_ir = 15000;
  // Compile when benefit >= payback * cost. Below 1 compiles earlier (faster hot code, more
  // compile time); above 1 later.
  double payback = 1.0;
  // Invalidations of compiled code after which a block key is never compiled again.
  unsigned never_after = 6;
  // Benefit-based checks; false: compile at hot_threshold (the back-off still applies).
  bool by_benefit = true;
};

class TierPolicy {
 public:
  explicit TierPolicy(TierPolicyOptions opt)
      : opt_(opt), fixed_ns_(0), cost_ns_per_ir_(opt.initial_cost_ns_per_ir) {}

  const TierPolicyOptions& options() const { return opt_; }

  /// Invalidations of compiled or queued code recorded for this key.
  unsigned backoffs(const TbKey& key) const;
  /// A block with this key was invalidated after it was compiled or queued.
  void note_invalidated(const TbKey& key);
  /// Forgets the history (a translation-cache flush).
  void clear() { history_.clear(); }

  /// A compile (one LLVM module) of ir_insts IR instructions in all took cpu_ns.
  void note_compile(uint64_t ir_insts, uint64_t cpu_ns);
  /// Estimated CPU ns to compile ir_insts IR instructions (in a module of their own).
  double cost_ns(uint64_t ir_insts) const {
    return fixed_cost_ns() + double(ir_insts) * cost_ns_per_ir_.load(std::memory_order_relaxed);
  }
  /// The fitted cost of a compile apart from its IR instructions, and the cost per instruction.
  double fixed_cost_ns() const { return fixed_ns_.load(std::memory_order_relaxed); }
  double cost_ns_per_ir() const { return cost_ns_per_ir_.load(std::memory_order_relaxed); }

  struct Decision {
    enum class Kind : uint8_t { Compile, Defer, Never } kind;
    uint32_t next_check = 0;  // Defer: the execution count to ask again at
  };
  /// For a block (or region) at `count` executions of its head, whose executions so far ran
  /// `guest_insns` guest instructions, of ir_insts IR instructions in all, with `backoffs`
  /// invalidations behind it.
  Decision decide(uint32_t count, uint64_t guest_insns, uint64_t ir_insts, unsigned backoffs) const;
  /// The forced-LLVM tier (tier=llvm) compiles every new block at once, except a key with
  /// backoffs: it is interpreted until it ran hot_threshold << (backoffs - 1) times.
  Decision decide_forced(uint32_t count, unsigned backoffs) const;

  /// Whether compiling a block the profile of an earlier run names, ahead of need, pays back
  /// over `runs` runs: this policy compiled it there, or the guest_insns it ran there would
  /// save more than compiling its ir_insts costs.
  bool pays_ahead(uint64_t guest_insns, uint64_t ir_insts, bool compiled, double runs = 1) const {
    return compiled || saving_ns(guest_insns) * runs >= cost_ns(ir_insts);
  }

  /// Estimated ns saved by running guest_insns instructions in LLVM code.
  double saving_ns(uint64_t guest_insns) const {
    return double(guest_insns) * opt_.saving_ns_per_insn;
  }

 private:
  struct KeyHash {
    size_t operator()(const TbKey& k) const {
      return size_t(k.pc * 0x9e3779b97f4a7c15ull ^ k.phys_pc ^ (k.flags << 17) ^ k.cs_base);
    }
  };
  // Bounded: when it is full it starts over (a guest that keeps generating code).
  static constexpr size_t kMaxHistory = size_t(1) << 16;

  // Exponentially decayed sums over compiles (x: IR instructions, y: CPU ns) for the fit.
  struct CostFit {
    double w = 0, x = 0, y = 0, xx = 0, xy = 0;
  };

  TierPolicyOptions opt_;
  std::unordered_map<TbKey, uint8_t, KeyHash> history_;
  std::mutex fit_mu_;  // note_compile may run on several threads (tier=llvm compiles inline)
  CostFit fit_;
  std::atomic<double> fixed_ns_;
  std::atomic<double> cost_ns_per_ir_;
};

}  // namespace orrery::tcg::exec
