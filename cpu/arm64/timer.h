// The generic timer's interrupt outputs (Arm ARM D11): per vCPU, the EL1 physical timer
// (CNTP_*) and the virtual timer (CNTV_*), each asserting its IrqLine while
// CTL.ENABLE && !CTL.IMASK && counter >= CVAL. The system counter runs on the machine's
// virtual clock (hw::Clock), so it stops while the machine is stopped (a debugger). The vCPU
// thread reports every CTL/CVAL change; one hw::Timer on the machine's event loop is armed for
// the earliest deadline and raises the line then. Lines are driven only under the timer's lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "hw/core/event_loop.h"
#include "hw/core/irq.h"

namespace orrery::cpu::arm64 {

enum class TimerId : unsigned { Phys = 0, Virt = 1 };

class GenericTimer {
 public:
  /// frequency_hz is CNTFRQ; the counter is 0 at virtual time epoch_ns of loop's clock.
  GenericTimer(uint64_t frequency_hz, hw::EventLoop& loop, int64_t epoch_ns);
  GenericTimer(const GenericTimer&) = delete;
  GenericTimer& operator=(const GenericTimer&) = delete;

  /// The output line of a timer; the board connects it (GIC PPI 30 phys, 27 virt).
  hw::IrqLine& irq(TimerId t) { return lines_[unsigned(t)]; }

  /// A timer's CTL (ENABLE bit 0, IMASK bit 1) or CVAL changed: re-evaluates its line now and
  /// re-arms the deadline. Called on the vCPU thread.
  void update(TimerId t, uint64_t ctl, uint64_t cval);
  /// Disables both timers (lines low) and restarts the counter at virtual time epoch_ns.
  void reset(int64_t epoch_ns);

  /// The virtual time of the next deadline of an enabled, unmasked timer whose line is low
  /// (INT64_MAX if none). Lock-free: a vCPU may ask while holding its own lock.
  int64_t next_deadline() const { return next_deadline_.load(std::memory_order_acquire); }
  /// Re-evaluates the lines at the current time (the vCPU thread's own check in WFI).
  void poll();

  /// The counter value at virtual time now_ns.
  uint64_t counter_at(int64_t now_ns) const;
  /// The first virtual time at which the counter reads count (rounded up; INT64_MAX if never).
  int64_t time_of_count(uint64_t count) const;
  hw::Clock& clock() const { return clock_; }

 private:
  struct Channel {
    uint64_t ctl = 0;
    uint64_t cval = 0;
  };
  /// Drives the lines for virtual time now_ns and arms the event-loop timer for the next
  /// deadline (or cancels it).
  void evaluate_locked(int64_t now_ns);
  void fire();  // the event-loop timer's handler

  const uint64_t frequency_;
  hw::Clock& clock_;
  int64_t epoch_ns_;  // written on reset only, while the vCPU is not running
  std::mutex mu_;
  Channel ch_[2];
  hw::IrqLine lines_[2];
  int64_t armed_for_ = -1;  // the deadline the loop timer is armed for, or -1
  std::atomic<int64_t> next_deadline_{INT64_MAX};  // armed_for_, or INT64_MAX if none
  hw::Timer deadline_;  // declared last: removed (and its handler waited for) first
};

}  // namespace orrery::cpu::arm64
