// The PIIX3's IDE function (82371SB function 1, 8086:7010), function 1.1 on QEMU's "pc": two
// channels in legacy (compatibility) mode at ports 0x1f0-0x1f7/0x3f6 (IRQ 14) and
// 0x170-0x177/0x376 (IRQ 15), and the bus-master DMA registers in BAR 4 (16 ports, both
// channels). The board maps the legacy blocks (command_block/control_block) at the fixed ports;
// they decode whatever the function's command register says, as on QEMU's pc, where firmware
// and Linux find them without programming IDETIM.
#pragma once

#include <array>
#include <memory>

#include "hw/core/irq.h"
#include "hw/ide/ide_channel.h"
#include "hw/pci/pci_device.h"

namespace orrery::hw::ide {

class PiixIde : public pci::PciDevice {
 public:
  static constexpr unsigned kIdetim = 0x40, kSidetim = 0x44;
  static constexpr uint64_t kBmSize = 16;

  PiixIde(const AddressSpace& as, Log& log);

  /// Channel 0 (primary) or 1 (secondary); its irq() is ISA IRQ 14 or 15.
  IdeChannel& channel(unsigned n) { return *channels_[n]; }
  void reset() override;

 private:
  class BusMaster : public MmioDevice {
   public:
    explicit BusMaster(PiixIde& ide) : ide_(ide) {}
    MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
    MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
    AccessRules valid() const override { return {1, 4, false}; }
    AccessRules impl() const override { return {1, 4, false}; }

   private:
    PiixIde& ide_;
  };

  BusMaster bm_{*this};
  std::array<std::unique_ptr<IdeChannel>, 2> channels_;
};

}  // namespace orrery::hw::ide
