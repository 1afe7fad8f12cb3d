// The split virtqueue: chains, indirect tables, notification suppression, and malformed rings
// that must break the queue (never crash or hang).
#include "hw/virtio/virtqueue.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/unit/hw/log_capture.h"
#include "tests/unit/hw/virtio_test_driver.h"

namespace orrery::hw::virtio {
namespace {

constexpr uint64_t kRam = 0x40000000;
constexpr uint64_t kDesc = kRam + 0x1000;
constexpr uint64_t kAvail = kRam + 0x2000;
constexpr uint64_t kUsed = kRam + 0x3000;
constexpr uint64_t kData = kRam + 0x10000;
constexpr uint16_t kSize = 8;

constexpr uint16_t kNext = 1, kWrite = 2, kIndirect = 4;

// Plays the driver: writes descriptors and the available ring straight into guest RAM.
class VirtqueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(as.add_ram("ram", kRam, 0x100000), "");
    ASSERT_TRUE(vq.start({kDesc, kAvail, kUsed, kSize}, false));
  }
  void desc(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
            uint16_t next = 0) {
    test::write_desc(mem, table, i, addr, len, flags, next);
  }
  void make_available(uint16_t head) { test::make_available(mem, kAvail, kSize, avail_idx, head); }
  uint16_t used_idx() {
    uint16_t v = 0;
    EXPECT_TRUE(mem.load(kUsed + 2, v));
    return v;
  }
  std::pair<uint32_t, uint32_t> used_elem(uint16_t i) {
    uint32_t id = 0, len = 0;
    EXPECT_TRUE(mem.load(kUsed + 4 + 8 * (i % kSize), id));
    EXPECT_TRUE(mem.load(kUsed + 8 + 8 * (i % kSize), len));
    return {id, len};
  }
  void expect_broken(const char* why) {
    VirtqElement e;
    EXPECT_EQ(vq.pop(e), Virtqueue::Pop::Broken);
    EXPECT_TRUE(vq.broken());
    EXPECT_NE(vq.error().find(why), std::string::npos) << vq.error();
    // It stays broken, and says so once in the log.
    EXPECT_EQ(vq.pop(e), Virtqueue::Pop::Broken);
    std::string logged = capture.take();
    EXPECT_EQ(test::line_count(logged), 1u) << logged;
    EXPECT_NE(logged.find("needs a reset"), std::string::npos);
  }

  AddressSpace as;
  GuestMemory mem{as};
  Log log;
  test::LogCapture capture{log, "guest_errors"};
  Virtqueue vq{mem, log, "test.0"};
  uint16_t avail_idx = 0;
};

TEST_F(VirtqueueTest, PopsAChainAndPushesItBack) {
  ASSERT_TRUE(mem.store<uint32_t>(kData, 0xdeadbeef));
  desc(kDesc, 3, kData, 4, kNext, 5);
  desc(kDesc, 5, kData + 0x100, 16, kWrite | kNext, 6);
  desc(kDesc, 6, kData + 0x200, 8, kWrite);
  make_available(3);
  VirtqElement e;
  ASSERT_EQ(vq.pop(e), Virtqueue::Pop::Element);
  EXPECT_EQ(e.head, 3);
  EXPECT_EQ(e.out_bytes, 4u);
  EXPECT_EQ(e.in_bytes, 24u);
  uint32_t word = 0;
  EXPECT_EQ(e.read_out(0, {reinterpret_cast<uint8_t*>(&word), 4}), 4u);
  EXPECT_EQ(word, 0xdeadbeefu);
  // Writable bytes are spread over both writable descriptors.
  std::vector<uint8_t> reply(20, 0x5a);
  EXPECT_EQ(e.write_in(0, reply), 20u);
  uint32_t tail = 0;
  ASSERT_TRUE(mem.load(kData + 0x200, tail));
  EXPECT_EQ(tail, 0x5a5a5a5au);
  VirtqElement none;
  EXPECT_EQ(vq.pop(none), Virtqueue::Pop::Empty);

  vq.push(e, 1000);  // more than the buffers hold: clamped
  EXPECT_EQ(used_idx(), 1);
  EXPECT_EQ(used_elem(0), std::make_pair(3u, 24u));
  EXPECT_TRUE(vq.should_notify());
}

