// AddressSpace as guest memory and as a bounded space (the x86 I/O-port space).
#include "hw/core/address_space.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

namespace orrery::hw {
namespace {

// A byte-wide port device (like a 16550's registers) that records its accesses.
class BytePorts final : public MmioDevice {
 public:
  MemResult read(uint64_t offset, unsigned size, uint64_t& value) override {
    reads.push_back(offset);
    value = 0x10 + offset;
    return MemResult::Ok;
  }
  MemResult write(uint64_t offset, unsigned size, uint64_t value) override {
    writes.emplace_back(offset, value);
    return MemResult::Ok;
  }
  AccessRules valid() const override { return {1, 4, true}; }
  AccessRules impl() const override { return {1, 1, false}; }
  std::vector<uint64_t> reads;
  std::vector<std::pair<uint64_t, uint64_t>> writes;
};

TEST(AddressSpace, DefaultSpaceIsTheWhole64BitRange) {
  AddressSpace as;
  EXPECT_EQ(as.size(), 0u);
  EXPECT_EQ(as.name(), "memory");
  EXPECT_EQ(as.add_ram("high", 0xffff'ffff'ffff'0000ull, 0x10000), "");
  uint64_t v = 0;
  EXPECT_EQ(as.write(0xffff'ffff'ffff'fff8ull, 8, 0x1122334455667788ull), MemResult::Ok);
  EXPECT_EQ(as.read(0xffff'ffff'ffff'fff8ull, 8, v), MemResult::Ok);
  EXPECT_EQ(v, 0x1122334455667788ull);
}

TEST(AddressSpace, IoPortSpaceRejectsRegionsPastItsEnd) {
  AddressSpace io("io", kIoPortSpaceSize);
  BytePorts dev;
  EXPECT_EQ(io.name(), "io");
  EXPECT_EQ(io.size(), 0x10000u);
  EXPECT_EQ(io.add_mmio("top", 0xfffc, 4, dev), "");
  EXPECT_NE(io.add_mmio("past", 0xfffe, 4, dev).find("outside io"), std::string::npos);
  EXPECT_NE(io.add_mmio("far", 0x10000, 1, dev).find("outside io"), std::string::npos);
  EXPECT_NE(io.add_ram("ram", 0x20000, 0x1000).find("outside io"), std::string::npos);
}

TEST(AddressSpace, IoPortAccessesSplitIntoByteRegisters) {
  AddressSpace io("io", kIoPortSpaceSize);
  BytePorts dev;
  ASSERT_EQ(io.add_mmio("com1", 0x3f8, 8, dev), "");
  uint64_t v = 0;
  // IN AX, DX at 0x3f9 reads ports 0x3f9 and 0x3fa, low byte first.
  EXPECT_EQ(io.read(0x3f9, 2, v), MemResult::Ok);
  EXPECT_EQ(v, 0x1211u);
  EXPECT_EQ(dev.reads, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(io.write(0x3f8, 4, 0x44332211), MemResult::Ok);
  ASSERT_EQ(dev.writes.size(), 4u);
  EXPECT_EQ(dev.writes[0], (std::pair<uint64_t, uint64_t>{0, 0x11}));
  EXPECT_EQ(dev.writes[3], (std::pair<uint64_t, uint64_t>{3, 0x44}));
}

TEST(AddressSpace, UnassignedAndOutOfRangePortsAreDecodeErrors) {
  AddressSpace io("io", kIoPortSpaceSize);
  BytePorts dev;
  ASSERT_EQ(io.add_mmio("top", 0xfff0, 0x10, dev), "");
  uint64_t v = 0;
  EXPECT_EQ(io.read(0x80, 1, v), MemResult::DecodeError);
  EXPECT_EQ(io.write(0x80, 1, 0), MemResult::DecodeError);
  EXPECT_EQ(io.read(0xffff, 1, v), MemResult::Ok);
  // A word or dword at the top of the space reaches past port 0xffff.
  EXPECT_EQ(io.read(0xffff, 2, v), MemResult::DecodeError);
  EXPECT_EQ(io.write(0xfffe, 4, 0), MemResult::DecodeError);
  EXPECT_EQ(io.read(0x10000, 1, v), MemResult::DecodeError);
  EXPECT_EQ(io.read(~0ull, 1, v), MemResult::DecodeError);
  EXPECT_EQ(dev.writes.size(), 0u);
}

TEST(AddressSpace, OneBackingSplitIntoTwoRegions) {
  std::string err;
  std::shared_ptr<RamBacking> b = RamBacking::anonymous(0x3000, err);
  ASSERT_TRUE(b) << err;
  AddressSpace as;
  ASSERT_EQ(as.add_ram("low", 0, b, 0, 0x1000), "");
  ASSERT_EQ(as.add_ram("high", 0x1'0000'0000ull, b, 0x1000, 0x2000), "");
  EXPECT_EQ(as.write(0x1'0000'0008ull, 4, 0xabcd1234), MemResult::Ok);
  uint32_t v = 0;
  std::memcpy(&v, b->host() + 0x1008, 4);
  EXPECT_EQ(v, 0xabcd1234u);
  EXPECT_EQ(as.find(0x1'0000'0000ull)->backing_offset, 0x1000u);
  uint64_t r = 0;
  EXPECT_EQ(as.read(0x1000, 1, r), MemResult::DecodeError);  // "low" is one page
  EXPECT_NE(as.add_ram("past", 0x10000, b, 0x2000, 0x2000).find("outside the memory backend"),
            std::string::npos);
  EXPECT_NE(as.add_ram("far", 0x20000, b, ~0ull, 1).find("outside the memory backend"),
            std::string::npos);
}

}  // namespace
}  // namespace orrery::hw
