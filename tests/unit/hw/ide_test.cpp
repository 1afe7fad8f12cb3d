// The PIIX3 IDE function as a guest drives it through its legacy ports and bus-master BAR, on
// image files made here: IDENTIFY contents, signatures and soft reset, PIO reads and writes
// (LBA28, LBA48, CHS, MULTIPLE), range errors, bus-master DMA in both directions (and a PRD table
// too short), FLUSH CACHE, and an ATAPI CD-ROM (IDENTIFY PACKET DEVICE, READ(10) in PIO and DMA,
// sense after a bad LBA, READ CAPACITY, INQUIRY, READ TOC, locking).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "hw/block/backend.h"
#include "hw/core/address_space.h"
#include "hw/ide/piix_ide.h"
#include "hw/pci/pci_bus.h"

namespace orrery::hw::ide {
namespace {

constexpr uint16_t kBm = 0xc000;
constexpr uint64_t kDiskSectors = 2048;  // 1 MiB
constexpr uint64_t kCdBlocks = 4;

class Sink : public IrqSink {
 public:
  void set_irq(unsigned line, bool level) override { levels[line] = level; }
  bool levels[16] = {};
};

uint8_t pattern(uint64_t offset) {
  return uint8_t(offset * 7 + (offset >> 9) * 13 + 1);
}

class IdeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    disk_path_ = make_image("disk", kDiskSectors * 512);
    cd_path_ = make_image("cd", kCdBlocks * 2048);
    ASSERT_EQ(mem.add_ram("ram", 0, 1 << 20), "");
    ASSERT_EQ(io.root().add_subregion(bus.io_window(), kBm), "");
    ASSERT_EQ(io.add_mmio("ide0", 0x1f0, 8, ide.channel(0).command_block()), "");
    ASSERT_EQ(io.add_mmio("ide0-ctl", 0x3f6, 1, ide.channel(0).control_block()), "");
    ASSERT_EQ(io.add_mmio("ide1", 0x170, 8, ide.channel(1).command_block()), "");
    ASSERT_EQ(io.add_mmio("ide1-ctl", 0x376, 1, ide.channel(1).control_block()), "");
    ASSERT_EQ(bus.plug(ide, pci::pci_devfn(1, 1)), "");
    ide.channel(0).irq().connect(sink, 14);
    ide.channel(1).irq().connect(sink, 15);
    disk = open(disk_path_, false);
    cd = open(cd_path_, true);
    ASSERT_EQ(ide.channel(0).attach(0, disk, IdeMedia::Disk, "QM00001"), "");
    ASSERT_EQ(ide.channel(1).attach(0, cd, IdeMedia::Cdrom, "QM00003"), "");
    // Firmware's part: BAR 4, I/O decode and bus mastering.
    bus.config_write(ide.devfn(), 0x20, 4, kBm);
    bus.config_write(ide.devfn(), 0x04, 2, 0x0005);
  }
  void TearDown() override {
    unlink(disk_path_.c_str());
    unlink(cd_path_.c_str());
  }
  std::string make_image(const char* name, uint64_t size) {
    std::string path = std::string("/tmp/orrery-ide-") + name + "-XXXXXX";
    int fd = mkstemp(path.data());
    EXPECT_GE(fd, 0);
    std::vector<uint8_t> b(size);
    for (uint64_t i = 0; i < size; ++i) b[i] = pattern(i);
    EXPECT_EQ(write(fd, b.data(), b.size()), ssize_t(size));
    close(fd);
    return path;
  }
  std::shared_ptr<block::BlockBackend> open(const std::string& path, bool ro) {
    block::DriveOptions o;
    o.file = path;
    o.format = block::ImageFormat::kRaw;
    o.read_only = ro;
    std::vector<std::string> warnings;
    auto b = block::open_drive(o, warnings);
    EXPECT_TRUE(b.ok()) << b.status().message;
    return std::shared_ptr<block::BlockBackend>(std::move(b.value()));
  }
  std::vector<uint8_t> file_bytes(const std::string& path, uint64_t off, size_t len) {
    std::ifstream f(path, std::ios::binary);
    f.seekg(std::streamoff(off));
    std::vector<uint8_t> b(len);
    f.read(reinterpret_cast<char*>(b.data()), std::streamsize(len));
    return b;
  }
  uint32_t in(uint16_t port, unsigned size = 1) {
    uint64_t v = 0;
    EXPECT_EQ(io.read(port, size, v), MemResult::Ok);
    return uint32_t(v);
  }
  void out(uint16_t port, uint32_t v, unsigned size = 1) {
    EXPECT_EQ(io.write(port, size, v), MemResult::Ok);
  }
  /// Waits for the channel's medium request, then reads the alternate status.
  uint8_t settle(unsigned ch = 0) {
    ide.channel(ch).wait_idle();
    return uint8_t(in(ch ? 0x376 : 0x3f6));
  }
  void lba28(uint16_t base, uint32_t lba, uint8_t count) {
    out(base + 2, count);
    out(base + 3, lba & 0xff);
    out(base + 4, (lba >> 8) & 0xff);
    out(base + 5, (lba >> 16) & 0xff);
    out(base + 6, 0xe0 | ((lba >> 24) & 0x0f));
  }
  std::vector<uint8_t> pio_in(uint16_t base, size_t bytes) {
    std::vector<uint8_t> b(bytes);
    for (size_t i = 0; i < bytes; i += 2) {
      const uint16_t w = uint16_t(in(base, 2));
      b[i] = uint8_t(w);
      b[i + 1] = uint8_t(w >> 8);
    }
    return b;
  }
  void put_prd(uint32_t at, uint32_t addr, uint32_t len, bool eot) {
    ASSERT_EQ(mem.write(at, 4, addr), MemResult::Ok);
    ASSERT_EQ(mem.write(at + 4, 4, (len & 0xffff) | (eot ? 0x80000000u : 0)), MemResult::Ok);
  }

