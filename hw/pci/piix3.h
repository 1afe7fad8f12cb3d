// The Intel 82371SB PIIX3's PCI-to-ISA bridge, function 1.0 on QEMU's "pc" (8086:7000, a
// multi-function device): the PIRQ route control registers (0x60-0x63) that steer PCI INTA-D to
// ISA IRQs, the other power-on values of its configuration space, and the reset control
// register at port 0xcf9.
//
// Interrupts: the bus's INTA..D lines come in as this device's IrqSink inputs 0..3; each PIRQx
// whose PIRQRC has IRQROUTEN (bit 7) clear drives ISA IRQ PIRQRC[3:0], the OR of every PIRQ
// routed there (level-triggered, shared). As on QEMU's pc, the ISA IRQs are the only way PCI
// interrupts reach the interrupt controllers: the IOAPIC sees them on the pin of the same number
// (GSI = ISA IRQ), and GSIs 16-23 stay unused by PCI.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>

#include "hw/core/irq.h"
#include "hw/core/log.h"
#include "hw/core/mmio.h"
#include "hw/core/resettable.h"
#include "hw/pci/pci_device.h"

namespace orrery::hw::pci {

class Piix3IsaFunction : public PciDevice, public IrqSink {
 public:
  static constexpr unsigned kPirqrc = 0x60, kPirqCount = 4;
  static constexpr uint8_t kIrqRoutDisable = 0x80;
  static constexpr unsigned kIsaIrqs = 16;

  Piix3IsaFunction(const AddressSpace& as, Log& log);

  /// ISA IRQ n as PCI interrupts drive it (the board connects the ones it routes).
  IrqLine& isa_irq(unsigned n) { return isa_irq_[n]; }
  /// The ISA IRQ PIRQ n goes to, or -1 when routing is disabled or the IRQ reserved.
  int pirq_route(unsigned n);
  bool pirq_level(unsigned n);

  /// IrqSink: PIRQA..D (the PCI bus's INTA..D).
  void set_irq(unsigned line, bool level) override;
  void reset() override;

 protected:
  void config_written(unsigned offset, unsigned size) override;

 private:
  /// Recomputes every ISA IRQ level from the PIRQ levels and routes (under mu_).
  void update_locked();

  std::mutex mu_;
  std::array<bool, kPirqCount> pirq_{};      // input levels, under mu_
  std::array<uint8_t, kPirqCount> route_{};  // PIRQRC copies, under mu_
  std::array<bool, kIsaIrqs> out_{};         // driven levels, under mu_
  std::array<IrqLine, kIsaIrqs> isa_irq_;
};

/// The reset control register (port 0xcf9): bit 1 SRST selects a hard (1) or soft (0) reset,
/// which a 0->1 write of bit 2 (RCPU) starts. Both become the board's reset callback (the soft
/// reset INITs the CPUs, which without SMM differs from a hard reset only in RAM, which a reset
/// keeps either way).
class Piix3ResetControl : public MmioDevice, public Resettable {
 public:
  static constexpr uint8_t kSrst = 1 << 1, kRcpu = 1 << 2;
  /// hard: SRST was set.
  using ResetCallback = std::function<void(bool hard)>;

  explicit Piix3ResetControl(Log& log) : log_(log) {}
  void set_reset_callback(ResetCallback cb) { cb_ = std::move(cb); }

  MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
  MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
  AccessRules valid() const override { return {1, 1, false}; }
  void reset() override;

 private:
  Log& log_;
  ResetCallback cb_;
  std::mutex mu_;
  uint8_t value_ = 0;  // under mu_
};

}  // namespace orrery::hw::pci
