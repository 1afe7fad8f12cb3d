// HPET: capabilities, the main counter, one-shot and periodic comparators (the accumulator
// rule), 32-bit mode, level and edge interrupts, status and legacy replacement routing.
#include "hw/timer/hpet.h"

#include <gtest/gtest.h>

#include <vector>

#include "hw/core/address_space.h"
#include "tests/unit/hw/irq_recorder.h"

namespace orrery::hw::timer {
namespace {

using test::IrqRecorder;
using test::ManualTime;

constexpr uint64_t kBase = 0xfed00000;
constexpr uint64_t T0 = Hpet::TIMER_BASE, T1 = T0 + Hpet::TIMER_STRIDE,
                   T2 = T1 + Hpet::TIMER_STRIDE;

class HpetTest : public ::testing::Test {
 protected:
  HpetTest() {
    EXPECT_EQ(mem.add_mmio("hpet", kBase, Hpet::kMmioSize, hpet), "");
    for (unsigned n = 0; n < Hpet::kIrqLines; ++n) hpet.irq(n).connect(irqs, n);
  }
  uint64_t rd(uint64_t reg, unsigned size = 8) {
    uint64_t v = 0;
    EXPECT_EQ(mem.read(kBase + reg, size, v), MemResult::Ok);
    return v;
  }
  void wr(uint64_t reg, uint64_t v, unsigned size = 8) {
    EXPECT_EQ(mem.write(kBase + reg, size, v), MemResult::Ok);
  }