  Log log;
  AddressSpace mem;
  AddressSpace io{"io", kIoPortSpaceSize};
  pci::PciBus bus{log, 0x80000000, 0x10000000, 0x1000, kBm};
  Sink sink;
  std::shared_ptr<block::BlockBackend> disk, cd;
  PiixIde ide{mem, log};
  std::string disk_path_, cd_path_;
};

TEST_F(IdeTest, ConfigurationSpace) {
  EXPECT_EQ(bus.config_read(ide.devfn(), 0, 4), 0x70108086u);
  EXPECT_EQ(bus.config_read(ide.devfn(), 8, 4), 0x01018000u);
  bus.config_write(ide.devfn(), 0x20, 4, 0xffffffff);
  EXPECT_EQ(bus.config_read(ide.devfn(), 0x20, 4), 0xfffffff1u);  // 16 ports
  bus.config_write(ide.devfn(), 0x20, 4, kBm);
}

TEST_F(IdeTest, SignaturesIdentifyAndInterrupt) {
  EXPECT_EQ(in(0x1f7), 0x50u);
  EXPECT_EQ(in(0x1f2), 1u);
  EXPECT_EQ(in(0x1f3), 1u);
  EXPECT_EQ(in(0x1f4), 0u);
  // The CD-ROM's ATAPI signature.
  EXPECT_EQ(in(0x174), 0x14u);
  EXPECT_EQ(in(0x175), 0xebu);
  // Slave absent on a channel with a master: status reads 0.
  out(0x1f6, 0xb0);
  EXPECT_EQ(in(0x1f7), 0u);
  out(0x1f6, 0xa0);
  out(0x1f7, 0xec);
  EXPECT_EQ(settle(), 0x58u);
  EXPECT_TRUE(sink.levels[14]);
  std::vector<uint8_t> id = pio_in(0x1f0, 512);
  EXPECT_EQ(in(0x1f7), 0x50u);  // status read acknowledges the interrupt
  EXPECT_FALSE(sink.levels[14]);
  auto word = [&](unsigned w) { return uint16_t(id[2 * w] | id[2 * w + 1] << 8); };
  auto str = [&](unsigned w, unsigned n) {
    std::string s;
    for (unsigned i = 0; i < n; ++i) {
      s += char(id[2 * (w + i) + 1]);
      s += char(id[2 * (w + i)]);
    }
    return s.substr(0, s.find_last_not_of(' ') + 1);
  };
  EXPECT_EQ(word(0), 0x0040u);
  EXPECT_EQ(word(1), 2u);  // 2048 / (16 * 63) cylinders
  EXPECT_EQ(word(3), 16u);
  EXPECT_EQ(word(6), 63u);
  EXPECT_EQ(str(10, 10), "QM00001");
  EXPECT_EQ(str(23, 4), "2.5+");
  EXPECT_EQ(str(27, 20), "QEMU HARDDISK");
  EXPECT_EQ(word(47), 0x8010u);
  EXPECT_EQ(word(49) & 0x0300, 0x0300u);  // LBA, DMA
  EXPECT_EQ(word(60) | word(61) << 16, kDiskSectors);
  EXPECT_TRUE(word(83) & (1 << 10));  // LBA48
  EXPECT_TRUE(word(83) & (1 << 12));  // FLUSH CACHE
  EXPECT_EQ(word(100) | word(101) << 16, kDiskSectors);
  // A data read with nothing to transfer reads 0.
  EXPECT_EQ(in(0x1f0, 2), 0u);
}

