// virtio-mmio with virtio-rng and virtio-blk behind it, driven the way Linux's virtio_mmio
// driver does: status handshake, feature words, queue setup, kicks, interrupt status and ack.
#include "hw/virtio/virtio_mmio.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>

#include "hw/block/raw.h"
#include "hw/virtio/virtio_blk.h"
#include "hw/virtio/virtio_rng.h"
#include "tests/unit/hw/log_capture.h"
#include "tests/unit/hw/virtio_test_driver.h"

namespace orrery::hw::virtio {
namespace {

constexpr uint64_t kRam = 0x40000000;
constexpr uint16_t kQ = 16;  // queue size the test driver uses
constexpr uint64_t kDesc = kRam + 0x1000, kAvail = kRam + 0x2000, kUsed = kRam + 0x3000;
constexpr uint64_t kBuf = kRam + 0x10000;

// Interrupt line sink that tests can wait on.
class IrqWaiter : public IrqSink {
 public:
  void set_irq(unsigned, bool level) override {
    std::lock_guard g(mu_);
    level_ = level;
    cv_.notify_all();
  }
  bool wait_high() {
    std::unique_lock g(mu_);
    return cv_.wait_for(g, std::chrono::seconds(10), [this] { return level_; });
  }
  bool level() {
    std::lock_guard g(mu_);
    return level_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool level_ = false;
};

class VirtioMmioTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(as.add_ram("ram", kRam, 0x100000), "");
    mmio.irq().connect(irq, 0);
  }
  uint32_t rd(uint64_t off) { return regs.rd(off); }
  void wr(uint64_t off, uint32_t v) { regs.wr(off, v); }
  uint64_t features() { return regs.features(); }
  /// The driver's init sequence (virtio 1.2, 3.1.1) with `want` features and queue 0.
  void init(uint64_t want) {
    ASSERT_TRUE(regs.negotiate(want));
    ASSERT_TRUE(regs.setup_queue(0, kQ, kDesc, kAvail, kUsed));
    regs.driver_ok();
  }
  void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next = 0) {
    test::write_desc(mem, kDesc, i, addr, len, flags, next);
  }
  void submit(uint16_t head) {
    // used_event (read only under EVENT_IDX): interrupt once this request is used.
    test::make_available(mem, kAvail, kQ, avail, head, true);
    wr(0x50, 0);
  }
  /// Waits for the interrupt, acks it, and returns the used index.
  uint16_t wait_used(uint16_t want) {
    uint16_t idx = 0;
    for (int i = 0; i < 1000; ++i) {
      EXPECT_TRUE(irq.wait_high());
      uint32_t isr = rd(0x60);
      wr(0x64, isr);
      EXPECT_TRUE(mem.load(kUsed + 2, idx));
      if (idx == want) break;
    }
    return idx;
  }

  AddressSpace as;
  GuestMemory mem{as};
  Log log;
  test::LogCapture capture{log, "guest_errors,unimp"};
  VirtioMmio mmio{log};
  test::MmioRegs regs{mmio};
  IrqWaiter irq;
  uint16_t avail = 0;
};

TEST_F(VirtioMmioTest, EmptySlotHasDeviceIdZero) {
  EXPECT_EQ(rd(0x0), 0x74726976u);
  EXPECT_EQ(rd(0x4), 2u);
  EXPECT_EQ(rd(0x8), 0u);
}

TEST_F(VirtioMmioTest, RngFillsBuffers) {
  VirtioRng rng(mem, log, "rng");
  mmio.plug(&rng);
  EXPECT_EQ(rd(0x8), 4u);
  ASSERT_TRUE(features() & kFeatureVersion1);
  init(kFeatureVersion1);
  desc(0, kBuf, 64, 2 /*WRITE*/);
  submit(0);
  EXPECT_EQ(wait_used(1), 1);
  uint32_t len = 0;
  ASSERT_TRUE(mem.load(kUsed + 8, len));
  EXPECT_EQ(len, 64u);
  std::vector<uint8_t> got(64);
  ASSERT_TRUE(mem.read(kBuf, got));
  EXPECT_NE(std::count(got.begin(), got.end(), 0), 64);
  EXPECT_FALSE(irq.level());  // acked
}

