// A GICv2m MSI frame (ARM Server Base System Architecture, appendix E), as on QEMU's virt: a
// write of an SPI's INTID to MSI_SETSPI_NS raises that SPI as an edge; MSI_TYPER tells the
// guest which SPIs the frame owns.
#pragma once

#include <cstdint>

#include "hw/core/irq.h"
#include "hw/core/log.h"
#include "hw/core/mmio.h"

namespace orrery::hw::intc {

class Gicv2m : public MmioDevice {
 public:
  static constexpr uint64_t kMmioSize = 0x1000;
  static constexpr uint64_t kTyper = 0x008, kSetSpiNs = 0x040, kIidr = 0xfcc;

  /// The frame owns INTIDs first_intid..first_intid+count-1 of sink.
  Gicv2m(IrqSink& sink, Log& log, unsigned first_intid, unsigned count)
      : sink_(sink), log_(log), first_(first_intid), count_(count) {}

  MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
  MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
  AccessRules valid() const override { return {1, 4, false}; }
  AccessRules impl() const override { return {4, 4, false}; }

 private:
  IrqSink& sink_;
  Log& log_;
  unsigned first_, count_;
};

}  // namespace orrery::hw::intc