TEST_F(IdeTest, PioReadWriteLba28Lba48ChsAndMultiple) {
  // WRITE SECTORS: 2 sectors at LBA 5, one DRQ block each.
  lba28(0x1f0, 5, 2);
  out(0x1f7, 0x30);
  EXPECT_EQ(in(0x3f6), 0x58u);
  for (int blk = 0; blk < 2; ++blk) {
    for (int i = 0; i < 256; ++i) out(0x1f0, uint32_t(0xa000 + blk * 256 + i), 2);
    EXPECT_EQ(settle(), blk == 0 ? 0x58u : 0x50u);
    EXPECT_TRUE(sink.levels[14]);
    in(0x1f7);
  }
  std::vector<uint8_t> f = file_bytes(disk_path_, 5 * 512, 1024);
  EXPECT_EQ(f[0], 0x00);
  EXPECT_EQ(f[1], 0xa0);
  EXPECT_EQ(f[512 + 2 * 3], 0x03);
  EXPECT_EQ(f[512 + 2 * 3 + 1], 0xa1);
  // READ SECTORS back, 32-bit data accesses.
  lba28(0x1f0, 5, 2);
  out(0x1f7, 0x20);
  EXPECT_EQ(settle(), 0x58u);
  std::vector<uint8_t> got;
  for (int blk = 0; blk < 2; ++blk) {
    EXPECT_EQ(in(0x1f7), 0x58u);
    for (int i = 0; i < 128; ++i) {
      const uint32_t v = in(0x1f0, 4);
      for (int k = 0; k < 4; ++k) got.push_back(uint8_t(v >> (8 * k)));
    }
  }
  EXPECT_EQ(in(0x1f7), 0x50u);
  EXPECT_EQ(got, f);
  EXPECT_EQ(in(0x1f2), 0u);
  EXPECT_EQ(in(0x1f3), 7u);
  // READ SECTORS EXT (LBA48): count and LBA through the HOB registers.
  out(0x1f2, 0);
  out(0x1f2, 1);
  for (uint16_t r : {0x1f3, 0x1f4, 0x1f5}) out(r, 0);
  out(0x1f3, 100);
  out(0x1f4, 0);
  out(0x1f5, 0);
  out(0x1f6, 0x40);
  out(0x1f7, 0x24);
  EXPECT_EQ(settle(), 0x58u);
  EXPECT_EQ(pio_in(0x1f0, 512), file_bytes(disk_path_, 100 * 512, 512));
  // HOB reads back the previous byte.
  out(0x3f6, 0x80);
  EXPECT_EQ(in(0x1f2), 0u);
  out(0x3f6, 0x00);
  // CHS: cylinder 1, head 2, sector 3 = (1 * 16 + 2) * 63 + 2.
  out(0x1f2, 1);
  out(0x1f3, 3);
  out(0x1f4, 1);
  out(0x1f5, 0);
  out(0x1f6, 0xa2);
  out(0x1f7, 0x20);
  settle();
  EXPECT_EQ(pio_in(0x1f0, 512), file_bytes(disk_path_, ((16 + 2) * 63 + 2) * 512, 512));
  // The task file followed the transfer (as QEMU's): count 0, the next sector's address.
  EXPECT_EQ(in(0x1f2), 0u);
  EXPECT_EQ(in(0x1f3), uint32_t(((16 + 2) * 63 + 3) % 63 + 1));
  // READ MULTIPLE with multiple mode off (SET MULTIPLE 0; it comes up at 16) aborts; with 4,
  // 8 sectors come in two DRQ blocks.
  out(0x1f2, 0);
  out(0x1f7, 0xc6);
  EXPECT_EQ(settle(), 0x50u);
  lba28(0x1f0, 0, 8);
  out(0x1f7, 0xc4);
  EXPECT_EQ(settle(), 0x51u);
  EXPECT_EQ(in(0x1f1), 0x04u);
  out(0x1f2, 3);
  out(0x1f7, 0xc6);  // not a power of two
  EXPECT_EQ(settle(), 0x51u);
  out(0x1f2, 4);
  out(0x1f7, 0xc6);
  EXPECT_EQ(settle(), 0x50u);
  lba28(0x1f0, 0, 8);
  out(0x1f7, 0xc4);
  EXPECT_EQ(settle(), 0x58u);
  in(0x1f7);
  EXPECT_EQ(pio_in(0x1f0, 2048), file_bytes(disk_path_, 0, 2048));
  EXPECT_TRUE(sink.levels[14]);  // the second block's interrupt
  EXPECT_EQ(in(0x1f7), 0x58u);
  EXPECT_EQ(pio_in(0x1f0, 2048), file_bytes(disk_path_, 2048, 2048));
  EXPECT_EQ(in(0x1f7), 0x50u);
}

