// virtio-net behind virtio-mmio, driven the way Linux's virtio_net does (two queues, one-
// descriptor mergeable receive buffers, header + frame transmit chains), with a fake backend
// whose receive side is a real RxQueue: the test thread plays the backend's thread.
#include "hw/virtio/virtio_net.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "hw/net/net_backend.h"
#include "hw/virtio/virtio_mmio.h"
#include "tests/unit/hw/log_capture.h"
#include "tests/unit/hw/virtio_test_driver.h"

namespace orrery::hw::virtio {
namespace {

constexpr uint64_t kRam = 0x40000000;
constexpr uint16_t kQ = 16;
constexpr uint64_t kFeatureMac = 1ull << 5, kFeatureMrg = 1ull << 15, kFeatureStatus = 1ull << 16;
constexpr uint64_t kRxBufs = kRam + 0x20000, kTxBufs = kRam + 0x60000;

class FakeBackend : public net::NetBackend {
 public:
  void receive_from_guest(std::span<const uint8_t> f) override {
    std::lock_guard g(mu_);
    tx.emplace_back(f.begin(), f.end());
  }
  void set_frame_sink(net::FrameSink s) override {
    std::lock_guard g(mu_);
    rx_.set_sink(std::move(s));
  }
  void rx_ready() override {
    std::lock_guard g(mu_);
    ++ready;
  }
  net::NetStats stats() const override { return {}; }

  /// A frame from the network: offered to the device now, or queued.
  void deliver(std::span<const uint8_t> f) {
    std::lock_guard g(mu_);
    rx_.push(f);
  }
  /// What the backend's thread does after rx_ready().
  void flush() {
    std::lock_guard g(mu_);
    rx_.flush();
  }
  size_t queued() {
    std::lock_guard g(mu_);
    return rx_.queued();
  }

  std::vector<std::vector<uint8_t>> tx;
  int ready = 0;

 private:
  std::mutex mu_;
  net::RxQueue rx_{64};
};

class IrqLevel : public IrqSink {
 public:
  void set_irq(unsigned, bool l) override { level = l; }
  bool level = false;
};

std::vector<uint8_t> frame_of(size_t n, uint8_t seed) {
  std::vector<uint8_t> f(n);
  for (size_t i = 0; i < n; ++i) f[i] = uint8_t(seed + i * 7);
  return f;
}

// One split ring the test driver owns (no EVENT_IDX: the device then always wants kicks).
struct Ring {
  uint64_t base;
  uint16_t avail = 0;
  uint16_t next_desc = 0;
  uint64_t desc() const { return base; }
  uint64_t avail_ring() const { return base + 0x1000; }
  uint64_t used() const { return base + 0x2000; }
};

class VirtioNetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(as.add_ram("ram", kRam, 0x100000), "");
    mmio.irq().connect(irq, 0);
    backend = std::make_shared<FakeBackend>();
    net = std::make_unique<VirtioNet>(mem, log, "net", backend);
    mmio.plug(net.get());
  }
  void TearDown() override {
    mmio.plug(nullptr);
    net.reset();
  }
  uint32_t rd(uint64_t off) { return regs.rd(off); }
  void wr(uint64_t off, uint32_t v) { regs.wr(off, v); }
  uint64_t features() { return regs.features(); }
  void init(uint64_t want) {
    ASSERT_TRUE(regs.negotiate(want));
    ASSERT_TRUE(regs.setup_queue(0, kQ, rx.desc(), rx.avail_ring(), rx.used()));
    ASSERT_TRUE(regs.setup_queue(1, kQ, tx.desc(), tx.avail_ring(), tx.used()));
    regs.driver_ok();
  }
  void init_linux() { init(kFeatureVersion1 | kFeatureMac | kFeatureStatus | kFeatureMrg); }

