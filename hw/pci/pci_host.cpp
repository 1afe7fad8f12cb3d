#include "hw/pci/pci_host.h"

namespace orrery::hw::pci {

MemResult PciEcam::read(uint64_t offset, unsigned size, uint64_t& value) {
  const unsigned bus = unsigned(offset >> 20), devfn = unsigned(offset >> 12) & 0xff;
  const unsigned reg = unsigned(offset & 0xfff);
  if (bus != 0 || bus >= buses_) {
    value = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    return MemResult::Ok;
  }
  value = bus_.config_read(devfn, reg, size);
  return MemResult::Ok;
}

MemResult PciEcam::write(uint64_t offset, unsigned size, uint64_t value) {
  const unsigned bus = unsigned(offset >> 20), devfn = unsigned(offset >> 12) & 0xff;
  const unsigned reg = unsigned(offset & 0xfff);
  if (bus != 0) {
    log_.log(kLogGuestErrors, "pci: ECAM write to bus %u, which has no devices\n", bus);
    return MemResult::Ok;
  }
  bus_.config_write(devfn, reg, size, uint32_t(value));
  return MemResult::Ok;
}

}  // namespace orrery::hw::pci
