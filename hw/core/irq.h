// Interrupt wiring: a device drives an IrqLine; the board connects the line to one or more
// IrqSinks (interrupt controller inputs: an ISA IRQ goes to both the PC's PIC and its IOAPIC).
// Unconnected lines just remember their level, so devices can be built and tested before the
// interrupt controller exists. Message-signalled interrupts (PCI MSI/MSI-X) are MsiMessages
// handed to the board's MsiSink.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

namespace orrery::hw {

/// How a controller input samples its line: a level input is pending while the line is high;
/// an edge input latches a request on each low-to-high transition.
enum class IrqTrigger : uint8_t { kLevel, kEdge };

/// Something that receives interrupt levels, e.g. one GIC with many numbered inputs.
class IrqSink {
 public:
  virtual ~IrqSink() = default;
  virtual void set_irq(unsigned line, bool level) = 0;
};

/// One interrupt output of a device. The line carries a level; an edge-triggered input of the
/// controller sees a request at each rise, so a device that signals edges raises and lowers it
/// (pulse()).
class IrqLine {
 public:
  IrqLine() = default;
  IrqLine(const IrqLine&) = delete;
  IrqLine& operator=(const IrqLine&) = delete;

  /// Adds sink input n to the line's fan-out (before the guest runs) and forwards the current
  /// level to it.
  void connect(IrqSink& sink, unsigned n) {
    targets_.push_back({&sink, n});
    sink.set_irq(n, level_.load(std::memory_order_relaxed));
  }
  /// Drives the line. Callers serialize their own calls (devices hold their lock).
  void set(bool level) {
    level_.store(level, std::memory_order_relaxed);
    for (const Target& t : targets_) t.sink->set_irq(t.n, level);
  }
  void raise() { set(true); }
  void lower() { set(false); }
  /// One edge: raise, then lower (for edge-triggered consumers such as an IOAPIC edge pin).
  void pulse() {
    set(true);
    set(false);
  }
  bool level() const { return level_.load(std::memory_order_relaxed); }
  bool connected() const { return !targets_.empty(); }

 private:
  struct Target {
    IrqSink* sink;
    unsigned n;
  };
  std::vector<Target> targets_;     // fixed once the machine is built
  std::atomic<bool> level_{false};  // read by tests and debuggers from other threads
};

/// A wired-OR of several device lines onto one controller input (an ISA IRQ that a PCI PIRQ,
/// an ISA device and a test device may all drive): the output is high while any input is.
/// Inputs are numbered 0..63 by the board; each device line connects to its own input.
class SharedIrq final : public IrqSink {
 public:
  IrqLine& out() { return out_; }
  void set_irq(unsigned input, bool level) override {
    // Under one lock, so the output's level always follows the last change of the inputs
    // (devices on different threads may drive their inputs at once).
    std::lock_guard lock(mu_);
    const uint64_t bit = uint64_t(1) << (input & 63);
    inputs_ = level ? inputs_ | bit : inputs_ & ~bit;
    if ((inputs_ != 0) != out_.level()) out_.set(inputs_ != 0);
  }

 private:
  std::mutex mu_;
  uint64_t inputs_ = 0;  // guarded by mu_
  IrqLine out_;
};

/// A message-signalled interrupt: a 32-bit write of data to address (PCI 3.0, 6.8).
struct MsiMessage {
  uint64_t address = 0;
  uint32_t data = 0;
};

/// Where a board sends MSIs (on virt: the write into the GICv2m frame; on pc: the APIC bus).
class MsiSink {
 public:
  virtual ~MsiSink() = default;
  /// Delivers one message; false if nothing accepts it (the sender logs it).
  virtual bool deliver_msi(const MsiMessage& msg) = 0;
};

}  // namespace orrery::hw