  uint16_t add_desc(Ring& r, uint64_t addr, uint32_t len, uint16_t flags) {
    const uint16_t i = r.next_desc++ % kQ;
    test::write_desc(mem, r.desc(), i, addr, len, flags, uint16_t((i + 1) % kQ));
    return i;
  }
  void make_available(Ring& r, uint16_t head) {
    test::make_available(mem, r.avail_ring(), kQ, r.avail, head);
  }
  /// Posts n one-descriptor receive buffers of len bytes (as Linux's mergeable refill does)
  /// and kicks the receive queue.
  void post_rx(unsigned n, uint32_t len) {
    for (unsigned i = 0; i < n; ++i) {
      const uint64_t addr = kRxBufs + uint64_t(rx.next_desc % kQ) * 0x1000;
      make_available(rx, add_desc(rx, addr, len, 2 /*WRITE*/));
    }
    wr(0x50, 0);
  }
  /// Sends header + frame as two descriptors (Linux's layout without ANY_LAYOUT merging).
  void send(std::span<const uint8_t> frame) {
    const uint64_t h = kTxBufs, d = kTxBufs + 0x100;
    uint8_t hdr[12] = {};
    ASSERT_TRUE(mem.write(h, hdr));
    ASSERT_TRUE(mem.write(d, frame));
    const uint16_t head = add_desc(tx, h, 12, 1 /*NEXT*/);
    add_desc(tx, d, uint32_t(frame.size()), 0);
    make_available(tx, head);
    wr(0x50, 1);
  }
  uint16_t used_idx(const Ring& r) {
    uint16_t v = 0;
    EXPECT_TRUE(mem.load(r.used() + 2, v));
    return v;
  }
  std::pair<uint32_t, uint32_t> used_elem(const Ring& r, uint16_t i) {
    uint32_t id = 0, len = 0;
    EXPECT_TRUE(mem.load(r.used() + 4 + 8 * (i % kQ), id));
    EXPECT_TRUE(mem.load(r.used() + 8 + 8 * (i % kQ), len));
    return {id, len};
  }
  /// The receive buffer of descriptor id.
  std::vector<uint8_t> rx_buffer(uint32_t id, uint32_t len) {
    uint64_t addr = 0;
    EXPECT_TRUE(mem.load(rx.desc() + 16 * id, addr));
    std::vector<uint8_t> b(len);
    EXPECT_TRUE(mem.read(addr, b));
    return b;
  }
  /// Gathers the frame of the used entries [first, first+n) and checks the header.
  std::vector<uint8_t> received(uint16_t first, uint16_t& num_buffers) {
    auto [id0, len0] = used_elem(rx, first);
    std::vector<uint8_t> b = rx_buffer(id0, len0);
    EXPECT_GE(b.size(), 12u);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(b[i], 0) << "header byte " << i;
    num_buffers = uint16_t(b[10] | b[11] << 8);
    std::vector<uint8_t> f(b.begin() + 12, b.end());
    for (uint16_t k = 1; k < num_buffers; ++k) {
      auto [id, len] = used_elem(rx, uint16_t(first + k));
      std::vector<uint8_t> more = rx_buffer(id, len);
      f.insert(f.end(), more.begin(), more.end());
    }
    return f;
  }

  AddressSpace as;
  GuestMemory mem{as};
  Log log;
  test::LogCapture capture{log, "guest_errors,unimp"};
  VirtioMmio mmio{log};
  test::MmioRegs regs{mmio};
  IrqLevel irq;
  std::shared_ptr<FakeBackend> backend;
  std::unique_ptr<VirtioNet> net;
  Ring rx{kRam + 0x1000}, tx{kRam + 0x10000};
};

TEST_F(VirtioNetTest, IdentityFeaturesAndConfig) {
  EXPECT_EQ(rd(0x8), 1u);
  const uint64_t f = features();
  EXPECT_TRUE(f & kFeatureMac);
  EXPECT_TRUE(f & kFeatureStatus);
  EXPECT_TRUE(f & kFeatureMrg);
  EXPECT_TRUE(f & kFeatureVersion1);
  // No checksum, GSO, control queue or multiqueue.
  for (unsigned bit : {0u, 1u, 2u, 7u, 8u, 9u, 10u, 11u, 12u, 13u, 14u, 17u, 22u})
    EXPECT_FALSE(f & (1ull << bit)) << "feature bit " << bit;
  const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  for (unsigned i = 0; i < 6; ++i) {
    uint64_t v = 0;
    ASSERT_EQ(mmio.read(0x100 + i, 1, v), MemResult::Ok);
    EXPECT_EQ(v, mac[i]);
  }
  uint64_t status = 0;
  ASSERT_EQ(mmio.read(0x106, 2, status), MemResult::Ok);
  EXPECT_EQ(status, 1u);  // VIRTIO_NET_S_LINK_UP
}

TEST_F(VirtioNetTest, TransmitStripsTheHeader) {
  init_linux();
  const auto f1 = frame_of(60, 1), f2 = frame_of(1514, 2);
  send(f1);
  send(f2);
  ASSERT_EQ(backend->tx.size(), 2u);
  EXPECT_EQ(backend->tx[0], f1);
  EXPECT_EQ(backend->tx[1], f2);
  EXPECT_EQ(used_idx(tx), 2);
  EXPECT_TRUE(irq.level);
  EXPECT_FALSE(rd(0x70) & kStatusNeedsReset);
}

TEST_F(VirtioNetTest, ReceiveFillsMergeableBuffersWithNumBuffers) {
  init_linux();
  post_rx(4, 1024);
  EXPECT_EQ(backend->ready, 0);  // the backend was never refused, so it is not told
  const auto small = frame_of(100, 3), big = frame_of(2500, 4);
  backend->deliver(small);
  backend->deliver(big);
  EXPECT_EQ(backend->queued(), 0u);
  ASSERT_EQ(used_idx(rx), 4);  // 1 buffer + 3 buffers (12 + 2500 bytes)
  EXPECT_EQ(used_elem(rx, 0).second, 112u);
  EXPECT_EQ(used_elem(rx, 1).second, 1024u);
  EXPECT_EQ(used_elem(rx, 2).second, 1024u);
  EXPECT_EQ(used_elem(rx, 3).second, 12 + 2500 - 2048u);
  uint16_t nb = 0;
  EXPECT_EQ(received(0, nb), small);
  EXPECT_EQ(nb, 1);
  EXPECT_EQ(received(1, nb), big);
  EXPECT_EQ(nb, 3);
  EXPECT_TRUE(irq.level);
}

