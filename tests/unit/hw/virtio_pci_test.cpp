// virtio-pci (modern) with virtio-rng and virtio-blk behind it, driven the way Linux's
// virtio_pci_modern does: find the vendor capabilities, map BAR 4 and the MSI-X BAR, enable
// memory and bus mastering, status handshake, features, per-queue setup with MSI-X vectors,
// notify through the notify structure; then the INTx/ISR path without MSI-X.
#include "hw/virtio/virtio_pci.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>

#include "hw/block/drive_options.h"
#include "hw/block/raw.h"
#include "hw/core/event_loop.h"
#include "hw/core/io_event.h"
#include "hw/intc/gicv2m.h"
#include "hw/pci/pci_bus.h"
#include "hw/pci/pci_host.h"
#include "hw/virtio/virtio_blk.h"
#include "hw/virtio/virtio_rng.h"
#include "tests/unit/hw/log_capture.h"
#include "tests/unit/hw/virtio_test_driver.h"

namespace orrery::hw::virtio {
namespace {

constexpr uint64_t kRam = 0x40000000;
constexpr uint16_t kQ = 16;
constexpr uint64_t kDesc = kRam + 0x1000, kAvail = kRam + 0x2000, kUsed = kRam + 0x3000;
constexpr uint64_t kBuf = kRam + 0x10000;
constexpr uint64_t kMemBase = 0x10000000, kV2m = 0x08020000, kEcam = 0x3f000000;
constexpr uint64_t kBar1 = kMemBase + 0x100000, kBar4 = kMemBase + 0x200000;
constexpr unsigned kDevfn = pci::pci_devfn(1, 0), kIntid = 80;

// Counts MSI edges and tracks INTx levels; tests wait on either.
class Sink : public IrqSink {
 public:
  void set_irq(unsigned line, bool level) override {
    std::lock_guard g(mu_);
    if (level && !levels_[line]) ++edges_[line];
    levels_[line] = level;
    cv_.notify_all();
  }
  bool wait_edges(unsigned line, unsigned n) {
    std::unique_lock g(mu_);
    return cv_.wait_for(g, std::chrono::seconds(10), [&] { return edges_[line] >= n; });
  }
  bool wait_level(unsigned line) {
    std::unique_lock g(mu_);
    return cv_.wait_for(g, std::chrono::seconds(10), [&] { return levels_[line]; });
  }
  bool level(unsigned line) {
    std::lock_guard g(mu_);
    return levels_[line];
  }
  unsigned edges(unsigned line) {
    std::lock_guard g(mu_);
    return edges_[line];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<unsigned, unsigned> edges_;
  std::map<unsigned, bool> levels_;
};

class VirtioPciTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(as.add_ram("ram", kRam, 0x100000), "");
    ASSERT_EQ(as.add_mmio("v2m", kV2m, 0x1000, v2m), "");
    ASSERT_EQ(as.add_mmio("ecam", kEcam, 0x1000000, ecam), "");
    ASSERT_EQ(as.root().add_subregion(bus.mem_window(), kMemBase), "");
    for (unsigned i = 0; i < 4; ++i) bus.intx(i).connect(sink, 35 + i);
  }
  void plug(VirtioPci& t) { ASSERT_EQ(bus.plug(t, kDevfn), ""); }
  /// A virtio-rng function (vectors: queue and configuration), plugged in and probed.
  void plug_rng() {
    rng_fn = std::make_unique<VirtioPci>(as, log, "rng", VirtioRng::kDeviceId, 0x00ff00, 2);
    rng_dev = std::make_unique<VirtioRng>(rng_fn->dma(), log, "rng");
    rng_fn->plug(*rng_dev);
    plug(*rng_fn);
    probe();
  }

  uint32_t cfg(unsigned reg, unsigned size = 4) {
    uint64_t v = 0;
    EXPECT_EQ(as.read(kEcam + (kDevfn << 12) + reg, size, v), MemResult::Ok);
    return uint32_t(v);
  }
  void cfg_wr(unsigned reg, uint32_t v, unsigned size = 4) {
    EXPECT_EQ(as.write(kEcam + (kDevfn << 12) + reg, size, v), MemResult::Ok);
  }
  uint64_t rd(uint64_t a, unsigned size) {
    uint64_t v = 0;
    EXPECT_EQ(as.read(a, size, v), MemResult::Ok);
    return v;
  }
  void wr(uint64_t a, unsigned size, uint64_t v) { EXPECT_EQ(as.write(a, size, v), MemResult::Ok); }