TEST_F(IdeTest, OutOfRangeAndUnknownCommandsFail) {
  lba28(0x1f0, kDiskSectors - 1, 2);
  out(0x1f7, 0x20);
  EXPECT_EQ(settle(), 0x51u);
  EXPECT_EQ(in(0x1f1), 0x14u);  // IDNF | ABRT
  EXPECT_TRUE(sink.levels[14]);
  in(0x1f7);
  out(0x1f7, 0x5f);  // not a command
  EXPECT_EQ(settle(), 0x51u);
  EXPECT_EQ(in(0x1f1), 0x04u);
  // A CD-ROM aborts IDENTIFY DEVICE with its signature in place.
  out(0x177, 0xec);
  EXPECT_EQ(settle(1), 0x41u);
  EXPECT_EQ(in(0x174), 0x14u);
  EXPECT_EQ(in(0x175), 0xebu);
}

TEST_F(IdeTest, DmaWriteAndReadThroughPrds) {
  // Guest buffers at 0x2000 (512 bytes) and 0x3000 (512 bytes); PRD table at 0x1000.
  for (uint32_t i = 0; i < 512; ++i) {
    ASSERT_EQ(mem.write(0x2000 + i, 1, uint8_t(i ^ 0x5a)), MemResult::Ok);
    ASSERT_EQ(mem.write(0x3000 + i, 1, uint8_t(i ^ 0xa5)), MemResult::Ok);
  }
  put_prd(0x1000, 0x2000, 512, false);
  put_prd(0x1008, 0x3000, 512, true);
  out(kBm + 4, 0x1000, 4);
  lba28(0x1f0, 10, 2);
  out(0x1f7, 0xca);    // WRITE DMA
  out(kBm + 0, 0x01);  // start, from memory
  EXPECT_EQ(settle(), 0x50u);
  EXPECT_EQ(in(kBm + 2), 0x04u);  // interrupt, no longer active
  EXPECT_TRUE(sink.levels[14]);
  std::vector<uint8_t> f = file_bytes(disk_path_, 10 * 512, 1024);
  EXPECT_EQ(f[0], 0x5a);
  EXPECT_EQ(f[511], uint8_t(511 ^ 0x5a));
  EXPECT_EQ(f[512], 0xa5);
  out(kBm + 0, 0x00);
  out(kBm + 2, 0x04);  // write 1 to clear
  EXPECT_EQ(in(kBm + 2), 0x00u);
  in(0x1f7);
  // READ DMA EXT of sectors 200-201 into one 1 KiB buffer; the bus master may start first.
  put_prd(0x1000, 0x4000, 1024, true);
  out(kBm + 0, 0x09);  // start, to memory
  out(0x1f2, 0);
  out(0x1f2, 2);
  out(0x1f3, 0);
  out(0x1f3, 200);
  out(0x1f4, 0);
  out(0x1f4, 0);
  out(0x1f5, 0);
  out(0x1f5, 0);
  out(0x1f6, 0x40);
  out(0x1f7, 0x25);
  EXPECT_EQ(settle(), 0x50u);
  EXPECT_EQ(in(kBm + 2), 0x04u);
  std::vector<uint8_t> got(1024);
  ASSERT_TRUE(mem.read_bytes(0x4000, got.data(), got.size()));
  EXPECT_EQ(got, file_bytes(disk_path_, 200 * 512, 1024));
  out(kBm + 0, 0x08);
  out(kBm + 2, 0x04);
  // A PRD table shorter than the transfer: the bus master reports an error, the drive aborts.
  put_prd(0x1000, 0x4000, 512, true);
  lba28(0x1f0, 0, 2);
  out(0x1f7, 0xc8);
  out(kBm + 0, 0x09);
  EXPECT_EQ(settle(), 0x51u);
  EXPECT_EQ(in(kBm + 2) & 0x03, 0x02u);
  out(kBm + 0, 0x08);
  // A PRD pointing outside RAM fails the same way, without touching anything.
  out(kBm + 2, 0x06);
  put_prd(0x1000, 0xfff00000u, 512, true);
  lba28(0x1f0, 0, 1);
  out(0x1f7, 0xc8);
  out(kBm + 0, 0x09);
  EXPECT_EQ(settle(), 0x51u);
  EXPECT_EQ(in(kBm + 2) & 0x02, 0x02u);
}

