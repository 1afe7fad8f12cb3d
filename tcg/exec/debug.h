// Debugger support in the translation engine, guest-neutral: breakpoint and watchpoint
// bookkeeping and all-stop run control (stop flags, parking vCPU threads, resuming them).
//
// How it fits together:
//  - Breakpoints are keyed on the virtual PC. Inserting or removing one invalidates only the
//    blocks containing that PC (Engine::invalidate_vpc); new translations get a "stop before"
//    predicate so they end before a breakpointed instruction, and a block starting at one is a
//    bare ExitReason::Breakpoint exit with kDebugBreakpointArg. No breakpoints: no cost.
//  - Watchpoints make the softmmu mark the TLB entries of watched pages with kTlbWatch, so
//    only those pages take the slow path, which checks the ranges and stops the vCPU before the
//    access (PendingExit::Debug, PC at the accessing instruction).
//  - Run control: the debugger (its own thread) asks every vCPU to stop by setting a flag and
//    kicking it through CpuCommon::exit_request; each vCPU parks inside VcpuExec::run until
//    resumed. A vCPU that is not inside run() (halted, powered off, between runs) counts as
//    stopped and parks as soon as it enters run(); a step asked of it happens then. Only a vCPU
//    that stops by itself (breakpoint, watchpoint, step) stops the others.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "tcg/softmmu/softmmu.h"

namespace orrery::tcg::exec {

class Engine;
class VcpuExec;

/// gdb's Z2/Z3/Z4 kinds.
enum class WatchKind : uint8_t { Write = 2, Read = 3, Access = 4 };

/// Why a vCPU stopped for the debugger.
enum class DebugStopKind : uint8_t {
  Requested,     // the debugger asked (Ctrl-C, attach, -S) or another vCPU stopped first
  SwBreakpoint,  // a Z0 breakpoint
  HwBreakpoint,  // a Z1 breakpoint
  Watchpoint,    // a Z2/Z3/Z4 watchpoint; watch_kind and watch_addr say which
  Step,          // a single step completed
};

struct DebugStop {
  DebugStopKind kind = DebugStopKind::Requested;
  unsigned vcpu = 0;  // slot (registration order)
  WatchKind watch_kind = WatchKind::Write;
  uint64_t watch_addr = 0;
};

/// What a stopped vCPU does when the debugger resumes the machine.
enum class ResumeMode : uint8_t { Stay, Continue, Step };

/// The guest CPU's side of a debugger stop, called on the vCPU's thread around the wait. A
/// parked vCPU runs no guest code, so it must not hold up vCPUs that wait for it (an AArch64
/// TLB broadcast waits for every running sibling's acknowledgement).
class DebugParkListener {
 public:
  virtual void debug_parking() = 0;
  virtual void debug_unparked() = 0;

 protected:
  ~DebugParkListener() = default;
};

class DebugState final : public softmmu::WatchpointChecker {
 public:
  explicit DebugState(Engine& engine) : engine_(engine) {}
  DebugState(const DebugState&) = delete;
  DebugState& operator=(const DebugState&) = delete;

  // ---- vCPU side (VcpuExec) ----
  unsigned add_vcpu(VcpuExec* v);
  void remove_vcpu(VcpuExec* v);
  /// A debugger is configured: vCPUs report stops instead of ignoring them.
  bool active() const { return active_.load(std::memory_order_acquire); }
  bool stop_pending(unsigned slot) const;
  void set_in_run(unsigned slot, bool in_run);
  /// Parks the calling vCPU (which stopped for why) until the debugger resumes it.
  ResumeMode park(const DebugStop& why);
  /// True (once) if the debugger asked this vCPU to step while it was not parked (asleep in
  /// WFI or powered off): it steps its first instruction when it runs again.
  bool take_step(unsigned slot);
  bool has_breakpoints() const { return bp_count_.load(std::memory_order_acquire) != 0; }
  bool is_breakpoint(uint64_t pc) const;
  bool is_hw_breakpoint(uint64_t pc) const;

  // softmmu::WatchpointChecker
  bool any_watchpoints() const override { return wp_count_.load(std::memory_order_acquire); }
  bool page_watched(uint64_t vpage) const override;
  bool watch_hit(uint64_t vaddr, unsigned size, bool write,
                 softmmu::WatchHit& hit) const override;