  /// Like vp_modern_probe: walks the capabilities for each virtio structure, maps the BARs.
  void probe() {
    ASSERT_EQ(cfg(0, 2), 0x1af4u);
    ASSERT_GE(cfg(2, 2), 0x1040u);
    ASSERT_EQ(cfg(8, 1), 1u);  // revision 1: modern
    for (unsigned p = cfg(0x34, 1); p; p = cfg(p + 1, 1)) {
      if (cfg(p, 1) == pci::kCapIdMsix) msix_cap = p;
      if (cfg(p, 1) != pci::kCapIdVendor) continue;
      const unsigned type = cfg(p + 3, 1);
      ASSERT_EQ(cfg(p + 4, 1), type == 5 ? 0u : 4u);  // all in BAR 4
      caps[type] = p;
      offsets[type] = cfg(p + 8);
    }
    ASSERT_EQ(caps.size(), 5u);
    ASSERT_NE(msix_cap, 0u);
    notify_mult = cfg(caps[2] + 16);
    // BAR 1 (MSI-X, 32-bit) and BAR 4 (64-bit prefetchable) sized and placed.
    cfg_wr(0x14, 0xffffffff);
    EXPECT_EQ(cfg(0x14), 0xfffff000u);
    cfg_wr(0x20, 0xffffffff);
    EXPECT_EQ(cfg(0x20), 0xffffc00cu);
    cfg_wr(0x14, uint32_t(kBar1));
    cfg_wr(0x20, uint32_t(kBar4));
    cfg_wr(0x24, 0);
    cfg_wr(0x04, pci::kCmdMemory | pci::kCmdBusMaster, 2);
  }
  uint64_t common() { return kBar4 + offsets[1]; }