TEST_F(IdeTest, FlushCacheAndSetFeatures) {
  out(0x1f7, 0xe7);
  EXPECT_EQ(settle(), 0x50u);
  EXPECT_TRUE(sink.levels[14]);
  in(0x1f7);
  out(0x1f7, 0xea);
  EXPECT_EQ(settle(), 0x50u);
  // Transfer mode UDMA 2 shows in IDENTIFY word 88; write cache off shows in word 85.
  out(0x1f1, 0x03);
  out(0x1f2, 0x42);
  out(0x1f7, 0xef);
  EXPECT_EQ(settle(), 0x50u);
  out(0x1f1, 0x82);
  out(0x1f7, 0xef);
  EXPECT_EQ(settle(), 0x50u);
  out(0x1f7, 0xec);
  settle();
  std::vector<uint8_t> id = pio_in(0x1f0, 512);
  EXPECT_EQ(id[88 * 2 + 1], 0x04u);
  EXPECT_EQ(id[85 * 2] & 0x20, 0u);
  // With the write cache off, a write completes after its flush.
  lba28(0x1f0, 1, 1);
  out(0x1f7, 0x30);
  for (int i = 0; i < 256; ++i) out(0x1f0, 0x1234, 2);
  EXPECT_EQ(settle(), 0x50u);
  EXPECT_EQ(file_bytes(disk_path_, 512, 2), (std::vector<uint8_t>{0x34, 0x12}));
  out(0x1f1, 0x77);  // unknown feature
  out(0x1f7, 0xef);
  EXPECT_EQ(settle(), 0x51u);
}