  // ---- debugger side ----
  /// Turns debugging on. With start_stopped (-S), every vCPU parks before its first
  /// instruction.
  void activate(bool start_stopped);
  unsigned vcpu_count() const;
  VcpuExec* vcpu(unsigned slot) const;
  /// Asks every vCPU to stop (returns at once; take_stop reports when they have).
  void request_stop_all();
  /// Waits up to timeout for the machine to be fully stopped after a stop event or request;
  /// returns the event (consumed) or nullopt if still running.
  std::optional<DebugStop> take_stop(std::chrono::milliseconds timeout);
  /// True when every vCPU is parked or outside run().
  bool all_stopped() const;
  /// Resumes vCPUs; modes[slot] (missing slots: Stay).
  void resume(std::span<const ResumeMode> modes);
  /// Detach: removes every breakpoint and watchpoint and lets all vCPUs run freely.
  void release_all();
  /// Orrery is quitting (kill, Ctrl-A x): release_all; vCPUs never park again and run no more
  /// guest code (VcpuExec::run returns ExitRequest once the board kicks them).
  void deactivate();
  bool quitting() const { return quitting_.load(std::memory_order_acquire); }
  /// Called with true when a stop is reported (take_stop: the whole machine is stopped) and
  /// with false when the debugger lets it run again (resume, release_all), on the debugger's
  /// thread and without DebugState's lock held. Boards pause their virtual clock with it.
  /// Set it before the debugger starts; an empty function removes it.
  void set_stop_listener(std::function<void(bool stopped)> fn);

  bool insert_breakpoint(uint64_t pc, bool hw);
  bool remove_breakpoint(uint64_t pc, bool hw);
  bool insert_watchpoint(uint64_t addr, uint64_t len, WatchKind kind);
  bool remove_watchpoint(uint64_t addr, uint64_t len, WatchKind kind);

 private:
  struct Slot {
    VcpuExec* exec = nullptr;
    bool stop_req = false;
    bool parked = false;
    bool in_run = false;
    ResumeMode mode = ResumeMode::Continue;
    bool step_unclaimed = false;  // mode is Step and the vCPU has not seen it yet
  };
  struct Breakpoint {
    unsigned sw = 0, hw = 0;  // insertion counts
  };
  struct Watchpoint {
    uint64_t addr, len;
    WatchKind kind;
  };
  void request_stop_locked();
  /// Tells the stop listener the machine runs again (before any vCPU is let go).
  void notify_running();
  bool all_stopped_locked() const;
  void flush_tlbs();

  Engine& engine_;
  std::atomic<bool> active_{false};
  std::atomic<bool> quitting_{false};
  std::atomic<uint32_t> bp_count_{0};
  std::atomic<uint32_t> wp_count_{0};
  std::atomic<uint32_t> stop_flags_{0};  // nonzero when some slot has stop_req (cheap poll)
  std::atomic<uint32_t> step_flags_{0};  // nonzero when some slot may have step_unclaimed
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Slot> slots_;
  std::map<uint64_t, Breakpoint> bps_;
  std::vector<Watchpoint> wps_;
  std::function<void(bool)> stop_listener_;  // under mu_; called on copies, unlocked
  std::optional<DebugStop> event_;           // the first stop since the last resume
  bool interrupt_ = false;  // the debugger asked for a stop (reported as Requested)
  bool start_stopped_ = false;
};

/// Marks a vCPU as inside VcpuExec::run (so not stopped) for the scope's lifetime.
class DebugRunScope {
 public:
  DebugRunScope(DebugState& d, unsigned slot) : d_(d.active() ? &d : nullptr), slot_(slot) {
    if (d_) d_->set_in_run(slot_, true);
  }
  ~DebugRunScope() {
    if (d_) d_->set_in_run(slot_, false);
  }
  DebugRunScope(const DebugRunScope&) = delete;
  DebugRunScope& operator=(const DebugRunScope&) = delete;

 private:
  DebugState* d_;
  unsigned slot_;
};

}  // namespace orrery::tcg::exec