  Log log;
  ManualTime t;
  AddressSpace mem{"mem", uint64_t(1) << 32};
  IrqRecorder irqs;
  std::vector<bool> legacy;
  Hpet hpet{log, t.loop, [this](bool on) { legacy.push_back(on); }};
};

TEST_F(HpetTest, CapabilitiesAreQemus) {
  EXPECT_EQ(rd(Hpet::GCAP_ID), 0x009896808086a201u);
  EXPECT_EQ(rd(Hpet::GCAP_ID, 4), 0x8086a201u);
  EXPECT_EQ(rd(Hpet::GCAP_ID + 4, 4), 10'000'000u);  // femtoseconds per tick
  // Periodic- and 64-bit-capable, routable to IOAPIC input 2 only.
  EXPECT_EQ(rd(T0 + Hpet::TN_CONF), 0x0000000400000030u);
  EXPECT_EQ(rd(T2 + Hpet::TN_CMP), ~uint64_t(0));
  uint64_t v = 0;
  EXPECT_EQ(mem.read(kBase + Hpet::GEN_CONF, 2, v), MemResult::DeviceError);  // 4 or 8 bytes
}

TEST_F(HpetTest, MainCounterRunsAt100MHzOnlyWhileEnabled) {
  t.advance(1000);
  EXPECT_EQ(rd(Hpet::MAIN_CNT), 0u);
  wr(Hpet::GEN_CONF, Hpet::kEnableCnf);
  t.advance(1000);
  EXPECT_EQ(rd(Hpet::MAIN_CNT), 100u);
  wr(Hpet::GEN_CONF, 0);
  t.advance(1000);
  EXPECT_EQ(rd(Hpet::MAIN_CNT), 100u);
  wr(Hpet::MAIN_CNT, 0xfffffff0u, 4);  // halted: the guest may set it
  wr(Hpet::GEN_CONF, Hpet::kEnableCnf);
  t.advance(160);
  EXPECT_EQ(rd(Hpet::MAIN_CNT), 0x100000000u);  // 64 bits: carries into the high half
  EXPECT_EQ(rd(Hpet::MAIN_CNT + 4, 4), 1u);
}

TEST_F(HpetTest, OneShotLevelInterruptHoldsUntilStatusCleared) {
  wr(T2 + Hpet::TN_CONF, Hpet::kTnIntTypeLevel | Hpet::kTnIntEnb | 2u << Hpet::kTnRouteShift);
  wr(T2 + Hpet::TN_CMP, 500);
  wr(Hpet::GEN_CONF, Hpet::kEnableCnf);
  t.advance(4990);
  EXPECT_FALSE(irqs.level(2));
  EXPECT_EQ(rd(Hpet::GEN_INT_STS), 0u);
  t.advance(10);
  EXPECT_TRUE(irqs.level(2));
  EXPECT_EQ(rd(Hpet::GEN_INT_STS), 4u);
  wr(Hpet::GEN_INT_STS, 4);  // write 1 to clear
  EXPECT_FALSE(irqs.level(2));
  t.advance(100000);
  EXPECT_EQ(irqs.rises(2), 1u);  // one shot
}

// A comparator near the top of the 64-bit counter is centuries away: its deadline in
// nanoseconds used to overflow into the past (a signed overflow found by UBSan running the
// platform guest program), so it fired at once.
TEST_F(HpetTest, AComparatorCenturiesAheadDoesNotFire) {
  wr(T2 + Hpet::TN_CONF, Hpet::kTnIntTypeLevel | Hpet::kTnIntEnb | 2u << Hpet::kTnRouteShift);
  wr(T2 + Hpet::TN_CMP, 0x7fffffffffffff00ull);
  wr(Hpet::GEN_CONF, Hpet::kEnableCnf);
  t.advance(1000000);
  EXPECT_FALSE(irqs.level(2));
  EXPECT_EQ(rd(Hpet::GEN_INT_STS), 0u);
}

TEST_F(HpetTest, LevelStatusIsSetEvenWithTheInterruptDisabled) {
  wr(T2 + Hpet::TN_CONF, Hpet::kTnIntTypeLevel | 2u << Hpet::kTnRouteShift);
  wr(T2 + Hpet::TN_CMP, 10);
  wr(Hpet::GEN_CONF, Hpet::kEnableCnf);
  t.advance(100);
  EXPECT_EQ(rd(Hpet::GEN_INT_STS), 4u);
  EXPECT_FALSE(irqs.level(2));
  wr(T2 + Hpet::TN_CONF, Hpet::kTnIntTypeLevel | Hpet::kTnIntEnb | 2u << Hpet::kTnRouteShift);
  EXPECT_TRUE(irqs.level(2));
}

TEST_F(HpetTest, PeriodicModeAccumulatesThePeriod) {
  wr(T2 + Hpet::TN_CONF,
     Hpet::kTnIntEnb | Hpet::kTnPeriodic | Hpet::kTnValSet | 2u << Hpet::kTnRouteShift);
  wr(T2 + Hpet::TN_CMP, 4000);  // with Tn_VAL_SET: the comparator (and the period)
  wr(T2 + Hpet::TN_CMP, 1000);  // then the period alone
  EXPECT_EQ(rd(T2 + Hpet::TN_CONF) & Hpet::kTnValSet, 0u);
  EXPECT_EQ(rd(T2 + Hpet::TN_CMP), 4000u);
  wr(Hpet::GEN_CONF, Hpet::kEnableCnf);
  t.advance(10 * 8000, 300);     // counter 0..8000 in small steps
  EXPECT_EQ(irqs.rises(2), 5u);  // 4000, 5000, 6000, 7000, 8000
  EXPECT_FALSE(irqs.level(2));   // edge-triggered: pulses
  EXPECT_EQ(rd(T2 + Hpet::TN_CMP), 9000u);
  // Late by several periods: one interrupt, and the comparator lands past the counter.
  t.advance(10 * 10000);
  EXPECT_EQ(irqs.rises(2), 6u);
  EXPECT_EQ(rd(T2 + Hpet::TN_CMP), 19000u);
}

TEST_F(HpetTest, TinyPeriodsAreRateLimited) {
  wr(T2 + Hpet::TN_CONF, Hpet::kTnIntEnb | Hpet::kTnPeriodic | 2u << Hpet::kTnRouteShift);
  wr(T2 + Hpet::TN_CMP, 1);  // one tick (10 ns)
  wr(Hpet::GEN_CONF, Hpet::kEnableCnf);
  t.advance(1'000'000, 100);  // 1 ms in 100 ns steps
  EXPECT_GE(irqs.rises(2), 150u);
  EXPECT_LE(irqs.rises(2), 1'000'000u / Hpet::kMinRearmNs + 1);
  // The comparator still accumulated every period: it is just past the counter.
  EXPECT_EQ(rd(T2 + Hpet::TN_CMP), rd(Hpet::MAIN_CNT) + 1);
}

TEST_F(HpetTest, ThirtyTwoBitModeTruncatesTheComparator) {
  wr(T2 + Hpet::TN_CONF, Hpet::kTn32Mode | Hpet::kTnIntEnb | 2u << Hpet::kTnRouteShift);
  wr(T2 + Hpet::TN_CMP, 0x123456789u);
  EXPECT_EQ(rd(T2 + Hpet::TN_CMP), 0x23456789u);
  // The low halves match: counter 0x1_0000_0010 against comparator 0x10.
  wr(T2 + Hpet::TN_CMP, 0x10);
  wr(Hpet::MAIN_CNT, 0x100000000u);
  wr(Hpet::GEN_CONF, Hpet::kEnableCnf);
  t.advance(10 * 0x10);
  EXPECT_EQ(irqs.rises(2), 1u);
}

TEST_F(HpetTest, ThirtyTwoBitOneShotAlsoFiresAtTheWrap) {
  wr(T2 + Hpet::TN_CONF, Hpet::kTn32Mode | Hpet::kTnIntEnb | 2u << Hpet::kTnRouteShift);
  wr(Hpet::MAIN_CNT, 0xffffff00u);
  wr(T2 + Hpet::TN_CMP, 0x100);
  wr(Hpet::GEN_CONF, Hpet::kEnableCnf);
  t.advance(10 * 0x100);
  EXPECT_EQ(irqs.rises(2), 1u);  // the wrap to 0
  t.advance(10 * 0x100);
  EXPECT_EQ(irqs.rises(2), 2u);  // the match at 0x100
}

TEST_F(HpetTest, LegacyReplacementRoutesTimers0And1ToIrq0And8) {
  for (uint64_t tn : {T0, T1})
    wr(tn + Hpet::TN_CONF, Hpet::kTnIntEnb | Hpet::kTnIntTypeLevel | 2u << Hpet::kTnRouteShift);
  wr(T0 + Hpet::TN_CMP, 10);
  wr(T1 + Hpet::TN_CMP, 20);
  wr(Hpet::GEN_CONF, Hpet::kEnableCnf | Hpet::kLegRtCnf);
  EXPECT_EQ(legacy, std::vector<bool>{true});
  t.advance(1000);
  EXPECT_TRUE(irqs.level(0));
  EXPECT_TRUE(irqs.level(8));
  EXPECT_FALSE(irqs.level(2));
  // Off again: both timers' level interrupts move to their own route.
  wr(Hpet::GEN_CONF, Hpet::kEnableCnf);
  EXPECT_EQ(legacy, (std::vector<bool>{true, false}));
  EXPECT_FALSE(irqs.level(0));
  EXPECT_FALSE(irqs.level(8));
  EXPECT_TRUE(irqs.level(2));
}

TEST_F(HpetTest, DisablingDropsLevelLinesAndResetRestores) {
  wr(T2 + Hpet::TN_CONF, Hpet::kTnIntTypeLevel | Hpet::kTnIntEnb | 2u << Hpet::kTnRouteShift);
  wr(T2 + Hpet::TN_CMP, 1);
  wr(Hpet::GEN_CONF, Hpet::kEnableCnf | Hpet::kLegRtCnf);
  t.advance(100);
  EXPECT_TRUE(irqs.level(2));
  wr(Hpet::GEN_CONF, 0);
  EXPECT_FALSE(irqs.level(2));
  hpet.reset();
  EXPECT_EQ(legacy, (std::vector<bool>{true, false}));
  EXPECT_EQ(rd(Hpet::GEN_INT_STS), 0u);
  EXPECT_EQ(rd(Hpet::MAIN_CNT), 0u);
  EXPECT_EQ(rd(T2 + Hpet::TN_CONF), 0x0000000400000030u);
}

}  // namespace
}  // namespace orrery::hw::timer