TEST_F(VirtioMmioTest, FeaturesWithoutVersion1AreRefused) {
  VirtioRng rng(mem, log, "rng");
  mmio.plug(&rng);
  wr(0x70, kStatusAcknowledge | kStatusDriver);
  wr(0x24, 0);
  wr(0x20, 0);
  wr(0x70, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
  EXPECT_FALSE(rd(0x70) & kStatusFeaturesOk);
  EXPECT_NE(capture.take().find("refused"), std::string::npos);
}

TEST_F(VirtioMmioTest, MalformedChainSetsNeedsResetAndConfigInterrupt) {
  VirtioRng rng(mem, log, "rng");
  mmio.plug(&rng);
  init(kFeatureVersion1);
  desc(0, kBuf, 64, 2 | 1 /*NEXT*/, 0);  // loops onto itself
  submit(0);
  ASSERT_TRUE(irq.wait_high());
  EXPECT_EQ(rd(0x60), 2u);  // configuration change
  EXPECT_TRUE(rd(0x70) & kStatusNeedsReset);
  EXPECT_NE(capture.take().find("loops"), std::string::npos);
  // A reset brings the device back.
  wr(0x70, 0);
  EXPECT_EQ(rd(0x70), 0u);
  EXPECT_FALSE(irq.level());
  init(kFeatureVersion1);
  avail = 0;
  desc(0, kBuf, 8, 2);
  submit(0);
  EXPECT_EQ(wait_used(1), 1);
}

TEST_F(VirtioMmioTest, BadQueueSizeBreaksOnEnable) {
  VirtioRng rng(mem, log, "rng");
  mmio.plug(&rng);
  wr(0x70, 0);
  wr(0x30, 0);
  wr(0x38, 3);
  wr(0x44, 1);
  EXPECT_TRUE(rd(0x70) & kStatusNeedsReset);
}

TEST_F(VirtioMmioTest, WrongSizedRegisterAccessIsLoggedNotFatal) {
  VirtioRng rng(mem, log, "rng");
  mmio.plug(&rng);
  uint64_t v = 1;
  EXPECT_EQ(mmio.read(0x70, 2, v), MemResult::Ok);
  EXPECT_EQ(v, 0u);
  EXPECT_NE(capture.take().find("2-byte read"), std::string::npos);
}

class VirtioBlkTest : public VirtioMmioTest {
 protected:
  void SetUp() override {
    VirtioMmioTest::SetUp();
    char tmpl[] = "/tmp/orrery_blkXXXXXX";
    int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    path = tmpl;
    ASSERT_EQ(ftruncate(fd, 1 << 20), 0);
    close(fd);
  }
  void TearDown() override {
    blk.reset();
    unlink(path.c_str());
  }
  void open(bool read_only) {
    block::DriveOptions o;
    o.file = path;
    o.format = block::ImageFormat::kRaw;
    o.read_only = read_only;
    o.serial = "orrery-serial";
    std::vector<std::string> warnings;
    auto b = block::open_drive(o, warnings);
    ASSERT_TRUE(b.ok()) << b.status().message;
    backend = std::shared_ptr<block::BlockBackend>(std::move(b.value()));
    blk = std::make_unique<VirtioBlk>(mem, log, "blk", backend, 1);
    mmio.plug(blk.get());
    init(kFeatureVersion1 | kFeatureEventIdx);
  }
  /// header, data (out or in), status; returns the status byte.
  uint8_t request(uint32_t type, uint64_t sector, uint32_t len, bool data_in) {
    const uint64_t hdr = kBuf, data = kBuf + 0x100, status = kBuf + 0x80;
    EXPECT_TRUE(mem.store<uint32_t>(hdr, type));
    EXPECT_TRUE(mem.store<uint32_t>(hdr + 4, 0));
    EXPECT_TRUE(mem.store<uint64_t>(hdr + 8, sector));
    EXPECT_TRUE(mem.store<uint8_t>(status, 0xff));
    const uint16_t h = uint16_t((avail * 3) % kQ);
    desc(h, hdr, 16, 1, uint16_t((h + 1) % kQ));
    if (len) {
      desc((h + 1) % kQ, data, len, uint16_t(1 | (data_in ? 2 : 0)), uint16_t((h + 2) % kQ));
      desc((h + 2) % kQ, status, 1, 2);
    } else {
      desc((h + 1) % kQ, status, 1, 2);
    }
    const uint16_t want = uint16_t(avail + 1);
    submit(h);
    EXPECT_EQ(wait_used(want), want);
    uint8_t st = 0;
    EXPECT_TRUE(mem.load(status, st));
    return st;
  }
  std::string path;
  std::shared_ptr<block::BlockBackend> backend;
  std::unique_ptr<VirtioBlk> blk;
};

TEST_F(VirtioBlkTest, WriteFlushReadAndGetId) {
  open(false);
  uint64_t cap = 0;
  for (int i = 0; i < 8; ++i) {
    uint64_t b = 0;
    ASSERT_EQ(mmio.read(0x100 + i, 1, b), MemResult::Ok);
    cap |= b << (8 * i);
  }
  EXPECT_EQ(cap, 2048u);
  // VIRTIO_BLK_F_GEOMETRY with QEMU's guess for 1 MiB: at least 2 cylinders, 16 heads, 63
  // sectors (SeaBIOS reports it through INT 13h).
  EXPECT_TRUE(features() & (1ull << 4));
  uint64_t cyl_lo = 0, cyl_hi = 0, heads = 0, secs = 0;
  ASSERT_EQ(mmio.read(0x110, 1, cyl_lo), MemResult::Ok);
  ASSERT_EQ(mmio.read(0x111, 1, cyl_hi), MemResult::Ok);
  ASSERT_EQ(mmio.read(0x112, 1, heads), MemResult::Ok);
  ASSERT_EQ(mmio.read(0x113, 1, secs), MemResult::Ok);
  EXPECT_EQ(cyl_lo | cyl_hi << 8, 2u);
  EXPECT_EQ(heads, 16u);
  EXPECT_EQ(secs, 63u);
  std::vector<uint8_t> pattern(1024);
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = uint8_t(i * 7);
  ASSERT_TRUE(mem.write(kBuf + 0x100, pattern));
  EXPECT_EQ(request(1 /*OUT*/, 3, 1024, false), 0);
  EXPECT_EQ(request(4 /*FLUSH*/, 0, 0, false), 0);
  // The bytes are in the image file.
  std::ifstream f(path, std::ios::binary);
  std::vector<uint8_t> disk(1024);
  f.seekg(3 * 512);
  f.read(reinterpret_cast<char*>(disk.data()), 1024);
  EXPECT_EQ(disk, pattern);
  // And read back through the device.
  std::vector<uint8_t> zero(1024, 0);
  ASSERT_TRUE(mem.write(kBuf + 0x100, zero));
  EXPECT_EQ(request(0 /*IN*/, 3, 1024, true), 0);
  std::vector<uint8_t> got(1024);
  ASSERT_TRUE(mem.read(kBuf + 0x100, got));
  EXPECT_EQ(got, pattern);
  EXPECT_EQ(request(8 /*GET_ID*/, 0, 20, true), 0);
  std::vector<uint8_t> id(20);
  ASSERT_TRUE(mem.read(kBuf + 0x100, id));
  EXPECT_EQ(std::string(id.begin(), id.begin() + 13), "orrery-serial");
}

TEST_F(VirtioBlkTest, OutOfRangeAndPartialSectorsAreIoErrors) {
  open(false);
  EXPECT_EQ(request(0, 2047, 1024, true), 1);       // runs past the end
  EXPECT_EQ(request(0, ~0ull >> 3, 512, true), 1);  // byte offset overflows
  EXPECT_EQ(request(1, 0, 100, false), 1);          // not whole sectors
  EXPECT_EQ(request(99, 0, 0, false), 2);           // unsupported type
  EXPECT_FALSE(rd(0x70) & kStatusNeedsReset);
}

TEST_F(VirtioBlkTest, ReadOnlyDriveRefusesWrites) {
  open(true);
  EXPECT_TRUE(features() & (1ull << 5));  // VIRTIO_BLK_F_RO
  EXPECT_EQ(request(1, 0, 512, false), 1);
  EXPECT_EQ(request(0, 0, 512, true), 0);
}

TEST_F(VirtioBlkTest, RequestWithoutStatusByteNeedsReset) {
  open(false);
  desc(0, kBuf, 16, 0);  // header only, nothing writable
  submit(0);
  ASSERT_TRUE(irq.wait_high());
  EXPECT_TRUE(rd(0x70) & kStatusNeedsReset);
}

}  // namespace
}  // namespace orrery::hw::virtio
