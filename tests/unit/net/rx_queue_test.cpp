#include <gtest/gtest.h>

#include <vector>

#include "hw/net/net_backend.h"
#include "tests/unit/hw/log_capture.h"

namespace orrery::hw::net {
namespace {

std::vector<uint8_t> frame(uint8_t tag) {
  return std::vector<uint8_t>(60, tag);
}

TEST(RxQueue, DeliversAtOnceWhenTheDeviceHasRoom) {
  RxQueue q(4);
  std::vector<uint8_t> got;
  q.set_sink([&](std::span<const uint8_t> f) {
    got.push_back(f[0]);
    return true;
  });
  q.push(frame(1));
  q.push(frame(2));
  EXPECT_EQ(got, (std::vector<uint8_t>{1, 2}));
  EXPECT_EQ(q.queued(), 0u);
  EXPECT_EQ(q.delivered(), 2u);
}

TEST(RxQueue, HoldsABoundedNumberAndDropsTheRest) {
  Log log;
  test::LogCapture cap(log, "guest_errors");
  ASSERT_TRUE(cap.ok());
  RxQueue q(3, &log);
  bool room = false;
  std::vector<uint8_t> got;
  q.set_sink([&](std::span<const uint8_t> f) {
    if (!room) return false;
    got.push_back(f[0]);
    return true;
  });
  for (uint8_t i = 1; i <= 10; ++i) q.push(frame(i));
  EXPECT_EQ(q.queued(), 3u);
  EXPECT_EQ(q.dropped(), 7u);
  EXPECT_TRUE(got.empty());
  const std::string logged = cap.take();
  EXPECT_NE(logged.find("receive queue full (3), dropping"), std::string::npos) << logged;
  EXPECT_EQ(logged.find("dropping", logged.find("dropping") + 1), std::string::npos);  // once

  // One buffer comes free: the oldest frame goes, and a new one waits behind the rest.
  room = true;
  q.flush();
  EXPECT_EQ(got, (std::vector<uint8_t>{1, 2, 3}));
  room = false;
  q.push(frame(11));
  room = true;
  q.push(frame(12));  // the device has room, but frame 11 is older
  EXPECT_EQ(got, (std::vector<uint8_t>{1, 2, 3}));
  q.flush();
  EXPECT_EQ(got, (std::vector<uint8_t>{1, 2, 3, 11, 12}));
  EXPECT_EQ(q.delivered(), 5u);
  EXPECT_EQ(q.dropped(), 7u);
}

TEST(RxQueue, QueuesUntilASinkIsSet) {
  RxQueue q(8);
  q.push(frame(7));
  EXPECT_EQ(q.queued(), 1u);
  int n = 0;
  q.set_sink([&](std::span<const uint8_t>) { return ++n, true; });
  q.flush();
  EXPECT_EQ(n, 1);
}

}  // namespace
}  // namespace orrery::hw::net
