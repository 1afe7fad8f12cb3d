#include "hw/intc/gicv2m.h"

namespace orrery::hw::intc {

MemResult Gicv2m::read(uint64_t offset, unsigned size, uint64_t& value) {
  switch (offset) {
    case kTyper:
      value = uint64_t(first_) << 16 | count_;
      break;
    case kIidr:
      value = 0;  // as QEMU's frame
      break;
    default:
      log_.log(kLogGuestErrors, "gicv2m: read of offset 0x%llx\n", (unsigned long long)offset);
      value = 0;
  }
  return MemResult::Ok;
}

MemResult Gicv2m::write(uint64_t offset, unsigned size, uint64_t value) {
  if (offset != kSetSpiNs) {
    log_.log(kLogGuestErrors, "gicv2m: write of offset 0x%llx\n", (unsigned long long)offset);
    return MemResult::Ok;
  }
  const uint32_t intid = uint32_t(value) & 0x3ff;
  if (intid < first_ || intid - first_ >= count_) {
    log_.log(kLogGuestErrors, "gicv2m: MSI for INTID %u outside the frame's %u..%u\n", intid,
             first_, first_ + count_ - 1);
    return MemResult::Ok;
  }
  // An edge: the distributor latches the rising edge as pending.
  sink_.set_irq(intid, true);
  sink_.set_irq(intid, false);
  return MemResult::Ok;
}

}  // namespace orrery::hw::intc
