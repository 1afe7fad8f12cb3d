#include "hw/misc/pc_testdev.h"

#include <cstring>

namespace orrery::hw::misc {

PcTestdev::PcTestdev(Log& log) : log_(log), mem_(kIomemSize, 0) {}

AccessRules PcTestdev::Region::valid() const {
  switch (kind_) {
    case Kind::Irq:
      return {1, 1, false};
    case Kind::Flush:
      return {4, 4, false};
    case Kind::Iomem:
      return {1, 8, true};
    default:
      return {1, 4, true};
  }
}

AccessRules PcTestdev::Region::impl() const {
  switch (kind_) {
    case Kind::IoportByte:
      return {1, 1, false};
    case Kind::Iomem:
      return {1, 8, true};
    default:
      return valid();
  }
}

MemResult PcTestdev::Region::read(uint64_t offset, unsigned size, uint64_t& value) {
  std::lock_guard<std::mutex> g(dev_.mu_);
  value = 0;
  switch (kind_) {
    case Kind::Ioport:
    case Kind::IoportByte: {
      // The bytes of the register at this port's offset, up to the register's end.
      const unsigned shift = (offset & 3) * 8;
      const uint64_t mask = size >= 4 ? 0xffffffffu : (uint64_t(1) << (8 * size)) - 1;
      value = (uint64_t(dev_.ioport_data_) >> shift) & mask;
      break;
    }
    case Kind::Iomem:
      if (offset + size <= kIomemSize) std::memcpy(&value, &dev_.mem_[offset], size);
      break;
    default:
      break;  // the flush and IRQ ports read 0
  }
  return MemResult::Ok;
}

MemResult PcTestdev::Region::write(uint64_t offset, unsigned size, uint64_t value) {
  std::lock_guard<std::mutex> g(dev_.mu_);
  switch (kind_) {
    case Kind::Ioport:
    case Kind::IoportByte: {
      const unsigned shift = (offset & 3) * 8;
      const uint64_t mask =
          ((size >= 4 ? 0xffffffffu : (uint64_t(1) << (8 * size)) - 1) << shift) & 0xffffffffu;
      dev_.ioport_data_ = uint32_t((dev_.ioport_data_ & ~mask) | ((value << shift) & mask));
      break;
    }
    case Kind::Iomem:
      if (offset + size <= kIomemSize) std::memcpy(&dev_.mem_[offset], &value, size);
      break;
    case Kind::Irq:
      if (offset < kIsaIrqs)
        dev_.irqs_[offset].set(value != 0);
      else
        dev_.log_.log(kLogGuestErrors, "pc-testdev: IRQ port 0x%x: no ISA IRQ %u\n",
                      unsigned(kIrqPort + offset), unsigned(offset));
      break;
    case Kind::Flush:
      break;  // nothing cached to drop
  }
  return MemResult::Ok;
}

}  // namespace orrery::hw::misc
