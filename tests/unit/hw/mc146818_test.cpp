// MC146818 RTC: time registers in BCD and binary, 12/24 h, SET, the divider, UIP, and the
// update, alarm and periodic flags and interrupt, on a manual virtual clock.
#include "hw/rtc/mc146818.h"

#include <gtest/gtest.h>

#include <ctime>

#include "hw/core/address_space.h"
#include "tests/unit/hw/irq_recorder.h"

namespace orrery::hw::rtc {
namespace {

using test::IrqRecorder;
using test::ManualTime;

constexpr int64_t kSec = 1'000'000'000;

int64_t utc(int y, int mo, int d, int h, int mi, int s) {
  struct tm tm {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return int64_t(timegm(&tm)) * kSec;
}

class RtcTest : public ::testing::Test {
 protected:
  RtcTest() {
    EXPECT_EQ(io.add_mmio("rtc", 0x70, Mc146818::kIoSize, rtc), "");
    rtc.irq().connect(irqs, 8);
  }
  uint8_t get(uint8_t idx) {
    uint64_t v = 0;
    EXPECT_EQ(io.write(0x70, 1, idx), MemResult::Ok);
    EXPECT_EQ(io.read(0x71, 1, v), MemResult::Ok);
    return uint8_t(v);
  }
  void set(uint8_t idx, uint8_t v) {
    EXPECT_EQ(io.write(0x70, 1, idx), MemResult::Ok);
    EXPECT_EQ(io.write(0x71, 1, v), MemResult::Ok);
  }

  Log log;
  ManualTime t;
  AddressSpace io{"io", kIoPortSpaceSize};
  IrqRecorder irqs;
  // Thursday 29 February 2024, 23:59:58.25 UTC.
  Mc146818 rtc{log, t.loop, utc(2024, 2, 29, 23, 59, 58) + kSec / 4};
};

TEST_F(RtcTest, PowerOnRegistersAndBcdTime) {
  EXPECT_EQ(get(Mc146818::kRegA), 0x26);
  EXPECT_EQ(get(Mc146818::kRegB), 0x02);
  EXPECT_EQ(get(Mc146818::kRegC), 0x00);
  EXPECT_EQ(get(Mc146818::kRegD), 0x80);
  EXPECT_EQ(get(Mc146818::kSeconds), 0x58);
  EXPECT_EQ(get(Mc146818::kMinutes), 0x59);
  EXPECT_EQ(get(Mc146818::kHours), 0x23);
  EXPECT_EQ(get(Mc146818::kDayOfWeek), 5);  // Thursday (1 = Sunday)
  EXPECT_EQ(get(Mc146818::kDayOfMonth), 0x29);
  EXPECT_EQ(get(Mc146818::kMonth), 0x02);
  EXPECT_EQ(get(Mc146818::kYear), 0x24);
  EXPECT_EQ(get(Mc146818::kCentury), 0x20);
}

TEST_F(RtcTest, VirtualTimeAdvancesTheDate) {
  t.advance(2 * kSec);
  EXPECT_EQ(get(Mc146818::kSeconds), 0x00);
  EXPECT_EQ(get(Mc146818::kHours), 0x00);
  EXPECT_EQ(get(Mc146818::kDayOfMonth), 0x01);
  EXPECT_EQ(get(Mc146818::kMonth), 0x03);
  EXPECT_EQ(get(Mc146818::kDayOfWeek), 6);
}

TEST_F(RtcTest, BinaryAnd12HourModes) {
  set(Mc146818::kRegB, Mc146818::kBBinary);     // binary, 12-hour
  EXPECT_EQ(get(Mc146818::kHours), 0x80 | 11);  // 11 PM
  EXPECT_EQ(get(Mc146818::kSeconds), 58);
  EXPECT_EQ(get(Mc146818::kYear), 24);
  set(Mc146818::kRegB, 0);  // BCD, 12-hour
  EXPECT_EQ(get(Mc146818::kHours), 0x91);
  t.advance(2 * kSec);
  EXPECT_EQ(get(Mc146818::kHours), 0x12);  // 12 AM
}

TEST_F(RtcTest, SetFreezesTheRegistersAndLoadsThemWhenCleared) {
  set(Mc146818::kRegB, Mc146818::kBSet | Mc146818::kB24h | Mc146818::kBUie);
  EXPECT_EQ(get(Mc146818::kRegB), Mc146818::kBSet | Mc146818::kB24h);  // SET clears UIE
  set(Mc146818::kHours, 0x07);
  set(Mc146818::kMinutes, 0x30);
  set(Mc146818::kYear, 0x99);
  set(Mc146818::kCentury, 0x19);
  t.advance(5 * kSec);
  EXPECT_EQ(get(Mc146818::kSeconds), 0x58);  // frozen
  set(Mc146818::kRegB, Mc146818::kB24h);
  t.advance(3 * kSec);
  EXPECT_EQ(get(Mc146818::kSeconds), 0x01);
  EXPECT_EQ(get(Mc146818::kMinutes), 0x31);
  EXPECT_EQ(get(Mc146818::kHours), 0x07);
  EXPECT_EQ(get(Mc146818::kYear), 0x99);
  EXPECT_EQ(get(Mc146818::kCentury), 0x19);
}

TEST_F(RtcTest, WritingATimeRegisterWhileRunningSetsTheClock) {
  set(Mc146818::kMinutes, 0x15);
  EXPECT_EQ(get(Mc146818::kMinutes), 0x15);
  EXPECT_EQ(get(Mc146818::kHours), 0x23);
  t.advance(2 * kSec);
  EXPECT_EQ(get(Mc146818::kMinutes), 0x16);
}

TEST_F(RtcTest, UipIsSetJustBeforeEachUpdate) {
  // 0.25 s into the second: no update soon.
  EXPECT_EQ(get(Mc146818::kRegA) & Mc146818::kAUip, 0);
  t.advance(kSec * 3 / 4 - Mc146818::kUipNs);
  EXPECT_EQ(get(Mc146818::kRegA) & Mc146818::kAUip, Mc146818::kAUip);
  t.advance(Mc146818::kUipNs);
  EXPECT_EQ(get(Mc146818::kRegA) & Mc146818::kAUip, 0);
}

TEST_F(RtcTest, UpdateEndedInterruptOncePerSecond) {
  set(Mc146818::kRegA, Mc146818::kADivider32k);  // no periodic flag
  set(Mc146818::kRegB, Mc146818::kB24h | Mc146818::kBUie);
  EXPECT_FALSE(irqs.level(8));
  t.advance(kSec * 3 / 4 - 1);
  EXPECT_FALSE(irqs.level(8));
  t.advance(1);
  EXPECT_TRUE(irqs.level(8));
  EXPECT_EQ(get(Mc146818::kRegC), Mc146818::kCIrqf | Mc146818::kCUf);
  EXPECT_FALSE(irqs.level(8));
  EXPECT_EQ(get(Mc146818::kRegC), 0);
  t.advance(kSec);
  EXPECT_TRUE(irqs.level(8));
  EXPECT_EQ(irqs.rises(8), 2u);
}

TEST_F(RtcTest, FlagsAreSetWithoutTheirEnables) {
  t.advance(2 * kSec);
  // UF and PF are set (the 1024 Hz rate runs), AF too (the alarm bytes are 0: 00:00:00 passed);
  // nothing is enabled, so no IRQF and no interrupt.
  EXPECT_EQ(get(Mc146818::kRegC), Mc146818::kCUf | Mc146818::kCPf | Mc146818::kCAf);
  EXPECT_FALSE(irqs.level(8));
}

TEST_F(RtcTest, AlarmFiresWhenTheTimeMatches) {
  get(Mc146818::kRegC);
  set(Mc146818::kSecondsAlarm, 0x05);
  set(Mc146818::kMinutesAlarm, Mc146818::kAlarmDontCare);  // any minute
  set(Mc146818::kHoursAlarm, 0x00);
  set(Mc146818::kRegB, Mc146818::kB24h | Mc146818::kBAie);
  t.advance(6 * kSec);  // to 00:00:04.25
  EXPECT_FALSE(irqs.level(8));
  t.advance(kSec);  // 00:00:05.25
  EXPECT_TRUE(irqs.level(8));
  EXPECT_EQ(get(Mc146818::kRegC) & (Mc146818::kCIrqf | Mc146818::kCAf),
            Mc146818::kCIrqf | Mc146818::kCAf);
  t.advance(59 * kSec);  // 00:01:04.25: not yet
  EXPECT_FALSE(irqs.level(8));
  t.advance(kSec);  // 00:01:05.25: don't-care minutes match again
  EXPECT_TRUE(irqs.level(8));
}

TEST_F(RtcTest, AnAlarmNoTimeMatchesNeverFires) {
  get(Mc146818::kRegC);
  set(Mc146818::kSecondsAlarm, 0x60);  // not a BCD second
  set(Mc146818::kMinutesAlarm, Mc146818::kAlarmDontCare);
  set(Mc146818::kHoursAlarm, Mc146818::kAlarmDontCare);
  set(Mc146818::kRegB, Mc146818::kB24h | Mc146818::kBAie);
  t.advance(3 * 86400 * kSec, 3600 * kSec);
  EXPECT_FALSE(irqs.level(8));
  EXPECT_EQ(get(Mc146818::kRegC) & Mc146818::kCAf, 0);
}

TEST_F(RtcTest, PeriodicInterruptAtTheSelectedRate) {
  get(Mc146818::kRegC);
  set(Mc146818::kRegA, Mc146818::kADivider32k | 0x0f);  // 2 Hz
  set(Mc146818::kRegB, Mc146818::kB24h | Mc146818::kBPie);
  // Acknowledge each interrupt as a driver does; the half seconds of the RTC's time base are
  // at .0 and .5, and the clock starts at .25.
  unsigned seen = 0;
  for (int i = 0; i < 40; ++i) {
    t.advance(kSec / 20);
    if (irqs.level(8)) {
      EXPECT_EQ(get(Mc146818::kRegC) & (Mc146818::kCIrqf | Mc146818::kCPf),
                Mc146818::kCIrqf | Mc146818::kCPf)
          << i;
      ++seen;
    }
  }
  EXPECT_EQ(seen, 4u);
  // 1024 Hz over 0.1 s with no acknowledgement: one edge, IRQF stays set.
  set(Mc146818::kRegA, Mc146818::kADivider32k | 0x06);
  get(Mc146818::kRegC);
  irqs.clear();
  t.advance(kSec / 10, kSec / 10000);
  EXPECT_EQ(irqs.rises(8), 1u);
}

TEST_F(RtcTest, DividerResetStopsTheClock) {
  set(Mc146818::kRegA, 0x70);
  t.advance(10 * kSec);
  EXPECT_EQ(get(Mc146818::kSeconds), 0x58);
  set(Mc146818::kRegA, 0x26);  // the first update is half a second later
  t.advance(kSec / 2 - 1);
  EXPECT_EQ(get(Mc146818::kSeconds), 0x58);
  t.advance(1);
  EXPECT_EQ(get(Mc146818::kSeconds), 0x59);
}

TEST_F(RtcTest, CmosRamAndNmiMask) {
  set(0x40, 0xa5);
  set(0x7f, 0x5a);
  EXPECT_EQ(get(0x40), 0xa5);
  EXPECT_EQ(get(0x7f), 0x5a);
  EXPECT_FALSE(rtc.nmi_masked());
  EXPECT_EQ(io.write(0x70, 1, 0x80 | 0x40), MemResult::Ok);  // index 0x40 with NMIs masked
  EXPECT_TRUE(rtc.nmi_masked());
  uint64_t v = 0;
  EXPECT_EQ(io.read(0x71, 1, v), MemResult::Ok);
  EXPECT_EQ(v, 0xa5u);
  rtc.set_cmos(0x34, 0x12);
  EXPECT_EQ(get(0x34), 0x12);
  rtc.set_cmos(Mc146818::kRegB, 0xff);  // the board cannot write the clock's registers
  EXPECT_EQ(get(Mc146818::kRegB), 0x02);
}

TEST_F(RtcTest, ResetClearsEnablesAndFlags) {
  set(Mc146818::kRegB, Mc146818::kB24h | Mc146818::kBUie | Mc146818::kBPie | Mc146818::kBAie);
  t.advance(kSec);
  EXPECT_TRUE(irqs.level(8));
  rtc.reset();
  EXPECT_FALSE(irqs.level(8));
  EXPECT_EQ(get(Mc146818::kRegB), Mc146818::kB24h);
  EXPECT_EQ(get(Mc146818::kRegC), 0);
}

}  // namespace
}  // namespace orrery::hw::rtc