  /// vp_modern handshake with want features; queue q gets vector qvec.
  void init(uint64_t want, uint16_t qvec) {
    wr(common() + 0x14, 1, 0);
    EXPECT_EQ(rd(common() + 0x14, 1), 0u);
    wr(common() + 0x14, 1, kStatusAcknowledge);
    wr(common() + 0x14, 1, kStatusAcknowledge | kStatusDriver);
    wr(common() + 0x00, 4, 1);
    EXPECT_TRUE(rd(common() + 0x04, 4) & 1);  // VERSION_1 in the high word
    wr(common() + 0x08, 4, 0);
    wr(common() + 0x0c, 4, uint32_t(want));
    wr(common() + 0x08, 4, 1);
    wr(common() + 0x0c, 4, uint32_t(want >> 32));
    wr(common() + 0x14, 1, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    ASSERT_TRUE(rd(common() + 0x14, 1) & kStatusFeaturesOk);
    wr(common() + 0x10, 2, 0);  // config vector 0
    wr(common() + 0x16, 2, 0);
    ASSERT_GE(rd(common() + 0x18, 2), kQ);
    wr(common() + 0x18, 2, kQ);
    // 64-bit fields in two halves, as vp_iowrite64_twopart.
    wr(common() + 0x20, 4, uint32_t(kDesc));
    wr(common() + 0x24, 4, 0);
    wr(common() + 0x28, 4, uint32_t(kAvail));
    wr(common() + 0x2c, 4, 0);
    wr(common() + 0x30, 4, uint32_t(kUsed));
    wr(common() + 0x34, 4, 0);
    wr(common() + 0x1a, 2, qvec);
    EXPECT_EQ(rd(common() + 0x1a, 2), qvec);
    notify_off = uint16_t(rd(common() + 0x1e, 2));
    wr(common() + 0x1c, 2, 1);
    EXPECT_EQ(rd(common() + 0x1c, 2), 1u);
    wr(common() + 0x14, 1,
       kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  }
  void msix_vector(unsigned v, unsigned intid) {
    wr(kBar1 + 16 * v, 4, kV2m + 0x40);
    wr(kBar1 + 16 * v + 4, 4, 0);
    wr(kBar1 + 16 * v + 8, 4, intid);
    wr(kBar1 + 16 * v + 12, 4, 0);
  }
  void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next = 0) {
    test::write_desc(mem, kDesc, i, addr, len, flags, next);
  }
  void submit(uint16_t head) {
    test::make_available(mem, kAvail, kQ, avail, head, true);
    wr(kBar4 + offsets[2] + notify_off * notify_mult, 2, 0);
  }
  uint16_t used_idx() {
    uint16_t idx = 0;
    EXPECT_TRUE(mem.load(kUsed + 2, idx));
    return idx;
  }

  AddressSpace as;
  GuestMemory mem{as};
  Log log;
  test::LogCapture capture{log, "guest_errors,unimp"};
  Sink sink;
  intc::Gicv2m v2m{sink, log, kIntid, 64};
  pci::PciBus bus{log, kMemBase, 0x2eff0000, 0x10000};
  pci::PciEcam ecam{bus, log, 16};
  std::map<unsigned, unsigned> caps, offsets;
  unsigned msix_cap = 0;
  uint32_t notify_mult = 0;
  uint16_t notify_off = 0;
  uint16_t avail = 0;
  // The function plug_rng() makes; the device goes before the transport it is plugged into.
  std::unique_ptr<VirtioPci> rng_fn;
  std::unique_ptr<VirtioRng> rng_dev;
};

TEST_F(VirtioPciTest, RngOverMsix) {
  plug_rng();
  EXPECT_EQ(cfg(2, 2), 0x1044u);
  EXPECT_EQ(notify_mult, 4u);
  EXPECT_EQ(rd(common() + 0x12, 2), 1u);  // num_queues
  // Enable MSI-X (masked at first, as Linux does), program the vectors, unmask.
  cfg_wr(msix_cap + 2, 0xc000, 2);
  msix_vector(0, kIntid + 1);  // config
  msix_vector(1, kIntid + 2);  // queue 0
  cfg_wr(msix_cap + 2, 0x8000, 2);
  init(kFeatureVersion1, 1);
  EXPECT_EQ(rd(common() + 0x10, 2), 0u);
  desc(0, kBuf, 64, 2 /*WRITE*/);
  submit(0);
  ASSERT_TRUE(sink.wait_edges(kIntid + 2, 1));
  EXPECT_EQ(used_idx(), 1u);
  uint32_t len = 0;
  ASSERT_TRUE(mem.load(kUsed + 8, len));
  EXPECT_EQ(len, 64u);
  EXPECT_FALSE(sink.level(35 + pci::pci_swizzle(1, 1)));  // no INTx with MSI-X
  EXPECT_EQ(sink.edges(kIntid + 1), 0u);
}

// What an accelerator's doorbell host (KVM_IOEVENTFD) is asked to catch: one (eventfd, address)
// per registration, in order.
class RecordingIoEvents : public IoEventHost {
 public:
  bool add_io_event(int fd, const IoEventMatch& m) override {
    std::lock_guard g(mu_);
    EXPECT_FALSE(m.io_port);
    EXPECT_EQ(m.len, 0u);  // any write size, as the BAR takes
    EXPECT_FALSE(live_.count(fd)) << "registered twice";
    live_[fd] = m.addr;
    return true;
  }
  void remove_io_event(int fd, const IoEventMatch& m) override {
    std::lock_guard g(mu_);
    EXPECT_EQ(live_.count(fd), 1u);
    EXPECT_EQ(live_[fd], m.addr);
    live_.erase(fd);
  }
  /// The registered notify addresses.
  std::vector<uint64_t> addrs() {
    std::lock_guard g(mu_);
    std::vector<uint64_t> v;
    for (const auto& [fd, a] : live_) v.push_back(a);
    return v;
  }
  int fd_at(uint64_t addr) {
    std::lock_guard g(mu_);
    for (const auto& [fd, a] : live_)
      if (a == addr) return fd;
    return -1;
  }

