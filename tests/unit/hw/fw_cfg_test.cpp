// fw_cfg: the port interface (selector, data, signature, ID, directory) and the DMA interface
// (read, skip, select, refused writes, bad addresses), through the I/O-port space as a guest
// reaches them.
#include "hw/misc/fw_cfg.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <string>
#include <vector>

#include "hw/core/address_space.h"
#include "hw/core/guest_memory.h"
#include "log_capture.h"

namespace orrery::hw {
namespace {

constexpr uint16_t kPort = 0x510, kDmaPort = 0x514;
constexpr uint64_t kRam = 0x100000;

class FwCfgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(mem.add_ram("ram", 0, kRam), "");
    ASSERT_EQ(io.add_mmio("fw_cfg", kPort, FwCfg::kIoSize, fw.io()), "");
    ASSERT_EQ(io.add_mmio("fw_cfg-dma", kDmaPort, FwCfg::kDmaSize, fw.dma()), "");
  }
  void select(uint16_t key) { ASSERT_EQ(io.write(kPort, 2, key), MemResult::Ok); }
  std::vector<uint8_t> data(size_t n) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i < n; ++i) {
      uint64_t v = 0xff;
      EXPECT_EQ(io.read(kPort + 1, 1, v), MemResult::Ok);
      out.push_back(uint8_t(v));
    }
    return out;
  }
  /// Writes an FWCfgDmaAccess at at and starts it as SeaBIOS does (two big-endian OUTLs).
  uint32_t dma(uint64_t at, uint32_t control, uint32_t length, uint64_t addr) {
    uint8_t a[16];
    for (int i = 0; i < 4; ++i) a[i] = uint8_t(control >> (24 - 8 * i));
    for (int i = 0; i < 4; ++i) a[4 + i] = uint8_t(length >> (24 - 8 * i));
    for (int i = 0; i < 8; ++i) a[8 + i] = uint8_t(addr >> (56 - 8 * i));
    if (at < kRam) {
      EXPECT_TRUE(mem.write_bytes(at, a, 16));
    }
    EXPECT_EQ(io.write(kDmaPort, 4, __builtin_bswap32(uint32_t(at >> 32))), MemResult::Ok);
    EXPECT_EQ(io.write(kDmaPort + 4, 4, __builtin_bswap32(uint32_t(at))), MemResult::Ok);
    uint8_t c[4] = {};
    if (at < kRam) {
      EXPECT_TRUE(mem.read_bytes(at, c, 4));
    }
    return uint32_t(c[0]) << 24 | c[1] << 16 | c[2] << 8 | c[3];
  }
  std::vector<uint8_t> ram(uint64_t at, size_t n) {
    std::vector<uint8_t> v(n);
    EXPECT_TRUE(mem.read_bytes(at, v.data(), n));
    return v;
  }

  Log log;
  AddressSpace mem;
  AddressSpace io{"io", kIoPortSpaceSize};
  FwCfg fw{mem, log};
};

TEST_F(FwCfgTest, SignatureAndIdWithDma) {
  select(FwCfg::kSignature);
  EXPECT_EQ(data(4), (std::vector<uint8_t>{'Q', 'E', 'M', 'U'}));
  EXPECT_EQ(data(2), (std::vector<uint8_t>{0, 0}));  // past the end: zeros
  select(FwCfg::kId);
  EXPECT_EQ(data(4), (std::vector<uint8_t>{3, 0, 0, 0}));  // traditional | DMA
  // Reselecting restarts at offset 0.
  select(FwCfg::kSignature);
  EXPECT_EQ(data(1), (std::vector<uint8_t>{'Q'}));
  // The DMA register reads back "QEMU CFG" byte by byte.
  std::string sig;
  for (int i = 0; i < 8; ++i) {
    uint64_t v = 0;
    EXPECT_EQ(io.read(kDmaPort + i, 1, v), MemResult::Ok);
    sig += char(v);
  }
  EXPECT_EQ(sig, "QEMU CFG");
}

TEST_F(FwCfgTest, IntegerItemsAreLittleEndianAndUnknownKeysReadZero) {
  fw.add_u64(FwCfg::kRamSize, 0x0123456789abcdefull);
  fw.add_u16(FwCfg::kNbCpus, 2);
  select(FwCfg::kRamSize);
  EXPECT_EQ(data(8), (std::vector<uint8_t>{0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01}));
  select(FwCfg::kNbCpus | FwCfg::kWriteBit);  // the write bit is ignored
  EXPECT_EQ(data(2), (std::vector<uint8_t>{2, 0}));
  select(0x1234);
  EXPECT_EQ(data(2), (std::vector<uint8_t>{0, 0}));
}

TEST_F(FwCfgTest, DirectoryIsBigEndianAndSortedByName) {
  ASSERT_EQ(fw.add_file("etc/zeta", {1, 2, 3}), "");
  ASSERT_EQ(fw.add_file("bootorder", {}), "");
  EXPECT_NE(fw.add_file("bootorder", {}), "");
  EXPECT_NE(fw.add_file(std::string(56, 'x'), {}), "");
  select(FwCfg::kFileDir);
  std::vector<uint8_t> d = data(4 + 2 * 64);
  EXPECT_EQ(d[3], 2);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(&d[4 + 8])), "bootorder");
  EXPECT_EQ(d[4 + 4], 0x00);
  EXPECT_EQ(d[4 + 5], 0x20);  // key 0x0020, big-endian
  EXPECT_EQ(std::string(reinterpret_cast<char*>(&d[4 + 64 + 8])), "etc/zeta");
  EXPECT_EQ(d[4 + 64 + 3], 3);  // size, big-endian
  EXPECT_EQ(d[4 + 64 + 5], 0x21);
  EXPECT_EQ(fw.file_key("etc/zeta"), 0x21);
  select(0x21);
  EXPECT_EQ(data(3), (std::vector<uint8_t>{1, 2, 3}));
}

