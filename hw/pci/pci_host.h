// The generic ECAM host bridge, like QEMU's gpex ("pci-host-ecam-generic"): configuration space
// through ECAM (bus << 20 | device << 15 | function << 12 | register), and the host bridge's own
// function at 00.0. The memory and I/O windows are the bus's (PciBus::mem_window/io_window).
#pragma once

#include <cstdint>

#include "hw/core/log.h"
#include "hw/core/mmio.h"
#include "hw/pci/pci_bus.h"
#include "hw/pci/pci_device.h"

namespace orrery::hw::pci {

/// The ECAM region: buses 0..num_buses-1 (only bus 0 is populated; the others read all-ones).
class PciEcam : public MmioDevice {
 public:
  PciEcam(PciBus& bus, Log& log, unsigned num_buses) : bus_(bus), log_(log), buses_(num_buses) {
    bus.add_own_region(*this);
  }
  static constexpr uint64_t kBusSize = 1 << 20;

  MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
  MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
  /// 8-byte accesses are split into two configuration accesses.
  AccessRules impl() const override { return {1, 4, false}; }

 private:
  PciBus& bus_;
  Log& log_;
  unsigned buses_;
};

/// Function 00.0: QEMU's "Red Hat, Inc. QEMU PCIe Host bridge" (1b36:0008, class 0600).
class PciHostBridgeFunction : public PciDevice {
 public:
  PciHostBridgeFunction(const AddressSpace& as, Log& log)
      : PciDevice(as, log, "pcie-host-bridge",
                  {.vendor = 0x1b36,
                   .device = 0x0008,
                   .class_code = 0x060000,
                   .subsys_vendor = 0x1af4,
                   .subsys_id = 0x1100}) {}
};

}  // namespace orrery::hw::pci