TEST_F(VirtqueueTest, IndirectTable) {
  const uint64_t table = kData + 0x1000;
  desc(table, 0, kData, 8, kNext, 2);
  desc(table, 2, kData + 0x40, 8, kWrite);
  desc(kDesc, 0, table, 3 * 16, kIndirect);
  make_available(0);
  VirtqElement e;
  ASSERT_EQ(vq.pop(e), Virtqueue::Pop::Element);
  EXPECT_EQ(e.out_bytes, 8u);
  EXPECT_EQ(e.in_bytes, 8u);
  ASSERT_EQ(e.in_ranges.size(), 1u);
  EXPECT_EQ(e.in_ranges[0].addr, kData + 0x40);
}

TEST_F(VirtqueueTest, NoInterruptFlagSuppressesNotification) {
  desc(kDesc, 0, kData, 8, kWrite);
  make_available(0);
  ASSERT_TRUE(mem.store<uint16_t>(kAvail, 1));  // VRING_AVAIL_F_NO_INTERRUPT
  VirtqElement e;
  ASSERT_EQ(vq.pop(e), Virtqueue::Pop::Element);
  vq.push(e, 0);
  EXPECT_FALSE(vq.should_notify());
  vq.set_kicks_wanted(false);
  uint16_t flags = 0;
  ASSERT_TRUE(mem.load(kUsed, flags));
  EXPECT_EQ(flags, 1);  // VRING_USED_F_NO_NOTIFY
}

TEST_F(VirtqueueTest, EventIdxNotifiesOnlyWhenUsedEventIsPassed) {
  ASSERT_TRUE(vq.start({kDesc, kAvail, kUsed, kSize}, true));
  for (uint16_t i = 0; i < 4; ++i) {
    desc(kDesc, i, kData + 16 * i, 16, kWrite);
    make_available(i);
  }
  // The driver wants an interrupt after used entry 2 (used_event = 2).
  ASSERT_TRUE(mem.store<uint16_t>(kAvail + 4 + 2 * kSize, 2));
  std::vector<bool> notified;
  for (int i = 0; i < 4; ++i) {
    VirtqElement e;
    ASSERT_EQ(vq.pop(e), Virtqueue::Pop::Element);
    vq.push(e, 16);
    notified.push_back(vq.should_notify());
  }
  // The first push always notifies (nothing signalled yet); then only crossing index 2.
  EXPECT_EQ(notified, (std::vector<bool>{true, false, true, false}));
  uint16_t avail_event = 0;
  ASSERT_TRUE(mem.load(kUsed + 4 + 8 * kSize, avail_event));
  EXPECT_EQ(avail_event, 4);
}

TEST_F(VirtqueueTest, RejectsBadLayouts) {
  EXPECT_FALSE(vq.start({kDesc, kAvail, kUsed, 6}, false));                // not a power of two
  EXPECT_FALSE(vq.start({kDesc + 8, kAvail, kUsed, 8}, false));            // misaligned table
  EXPECT_FALSE(vq.start({kDesc, kAvail, kRam + 0x100000 - 8, 8}, false));  // runs off RAM
  EXPECT_FALSE(vq.start({0, kAvail, kUsed, 8}, false));                    // not RAM
  EXPECT_TRUE(vq.broken());
  VirtqElement e;
  EXPECT_EQ(vq.pop(e), Virtqueue::Pop::Broken);
  vq.stop();
  EXPECT_FALSE(vq.broken());
}

TEST_F(VirtqueueTest, HeadOutOfRange) {
  make_available(kSize);
  expect_broken("descriptor 8");
}

TEST_F(VirtqueueTest, ChainLoop) {
  desc(kDesc, 0, kData, 8, kNext, 1);
  desc(kDesc, 1, kData, 8, kNext, 0);
  make_available(0);
  expect_broken("loops");
}

