// Interrupt wiring: a device drives an IrqLine; the board connects the line to an IrqSink
// (an interrupt controller input). Unconnected lines just remember their level, so devices
// can be built and tested before the interrupt controller exists.
#pragma once

#include <atomic>

namespace orrery::hw {

/// Something that receives interrupt levels, e.g. one GIC with many numbered inputs.
class IrqSink {
 public:
  virtual ~IrqSink() = default;
  virtual void set_irq(unsigned line, bool level) = 0;
};

/// One level-sensitive interrupt output of a device.
class IrqLine {
 public:
  IrqLine() = default;
  IrqLine(const IrqLine&) = delete;
  IrqLine& operator=(const IrqLine&) = delete;

  /// Routes the line to sink input n and forwards the current level.
  void connect(IrqSink& sink, unsigned n) {
    sink_ = &sink;
    n_ = n;
    sink_->set_irq(n_, level_.load(std::memory_order_relaxed));
  }
  /// Drives the line. Callers serialize their own calls (devices hold their lock).
  void set(bool level) {
    level_.store(level, std::memory_order_relaxed);
    if (sink_) sink_->set_irq(n_, level);
  }
  void raise() { set(true); }
  void lower() { set(false); }
  bool level() const { return level_.load(std::memory_order_relaxed); }
  bool connected() const { return sink_ != nullptr; }

 private:
  IrqSink* sink_ = nullptr;
  unsigned n_ = 0;
  std::atomic<bool> level_{false};  // read by tests and debuggers from other threads
};

}  // namespace orrery::hw