TEST_F(IdeTest, SoftResetAndDiagnostics) {
  lba28(0x1f0, 0, 1);
  out(0x1f7, 0x20);
  settle();
  EXPECT_EQ(in(0x3f6), 0x58u);
  out(0x3f6, 0x04);  // SRST: the transfer is abandoned
  EXPECT_EQ(in(0x3f6), 0x80u);
  out(0x3f6, 0x00);
  EXPECT_EQ(in(0x1f7), 0x50u);
  EXPECT_EQ(in(0x1f1), 0x01u);
  EXPECT_EQ(in(0x1f2), 0x01u);
  EXPECT_EQ(in(0x1f0, 2), 0u);
  out(0x1f2, 0x33);
  out(0x1f7, 0x90);
  EXPECT_EQ(settle(), 0x50u);
  EXPECT_EQ(in(0x1f1), 0x01u);
  EXPECT_EQ(in(0x1f2), 0x01u);
  // nIEN masks INTRQ.
  out(0x3f6, 0x02);
  out(0x1f7, 0xe7);
  settle();
  EXPECT_FALSE(sink.levels[14]);
  out(0x3f6, 0x00);
  EXPECT_TRUE(sink.levels[14]);
}

TEST_F(IdeTest, ReadVerifyAndAbsentSlave) {
  lba28(0x1f0, 7, 4);
  out(0x1f7, 0x40);
  EXPECT_EQ(settle(), 0x50u);
  EXPECT_TRUE(sink.levels[14]);
  EXPECT_EQ(in(0x1f0, 2), 0u);  // nothing transferred
  lba28(0x1f0, kDiskSectors, 1);
  out(0x1f7, 0x40);
  EXPECT_EQ(settle(), 0x51u);
  // A command to the absent slave is ignored: no interrupt, master's state untouched.
  in(0x1f7);
  out(0x1f6, 0xb0);
  out(0x1f7, 0xec);
  EXPECT_FALSE(sink.levels[14]);
  EXPECT_EQ(in(0x1f7), 0u);
}

TEST_F(IdeTest, HostileSweepNeverCrashesOrHangs) {
  // Random accesses to every port of both channels and the bus master, with PRD tables and
  // buffers anywhere (inside RAM or not); the channels must stay answerable.
  std::mt19937 rng(1234);
  const uint16_t ports[] = {0x1f0, 0x1f1, 0x1f2, 0x1f3, 0x1f4, 0x1f5, 0x1f6, 0x1f7, 0x3f6,
                            0x170, 0x171, 0x172, 0x173, 0x174, 0x175, 0x176, 0x177, 0x376};
  const uint8_t cmds[] = {0x20, 0x24, 0x25, 0x30, 0x35, 0xc4, 0xc5, 0xc6, 0xc8, 0xca,
                          0xe7, 0xec, 0xef, 0x90, 0x91, 0xa0, 0xa1, 0x40, 0x08};
  for (int i = 0; i < 20000; ++i) {
    const unsigned k = rng() % 10;
    if (k < 4) {
      const uint16_t p = ports[rng() % std::size(ports)];
      const bool data = (p & 7) == 0 && p != 0x3f6 && p != 0x376;
      const unsigned size = data ? (rng() % 2 ? 2 : 4) : 1;
      if (rng() % 2)
        in(p, size);
      else
        out(p, rng(), size);
    } else if (k < 6) {
      const uint16_t base = rng() % 2 ? 0x1f0 : 0x170;
      out(base + 7, cmds[rng() % std::size(cmds)]);
    } else if (k < 8) {
      const unsigned off = rng() % 16;
      out(uint16_t(kBm + off), rng(), 1);
    } else if (k < 9) {
      const uint32_t at = rng() % 0x2000 * 8;
      put_prd(at, rng() % 2 ? rng() : rng() % 0x100000, rng(), rng() % 2);
    } else {
      ide.channel(rng() % 2).wait_idle();
    }
    if (i % 5000 == 0) out(0x3f6, 0x04), out(0x3f6, 0x00);
  }
  // Both channels still work: soft reset and IDENTIFY.
  for (uint16_t ctl : {0x3f6, 0x376}) {
    out(ctl, 0x04);
    out(ctl, 0x00);
  }
  ide.channel(0).wait_idle();
  ide.channel(1).wait_idle();
  out(0x1f6, 0xa0);
  out(0x1f7, 0xec);
  EXPECT_EQ(settle(), 0x58u);
  EXPECT_EQ(pio_in(0x1f0, 2)[0], 0x40);
}

