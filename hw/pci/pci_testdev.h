// QEMU's pci-testdev (1b36:0005, docs/specs/pci-testdev.rst): BAR 0 (memory) and BAR 1 (I/O)
// each start with a header that describes test N after the guest writes N to byte 0: the width,
// offset and data of the access the test expects, a count of matching writes, and a name.
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

  PciTestdev(const AddressSpace& as, Log& log, std::string name);
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

  std::mutex mu_;
  std::array<BarState, 2> state_;  // under mu_
  Bar mem_{*this, 0}, io_{*this, 1};
};

}  // namespace orrery::hw::pci
