// QEMU's pci-testdev (1b36:0005, docs/specs/pci-testdev.rst): BAR 0 (memory) and BAR 1 (I/O)
// each start with a header that describes test N after the guest writes N to byte 0: the width,
// offset and data of the access the test expects, a count of matching writes, and a name.
// With membar=SIZE, BAR 2 is a 64-bit prefetchable memory BAR of that size with nothing behind
// it (reads 0, writes are ignored, as QEMU's empty container), for testing BAR placement.
#pragma once

#include <array>
#include <mutex>

#include "hw/pci/pci_device.h"

namespace orrery::hw::pci {

class PciTestdev : public PciDevice {
 public:
  static constexpr unsigned kNumTests = 3;  // no-eventfd, wildcard-eventfd, datamatch-eventfd
  static constexpr uint32_t kDataMatch = 0xfa, kNoMatch = 0xce;
  static constexpr uint32_t kMemSize = 2048, kIoSize = 128;

  /// membar_size: 0 (no BAR 2) or a power of two of at least 16.
  PciTestdev(const AddressSpace& as, Log& log, std::string name, uint64_t membar_size = 0);
  /// Writes counted by test t of BAR b (0 memory, 1 I/O).
  uint32_t count(unsigned b, unsigned t);
  void reset() override;

 private:
  class Bar : public MmioDevice {
   public:
    Bar(PciTestdev& t, unsigned index) : t_(t), index_(index) {}
    MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
    MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
    AccessRules valid() const override { return {1, 4, true}; }

   private:
    PciTestdev& t_;
    unsigned index_;
  };
  struct BarState {
    uint8_t current = 0;
    std::array<uint32_t, kNumTests> count{};
  };
  static uint32_t test_offset(unsigned t) { return 0x40 + 4 * t; }

  class Membar : public MmioDevice {
   public:
    MemResult read(uint64_t, unsigned, uint64_t& value) override {
      value = 0;
      return MemResult::Ok;
    }
    MemResult write(uint64_t, unsigned, uint64_t) override { return MemResult::Ok; }
  };

  std::mutex mu_;
  std::array<BarState, 2> state_;  // under mu_
  Bar mem_{*this, 0}, io_{*this, 1};
  Membar membar_;
};

}  // namespace orrery::hw::pci
