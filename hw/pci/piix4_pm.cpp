#include "hw/pci/piix4_pm.h"

namespace orrery::hw::pci {

Piix4PmFunction::Piix4PmFunction(const AddressSpace& as, Log& log)
    : PciDevice(as, log, "PIIX4-PM",
                {.vendor = 0x8086,
                 .device = 0x7113,
                 .class_code = 0x068000,
                 .revision = 0x03,
                 .subsys_vendor = 0x1af4,
                 .subsys_id = 0x1100,
                 .int_pin = 1}) {
  // 82371AB function 3 power-on values: status 0x0280 (fast back-to-back, medium DEVSEL); PMBA
  // and SMBBA read 1 in bit 0 (I/O space indicators).
  const uint8_t status[2] = {0x80, 0x02};
  init_bytes(kCfgStatus, status, 2);
  const uint8_t io = 0x01;
  init_bytes(kPmba, &io, 1);
  init_bytes(kSmbba, &io, 1);
  set_writable(kPmba, 1, 0xc0);
  set_writable(kPmba + 1, 1, 0xff);
  set_writable(kPmregmisc, 1, kPmiose);
  // DEVACTA/DEVACTB: device-activity SMI enables (SeaBIOS keeps its APMC_EN there); storage
  // only, since SMIs are not modelled.
  set_writable(kDevacta, 8, 0xff);
  // No SMM here: DEVACTB's APMC_EN (bit 25) starts set, which firmware reads as "SMM already
  // initialised" (QEMU does the same with smm=off); SeaBIOS would otherwise copy a handler into
  // SMRAM and wait forever for an SMI that never comes.
  const uint8_t apmc_en = 0x02;
  init_bytes(kDevacta + 7, &apmc_en, 1);
  set_writable(kSmbba, 1, 0xf0);
  set_writable(kSmbba + 1, 1, 0xff);
  set_writable(kSmbhstcfg, 1, 0x0f);
}

uint16_t Piix4PmFunction::pm_base() {
  return uint16_t(config_read(kPmba, 4) & kPmbaMask);
}

bool Piix4PmFunction::pm_enabled() {
  return (config_read(kPmregmisc, 1) & kPmiose) != 0;
}

void Piix4PmFunction::reset() {
  PciDevice::reset();
  update();
}

void Piix4PmFunction::config_written(unsigned offset, unsigned size) {
  if ((offset < kPmba + 4 && offset + size > kPmba) ||
      (offset <= kPmregmisc && offset + size > kPmregmisc))
    update();
  if (offset < kDevacta + 8 && offset + size > kDevacta && config_read(kDevacta + 4, 4))
    log().log(kLogUnimp, "PIIX4-PM: device activity SMIs (DEVACTB) are not modelled\n");
  if (offset <= kSmbhstcfg && offset + size > kSmbhstcfg && (config_read(kSmbhstcfg, 1) & 1))
    log().log(kLogUnimp, "PIIX4-PM: the SMBus host controller is not modelled\n");
}

void Piix4PmFunction::update() {
  const uint16_t base = pm_base();
  const bool enabled = pm_enabled();
  bool changed;
  {
    std::lock_guard g(mu_);
    changed = base != seen_base_ || enabled != seen_enabled_;
    seen_base_ = base;
    seen_enabled_ = enabled;
  }
  if (changed && cb_) cb_(base, enabled);
}

}  // namespace orrery::hw::pci
