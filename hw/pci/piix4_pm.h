// The Intel 82371AB PIIX4's power-management function (8086:7113 rev 3), which QEMU's "pc"
// places at 1.3 beside the PIIX3: its configuration space only. PMBA (0x40) holds the base of the
// 64-byte ACPI register block and PMREGMISC (0x80) bit 0 (PMIOSE) enables its decode; the block
// itself is the board's (hw/acpi), which a callback moves wherever firmware puts it. SMBus
// (SMBBA 0x90, SMBHSTCFG 0xd2) is not modelled; enabling it is named under -d unimp.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>

#include "hw/pci/pci_device.h"

namespace orrery::hw::pci {

class Piix4PmFunction : public PciDevice {
 public:
  static constexpr unsigned kPmba = 0x40, kDevacta = 0x54, kPmregmisc = 0x80, kSmbba = 0x90,
                            kSmbhstcfg = 0xd2;
  static constexpr uint32_t kPmbaMask = 0xffc0;  // a 64-byte block in the I/O space
  static constexpr uint8_t kPmiose = 1 << 0;
  /// Called (without locks held) when the PM block's decode changes: its base and whether it
  /// decodes.
  using PmBaseCallback = std::function<void(uint16_t base, bool enabled)>;

  Piix4PmFunction(const AddressSpace& as, Log& log);
  void set_pm_base_callback(PmBaseCallback cb) { cb_ = std::move(cb); }
  uint16_t pm_base();
  bool pm_enabled();
  void reset() override;

 protected:
  void config_written(unsigned offset, unsigned size) override;

 private:
  void update();

  PmBaseCallback cb_;
  std::mutex mu_;           // serializes update
  uint16_t seen_base_ = 0;  // under mu_
  bool seen_enabled_ = false;
};

}  // namespace orrery::hw::pci