TEST_F(VirtqueueTest, NextOutOfRange) {
  desc(kDesc, 0, kData, 8, kNext, 200);
  make_available(0);
  expect_broken("links to 200");
}

TEST_F(VirtqueueTest, ZeroLength) {
  desc(kDesc, 0, kData, 0, 0);
  make_available(0);
  expect_broken("zero length");
}

TEST_F(VirtqueueTest, BufferOutsideRam) {
  desc(kDesc, 0, kRam + 0x100000 - 4, 8, kWrite);
  make_available(0);
  expect_broken("not in guest RAM");
}

TEST_F(VirtqueueTest, ReadableAfterWritable) {
  desc(kDesc, 0, kData, 8, kWrite | kNext, 1);
  desc(kDesc, 1, kData, 8, 0);
  make_available(0);
  expect_broken("readable descriptor after a writable");
}

TEST_F(VirtqueueTest, NestedIndirect) {
  const uint64_t table = kData + 0x1000;
  desc(table, 0, table, 16, kIndirect);
  desc(kDesc, 0, table, 16, kIndirect);
  make_available(0);
  expect_broken("nested indirect");
}

TEST_F(VirtqueueTest, IndirectLoop) {
  const uint64_t table = kData + 0x1000;
  desc(table, 0, kData, 8, kNext, 1);
  desc(table, 1, kData, 8, kNext, 0);
  desc(kDesc, 0, table, 32, kIndirect);
  make_available(0);
  expect_broken("indirect descriptor chain loops");
}

TEST_F(VirtqueueTest, IndirectTableBadSize) {
  desc(kDesc, 0, kData, 24, kIndirect);
  make_available(0);
  expect_broken("indirect table of 24 bytes");
}

TEST_F(VirtqueueTest, AvailIndexJumpsTooFar) {
  ASSERT_TRUE(mem.store<uint16_t>(kAvail + 2, kSize + 1));
  expect_broken("available index moved");
}

// Random ring contents: every pop either yields buffers inside RAM or breaks the queue.
TEST_F(VirtqueueTest, RandomRingsNeverEscapeRam) {
  std::mt19937_64 rng(42);
  const uint8_t* lo = as.host_ptr(kRam, 1);
  const uint8_t* hi = lo + 0x100000;
  int elements = 0, broken = 0;
  for (int round = 0; round < 2000; ++round) {
    vq.stop();
    ASSERT_TRUE(vq.start({kDesc, kAvail, kUsed, kSize}, round & 1));
    for (int i = 0; i < kSize; ++i) {
      uint64_t addr = rng() & 1 ? kRam + (rng() % 0x100000) : rng();
      desc(kDesc, uint16_t(i), addr, uint32_t(rng() % 0x2000), uint16_t(rng() & 7),
           uint16_t(rng() % 10));
      desc(kData + 0x1000, uint16_t(i), addr, uint32_t(rng() % 64), uint16_t(rng() & 7),
           uint16_t(rng() % 10));
    }
    ASSERT_TRUE(mem.store<uint16_t>(kAvail + 2, uint16_t(rng() % 12)));
    for (int i = 0; i < kSize; ++i)
      ASSERT_TRUE(mem.store<uint16_t>(kAvail + 4 + 2 * i, uint16_t(rng() % 10)));
    VirtqElement e;
    for (int n = 0; n < 20; ++n) {
      Virtqueue::Pop p = vq.pop(e);
      if (p == Virtqueue::Pop::Empty) break;
      if (p == Virtqueue::Pop::Broken) {
        ++broken;
        break;
      }
      ++elements;
      for (const auto* list : {&e.out, &e.in})
        for (const iovec& v : *list) {
          auto* b = static_cast<const uint8_t*>(v.iov_base);
          ASSERT_TRUE(b >= lo && b + v.iov_len <= hi);
        }
      vq.push(e, uint32_t(rng()));
    }
  }
  EXPECT_GT(elements, 0);
  EXPECT_GT(broken, 0);
  capture.take();
}

}  // namespace
}  // namespace orrery::hw::virtio
