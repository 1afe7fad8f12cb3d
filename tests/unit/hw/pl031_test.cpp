// PL031 RTC register-level tests with a fake host clock.
#include "hw/rtc/pl031.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "hw/core/address_space.h"
#include "log_capture.h"

namespace orrery::hw::rtc {
namespace {

class Pl031Test : public ::testing::Test {
 protected:
  Pl031Test() : rtc(log, [this] { return now.load() * 1'000'000'000; }) {}
  uint32_t rd(uint64_t off) {
    uint64_t v = 0;
    EXPECT_EQ(rtc.read(off, 4, v), MemResult::Ok);
    return uint32_t(v);
  }
  void wr(uint64_t off, uint32_t v) { EXPECT_EQ(rtc.write(off, 4, v), MemResult::Ok); }
  std::atomic<int64_t> now{1'700'000'000};  // seconds; the alarm thread reads it too
  Log log;
  Pl031 rtc;
};

TEST_F(Pl031Test, CountsHostSeconds) {
  EXPECT_EQ(rd(Pl031::RTCDR), 1'700'000'000u);
  now += 5;
  EXPECT_EQ(rd(Pl031::RTCDR), 1'700'000'005u);
  EXPECT_EQ(rd(Pl031::RTCCR), 1u);
}

TEST_F(Pl031Test, LoadSetsCounter) {
  wr(Pl031::RTCLR, 1000);
  EXPECT_EQ(rd(Pl031::RTCDR), 1000u);
  now += 3;
  EXPECT_EQ(rd(Pl031::RTCDR), 1003u);
}

TEST_F(Pl031Test, MatchInterrupt) {
  wr(Pl031::RTCLR, 100);
  wr(Pl031::RTCMR, 102);
  wr(Pl031::RTCIMSC, 1);
  EXPECT_EQ(rd(Pl031::RTCRIS), 0u);
  now += 1;
  EXPECT_EQ(rd(Pl031::RTCRIS), 0u);
  now += 1;
  EXPECT_EQ(rd(Pl031::RTCRIS), 1u);
  EXPECT_EQ(rd(Pl031::RTCMIS), 1u);
  EXPECT_TRUE(rtc.irq().level());
  wr(Pl031::RTCICR, 1);
  EXPECT_EQ(rd(Pl031::RTCRIS), 0u);
  EXPECT_FALSE(rtc.irq().level());
  // Masked: raw status set, no output.
  wr(Pl031::RTCIMSC, 0);
  wr(Pl031::RTCMR, 110);
  now += 20;
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
  now += 1;
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

// The real host clock from here on: the alarm must fire on time with nobody touching the device.
class IrqWaiter : public IrqSink {
 public:
  void set_irq(unsigned, bool level) override {
    std::lock_guard<std::mutex> g(mu);
    if (level && !raised) {
      raised = true;
      raised_at = std::chrono::system_clock::now();
    }
    cv.notify_all();
  }
  bool wait(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lk(mu);
    return cv.wait_for(lk, timeout, [this] { return raised; });
  }
  std::mutex mu;
  std::condition_variable cv;
  bool raised = false;
  std::chrono::system_clock::time_point raised_at;
};

TEST(Pl031AlarmTest, MatchRaisesTheLineOnTimeWithoutGuestAccesses) {
  Log log;
  IrqWaiter waiter;
  Pl031 rtc(log);
  rtc.irq().connect(waiter, 34);
  uint64_t v = 0;
  ASSERT_EQ(rtc.read(Pl031::RTCDR, 4, v), MemResult::Ok);
  const uint32_t match = uint32_t(v) + 2;  // 1-2 s ahead
  ASSERT_EQ(rtc.write(Pl031::RTCMR, 4, match), MemResult::Ok);
  ASSERT_EQ(rtc.write(Pl031::RTCIMSC, 4, 1), MemResult::Ok);
  EXPECT_FALSE(rtc.irq().level());
  ASSERT_TRUE(waiter.wait(std::chrono::milliseconds(4000))) << "RTCINTR never rose";
  // Not before the counter (host seconds, RTCLR never written) reached RTCMR, and not much
  // after: the other engineer's benchmarks may delay the thread a little.
  const auto at =
      std::chrono::duration_cast<std::chrono::milliseconds>(waiter.raised_at.time_since_epoch())
          .count();
  EXPECT_GE(at, int64_t(match) * 1000);
  EXPECT_LT(at, int64_t(match) * 1000 + 500);
  EXPECT_TRUE(rtc.irq().level());
  ASSERT_EQ(rtc.read(Pl031::RTCMIS, 4, v), MemResult::Ok);
  EXPECT_EQ(v, 1u);
  ASSERT_EQ(rtc.write(Pl031::RTCICR, 4, 1), MemResult::Ok);
  EXPECT_FALSE(rtc.irq().level());
}

TEST(Pl031AlarmTest, DestroyingWithAnAlarmArmedDoesNotWait) {
  Log log;
  const auto start = std::chrono::steady_clock::now();
  {
    Pl031 rtc(log);
    uint64_t v = 0;
    ASSERT_EQ(rtc.read(Pl031::RTCDR, 4, v), MemResult::Ok);
    ASSERT_EQ(rtc.write(Pl031::RTCMR, 4, uint32_t(v) + 1000), MemResult::Ok);
    ASSERT_EQ(rtc.write(Pl031::RTCIMSC, 4, 1), MemResult::Ok);
    rtc.reset();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

}  // namespace
}  // namespace orrery::hw::rtc
