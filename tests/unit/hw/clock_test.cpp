#include "hw/core/clock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace orrery::hw {
namespace {

TEST(Clock, ManualClockMovesOnlyWhenAdvanced) {
  Clock c(ClockSource::kManual);
  EXPECT_TRUE(c.manual());
  EXPECT_EQ(c.realtime_ns(), 0);
  EXPECT_EQ(c.virtual_ns(), 0);
  c.advance(1234);
  EXPECT_EQ(c.realtime_ns(), 1234);
  EXPECT_EQ(c.virtual_ns(), 1234);
  c.advance(-5);  // time never goes backwards
  EXPECT_EQ(c.realtime_ns(), 1234);
}

TEST(Clock, VirtualStopsWhilePausedAndResumesWhereItLeftOff) {
  Clock c(ClockSource::kManual);
  c.advance(10);
  c.pause();
  EXPECT_TRUE(c.paused());
  c.advance(5);
  EXPECT_EQ(c.virtual_ns(), 10);
  EXPECT_EQ(c.realtime_ns(), 15);
  c.pause();  // idempotent: does not refreeze at a later value
  c.advance(100);
  EXPECT_EQ(c.virtual_ns(), 10);
  c.resume();
  EXPECT_FALSE(c.paused());
  EXPECT_EQ(c.virtual_ns(), 10);
  c.advance(3);
  EXPECT_EQ(c.virtual_ns(), 13);
  EXPECT_EQ(c.realtime_ns(), 118);
  c.resume();  // idempotent
  EXPECT_EQ(c.virtual_ns(), 13);
}

TEST(Clock, HostWaitTellsHowLongUntilADeadline) {
  Clock c(ClockSource::kManual);
  c.advance(100);
  EXPECT_EQ(c.host_wait_ns(ClockType::kRealtime, 50), 0);
  EXPECT_EQ(c.host_wait_ns(ClockType::kRealtime, 100), 0);
  EXPECT_EQ(c.host_wait_ns(ClockType::kRealtime, 101), -1);  // manual: no host wait helps
  c.pause();
  c.advance(100);
  EXPECT_EQ(c.host_wait_ns(ClockType::kVirtual, 150), -1);
  EXPECT_EQ(c.host_wait_ns(ClockType::kVirtual, 100), 0);
  EXPECT_EQ(c.host_wait_ns(ClockType::kRealtime, 150), 0);

  Clock host;
  const int64_t v = host.virtual_ns();
  const int64_t w = host.host_wait_ns(ClockType::kVirtual, v + 1'000'000'000);
  EXPECT_GT(w, 0);
  EXPECT_LE(w, 1'000'000'000);
  host.pause();
  EXPECT_EQ(host.host_wait_ns(ClockType::kVirtual, host.virtual_ns() + 1), -1);
}

TEST(Clock, HostVirtualClockFreezesWhilePaused) {
  Clock c;
  c.pause();
  const int64_t frozen = c.virtual_ns();
  const int64_t r0 = c.realtime_ns();
  while (c.realtime_ns() < r0 + 2'000'000) {
  }  // host time moves on by 2 ms
  EXPECT_EQ(c.virtual_ns(), frozen);
  c.resume();
  const int64_t after = c.virtual_ns();
  EXPECT_GE(after, frozen);
  EXPECT_LT(after, frozen + 2'000'000);  // the paused stretch is not counted
}

TEST(Clock, ListenersHearPauseResumeAndAdvance) {
  Clock c(ClockSource::kManual);
  int calls = 0;
  const int id = c.add_listener([&] { ++calls; });
  c.advance(1);
  c.pause();
  c.pause();  // no change, no call
  c.resume();
  EXPECT_EQ(calls, 3);
  c.remove_listener(id);
  c.advance(1);
  EXPECT_EQ(calls, 3);
}

TEST(Clock, ReadersNeverSeeATornPauseOrResume) {
  Clock c(ClockSource::kManual);
  constexpr int kRounds = 20000;
  std::atomic<bool> done{false};
  bool monotonic = true, behind_realtime = true;
  std::thread reader([&] {
    int64_t last_v = 0, last_r = 0;
    while (!done.load()) {
      const int64_t v = c.virtual_ns(), r = c.realtime_ns();
      monotonic &= v >= last_v && r >= last_r;
      behind_realtime &= v <= r;
      last_v = v;
      last_r = r;
    }
  });
  for (int i = 0; i < kRounds; ++i) {
    c.advance(1);
    c.pause();
    c.advance(1);  // not counted by the virtual clock
    c.resume();
  }
  done = true;
  reader.join();
  EXPECT_TRUE(monotonic);
  EXPECT_TRUE(behind_realtime);
  EXPECT_EQ(c.virtual_ns(), kRounds);
  EXPECT_EQ(c.realtime_ns(), 2 * kRounds);
}

}  // namespace
}  // namespace orrery::hw
