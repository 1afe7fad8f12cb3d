// PL031 RTC register-level tests with a fake host clock.
#include "hw/rtc/pl031.h"

#include <gtest/gtest.h>

namespace orrery::hw::rtc {
namespace {

class Pl031Test : public ::testing::Test {
 protected:
  Pl031Test() : rtc(log, [this] { return now; }) {}
  uint32_t rd(uint64_t off) {
    uint64_t v = 0;
    EXPECT_EQ(rtc.read(off, 4, v), MemResult::Ok);
    return uint32_t(v);
  }
  void wr(uint64_t off, uint32_t v) { EXPECT_EQ(rtc.write(off, 4, v), MemResult::Ok); }
  int64_t now = 1'700'000'000;
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

}  // namespace
}  // namespace orrery::hw::rtc
