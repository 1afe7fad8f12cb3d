// Test helper: an IrqSink that remembers each input's level and counts its rising edges, and a
// manual-clock harness that advances virtual time in steps and runs the timers that fall due.
#pragma once

#include <array>
#include <cstdint>

#include "hw/core/clock.h"
#include "hw/core/event_loop.h"
#include "hw/core/irq.h"

namespace orrery::hw::test {

class IrqRecorder final : public IrqSink {
 public:
  static constexpr unsigned kLines = 32;
  void set_irq(unsigned line, bool level) override {
    if (line >= kLines) return;
    if (level && !level_[line]) ++rises_[line];
    level_[line] = level;
  }
  bool level(unsigned line) const { return level_[line]; }
  unsigned rises(unsigned line) const { return rises_[line]; }
  void clear() { rises_.fill(0); }

 private:
  std::array<bool, kLines> level_{};
  std::array<unsigned, kLines> rises_{};
};

/// A manual clock and a loop driven on the test's thread.
struct ManualTime {
  Clock clock{ClockSource::kManual};
  EventLoop loop{clock};
  /// Runs every timer due now (handlers may re-arm for now).
  void run() {
    for (int i = 0; i < 100 && loop.run_once(0) > 0; ++i) {
    }
  }
  /// Advances by total_ns in steps of at most step_ns, running due timers after each step.
  void advance(int64_t total_ns, int64_t step_ns = 0) {
    if (step_ns <= 0) step_ns = total_ns;
    while (total_ns > 0) {
      const int64_t s = total_ns < step_ns ? total_ns : step_ns;
      clock.advance(s);
      total_ns -= s;
      run();
    }
  }
  /// Advances to an absolute virtual time.
  void advance_to(int64_t ns, int64_t step_ns = 0) { advance(ns - clock.virtual_ns(), step_ns); }
};

}  // namespace orrery::hw::test
