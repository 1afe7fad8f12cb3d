#include "hw/pci/pci_testdev.h"

#include <cstring>

namespace orrery::hw::pci {

namespace {
constexpr const char* kTestNames[] = {"no-eventfd", "wildcard-eventfd", "datamatch-eventfd"};
constexpr uint8_t kWidth = 4;  // every test uses 32-bit writes
}  // namespace

PciTestdev::PciTestdev(const AddressSpace& as, Log& log, std::string name, uint64_t membar_size)
    : PciDevice(as, log, std::move(name),
                {.vendor = 0x1b36,
                 .device = 0x0005,
                 .class_code = 0x00ff00,
                 .subsys_vendor = 0x1af4,
                 .subsys_id = 0x1100}) {
  add_bar(0, BarType::Mem32, kMemSize, false, mem_);
  add_bar(1, BarType::Io, kIoSize, false, io_);
  if (membar_size) add_bar(2, BarType::Mem64, membar_size, true, membar_);
}

void PciTestdev::reset() {
  {
    std::lock_guard g(mu_);
    state_ = {};
  }
  PciDevice::reset();
}

uint32_t PciTestdev::count(unsigned b, unsigned t) {
  std::lock_guard g(mu_);
  return b < 2 && t < kNumTests ? state_[b].count[t] : 0;
}

MemResult PciTestdev::Bar::read(uint64_t offset, unsigned size, uint64_t& value) {
  std::lock_guard g(t_.mu_);
  const BarState& s = t_.state_[index_];
  // The header of the current test: test, width, pad, offset, data, count, name.
  uint8_t hdr[16 + 24] = {};
  const unsigned t = s.current;
  if (t < kNumTests) {
    hdr[0] = uint8_t(t);
    hdr[1] = kWidth;
    const uint32_t off = test_offset(t), data = t == 2 ? kDataMatch : kNoMatch;
    std::memcpy(hdr + 4, &off, 4);
    std::memcpy(hdr + 8, &data, 4);
    std::memcpy(hdr + 12, &s.count[t], 4);
    std::strncpy(reinterpret_cast<char*>(hdr + 16), kTestNames[t], 23);
  } else {
    hdr[0] = uint8_t(t);
    hdr[1] = 0;  // no such test: the guest stops scanning
  }
  value = 0;
  if (offset + size <= sizeof hdr) std::memcpy(&value, hdr + offset, size);
  return MemResult::Ok;
}

MemResult PciTestdev::Bar::write(uint64_t offset, unsigned size, uint64_t value) {
  std::lock_guard g(t_.mu_);
  BarState& s = t_.state_[index_];
  if (offset == 0) {
    s.current = uint8_t(value);
    return MemResult::Ok;
  }
  const unsigned t = s.current;
  if (t < kNumTests && offset == test_offset(t) && size == kWidth &&
      (t != 2 || uint32_t(value) == kDataMatch))
    ++s.count[t];
  return MemResult::Ok;
}

}  // namespace orrery::hw::pci