TEST_F(VirtioNetTest, WithoutMergeableBuffersEachFrameTakesOneChain) {
  init(kFeatureVersion1 | kFeatureMac);
  post_rx(2, 1600);
  const auto f = frame_of(1514, 5);
  backend->deliver(f);
  ASSERT_EQ(used_idx(rx), 1);
  uint16_t nb = 0;
  EXPECT_EQ(received(0, nb), f);
  EXPECT_EQ(nb, 1);
  // A frame no single buffer holds is dropped and logged; the buffer stays available.
  backend->deliver(frame_of(1600, 6));
  EXPECT_EQ(used_idx(rx), 1);
  EXPECT_NE(capture.take().find("too small"), std::string::npos);
  backend->deliver(f);
  EXPECT_EQ(used_idx(rx), 2);
}

TEST_F(VirtioNetTest, NoBuffersHoldsFramesUntilTheDriverAddsSome) {
  init_linux();
  const auto f1 = frame_of(1514, 7), f2 = frame_of(80, 8);
  backend->deliver(f1);
  backend->deliver(f2);
  EXPECT_EQ(backend->queued(), 2u);
  EXPECT_EQ(used_idx(rx), 0);
  // One buffer is not enough for f1 (1526 bytes): it stays with the driver, unused.
  post_rx(1, 1024);
  EXPECT_EQ(backend->ready, 1);
  backend->flush();
  EXPECT_EQ(backend->queued(), 2u);
  EXPECT_EQ(used_idx(rx), 0);
  // A second buffer completes the room for f1; a third takes f2.
  post_rx(2, 1024);
  EXPECT_EQ(backend->ready, 2);
  backend->flush();
  EXPECT_EQ(backend->queued(), 0u);
  ASSERT_EQ(used_idx(rx), 3);
  uint16_t nb = 0;
  EXPECT_EQ(received(0, nb), f1);
  EXPECT_EQ(nb, 2);
  EXPECT_EQ(received(2, nb), f2);
  EXPECT_EQ(nb, 1);
  // Kicks while nothing waits do not bother the backend.
  post_rx(1, 1024);
  EXPECT_EQ(backend->ready, 2);
}

TEST_F(VirtioNetTest, FramesBeforeDriverOkWaitForTheFirstRefill) {
  backend->deliver(frame_of(60, 9));
  EXPECT_EQ(backend->queued(), 1u);
  init_linux();
  post_rx(1, 2048);
  EXPECT_EQ(backend->ready, 1);
  backend->flush();
  EXPECT_EQ(used_idx(rx), 1);
}

TEST_F(VirtioNetTest, MalformedTransmitChainNeedsReset) {
  init_linux();
  // A header of 8 bytes only.
  const uint16_t head = add_desc(tx, kTxBufs, 8, 0);
  make_available(tx, head);
  wr(0x50, 1);
  EXPECT_TRUE(rd(0x70) & kStatusNeedsReset);
  EXPECT_TRUE(backend->tx.empty());
  EXPECT_NE(capture.take().find("virtio_net_hdr"), std::string::npos);
}

TEST_F(VirtioNetTest, WritableTransmitBufferNeedsReset) {
  init_linux();
  const uint16_t head = add_desc(tx, kTxBufs, 64, 2);
  make_available(tx, head);
  wr(0x50, 1);
  EXPECT_TRUE(rd(0x70) & kStatusNeedsReset);
}

TEST_F(VirtioNetTest, ReadableReceiveBufferNeedsReset) {
  init_linux();
  make_available(rx, add_desc(rx, kRxBufs, 2048, 0));
  wr(0x50, 0);
  backend->deliver(frame_of(60, 10));
  EXPECT_TRUE(rd(0x70) & kStatusNeedsReset);
  EXPECT_EQ(rd(0x60) & 2, 2u);  // configuration change interrupt
  EXPECT_NE(capture.take().find("device-readable"), std::string::npos);
  // Frames wait (the backend holds them) until the driver resets and refills.
  backend->deliver(frame_of(60, 11));
  EXPECT_EQ(backend->queued(), 1u);
  rx = Ring{rx.base};
  tx = Ring{tx.base};
  init_linux();
  post_rx(1, 2048);
  backend->flush();
  EXPECT_EQ(used_idx(rx), 1);
}

TEST_F(VirtioNetTest, OversizedTransmitFrameIsDroppedAndLogged) {
  init_linux();
  send(frame_of(65536, 12));  // one byte over
  EXPECT_TRUE(backend->tx.empty());
  EXPECT_EQ(used_idx(tx), 1);  // the chain is returned
  EXPECT_FALSE(rd(0x70) & kStatusNeedsReset);
  EXPECT_NE(capture.take().find("65536-byte frame dropped"), std::string::npos);
  const auto ok = frame_of(65535, 13);
  send(ok);
  ASSERT_EQ(backend->tx.size(), 1u);
  EXPECT_EQ(backend->tx[0], ok);
}

}  // namespace
}  // namespace orrery::hw::virtio