class Atapi : public IdeTest {
 protected:
  /// Sends a PACKET with cdb (PIO unless dma) and byte count limit.
  void packet(std::vector<uint8_t> cdb, uint16_t limit = 0x800, bool dma = false) {
    cdb.resize(12);
    out(0x171, dma ? 1 : 0);
    out(0x174, limit & 0xff);
    out(0x175, limit >> 8);
    out(0x176, 0xa0);
    out(0x177, 0xa0);
    EXPECT_EQ(in(0x376), 0x48u);  // DRQ for the packet
    EXPECT_EQ(in(0x172), 0x01u);  // CoD
    for (int i = 0; i < 12; i += 2) out(0x170, uint32_t(cdb[i] | cdb[i + 1] << 8), 2);
    settle(1);
  }
  /// Reads data-in chunks until completion.
  std::vector<uint8_t> data_in() {
    std::vector<uint8_t> all;
    while (in(0x376) & 0x08) {
      EXPECT_EQ(in(0x172), 0x02u);  // IO
      const size_t n = in(0x174) | in(0x175) << 8;
      in(0x177);
      std::vector<uint8_t> b = pio_in(0x170, (n + 1) & ~size_t(1));  // whole words
      all.insert(all.end(), b.begin(), b.end());
    }
    return all;
  }
};

TEST_F(Atapi, IdentifyPacketDevice) {
  out(0x176, 0xa0);
  out(0x177, 0xa1);
  EXPECT_EQ(settle(1), 0x58u);
  std::vector<uint8_t> id = pio_in(0x170, 512);
  EXPECT_EQ(id[0] | id[1] << 8, 0x85c0);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(&id[54]), 12), "EQUMD DVR-MO");
}

TEST_F(Atapi, ReadTenPioAndDma) {
  // READ(10) of blocks 1-2 with a 2 KiB byte count limit: two chunks.
  packet({0x28, 0, 0, 0, 0, 1, 0, 0, 2});
  EXPECT_TRUE(sink.levels[15]);
  std::vector<uint8_t> got = data_in();
  EXPECT_EQ(got, file_bytes(cd_path_, 2048, 4096));
  EXPECT_EQ(in(0x172), 0x03u);  // IO | CoD: completed
  EXPECT_EQ(in(0x177), 0x50u);
  // The same through the bus master (features bit 0).
  put_prd(0x1000, 0x8000, 2048, true);
  out(kBm + 8 + 4, 0x1000, 4);
  out(kBm + 8, 0x09);
  packet({0x28, 0, 0, 0, 0, 3, 0, 0, 1}, 0, true);
  EXPECT_EQ(in(0x376), 0x50u);
  EXPECT_EQ(in(kBm + 8 + 2), 0x04u);
  std::vector<uint8_t> dma(2048);
  ASSERT_TRUE(mem.read_bytes(0x8000, dma.data(), dma.size()));
  EXPECT_EQ(dma, file_bytes(cd_path_, 3 * 2048, 2048));
}

