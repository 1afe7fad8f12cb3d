// Orrery's vhost-user-blk frontend (BlkFrontend behind virtio-mmio, driven like Linux's
// driver) against Orrery's own backend (BlkServer) over a real unix socket, with guest RAM in a
// shared memfd: a read and a write reach the image through the backend.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "hw/block/backend.h"
#include "hw/block/drive_options.h"
#include "hw/core/event_loop.h"
#include "hw/virtio/vhost_user/blk_frontend.h"
#include "hw/virtio/vhost_user/blk_server.h"
#include "hw/virtio/virtio_mmio.h"
#include "tests/unit/hw/virtio_test_driver.h"

namespace orrery::hw::virtio::vhost_user {
namespace {

constexpr uint64_t kRam = 0x40000000, kRamSize = 1 << 20;
constexpr uint16_t kQ = 16;
constexpr uint64_t kDesc = kRam + 0x1000, kAvail = kRam + 0x2000, kUsed = kRam + 0x3000;
constexpr uint64_t kHdr = kRam + 0x10000, kData = kRam + 0x20000, kStatusByte = kRam + 0x30000;

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

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool level_ = false;
};

class VhostUserFrontendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/orrery-vuf-XXXXXX";
    ASSERT_TRUE(mkdtemp(dir));
    dir_ = dir;
    image_ = dir_ + "/disk.raw";
    sock_path_ = dir_ + "/sock";
    std::vector<uint8_t> pattern(1 << 20);
    for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = uint8_t(i * 13 + i / 512);
    FILE* f = std::fopen(image_.c_str(), "wb");
    ASSERT_TRUE(f);
    ASSERT_EQ(std::fwrite(pattern.data(), 1, pattern.size(), f), pattern.size());
    std::fclose(f);
    auto opts = block::parse_drive_options("file=" + image_ + ",format=raw");
    ASSERT_TRUE(opts.ok());
    std::vector<std::string> warnings;
    auto disk = block::open_drive(opts.value(), warnings);
    ASSERT_TRUE(disk.ok());
    disk_ = std::move(disk.value());
    loop_.start();
    server_ = std::make_unique<BlkServer>(disk_, 1, loop_, log_);
    listener_ = UniqueFd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, sock_path_.data(), sock_path_.size());
    ASSERT_EQ(bind(listener_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(listen(listener_.get(), 1), 0);
    loop_.add_fd(listener_.get(), kFdRead, [this](uint32_t) {
      server_->attach(UniqueFd(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC)));
    });
  }
  void TearDown() override {
    frontend_.reset();
    loop_.remove_fd(listener_.get());
    server_.reset();
    loop_.stop();
    unlink(sock_path_.c_str());
    unlink(image_.c_str());
    rmdir(dir_.c_str());
  }

  std::string dir_, image_, sock_path_;
  std::shared_ptr<block::BlockBackend> disk_;
  Clock clock_;
  EventLoop loop_{clock_};
  Log log_;
  std::unique_ptr<BlkServer> server_;
  UniqueFd listener_;
  AddressSpace as_;
  std::unique_ptr<BlkFrontend> frontend_;
};

