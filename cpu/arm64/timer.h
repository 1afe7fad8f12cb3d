// The generic timer's interrupt outputs (Arm ARM D11): per vCPU, the EL1 physical timer
// (CNTP_*) and the virtual timer (CNTV_*), each asserting its IrqLine while
// CTL.ENABLE && !CTL.IMASK && counter >= CVAL. The vCPU thread reports every CTL/CVAL change;
// a per-vCPU host thread sleeps on a condition variable until the earliest deadline (no
// polling) and raises the line then. Lines are driven only under the timer's lock.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "hw/core/irq.h"

namespace orrery::cpu::arm64 {

enum class TimerId : unsigned { Phys = 0, Virt = 1 };

class GenericTimer {
 public:
  /// frequency_hz is CNTFRQ; the counter is 0 at host steady-clock time epoch_ns.
  GenericTimer(uint64_t frequency_hz, int64_t epoch_ns);
  ~GenericTimer();
  GenericTimer(const GenericTimer&) = delete;
  GenericTimer& operator=(const GenericTimer&) = delete;

  /// The output line of a timer; the board connects it (GIC PPI 30 phys, 27 virt).
  hw::IrqLine& irq(TimerId t) { return lines_[unsigned(t)]; }

  /// A timer's CTL (ENABLE bit 0, IMASK bit 1) or CVAL changed: re-evaluates its line now and
  /// re-arms the deadline. Called on the vCPU thread.
  void update(TimerId t, uint64_t ctl, uint64_t cval);
  /// Disables both timers (lines low) and restarts the counter at epoch_ns.
  void reset(int64_t epoch_ns);

  /// The counter value at host time now_ns.
  uint64_t counter_at(int64_t now_ns) const;

 private:
  struct Channel {
    uint64_t ctl = 0;
    uint64_t cval = 0;
  };
  void evaluate_locked(int64_t now_ns);
  /// The earliest host time after now_ns at which an enabled, unmasked timer fires.
  int64_t next_deadline_locked(int64_t now_ns) const;
  void thread_main();

  const uint64_t frequency_;
  int64_t epoch_ns_;
  std::mutex mu_;
  std::condition_variable cv_;
  Channel ch_[2];
  hw::IrqLine lines_[2];
  bool stop_ = false;
  std::thread thread_;  // started on the first enable
};

}  // namespace orrery::cpu::arm64
