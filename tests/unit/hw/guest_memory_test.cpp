// GuestMemory: the bounds-checked DMA API devices use.
#include "hw/core/guest_memory.h"

#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <numeric>

namespace orrery::hw {
namespace {

class NullDevice : public MmioDevice {
 public:
  MemResult read(uint64_t, unsigned, uint64_t& v) override {
    v = 0;
    return MemResult::Ok;
  }
  MemResult write(uint64_t, unsigned, uint64_t) override { return MemResult::Ok; }
};

class Observer : public GuestWriteObserver {
 public:
  void guest_memory_written(uint64_t addr, uint64_t len) override { writes.push_back({addr, len}); }
  std::vector<GuestRange> writes;
};

class GuestMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Two adjacent RAM regions (separate host mappings), ROM, then a hole and MMIO.
    ASSERT_EQ(as.add_ram("ram0", 0x1000, 0x1000), "");
    ASSERT_EQ(as.add_ram("ram1", 0x2000, 0x1000), "");
    ASSERT_EQ(as.add_rom("rom", 0x3000, 0x1000), "");
    ASSERT_EQ(as.add_mmio("dev", 0x5000, 0x1000, dev), "");
    as.set_write_observer(&obs);
  }
  AddressSpace as;
  NullDevice dev;
  Observer obs;
  GuestMemory mem{as};
};

TEST_F(GuestMemoryTest, ReadAndWriteCrossRegions) {
  std::vector<uint8_t> in(0x100);
  std::iota(in.begin(), in.end(), 0);
  ASSERT_TRUE(mem.write(0x1f80, in));
  std::vector<uint8_t> out(0x100);
  ASSERT_TRUE(mem.read(0x1f80, out));
  EXPECT_EQ(in, out);
  // The bytes really landed in both host mappings.
  EXPECT_EQ(as.host_ptr(0x1fff, 1)[0], 0x7f);
  EXPECT_EQ(as.host_ptr(0x2000, 1)[0], 0x80);
  ASSERT_EQ(obs.writes.size(), 1u);
  EXPECT_EQ(obs.writes[0].addr, 0x1f80u);
  EXPECT_EQ(obs.writes[0].len, 0x100u);
}

TEST_F(GuestMemoryTest, RejectsRangesOutsideRamWithoutPartialEffect) {
  std::vector<uint8_t> buf(0x20, 0xaa);
  // Runs from RAM into ROM: writes refused as a whole.
  EXPECT_FALSE(mem.write(0x2ff0, buf));
  EXPECT_EQ(as.host_ptr(0x2ff0, 1)[0], 0);
  EXPECT_TRUE(obs.writes.empty());
  // Reads may include ROM but not holes or MMIO.
  EXPECT_TRUE(mem.read(0x2ff0, buf));
  EXPECT_FALSE(mem.read(0x3ff0, buf));  // into the hole
  EXPECT_FALSE(mem.read(0x5000, buf));  // MMIO is not DMA-able
  EXPECT_FALSE(mem.read(0x0, buf));     // below RAM
}

TEST_F(GuestMemoryTest, RejectsWrappingRanges) {
  std::vector<iovec> v;
  EXPECT_FALSE(mem.map(~0ull - 4, 16, false, v));
  EXPECT_FALSE(mem.map(0x1000, ~0ull, false, v));
  EXPECT_TRUE(v.empty());
}

TEST_F(GuestMemoryTest, MapGivesOneIovecPerRegion) {
  std::vector<iovec> v;
  ASSERT_TRUE(mem.map(0x1800, 0x1000, true, v));
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].iov_base, as.host_ptr(0x1800, 1));
  EXPECT_EQ(v[0].iov_len, 0x800u);
  EXPECT_EQ(v[1].iov_base, as.host_ptr(0x2000, 1));
  EXPECT_EQ(v[1].iov_len, 0x800u);
  // ROM maps for reading only.
  v.clear();
  EXPECT_TRUE(mem.map(0x3000, 0x10, false, v));
  EXPECT_FALSE(mem.map(0x3000, 0x10, true, v));
  EXPECT_EQ(v.size(), 1u);
}

TEST_F(GuestMemoryTest, ScalarsAreLittleEndianAndChecked) {
  ASSERT_TRUE(mem.store<uint32_t>(0x1ffe, 0x11223344));
  uint16_t lo = 0;
  ASSERT_TRUE(mem.load(0x1ffe, lo));
  EXPECT_EQ(lo, 0x3344);
  uint64_t v = 0;
  EXPECT_FALSE(mem.load(0x3ffc, v));
}

}  // namespace
}  // namespace orrery::hw

namespace orrery::hw {
namespace {

// RAM on a shared memfd is the same memory another process maps from the fd (vhost-user).
TEST(RamBackingTest, SharedMemfdIsVisibleThroughTheFd) {
  std::string err;
  std::shared_ptr<RamBacking> b = RamBacking::memfd("test-ram", 1 << 20, true, err);
  ASSERT_TRUE(b) << err;
  ASSERT_GE(b->fd(), 0);
  AddressSpace as;
  ASSERT_EQ(as.add_ram("ram", 0x40000000, b), "");
  EXPECT_EQ(as.find(0x40000000)->backing, b.get());
  GuestMemory mem(as);
  ASSERT_TRUE(mem.store<uint32_t>(0x40000000 + 0x1234, 0xfeedf00d));
  void* other = mmap(nullptr, 1 << 20, PROT_READ, MAP_SHARED, b->fd(), 0);
  ASSERT_NE(other, MAP_FAILED);
  uint32_t seen = 0;
  std::memcpy(&seen, static_cast<uint8_t*>(other) + 0x1234, 4);
  EXPECT_EQ(seen, 0xfeedf00du);
  munmap(other, 1 << 20);
}

TEST(RamBackingTest, PrivateMemfdDoesNotWriteThrough) {
  std::string err;
  std::shared_ptr<RamBacking> b = RamBacking::memfd("test-ram", 1 << 16, false, err);
  ASSERT_TRUE(b) << err;
  b->host()[5] = 42;
  uint8_t byte = 0;
  ASSERT_EQ(pread(b->fd(), &byte, 1, 5), 1);
  EXPECT_EQ(byte, 0);
}

}  // namespace
}  // namespace orrery::hw
