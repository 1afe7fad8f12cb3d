// PL031 RTC register-level tests on a manual virtual clock (nothing sleeps).
#include "hw/rtc/pl031.h"

#include <gtest/gtest.h>

#include <chrono>

#include "hw/core/address_space.h"
#include "hw/core/clock.h"
#include "hw/core/event_loop.h"
#include "log_capture.h"

namespace orrery::hw::rtc {
namespace {

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kBaseSec = 1'700'000'000;  // the wall clock at virtual time 0

class Pl031Test : public ::testing::Test {
 protected:
  Pl031Test() : rtc(log, loop, kBaseSec * kSec) {}
  uint32_t rd(uint64_t off) {
    uint64_t v = 0;
    EXPECT_EQ(rtc.read(off, 4, v), MemResult::Ok);
    return uint32_t(v);
  }
  void wr(uint64_t off, uint32_t v) { EXPECT_EQ(rtc.write(off, 4, v), MemResult::Ok); }
  /// Moves the virtual clock on by seconds and runs the alarm if it became due.
  void advance(int64_t seconds) {
    clock.advance(seconds * kSec);
    loop.run_once(0);
  }
  Clock clock{ClockSource::kManual};
  EventLoop loop{clock};  // driven here with run_once
  Log log;
  Pl031 rtc;
};

TEST_F(Pl031Test, CountsHostSeconds) {
  EXPECT_EQ(rd(Pl031::RTCDR), 1'700'000'000u);
  advance(5);
  EXPECT_EQ(rd(Pl031::RTCDR), 1'700'000'005u);
  EXPECT_EQ(rd(Pl031::RTCCR), 1u);
}

TEST_F(Pl031Test, LoadSetsCounter) {
  wr(Pl031::RTCLR, 1000);
  EXPECT_EQ(rd(Pl031::RTCDR), 1000u);
  advance(3);
  EXPECT_EQ(rd(Pl031::RTCDR), 1003u);
}

TEST_F(Pl031Test, MatchInterrupt) {
  wr(Pl031::RTCLR, 100);
  wr(Pl031::RTCMR, 102);
  wr(Pl031::RTCIMSC, 1);
  EXPECT_EQ(rd(Pl031::RTCRIS), 0u);
  advance(1);
  EXPECT_EQ(rd(Pl031::RTCRIS), 0u);
  advance(1);
  EXPECT_EQ(rd(Pl031::RTCRIS), 1u);
  EXPECT_EQ(rd(Pl031::RTCMIS), 1u);
  EXPECT_TRUE(rtc.irq().level());
  wr(Pl031::RTCICR, 1);
  EXPECT_EQ(rd(Pl031::RTCRIS), 0u);
  EXPECT_FALSE(rtc.irq().level());
  // Masked: raw status set, no output.
  wr(Pl031::RTCIMSC, 0);
  wr(Pl031::RTCMR, 110);
  advance(20);
  EXPECT_EQ(rd(Pl031::RTCRIS), 1u);
  EXPECT_FALSE(rtc.irq().level());
}

TEST_F(Pl031Test, IdRegisters) {
  const uint32_t ids[] = {0x31, 0x10, 0x04, 0x00, 0x0D, 0xF0, 0x05, 0xB1};
  for (unsigned i = 0; i < 8; ++i) EXPECT_EQ(rd(0xFE0 + 4 * i), ids[i]);
}

TEST_F(Pl031Test, GuestErrorsAreHarmless) {
  wr(Pl031::RTCDR, 5);
  wr(0x100, 5);
  EXPECT_EQ(rd(0x100), 0u);
  EXPECT_EQ(rd(Pl031::RTCICR), 0u);
}

TEST_F(Pl031Test, MatchForTheCurrentSecondFiresAtOnce) {
  wr(Pl031::RTCIMSC, 1);
  wr(Pl031::RTCLR, 500);
  wr(Pl031::RTCMR, 500);
  EXPECT_EQ(rd(Pl031::RTCRIS), 1u);
  EXPECT_TRUE(rtc.irq().level());
  wr(Pl031::RTCICR, 1);
  wr(Pl031::RTCMR, 600);
  wr(Pl031::RTCLR, 600);  // loading the match value also matches
  EXPECT_TRUE(rtc.irq().level());
}

TEST_F(Pl031Test, UnmaskingAPastMatchRaisesTheLine) {
  wr(Pl031::RTCLR, 10);
  wr(Pl031::RTCMR, 11);
  advance(1);
  EXPECT_EQ(rd(Pl031::RTCMIS), 0u);
  EXPECT_FALSE(rtc.irq().level());
  wr(Pl031::RTCIMSC, 1);
  EXPECT_TRUE(rtc.irq().level());
}

// The TRM's registers are 32-bit; QEMU accepts 8-, 16- and 64-bit accesses too (valid sizes
// 1..8), so a guest using them must not take an external abort. Narrow accesses see the byte
// lanes of the register's word (APB has no byte strobes), 64-bit ones two registers; each odd
// size is a guest error in the log.
TEST_F(Pl031Test, OddAccessSizesWorkAndAreLogged) {
  test::LogCapture cap(log, "guest_errors");
  ASSERT_TRUE(cap.ok());
  AddressSpace as;
  ASSERT_EQ(as.add_mmio("pl031", 0x09010000, Pl031::kMmioSize, rtc), "");
  constexpr uint64_t kBase = 0x09010000;
  wr(Pl031::RTCLR, 0x11223344);
  uint64_t v = 0;
  EXPECT_EQ(as.read(kBase + Pl031::RTCDR, 1, v), MemResult::Ok);
  EXPECT_EQ(v, 0x44u);
  EXPECT_EQ(as.read(kBase + Pl031::RTCDR + 1, 1, v), MemResult::Ok);
  EXPECT_EQ(v, 0x33u);
  EXPECT_EQ(as.read(kBase + Pl031::RTCDR + 2, 2, v), MemResult::Ok);
  EXPECT_EQ(v, 0x1122u);
  // A 16-bit store loads the counter with the value on its lanes.
  EXPECT_EQ(as.write(kBase + Pl031::RTCLR, 2, 0x5566), MemResult::Ok);
  EXPECT_EQ(rd(Pl031::RTCDR), 0x5566u);
  // 64-bit: RTCMR (low) and RTCLR (high) at 0x4 would be misaligned; 0x0 pairs RTCDR/RTCMR.
  wr(Pl031::RTCMR, 0xABCD);
  EXPECT_EQ(as.read(kBase + Pl031::RTCDR, 8, v), MemResult::Ok);
  EXPECT_EQ(v, 0x0000ABCD00005566ull);
  EXPECT_EQ(as.write(kBase + Pl031::RTCLR, 8, 0x0000000100000007ull), MemResult::Ok);  // LR, CR
  EXPECT_EQ(rd(Pl031::RTCDR), 7u);
  EXPECT_EQ(cap.take(),
            "pl031: 8-bit read at offset 0x0 (the PL031 takes 32-bit accesses)\n"
            "pl031: 8-bit read at offset 0x1 (the PL031 takes 32-bit accesses)\n"
            "pl031: 16-bit read at offset 0x2 (the PL031 takes 32-bit accesses)\n"
            "pl031: 16-bit write at offset 0x8 (the PL031 takes 32-bit accesses)\n"
            "pl031: 64-bit read at offset 0x0 (the PL031 takes 32-bit accesses)\n"
            "pl031: 64-bit write at offset 0x8 (the PL031 takes 32-bit accesses)\n");
  EXPECT_EQ(as.read(kBase + Pl031::RTCMR, 8, v), MemResult::DeviceError);  // misaligned
}

// The alarm fires from the event loop at the virtual time of the match, with nobody touching
// the device, and not before.
TEST_F(Pl031Test, AlarmRaisesTheLineAtTheMatchWithoutGuestAccesses) {
  wr(Pl031::RTCLR, 100);
  clock.advance(kSec / 2);  // mid-second: the match is half a second after the next second
  wr(Pl031::RTCMR, 102);
  wr(Pl031::RTCIMSC, 1);
  EXPECT_FALSE(rtc.irq().level());
  clock.advance(kSec / 2 + kSec - 1);  // one nanosecond before the counter reads 102
  EXPECT_EQ(loop.run_once(0), 0);
  EXPECT_FALSE(rtc.irq().level());
  clock.advance(1);
  EXPECT_EQ(loop.run_once(0), 1);  // the alarm, no register access
  EXPECT_TRUE(rtc.irq().level());
  wr(Pl031::RTCICR, 1);
  EXPECT_FALSE(rtc.irq().level());
}

// The RTC follows the virtual clock: while the machine is stopped (clock paused) the counter
// stands still and no alarm fires; it resumes where it left off.
TEST_F(Pl031Test, StandsStillWhileTheClockIsPaused) {
  wr(Pl031::RTCLR, 1000);
  wr(Pl031::RTCMR, 1002);
  wr(Pl031::RTCIMSC, 1);
  clock.pause();
  advance(60);
  EXPECT_EQ(rd(Pl031::RTCDR), 1000u);
  EXPECT_FALSE(rtc.irq().level());
  clock.resume();
  advance(1);
  EXPECT_EQ(rd(Pl031::RTCDR), 1001u);
  EXPECT_FALSE(rtc.irq().level());
  advance(1);
  EXPECT_TRUE(rtc.irq().level());
}

TEST(Pl031WallClockTest, StartsAtTheHostWallClock) {
  Clock clock(ClockSource::kManual);
  EventLoop loop(clock);
  Log log;
  const int64_t before = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  Pl031 rtc(log, loop);
  uint64_t v = 0;
  ASSERT_EQ(rtc.read(Pl031::RTCDR, 4, v), MemResult::Ok);
  const int64_t after = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  EXPECT_GE(int64_t(v), before);
  EXPECT_LE(int64_t(v), after);
}

TEST(Pl031AlarmTest, DestroyingWithAnAlarmArmedDoesNotWait) {
  Clock clock;
  EventLoop loop(clock);
  loop.start();
  Log log;
  const auto start = std::chrono::steady_clock::now();
  {
    Pl031 rtc(log, loop);
    uint64_t v = 0;
    ASSERT_EQ(rtc.read(Pl031::RTCDR, 4, v), MemResult::Ok);
    ASSERT_EQ(rtc.write(Pl031::RTCMR, 4, uint32_t(v) + 1000), MemResult::Ok);
    ASSERT_EQ(rtc.write(Pl031::RTCIMSC, 4, 1), MemResult::Ok);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

}  // namespace
}  // namespace orrery::hw::rtc
