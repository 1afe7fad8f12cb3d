// i8254 PIT: counting, modes, BCD, latch and read-back, gates, port 0x61 and IRQ 0 edges, all on
// a manual virtual clock.
#include "hw/timer/i8254.h"

#include <gtest/gtest.h>

#include "hw/core/address_space.h"
#include "tests/unit/hw/irq_recorder.h"

namespace orrery::hw::timer {
namespace {

using test::IrqRecorder;
using test::ManualTime;

/// Virtual nanoseconds at which PIT clock `tick` has happened.
int64_t tick_ns(int64_t tick) {
  return (tick * 1'000'000'000 + I8254::kClockHz - 1) / I8254::kClockHz;
}

class PitTest : public ::testing::Test {
 protected:
  PitTest() {
    EXPECT_EQ(io.add_mmio("pit", 0x40, I8254::kIoSize, pit), "");
    EXPECT_EQ(io.add_mmio("pcspk", 0x61, 1, pit.port61()), "");
    pit.irq().connect(irqs, 0);
  }
  uint8_t in(uint16_t port) {
    uint64_t v = 0;
    EXPECT_EQ(io.read(port, 1, v), MemResult::Ok);
    return uint8_t(v);
  }
  void out(uint16_t port, uint8_t v) { EXPECT_EQ(io.write(port, 1, v), MemResult::Ok); }
  /// Latches counter c and reads it LSB then MSB (for RW = 3).
  uint16_t latched(unsigned c) {
    out(0x43, uint8_t(c << 6));
    const uint8_t lo = in(uint16_t(0x40 + c));
    return uint16_t(lo | in(uint16_t(0x40 + c)) << 8);
  }

  Log log;
  ManualTime t;
  AddressSpace io{"io", kIoPortSpaceSize};
  IrqRecorder irqs;
  I8254 pit{log, t.loop};
};

TEST_F(PitTest, Mode0CountsDownAndRaisesOut2ThroughPort61) {
  out(0x61, I8254::kP61Gate2);
  out(0x43, 0xb0);                           // counter 2, LSB then MSB, mode 0, binary
  EXPECT_EQ(in(0x61) & I8254::kP61Out2, 0);  // mode 0 drives OUT low at the control word
  out(0x42, 0xe8);
  out(0x42, 0x03);  // 1000
  t.advance_to(tick_ns(400));
  EXPECT_EQ(latched(2), 600);
  EXPECT_EQ(in(0x61) & I8254::kP61Out2, 0);
  t.advance_to(tick_ns(999));
  EXPECT_EQ(in(0x61) & I8254::kP61Out2, 0);
  t.advance_to(tick_ns(1000));
  EXPECT_EQ(in(0x61) & (I8254::kP61Out2 | I8254::kP61Gate2), I8254::kP61Out2 | I8254::kP61Gate2);
  t.advance_to(tick_ns(1005));
  EXPECT_EQ(latched(2), 0xfffb);  // past terminal count it keeps counting, wrapping
}

TEST_F(PitTest, Gate2LowHoldsAMode0Count) {
  out(0x43, 0xb0);
  out(0x42, 100);
  out(0x42, 0);  // gate 2 is low after reset: the count waits
  t.advance_to(tick_ns(50));
  EXPECT_EQ(latched(2), 100);
  out(0x61, I8254::kP61Gate2);
  t.advance_to(tick_ns(80));
  EXPECT_EQ(latched(2), 70);
  out(0x61, 0);
  t.advance_to(tick_ns(200));
  EXPECT_EQ(latched(2), 70);
}

TEST_F(PitTest, ReadBackLatchesStatusThenCount) {
  out(0x43, 0x34);  // counter 0, LSB/MSB, mode 2
  // Status before a count: OUT high (mode 2), NULL COUNT, then the control word's bits.
  out(0x43, 0xe2);  // read-back: status only, counter 0
  EXPECT_EQ(in(0x40), 0xc0 | 0x34);
  out(0x40, 0x00);
  out(0x40, 0x10);  // 4096
  t.advance_to(tick_ns(96));
  out(0x43, 0xc2);                   // read-back: count and status of counter 0
  t.advance_to(tick_ns(500));        // the latched values do not move
  EXPECT_EQ(in(0x40), 0x80 | 0x34);  // status first, NULL COUNT clear now
  EXPECT_EQ(in(0x40), 0xa0);         // 4000 = 0x0fa0
  EXPECT_EQ(in(0x40), 0x0f);
  EXPECT_EQ(latched(0), 4096 - 500 % 4096);  // then the live count again
}

TEST_F(PitTest, BcdCountsInDecimal) {
  out(0x43, 0x31);  // counter 0, LSB/MSB, mode 0, BCD
  out(0x40, 0x00);
  out(0x40, 0x10);  // 1000 in BCD
  t.advance_to(tick_ns(1));
  EXPECT_EQ(latched(0), 0x0999);
  t.advance_to(tick_ns(1000));
  EXPECT_EQ(latched(0), 0x0000);
  t.advance_to(tick_ns(1001));
  EXPECT_EQ(latched(0), 0x9999);  // BCD wraps at 10000
}

TEST_F(PitTest, LsbOnlyAndMsbOnlyAccess) {
  out(0x43, 0x10);  // counter 0, LSB only, mode 0
  out(0x40, 0x80);
  t.advance_to(tick_ns(0x10));
  EXPECT_EQ(in(0x40), 0x70);
  EXPECT_EQ(in(0x40), 0x70);  // no flip-flop: every read is the LSB
  out(0x43, 0x20);            // counter 0, MSB only, mode 0
  out(0x40, 0x02);            // 0x200
  t.advance_to(tick_ns(0x10 + 0x101));
  EXPECT_EQ(in(0x40), 0x00);  // 0x200 - 0x101 = 0xff
  EXPECT_EQ(in(0x40), 0x00);
}

TEST_F(PitTest, CounterLatchHoldsUntilRead) {
  out(0x43, 0x30);
  out(0x40, 0x00);
  out(0x40, 0x00);  // 65536
  t.advance_to(tick_ns(10));
  out(0x43, 0x00);  // latch counter 0
  t.advance_to(tick_ns(300));
  out(0x43, 0x00);  // a second latch before the read is ignored
  EXPECT_EQ(in(0x40), uint8_t(65536 - 10));
  EXPECT_EQ(in(0x40), uint8_t((65536 - 10) >> 8));
  // Unlatched, the live count follows the clock.
  EXPECT_EQ(latched(0), 65536 - 300);
}

TEST_F(PitTest, Mode2DrivesIrq0OncePerPeriod) {
  out(0x43, 0x34);
  out(0x40, 100);
  out(0x40, 0);
  irqs.clear();
  // 10 ms in 10 us steps: 11931 PIT clocks make 119 whole periods.
  t.advance(10'000'000, 10'000);
  EXPECT_EQ(irqs.rises(0), 119u);
  EXPECT_TRUE(irqs.level(0));
}

TEST_F(PitTest, TinyCountsAreRateLimited) {
  out(0x43, 0x34);  // mode 2, a count of 2: an edge every 1.7 us
  out(0x40, 2);
  out(0x40, 0);
  irqs.clear();
  t.advance(1'000'000, 100);
  EXPECT_GE(irqs.rises(0), 150u);
  EXPECT_LE(irqs.rises(0), 1'000'000u / I8254::kMinRearmNs + 10);  // about one per handler
}

TEST_F(PitTest, Mode3SquareWaveOnOut2) {
  out(0x61, I8254::kP61Gate2);
  out(0x43, 0xb6);  // counter 2, LSB/MSB, mode 3
  out(0x42, 10);
  out(0x42, 0);
  for (int64_t tick : {0, 4}) {
    t.advance_to(tick_ns(tick));
    EXPECT_NE(in(0x61) & I8254::kP61Out2, 0) << tick;
  }
  for (int64_t tick : {5, 9}) {
    t.advance_to(tick_ns(tick));
    EXPECT_EQ(in(0x61) & I8254::kP61Out2, 0) << tick;
  }
  t.advance_to(tick_ns(10));
  EXPECT_NE(in(0x61) & I8254::kP61Out2, 0);
  t.advance_to(tick_ns(12));
  EXPECT_EQ(latched(2), 6);  // decrements by two
}

TEST_F(PitTest, Mode1OneShotStartsOnGateEdge) {
  out(0x43, 0xb2);  // counter 2, LSB/MSB, mode 1
  out(0x42, 50);
  out(0x42, 0);
  t.advance_to(tick_ns(100));
  EXPECT_NE(in(0x61) & I8254::kP61Out2, 0);  // high until triggered
  out(0x61, I8254::kP61Gate2);               // trigger
  t.advance_to(tick_ns(120));
  EXPECT_EQ(in(0x61) & I8254::kP61Out2, 0);
  EXPECT_EQ(latched(2), 30);
  t.advance_to(tick_ns(150));
  EXPECT_NE(in(0x61) & I8254::kP61Out2, 0);
}

TEST_F(PitTest, Mode4StrobesOnceAtTerminalCount) {
  out(0x43, 0x38);  // counter 0, LSB/MSB, mode 4
  out(0x40, 20);
  out(0x40, 0);
  irqs.clear();
  t.advance(tick_ns(40), 100);
  EXPECT_EQ(irqs.rises(0), 1u);  // the one-clock low strobe, back high
  EXPECT_TRUE(irqs.level(0));
}

TEST_F(PitTest, RefreshToggleFollowsTheClock) {
  const uint8_t a = in(0x61) & I8254::kP61Refresh;
  t.advance(I8254::kRefreshNs);
  EXPECT_NE(in(0x61) & I8254::kP61Refresh, a);
}

TEST_F(PitTest, ResetLeavesCounter0InMode3At18Hz) {
  pit.reset();
  irqs.clear();
  t.advance(1'000'000'000, 1'000'000);
  EXPECT_EQ(irqs.rises(0), 18u);  // 1193182 / 65536 = 18.2
}

}  // namespace
}  // namespace orrery::hw::timer