 private:
  std::mutex mu_;
  std::map<int, uint64_t> live_;
};

// The queue's doorbell is registered while the queue is enabled and BAR 4 decodes, follows BAR 4
// when it moves, and goes away with memory decode, a driver reset and a machine reset; a signal
// on the eventfd kicks the queue as the BAR write does.
TEST_F(VirtioPciTest, DoorbellsFollowTheQueueTheBarAndResets) {
  Clock clock;
  EventLoop loop{clock};
  loop.start();
  RecordingIoEvents host;
  plug_rng();
  ASSERT_TRUE(rng_fn->use_io_events(host, loop));
  EXPECT_TRUE(host.addrs().empty());  // queue 0 not enabled yet
  init(kFeatureVersion1, 0xffff);
  const uint64_t bell = kBar4 + offsets[2] + notify_off * notify_mult;
  EXPECT_EQ(host.addrs(), std::vector<uint64_t>{bell});
  // A signal instead of the write: the request completes (INTx, ISR) through the eventfd.
  desc(0, kBuf, 32, 2);
  test::make_available(mem, kAvail, kQ, avail, 0, true);
  const uint64_t one = 1;
  ASSERT_EQ(::write(host.fd_at(bell), &one, sizeof one), ssize_t(sizeof one));
  ASSERT_TRUE(sink.wait_level(35 + pci::pci_swizzle(1, 1)));
  EXPECT_EQ(used_idx(), 1u);
  EXPECT_EQ(rng_fn->io_event_kicks(), 1u);
  // BAR 4 moves (both halves written): the doorbell moves with it.
  cfg_wr(0x20, uint32_t(kBar4 + 0x10000));
  EXPECT_EQ(host.addrs(), std::vector<uint64_t>{bell + 0x10000});
  cfg_wr(0x20, uint32_t(kBar4));
  EXPECT_EQ(host.addrs(), std::vector<uint64_t>{bell});
  // Memory decode off: nothing to catch; on again: back.
  cfg_wr(0x04, pci::kCmdBusMaster, 2);
  EXPECT_TRUE(host.addrs().empty());
  cfg_wr(0x04, pci::kCmdMemory | pci::kCmdBusMaster, 2);
  EXPECT_EQ(host.addrs(), std::vector<uint64_t>{bell});
  // The driver resets the device: the queue is disabled.
  wr(common() + 0x14, 1, 0);
  EXPECT_TRUE(host.addrs().empty());
  init(kFeatureVersion1, 0xffff);
  EXPECT_EQ(host.addrs(), std::vector<uint64_t>{bell});
  // A machine reset (the BARs unprogrammed too).
  rng_fn->reset();
  EXPECT_TRUE(host.addrs().empty());
  rng_fn->stop_io_events();
  loop.stop();
}

TEST_F(VirtioPciTest, RngOverIntxAndTheIsr) {
  plug_rng();
  init(kFeatureVersion1, 0xffff);
  desc(0, kBuf, 32, 2);
  submit(0);
  const unsigned line = 35 + pci::pci_swizzle(1, 1);
  ASSERT_TRUE(sink.wait_level(line));
  EXPECT_TRUE(cfg(0x06, 2) & pci::kStatusInterrupt);
  EXPECT_EQ(rd(kBar4 + offsets[3], 1), 1u);  // used-buffer bit; reading clears it
  EXPECT_FALSE(sink.level(line));
  EXPECT_EQ(rd(kBar4 + offsets[3], 1), 0u);
  EXPECT_EQ(used_idx(), 1u);
}

TEST_F(VirtioPciTest, VectorsOutOfRangeReadBackAsNoVector) {
  plug_rng();
  wr(common() + 0x10, 2, 2);
  EXPECT_EQ(rd(common() + 0x10, 2), 0xffffu);
  wr(common() + 0x16, 2, 0);
  wr(common() + 0x1a, 2, 5);
  EXPECT_EQ(rd(common() + 0x1a, 2), 0xffffu);
  // A queue that does not exist reads size 0.
  wr(common() + 0x16, 2, 7);
  EXPECT_EQ(rd(common() + 0x18, 2), 0u);
}

TEST_F(VirtioPciTest, NotifyWithoutBusMasteringIsIgnored) {
  plug_rng();
  init(kFeatureVersion1, 0xffff);
  cfg_wr(0x04, pci::kCmdMemory, 2);
  desc(0, kBuf, 32, 2);
  submit(0);
  EXPECT_EQ(used_idx(), 0u);
  EXPECT_NE(capture.take().find("bus mastering disabled"), std::string::npos);
  cfg_wr(0x04, pci::kCmdMemory | pci::kCmdBusMaster, 2);
  wr(kBar4 + offsets[2] + notify_off * notify_mult, 2, 0);
  ASSERT_TRUE(sink.wait_level(35 + pci::pci_swizzle(1, 1)));
  EXPECT_EQ(used_idx(), 1u);
}

TEST_F(VirtioPciTest, PciCfgWindowReachesBar4) {
  plug_rng();
  const unsigned p = caps[5];
  cfg_wr(p + 4, 4, 1);  // BAR 4
  cfg_wr(p + 8, uint32_t(offsets[1] + 0x12));
  cfg_wr(p + 12, 2);
  EXPECT_EQ(cfg(p + 16, 2), 1u);  // num_queues
  // A write through the window: device status ACKNOWLEDGE.
  cfg_wr(p + 8, uint32_t(offsets[1] + 0x14));
  cfg_wr(p + 12, 1);
  cfg_wr(p + 16, kStatusAcknowledge, 1);
  EXPECT_EQ(rd(common() + 0x14, 1), kStatusAcknowledge);
  // A length of 3 is refused.
  cfg_wr(p + 12, 3);
  EXPECT_EQ(cfg(p + 16), 0u);
  EXPECT_NE(capture.take().find("PCI_CFG access"), std::string::npos);
}

TEST_F(VirtioPciTest, ResetClearsTransportState) {
  plug_rng();
  init(kFeatureVersion1, 1);
  wr(common() + 0x14, 1, 0);
  EXPECT_EQ(rd(common() + 0x14, 1), 0u);
  EXPECT_EQ(rd(common() + 0x10, 2), 0xffffu);
  wr(common() + 0x16, 2, 0);
  EXPECT_EQ(rd(common() + 0x1c, 2), 0u);
  EXPECT_EQ(rd(common() + 0x1a, 2), 0xffffu);
}

TEST_F(VirtioPciTest, BlkReadsThroughMsix) {
  char path[] = "/tmp/orrery-vpci-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string data(4096, 'q');
  ASSERT_EQ(write(fd, data.data(), data.size()), ssize_t(data.size()));
  close(fd);
  block::DriveOptions o;
  o.file = path;
  o.format = block::ImageFormat::kRaw;
  std::vector<std::string> warnings;
  auto b = block::open_drive(o, warnings);
  unlink(path);
  ASSERT_TRUE(b.ok()) << b.status().message;
  auto backend = std::shared_ptr<block::BlockBackend>(std::move(b.value()));
  VirtioPci t(as, log, "blk", VirtioBlk::kDeviceId, 0x010000, 3);
  VirtioBlk blk(t.dma(), log, "blk", backend, 2);
  t.plug(blk);
  plug(t);
  probe();
  EXPECT_EQ(cfg(0x08) >> 8, 0x010000u);
  EXPECT_EQ(rd(common() + 0x12, 2), 2u);
  EXPECT_EQ(rd(kBar4 + offsets[4], 8), 8u);  // capacity in sectors
  cfg_wr(msix_cap + 2, 0x8000, 2);
  msix_vector(1, kIntid + 7);
  init(kFeatureVersion1, 1);
  // Read sector 0: header, 512-byte buffer, status.
  ASSERT_TRUE(mem.store<uint32_t>(kBuf, 0));  // VIRTIO_BLK_T_IN
  ASSERT_TRUE(mem.store<uint64_t>(kBuf + 8, 0));
  desc(0, kBuf, 16, 1, 1);
  desc(1, kBuf + 0x100, 512, 2 | 1, 2);
  desc(2, kBuf + 0x400, 1, 2);
  submit(0);
  ASSERT_TRUE(sink.wait_edges(kIntid + 7, 1));
  EXPECT_EQ(used_idx(), 1u);
  uint8_t status = 0xff, byte = 0;
  ASSERT_TRUE(mem.load(kBuf + 0x400, status));
  ASSERT_TRUE(mem.load(kBuf + 0x100 + 511, byte));
  EXPECT_EQ(status, 0);
  EXPECT_EQ(byte, 'q');
  EXPECT_EQ(capture.take(), "");
}

}  // namespace
}  // namespace orrery::hw::virtio