TEST_F(VhostUserFrontendTest, AReadAndAWriteGoThroughTheBackend) {
  std::string err;
  std::shared_ptr<RamBacking> ram = RamBacking::memfd("guest", kRamSize, true, err);
  ASSERT_TRUE(ram) << err;
  ASSERT_EQ(as_.add_ram("ram", kRam, ram), "");
  GuestMemory mem(as_);
  frontend_ = BlkFrontend::connect(mem, log_, "vub", sock_path_, 1, err);
  ASSERT_TRUE(frontend_) << err;
  VirtioMmio mmio(log_);
  IrqWaiter irq;
  mmio.irq().connect(irq, 0);
  mmio.plug(frontend_.get());
  test::MmioRegs regs{mmio};
  EXPECT_EQ(regs.rd(0x08), 2u);  // a block device
  // The backend's capacity, through the configuration space.
  EXPECT_EQ(regs.rd(0x100), (1u << 20) / 512);
  ASSERT_TRUE(regs.negotiate(kFeatureVersion1));
  ASSERT_TRUE(regs.setup_queue(0, kQ, kDesc, kAvail, kUsed));
  regs.driver_ok();

  uint16_t avail = 0;
  auto request = [&](uint32_t type, uint64_t sector, uint16_t head) {
    ASSERT_TRUE(mem.store<uint32_t>(kHdr, type));
    ASSERT_TRUE(mem.store<uint64_t>(kHdr + 8, sector));
    const uint16_t data_flags = type == 0 ? 2 : 0;
    test::write_desc(mem, kDesc, head, kHdr, 16, 1, uint16_t(head + 1));
    test::write_desc(mem, kDesc, uint16_t(head + 1), kData, 512, uint16_t(data_flags | 1),
                     uint16_t(head + 2));
    test::write_desc(mem, kDesc, uint16_t(head + 2), kStatusByte, 1, 2);
    test::make_available(mem, kAvail, kQ, avail, head);
    regs.wr(0x50, 0);
    uint16_t used = 0;
    for (int i = 0; i < 100 && used != avail; ++i) {
      ASSERT_TRUE(irq.wait_high());
      regs.wr(0x64, regs.rd(0x60));
      ASSERT_TRUE(mem.load(kUsed + 2, used));
    }
    ASSERT_EQ(used, avail);
    uint8_t status = 0xff;
    ASSERT_TRUE(mem.load(kStatusByte, status));
    EXPECT_EQ(status, 0);
  };
  request(0, 5, 0);
  std::vector<uint8_t> got(512), want(512);
  ASSERT_TRUE(mem.read(kData, got));
  UniqueFd image(open(image_.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_EQ(pread(image.get(), want.data(), 512, 5 * 512), 512);
  EXPECT_EQ(got, want);

  std::vector<uint8_t> data(512, 0x5a);
  ASSERT_TRUE(mem.write(kData, data));
  request(1, 7, 3);
  ASSERT_EQ(pread(image.get(), want.data(), 512, 7 * 512), 512);
  EXPECT_EQ(want, data);

  // A device reset stops the backend's ring (GET_VRING_BASE) and leaves the device usable.
  regs.wr(0x70, 0);
  EXPECT_EQ(regs.rd(0x70), 0u);
}

TEST_F(VhostUserFrontendTest, ABackendThatGoesAwayMakesTheDeviceNeedAReset) {
  std::string err;
  std::shared_ptr<RamBacking> ram = RamBacking::memfd("guest", kRamSize, true, err);
  ASSERT_EQ(as_.add_ram("ram", kRam, ram), "");
  GuestMemory mem(as_);
  frontend_ = BlkFrontend::connect(mem, log_, "vub", sock_path_, 1, err);
  ASSERT_TRUE(frontend_) << err;
  VirtioMmio mmio(log_);
  IrqWaiter irq;
  mmio.irq().connect(irq, 0);
  mmio.plug(frontend_.get());
  test::MmioRegs regs{mmio};
  ASSERT_TRUE(regs.negotiate(kFeatureVersion1));
  ASSERT_TRUE(regs.setup_queue(0, kQ, kDesc, kAvail, kUsed));
  regs.driver_ok();
  server_->disconnect();
  // The configuration-change interrupt says so; the status shows DEVICE_NEEDS_RESET.
  ASSERT_TRUE(irq.wait_high());
  EXPECT_TRUE(regs.rd(0x70) & kStatusNeedsReset);
}

TEST_F(VhostUserFrontendTest, PrivateGuestRamIsRefused) {
  ASSERT_EQ(as_.add_ram("ram", kRam, kRamSize), "");
  GuestMemory mem(as_);
  std::string err;
  frontend_ = BlkFrontend::connect(mem, log_, "vub", sock_path_, 1, err);
  EXPECT_FALSE(frontend_);
  EXPECT_NE(err.find("memory-backend-memfd"), std::string::npos) << err;
}

TEST_F(VhostUserFrontendTest, MoreQueuesThanTheBackendHasAreRefused) {
  std::string err;
  std::shared_ptr<RamBacking> ram = RamBacking::memfd("guest", kRamSize, true, err);
  ASSERT_EQ(as_.add_ram("ram", kRam, ram), "");
  GuestMemory mem(as_);
  frontend_ = BlkFrontend::connect(mem, log_, "vub", sock_path_, 2, err);
  EXPECT_FALSE(frontend_);
  EXPECT_NE(err.find("num-queues=2"), std::string::npos) << err;
}

}  // namespace
}  // namespace orrery::hw::virtio::vhost_user
