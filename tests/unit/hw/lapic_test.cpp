// The local APIC's registers (QEMU's version 0x14 with six LVTs), priorities and the
// acknowledge/EOI cycle, IPIs (fixed, shorthands, logical flat and cluster, INIT, STARTUP),
// ESR, LINT0 ExtINT and the global disable, x2APIC mode through the MSRs, and the timer in
// one-shot, periodic and TSC-deadline modes on a manual clock.
#include "hw/intc/lapic.h"

#include <gtest/gtest.h>

#include "apic_test_rig.h"

namespace orrery::hw {
namespace {

using L = LocalApic;
using test::ApicRig;

bool bit(ApicRig& t, unsigned cpu, uint32_t base, uint8_t v) {
  return (t.r(cpu, base + (v >> 5) * 0x10) >> (v & 31)) & 1;
}

TEST(LocalApic, ResetValues) {
  ApicRig t(2);
  EXPECT_EQ(t.r(0, L::kRegId), 0u);
  EXPECT_EQ(t.r(1, L::kRegId), 0x01000000u);
  EXPECT_EQ(t.r(0, L::kRegVersion), 0x00050014u);
  EXPECT_EQ(t.r(0, L::kRegSvr), 0xffu);
  EXPECT_EQ(t.r(0, L::kRegDfr), 0xffffffffu);
  EXPECT_EQ(t.r(0, L::kRegLvtTimer), 0x10000u);
  EXPECT_EQ(t.r(0, L::kRegLvtLint0), 0x700u);  // BSP: ExtINT, as QEMU's pc
  EXPECT_EQ(t.r(1, L::kRegLvtLint0), 0x10000u);
  EXPECT_EQ(t.l(0).apic_base(), 0xfee00900u);
  EXPECT_EQ(t.l(1).apic_base(), 0xfee00800u);
}

TEST(LocalApic, SoftwareDisableKeepsLvtsMasked) {
  ApicRig t(1);
  t.w(0, L::kRegLvtError, 0x33);
  EXPECT_EQ(t.r(0, L::kRegLvtError), 0x10033u);
  t.enable(0);
  t.w(0, L::kRegLvtError, 0x33);
  EXPECT_EQ(t.r(0, L::kRegLvtError), 0x33u);
  t.w(0, L::kRegSvr, 0xff);
  EXPECT_EQ(t.r(0, L::kRegLvtError), 0x10033u);
}

TEST(LocalApic, PriorityClassesTprAndEoi) {
  ApicRig t(1);
  t.enable(0);
  t.l(0).receive({.dest = 0, .vector = 0x45});
  EXPECT_TRUE(t.pins[0]->intr);
  t.w(0, L::kRegTpr, 0x40);  // class 4 masks 0x45
  EXPECT_FALSE(t.pins[0]->intr);
  EXPECT_EQ(t.r(0, L::kRegPpr), 0x40u);
  EXPECT_EQ(t.l(0).read_cr8(), 4);
  t.l(0).write_cr8(3);
  EXPECT_EQ(t.r(0, L::kRegTpr), 0x30u);
  EXPECT_TRUE(t.pins[0]->intr);
  EXPECT_EQ(t.l(0).acknowledge(), 0x45);
  EXPECT_TRUE(bit(t, 0, L::kRegIsr, 0x45));
  EXPECT_EQ(t.r(0, L::kRegPpr), 0x40u);
  // Same class waits, higher class nests.
  t.l(0).receive({.vector = 0x4f});
  EXPECT_FALSE(t.pins[0]->intr);
  t.l(0).receive({.vector = 0x62});
  EXPECT_TRUE(t.pins[0]->intr);
  EXPECT_EQ(t.l(0).acknowledge(), 0x62);
  t.w(0, L::kRegEoi, 0);  // ends 0x62
  EXPECT_FALSE(t.pins[0]->intr);
  t.w(0, L::kRegEoi, 0);  // ends 0x45
  EXPECT_EQ(t.l(0).acknowledge(), 0x4f);
  EXPECT_EQ(t.l(0).acknowledge(), -1);
}

TEST(LocalApic, SoftwareDisabledHoldsRequests) {
  ApicRig t(1);
  t.l(0).receive({.vector = 0x80});
  EXPECT_FALSE(t.pins[0]->intr);
  t.enable(0);
  EXPECT_TRUE(t.pins[0]->intr);
}

TEST(LocalApic, IpisPhysicalAndShorthands) {
  ApicRig t(3);
  for (unsigned i = 0; i < 3; ++i) t.enable(i);
  t.w(0, L::kRegIcrHi, 0x02000000);
  t.w(0, L::kRegIcrLo, 0x4050);                      // fixed, physical, vector 0x50 to APIC 2
  EXPECT_EQ(t.r(0, L::kRegIcrLo) & (1u << 12), 0u);  // delivered: idle
  EXPECT_TRUE(bit(t, 2, L::kRegIrr, 0x50));
  EXPECT_FALSE(bit(t, 1, L::kRegIrr, 0x50));
  t.w(0, L::kRegIcrLo, 0x44051);  // self
  EXPECT_TRUE(bit(t, 0, L::kRegIrr, 0x51));
  t.w(0, L::kRegIcrLo, 0xc4052);  // all excluding self
  EXPECT_FALSE(bit(t, 0, L::kRegIrr, 0x52));
  EXPECT_TRUE(bit(t, 1, L::kRegIrr, 0x52));
  EXPECT_TRUE(bit(t, 2, L::kRegIrr, 0x52));
  t.w(1, L::kRegIcrLo, 0x84053);  // all including self
  for (unsigned i = 0; i < 3; ++i) EXPECT_TRUE(bit(t, i, L::kRegIrr, 0x53));
  t.w(0, L::kRegIcrHi, 0xff000000);
  t.w(0, L::kRegIcrLo, 0x0454);  // NMI broadcast
  for (unsigned i = 0; i < 3; ++i) EXPECT_EQ(t.pins[i]->nmis, 1);
}

TEST(LocalApic, InitAndStartup) {
  ApicRig t(2);
  t.enable(0);
  t.enable(1);
  t.w(1, L::kRegTpr, 0x20);
  t.w(0, L::kRegIcrHi, 0x01000000);
  t.w(0, L::kRegIcrLo, 0x8500);  // INIT level de-assert: nothing
  EXPECT_EQ(t.pins[1]->inits, 0);
  t.w(0, L::kRegIcrLo, 0x4500);  // INIT
  EXPECT_EQ(t.pins[1]->inits, 1);
  EXPECT_EQ(t.r(1, L::kRegTpr), 0u);  // INIT state
  EXPECT_EQ(t.r(1, L::kRegSvr), 0xffu);
  EXPECT_EQ(t.r(1, L::kRegId), 0x01000000u);  // kept
  t.w(0, L::kRegIcrLo, 0x4608);               // STARTUP, vector 8
  EXPECT_EQ(t.pins[1]->sipis, std::vector<uint8_t>{8});
}

TEST(LocalApic, LogicalFlatAndCluster) {
  ApicRig t(3);
  for (unsigned i = 0; i < 3; ++i) t.enable(i);
  t.w(0, L::kRegLdr, 0x01000000);
  t.w(1, L::kRegLdr, 0x02000000);
  t.w(2, L::kRegLdr, 0x04000000);
  t.w(0, L::kRegIcrHi, 0x06000000);
  t.w(0, L::kRegIcrLo, 0x4861);  // logical flat: APICs 1 and 2
  EXPECT_FALSE(bit(t, 0, L::kRegIrr, 0x61));
  EXPECT_TRUE(bit(t, 1, L::kRegIrr, 0x61));
  EXPECT_TRUE(bit(t, 2, L::kRegIrr, 0x61));
  // Cluster model: cluster 1 member 1 is APIC 1, cluster 2 member 1 is APIC 2.
  for (unsigned i = 0; i < 3; ++i) t.w(i, L::kRegDfr, 0x0fffffff);
  EXPECT_EQ(t.r(0, L::kRegDfr), 0x0fffffffu);
  t.w(1, L::kRegLdr, 0x11000000);
  t.w(2, L::kRegLdr, 0x21000000);
  t.w(0, L::kRegIcrHi, 0x21000000);
  t.w(0, L::kRegIcrLo, 0x4862);
  EXPECT_FALSE(bit(t, 1, L::kRegIrr, 0x62));
  EXPECT_TRUE(bit(t, 2, L::kRegIrr, 0x62));
  t.w(0, L::kRegIcrHi, 0xf1000000);  // every cluster, member 1
  t.w(0, L::kRegIcrLo, 0x4863);
  EXPECT_TRUE(bit(t, 1, L::kRegIrr, 0x63));
  EXPECT_TRUE(bit(t, 2, L::kRegIrr, 0x63));
}

TEST(LocalApic, IllegalVectorsSetEsr) {
  ApicRig t(1);
  t.enable(0);
  t.w(0, L::kRegLvtError, 0xe0);
  t.w(0, L::kRegIcrLo, 0x44005);  // self IPI, vector 5
  t.w(0, L::kRegEsr, 0);          // latch
  EXPECT_EQ(t.r(0, L::kRegEsr), L::kEsrSendIllegal);
  EXPECT_TRUE(bit(t, 0, L::kRegIrr, 0xe0));  // the error LVT fired
  t.w(0, L::kRegEsr, 0);
  EXPECT_EQ(t.r(0, L::kRegEsr), 0u);
  t.l(0).receive({.vector = 3});
  t.w(0, L::kRegEsr, 0);
  EXPECT_EQ(t.r(0, L::kRegEsr), L::kEsrRecvIllegal);
  EXPECT_EQ(t.r(0, 0x2f0), 0u);  // no CMCI: an illegal register
  t.w(0, L::kRegEsr, 0);
  EXPECT_EQ(t.r(0, L::kRegEsr), L::kEsrIllegalReg);
}

TEST(LocalApic, Lint0ExtIntAndGlobalDisable) {
  ApicRig t(2);
  t.l(0).set_irq(L::kLint0, true);
  EXPECT_TRUE(t.pins[0]->intr);  // ExtINT unmasked on the BSP even while software-disabled
  EXPECT_FALSE(t.pins[1]->intr);
  EXPECT_EQ(t.l(0).acknowledge(), L::kAckExtInt);
  t.l(0).set_irq(L::kLint0, false);
  EXPECT_FALSE(t.pins[0]->intr);
  // Globally disabled, LINT0 is INTR.
  ASSERT_TRUE(t.l(1).set_apic_base(0xfee00000));
  t.l(1).set_irq(L::kLint0, true);
  EXPECT_TRUE(t.pins[1]->intr);
  EXPECT_EQ(t.l(1).acknowledge(), L::kAckExtInt);
  // LINT1 as NMI.
  t.enable(0);
  t.w(0, L::kRegLvtLint1, 0x400);
  t.l(0).set_irq(L::kLint1, true);
  EXPECT_EQ(t.pins[0]->nmis, 1);
}

TEST(LocalApic, X2apicMode) {
  ApicRig t(2);
  uint64_t v = 0;
  EXPECT_FALSE(t.l(1).read_msr(0x802, v));         // xAPIC mode: no MSRs
  EXPECT_FALSE(t.l(1).set_apic_base(0xfee00400));  // EXTD without EN
  ASSERT_TRUE(t.l(1).set_apic_base(0xfee00c00));
  ASSERT_TRUE(t.l(0).set_apic_base(0xfee00d00));
  EXPECT_TRUE(t.l(1).x2apic_mode());
  ASSERT_TRUE(t.l(1).read_msr(0x802, v));
  EXPECT_EQ(v, 1u);
  ASSERT_TRUE(t.l(1).read_msr(0x80d, v));
  EXPECT_EQ(v, 0x00000002u);                 // cluster 0, bit 1
  EXPECT_FALSE(t.l(1).write_msr(0x802, 5));  // ID is read-only
  EXPECT_FALSE(t.l(1).read_msr(0x80e, v));   // no DFR
  EXPECT_FALSE(t.l(1).write_msr(0x80b, 1));  // EOI must be 0
  EXPECT_TRUE(t.l(1).write_msr(0x80f, 0x1ff));
  EXPECT_TRUE(t.l(0).write_msr(0x80f, 0x1ff));
  // ICR: one 64-bit write, destination in 63:32.
  ASSERT_TRUE(t.l(0).write_msr(0x830, (uint64_t(1) << 32) | 0x4070));
  ASSERT_TRUE(t.l(1).read_msr(0x820 + (0x70 >> 5), v));  // IRR
  EXPECT_EQ((v >> (0x70 & 31)) & 1, 1u);
  // SELF IPI.
  ASSERT_TRUE(t.l(1).write_msr(0x83f, 0x71));
  ASSERT_TRUE(t.l(1).read_msr(0x820 + (0x71 >> 5), v));
  EXPECT_EQ((v >> (0x71 & 31)) & 1, 1u);
  // x2APIC to xAPIC directly is refused; through disabled it works.
  EXPECT_FALSE(t.l(1).set_apic_base(0xfee00800));
  ASSERT_TRUE(t.l(1).set_apic_base(0xfee00000));
  ASSERT_TRUE(t.l(1).set_apic_base(0xfee00800));
  EXPECT_EQ(t.r(1, L::kRegId), 0x01000000u);
}

TEST(LocalApic, TimerOneShot) {
  ApicRig t(1);
  t.enable(0);
  t.w(0, L::kRegTimerDivide, 0x3);  // divide by 16
  EXPECT_EQ(t.r(0, L::kRegTimerDivide), 3u);
  t.w(0, L::kRegLvtTimer, 0x40);
  t.w(0, L::kRegTimerInit, 1000);
  EXPECT_EQ(t.r(0, L::kRegTimerCurrent), 1000u);
  t.advance(16 * 400);
  EXPECT_EQ(t.r(0, L::kRegTimerCurrent), 600u);
  EXPECT_FALSE(t.pins[0]->intr);
  t.advance(16 * 601);
  EXPECT_TRUE(bit(t, 0, L::kRegIrr, 0x40));
  EXPECT_EQ(t.r(0, L::kRegTimerCurrent), 0u);
  EXPECT_EQ(t.l(0).acknowledge(), 0x40);
  t.w(0, L::kRegEoi, 0);
  t.advance(16 * 5000);
  EXPECT_FALSE(bit(t, 0, L::kRegIrr, 0x40));  // once only
}

TEST(LocalApic, TimerPeriodicAndMasked) {
  ApicRig t(1);
  t.enable(0);
  t.w(0, L::kRegTimerDivide, 0xb);   // divide by 1
  t.w(0, L::kRegLvtTimer, 0x20041);  // periodic
  t.w(0, L::kRegTimerInit, 99);      // period 100 ns
  int fired = 0;
  for (int i = 0; i < 5; ++i) {
    t.advance(100);
    if (bit(t, 0, L::kRegIrr, 0x41)) {
      ++fired;
      EXPECT_EQ(t.l(0).acknowledge(), 0x41);
      t.w(0, L::kRegEoi, 0);
    }
  }
  EXPECT_EQ(fired, 5);
  t.advance(30);
  EXPECT_EQ(t.r(0, L::kRegTimerCurrent), 69u);
  t.w(0, L::kRegLvtTimer, 0x30041);  // masked: counts, no interrupt
  t.advance(500);
  EXPECT_FALSE(bit(t, 0, L::kRegIrr, 0x41));
  t.w(0, L::kRegTimerInit, 0);  // stopped
  EXPECT_EQ(t.r(0, L::kRegTimerCurrent), 0u);
}

TEST(LocalApic, TimerTscDeadline) {
  ApicRig t(1);
  t.enable(0);
  t.l(0).set_tsc_deadline(5000, 5000);  // ignored outside TSC-deadline mode
  EXPECT_EQ(t.l(0).tsc_deadline(), 0u);
  t.w(0, L::kRegLvtTimer, 0x40042);
  t.w(0, L::kRegTimerInit, 10);  // ignored in this mode
  EXPECT_EQ(t.r(0, L::kRegTimerInit), 0u);
  t.l(0).set_tsc_deadline(123456, 2000);
  EXPECT_EQ(t.l(0).tsc_deadline(), 123456u);
  t.advance(1999);
  EXPECT_FALSE(bit(t, 0, L::kRegIrr, 0x42));
  t.advance(1);
  EXPECT_TRUE(bit(t, 0, L::kRegIrr, 0x42));
  EXPECT_EQ(t.l(0).tsc_deadline(), 0u);  // cleared when it fires
  // A deadline in the past fires at once; writing 0 disarms.
  t.l(0).set_tsc_deadline(1, 0);
  t.advance(0);
  EXPECT_EQ(t.l(0).tsc_deadline(), 0u);
  t.l(0).set_tsc_deadline(99, 1'000'000);
  t.l(0).set_tsc_deadline(0, 0);
  EXPECT_EQ(t.l(0).acknowledge(), 0x42);
  t.w(0, L::kRegEoi, 0);
  t.advance(2'000'000);
  EXPECT_FALSE(bit(t, 0, L::kRegIrr, 0x42));
}

}  // namespace
}  // namespace orrery::hw

namespace orrery::hw {
namespace {

TEST(LocalApic, DisconnectedApicDrivesNothing) {
  test::ApicRig t(1);
  t.enable(0);
  t.w(0, L::kRegLvtTimer, 0x40);
  t.w(0, L::kRegTimerDivide, 0xb);
  t.w(0, L::kRegTimerInit, 100);
  t.l(0).disconnect();
  t.advance(1000);  // the timer fires into the void
  t.l(0).receive({.mode = ApicDelivery::kNmi});
  EXPECT_FALSE(t.pins[0]->intr);
  EXPECT_EQ(t.pins[0]->nmis, 0);
  EXPECT_TRUE(t.l(0).intr());  // the APIC itself still holds the request
}

}  // namespace
}  // namespace orrery::hw