TEST_F(FwCfgTest, DmaSelectReadSkipAndZerosPastTheEnd) {
  ASSERT_EQ(fw.add_file("etc/f", {10, 11, 12, 13, 14, 15}), "");
  const uint16_t key = fw.file_key("etc/f");
  EXPECT_EQ(dma(0x1000, uint32_t(key) << 16 | FwCfg::kDmaSelect | FwCfg::kDmaRead, 2, 0x2000), 0u);
  EXPECT_EQ(ram(0x2000, 2), (std::vector<uint8_t>{10, 11}));
  EXPECT_EQ(dma(0x1000, FwCfg::kDmaSkip, 2, 0), 0u);
  std::vector<uint8_t> ff(6, 0xff);
  ASSERT_TRUE(mem.write_bytes(0x3000, ff.data(), ff.size()));
  EXPECT_EQ(dma(0x1000, FwCfg::kDmaRead, 6, 0x3000), 0u);
  EXPECT_EQ(ram(0x3000, 6), (std::vector<uint8_t>{14, 15, 0, 0, 0, 0}));
  // The port interface continues where DMA stopped (past the end here).
  EXPECT_EQ(data(1), (std::vector<uint8_t>{0}));
}

TEST_F(FwCfgTest, DmaWithOnlyTheLowHalfWrittenUsesThatAddress) {
  // SeaBIOS writes only the low half: each transfer must start from address 0, not OR the
  // new low half into the previous one.
  ASSERT_EQ(fw.add_file("etc/f", {1, 2, 3, 4}), "");
  const uint16_t key = fw.file_key("etc/f");
  auto start_low = [&](uint64_t at, uint32_t control, uint32_t length, uint64_t addr) {
    uint8_t a[16];
    for (int i = 0; i < 4; ++i) a[i] = uint8_t(control >> (24 - 8 * i));
    for (int i = 0; i < 4; ++i) a[4 + i] = uint8_t(length >> (24 - 8 * i));
    for (int i = 0; i < 8; ++i) a[8 + i] = uint8_t(addr >> (56 - 8 * i));
    ASSERT_TRUE(mem.write_bytes(at, a, 16));
    ASSERT_EQ(io.write(kDmaPort + 4, 4, __builtin_bswap32(uint32_t(at))), MemResult::Ok);
  };
  start_low(0x1010, uint32_t(key) << 16 | FwCfg::kDmaSelect | FwCfg::kDmaRead, 2, 0x2000);
  EXPECT_EQ(ram(0x1010, 4), (std::vector<uint8_t>{0, 0, 0, 0}));
  start_low(0x1100, FwCfg::kDmaRead, 2, 0x2002);
  EXPECT_EQ(ram(0x1100, 4), (std::vector<uint8_t>{0, 0, 0, 0}));  // done, not 0x1110's
  EXPECT_EQ(ram(0x2000, 4), (std::vector<uint8_t>{1, 2, 3, 4}));
}

TEST_F(FwCfgTest, DmaWritesAreRefusedAndBadAddressesSetTheErrorBit) {
  test::LogCapture cap(log, "guest_errors");
  ASSERT_TRUE(cap.ok());
  ASSERT_EQ(fw.add_file("etc/f", {1, 2, 3, 4}), "");
  const uint16_t key = fw.file_key("etc/f");
  EXPECT_EQ(dma(0x1000, uint32_t(key) << 16 | FwCfg::kDmaSelect | FwCfg::kDmaWrite, 4, 0x2000),
            FwCfg::kDmaError);
  select(key);
  EXPECT_EQ(data(4), (std::vector<uint8_t>{1, 2, 3, 4}));  // unchanged
  // A target outside RAM, one that wraps, and one that runs off the end of RAM.
  EXPECT_EQ(dma(0x1000, uint32_t(key) << 16 | FwCfg::kDmaSelect | FwCfg::kDmaRead, 4, 1ull << 40),
            FwCfg::kDmaError);
  EXPECT_EQ(dma(0x1000, uint32_t(key) << 16 | FwCfg::kDmaSelect | FwCfg::kDmaRead, 4, ~0ull - 1),
            FwCfg::kDmaError);
  EXPECT_EQ(
      dma(0x1000, uint32_t(key) << 16 | FwCfg::kDmaSelect | FwCfg::kDmaRead, 0xffffffff, kRam - 16),
      FwCfg::kDmaError);
  // The access structure itself outside RAM: nothing to report to, nothing breaks.
  dma(1ull << 40, FwCfg::kDmaRead, 4, 0x2000);
  dma(~0ull - 3, FwCfg::kDmaRead, 4, 0x2000);
  EXPECT_NE(cap.take().find("fw_cfg: DMA"), std::string::npos);
}

TEST_F(FwCfgTest, ResetDeselects) {
  select(FwCfg::kSignature);
  EXPECT_EQ(data(1), (std::vector<uint8_t>{'Q'}));
  fw.reset();
  EXPECT_EQ(data(1), (std::vector<uint8_t>{0}));
}

TEST_F(FwCfgTest, BadPortAccessesAreIgnored) {
  uint64_t v = 5;
  EXPECT_EQ(io.read(kPort, 2, v), MemResult::Ok);
  EXPECT_EQ(v, 0u);
  EXPECT_EQ(io.write(kPort + 1, 1, 0x55), MemResult::Ok);  // data writes: ignored
  select(FwCfg::kSignature);
  EXPECT_EQ(data(1), (std::vector<uint8_t>{'Q'}));
}

}  // namespace
}  // namespace orrery::hw