TEST_F(Atapi, BadLbaSetsSense) {
  packet({0x28, 0, 0, 0, 0, 3, 0, 0, 2});  // blocks 3-4 of 4
  EXPECT_EQ(in(0x376), 0x41u);
  EXPECT_EQ(in(0x171), 0x50u);  // ILLEGAL REQUEST << 4 (no ABRT, as QEMU)
  EXPECT_EQ(in(0x172), 0x03u);
  packet({0x03, 0, 0, 0, 18});
  std::vector<uint8_t> sense = data_in();
  ASSERT_EQ(sense.size(), 18u);
  EXPECT_EQ(sense[0], 0xf0);
  EXPECT_EQ(sense[2], 0x05);
  EXPECT_EQ(sense[12], 0x21);  // LOGICAL BLOCK ADDRESS OUT OF RANGE
  packet({0x03, 0, 0, 0, 18});
  EXPECT_EQ(data_in()[2], 0x00);  // cleared by the first REQUEST SENSE
  packet({0xff});
  EXPECT_EQ(in(0x171), 0x50u);
}

TEST_F(Atapi, CapacityInquiryTocAndLocking) {
  packet({0x00});
  EXPECT_EQ(in(0x376), 0x50u);
  packet({0x25});
  EXPECT_EQ(data_in(), (std::vector<uint8_t>{0, 0, 0, 3, 0, 0, 8, 0}));
  packet({0x12, 0, 0, 0, 5});  // an odd allocation length: the last word is padded
  EXPECT_EQ(in(0x174), 5u);
  EXPECT_EQ(data_in(), (std::vector<uint8_t>{0x05, 0x80, 0x00, 0x21, 31, 0x00}));
  EXPECT_EQ(in(0x376), 0x50u);
  packet({0x12, 0, 0, 0, 36});
  std::vector<uint8_t> inq = data_in();
  ASSERT_EQ(inq.size(), 36u);
  EXPECT_EQ(inq[0], 0x05);
  EXPECT_EQ(inq[1], 0x80);
  EXPECT_EQ(std::string(inq.begin() + 16, inq.begin() + 28), "QEMU DVD-ROM");
  packet({0x43, 0, 0, 0, 0, 0, 0, 0, 100});
  std::vector<uint8_t> toc = data_in();
  ASSERT_EQ(toc.size(), 20u);
  EXPECT_EQ(toc[1], 18);
  EXPECT_EQ(toc[14], 0xaa);
  EXPECT_EQ(toc[19], 4);  // lead-out at the capacity
  packet({0x46, 0, 0, 0, 0, 0, 0, 0, 8});
  std::vector<uint8_t> conf = data_in();
  ASSERT_EQ(conf.size(), 8u);
  EXPECT_EQ(conf[7], 0x08);  // CD-ROM profile
  packet({0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 64});
  std::vector<uint8_t> mode = data_in();
  ASSERT_EQ(mode.size(), 36u);
  EXPECT_EQ(mode[8], 0x2a);
  packet({0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8});  // GET EVENT STATUS NOTIFICATION, media class
  EXPECT_EQ(data_in(), (std::vector<uint8_t>{0, 6, 4, 0x10, 0, 0x02, 0, 0}));
  packet({0x4a, 0, 0, 0, 0x10, 0, 0, 0, 8});  // asynchronous: not supported
  EXPECT_EQ(in(0x171), 0x50u);
  // Locked: eject refused; unlocked: ejected, then no medium.
  packet({0x1e, 0, 0, 0, 1});
  packet({0x1b, 0, 0, 0, 0x02});
  EXPECT_EQ(in(0x171), 0x50u);
  packet({0x1e, 0, 0, 0, 0});
  packet({0x1b, 0, 0, 0, 0x02});
  EXPECT_EQ(in(0x376), 0x50u);
  packet({0x00});
  EXPECT_EQ(in(0x171), 0x20u);  // NOT READY
}

}  // namespace
}  // namespace orrery::hw::ide
