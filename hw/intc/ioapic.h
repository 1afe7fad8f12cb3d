// The Intel 82093AA I/O APIC as QEMU's pc presents it (version 0x20, which adds the EOI
// register at +0x40): 24 pins, IOREGSEL at +0x00 and IOWIN at +0x10, the ID, version and
// arbitration registers and one 64-bit redirection entry per pin. An asserted pin becomes an
// APIC message on the ApicBus: edge pins on each rising edge, level pins while asserted and
// their remote IRR is clear (set at delivery, cleared by the local APICs' EOI broadcast or an
// EOI register write, after which a still-asserted pin is sent again).
//
// Inputs carry asserted/deasserted levels (the board's wiring already accounts for each
// device's polarity), so the polarity bit is stored but not applied, as in QEMU. An edge on a
// masked pin is ignored (82093AA datasheet, 3.2.4).
#pragma once

#include <array>
#include <cstdint>
#include <mutex>

#include "hw/core/irq.h"
#include "hw/core/log.h"
#include "hw/core/mmio.h"
#include "hw/core/resettable.h"
#include "hw/intc/apic_bus.h"

namespace orrery::hw {

class IoApic final : public MmioDevice, public IrqSink, public ApicEoiListener, public Resettable {
 public:
  static constexpr unsigned kPins = 24;
  static constexpr uint64_t kMmioSize = 0x1000;
  static constexpr uint32_t kVersion = 0x20;
  // MMIO offsets.
  static constexpr uint64_t kIoRegSel = 0x00, kIoWin = 0x10, kEoi = 0x40;
  // Indirect registers.
  static constexpr uint8_t kRegId = 0x00, kRegVersion = 0x01, kRegArb = 0x02, kRegRedir = 0x10;
  // Redirection entry bits.
  static constexpr uint64_t kDeliveryStatus = 1u << 12, kPolarityLow = 1u << 13,
                            kRemoteIrr = 1u << 14, kLevel = 1u << 15, kMasked = 1u << 16;

  IoApic(Log& log, ApicBus& bus);

  void reset() override;

  // MmioDevice.
  MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
  MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
  AccessRules valid() const override { return {1, 4, false}; }
  AccessRules impl() const override { return {4, 4, false}; }

  // IrqSink: pin n asserted or not.
  void set_irq(unsigned pin, bool level) override;
  // ApicEoiListener.
  void apic_eoi(uint8_t vector) override;

  /// For tests and the board.
  uint64_t entry(unsigned pin) const;
  /// How pin is sampled (its redirection entry's trigger mode).
  IrqTrigger trigger(unsigned pin) const {
    return entry(pin) & kLevel ? IrqTrigger::kLevel : IrqTrigger::kEdge;
  }

 private:
  void service_locked(unsigned pin);
  void eoi_locked(uint8_t vector);

  Log& log_;
  ApicBus& bus_;
  mutable std::mutex mu_;
  uint8_t regsel_ = 0;
  uint32_t id_ = 0;
  std::array<uint64_t, kPins> redir_{};
  std::array<bool, kPins> level_{};
};

}  // namespace orrery::hw
