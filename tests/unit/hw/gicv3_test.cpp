// GICv3 register-level tests: distributor with affinity routing, redistributors, and the
// system-register CPU interface (ack/EOI, priority, SGIs by affinity).
#include "hw/intc/gicv3.h"

#include <gtest/gtest.h>

namespace orrery::hw::intc {
namespace {

using G = Gicv3;

class Gicv3Test : public ::testing::Test {
 protected:
  Gicv3Test() : gic({0x8000'0000, 0x8000'0001}, 96, log) {}
  uint64_t rd(MmioDevice& d, uint64_t off, unsigned size = 4) {
    uint64_t v = 0;
    EXPECT_EQ(d.read(off, size, v), MemResult::Ok);
    return v;
  }
  void wr(MmioDevice& d, uint64_t off, uint64_t v, unsigned size = 4) {
    EXPECT_EQ(d.write(off, size, v), MemResult::Ok);
  }
  uint64_t rdist(unsigned cpu, uint64_t off, unsigned size = 4) {
    return rd(gic.redistributors(), cpu * G::kRedistStride + off, size);
  }
  void rdist_w(unsigned cpu, uint64_t off, uint64_t v, unsigned size = 4) {
    wr(gic.redistributors(), cpu * G::kRedistStride + off, v, size);
  }
  Gicv3CpuInterface& icc(unsigned cpu) { return gic.cpu_interface(cpu); }
  /// What Linux's GICv3 driver does at boot.
  void linux_init() {
    wr(gic.distributor(), G::GICD_CTLR, 0x13);  // ARE_NS | EnableGrp1A | EnableGrp1
    wr(gic.distributor(), G::GICD_IGROUPR + 4, ~0u);
    for (unsigned c = 0; c < 2; ++c) {
      rdist_w(c, G::GICR_WAKER, 0);
      rdist_w(c, G::kSgiBase + G::GICR_IGROUPR0, ~0u);
      icc(c).write(IccReg::PMR, 0xF0);
      icc(c).write(IccReg::BPR1, 0);
      icc(c).write(IccReg::IGRPEN1, 1);
    }
  }
  Log log;
  Gicv3 gic;
};

TEST_F(Gicv3Test, IdentificationAndRedistributorFrames) {
  EXPECT_EQ(rd(gic.distributor(), G::GICD_PIDR2) & 0xF0, 0x30u);
  uint64_t ctlr = rd(gic.distributor(), G::GICD_CTLR);
  EXPECT_TRUE(ctlr & G::GICD_CTLR_ARE);
  EXPECT_TRUE(ctlr & G::GICD_CTLR_DS);
  EXPECT_EQ((rd(gic.distributor(), G::GICD_TYPER) >> 19) & 0x1F, 9u);
  EXPECT_EQ((rd(gic.distributor(), G::GICD_TYPER) >> 17) & 1, 0u);  // no LPIs
  EXPECT_EQ(rdist(0, G::GICR_PIDR2) & 0xF0, 0x30u);
  uint64_t t0 = rdist(0, G::GICR_TYPER, 8), t1 = rdist(1, G::GICR_TYPER, 8);
  EXPECT_EQ(t0 >> 32, 0u);
  EXPECT_EQ(t1 >> 32, 1u);
  EXPECT_EQ(t0 & G::GICR_TYPER_Last, 0u);
  EXPECT_NE(t1 & G::GICR_TYPER_Last, 0u);
  EXPECT_EQ(rdist(1, G::GICR_TYPER + 4), 1u);  // upper half alone
  EXPECT_EQ(rdist(0, G::GICR_WAKER),
            uint64_t(G::GICR_WAKER_ProcessorSleep | G::GICR_WAKER_ChildrenAsleep));
  rdist_w(0, G::GICR_WAKER, 0);
  EXPECT_EQ(rdist(0, G::GICR_WAKER), 0u);
  EXPECT_EQ(icc(0).read(IccReg::SRE) & 1, 1u);
  EXPECT_EQ((icc(0).read(IccReg::CTLR) >> 8) & 7, 7u);
}

TEST_F(Gicv3Test, SpiRoutedByAffinity) {
  linux_init();
  wr(gic.distributor(), G::GICD_ISENABLER + 4, 1u << 8);  // INTID 40
  wr(gic.distributor(), G::GICD_IPRIORITYR + 40, 0xA0, 1);
  wr(gic.distributor(), G::GICD_IROUTER + 8 * 40, 1, 8);  // to Aff0 = 1
  EXPECT_EQ(rd(gic.distributor(), G::GICD_IROUTER + 8 * 40, 8), 1u);
  gic.inputs().set_irq(40, true);
  EXPECT_FALSE(gic.core().irq_out(0).level());
  EXPECT_TRUE(gic.core().irq_out(1).level());
  EXPECT_EQ(icc(1).read(IccReg::HPPIR1), 40u);
  EXPECT_EQ(icc(1).read(IccReg::IAR1), 40u);
  EXPECT_EQ(icc(1).read(IccReg::RPR), 0xA0u);
  EXPECT_EQ(icc(1).read(IccReg::AP1R0) != 0 || icc(1).read(IccReg::AP1R2) != 0, true);
  gic.inputs().set_irq(40, false);
  icc(1).write(IccReg::EOIR1, 40);
  EXPECT_EQ(icc(1).read(IccReg::RPR), 0xFFu);
  EXPECT_EQ(icc(1).read(IccReg::IAR1), 1023u);
  // Private INTIDs are RAZ/WI in the distributor with ARE set.
  wr(gic.distributor(), G::GICD_ISENABLER, ~0u);
  EXPECT_EQ(rd(gic.distributor(), G::GICD_ISENABLER), 0u);
}

TEST_F(Gicv3Test, PpiThroughRedistributor) {
  linux_init();
  rdist_w(0, G::kSgiBase + G::GICR_ISENABLER0, 1u << 30);
  rdist_w(0, G::kSgiBase + G::GICR_IPRIORITYR + 28, 0x80u << 16);  // INTID 30 (bytes 28..31)
  EXPECT_EQ(rdist(0, G::kSgiBase + G::GICR_IPRIORITYR + 30, 1), 0x80u);
  gic.inputs().set_irq(gic.core().ppi_input(0, 30), true);
  EXPECT_TRUE(gic.core().irq_out(0).level());
  EXPECT_EQ(icc(0).read(IccReg::IAR1), 30u);
  icc(0).write(IccReg::EOIR1, 30);
  EXPECT_TRUE(gic.core().irq_out(0).level());  // level still high: pending again
  rdist_w(0, G::kSgiBase + G::GICR_ICENABLER0, 1u << 30);
  EXPECT_FALSE(gic.core().irq_out(0).level());
}

TEST_F(Gicv3Test, Sgi1rTargetsByAffinityAndIrm) {
  linux_init();
  for (unsigned c = 0; c < 2; ++c) rdist_w(c, G::kSgiBase + G::GICR_ISENABLER0, 0xFFFF);
  icc(0).write(IccReg::SGI1R, (3ull << 24) | 0b10);  // SGI 3 to Aff0 = 1
  EXPECT_FALSE(gic.core().irq_out(0).level());
  EXPECT_TRUE(gic.core().irq_out(1).level());
  EXPECT_EQ(icc(1).read(IccReg::IAR1), 3u);
  icc(1).write(IccReg::EOIR1, 3);
  icc(1).write(IccReg::SGI1R, (1ull << 40) | (5ull << 24));  // IRM: all but self
  EXPECT_TRUE(gic.core().irq_out(0).level());
  EXPECT_FALSE(gic.core().irq_out(1).level());
  EXPECT_EQ(icc(0).read(IccReg::IAR1), 5u);
  icc(0).write(IccReg::EOIR1, 5);
  icc(0).write(IccReg::SGI1R, (1ull << 16) | 1);  // Aff1 = 1: nobody
  EXPECT_FALSE(gic.core().irq_out(1).level());
}

TEST_F(Gicv3Test, Group0IsFiqAndSplitEoi) {
  linux_init();
  wr(gic.distributor(), G::GICD_CTLR, 0x13);
  rdist_w(0, G::kSgiBase + G::GICR_IGROUPR0, ~0u & ~(1u << 1));  // SGI 1 group 0
  rdist_w(0, G::kSgiBase + G::GICR_ISENABLER0, 0xFFFF);
  icc(0).write(IccReg::IGRPEN0, 1);
  icc(0).write(IccReg::SGI0R, (1ull << 24) | 1);
  EXPECT_TRUE(gic.core().fiq_out(0).level());
  EXPECT_EQ(icc(0).read(IccReg::IAR1), 1023u);  // wrong group
  EXPECT_EQ(icc(0).read(IccReg::IAR0), 1u);
  icc(0).write(IccReg::CTLR, G::ICC_CTLR_EOImode);
  icc(0).write(IccReg::EOIR0, 1);
  EXPECT_EQ(icc(0).read(IccReg::RPR), 0xFFu);
  EXPECT_NE(rdist(0, G::kSgiBase + G::GICR_ISACTIVER0) & 2, 0u);
  icc(0).write(IccReg::DIR, 1);
  EXPECT_EQ(rdist(0, G::kSgiBase + G::GICR_ISACTIVER0) & 2, 0u);
}

TEST_F(Gicv3Test, PmrAndPreemption) {
  linux_init();
  wr(gic.distributor(), G::GICD_ISENABLER + 4, 3);
  wr(gic.distributor(), G::GICD_IPRIORITYR + 32, 0x20A0, 2);
  gic.inputs().set_irq(32, true);
  EXPECT_EQ(icc(0).read(IccReg::IAR1), 32u);
  gic.inputs().set_irq(33, true);
  EXPECT_EQ(icc(0).read(IccReg::IAR1), 33u);  // 0x20 preempts 0xA0
  icc(0).write(IccReg::EOIR1, 33);
  EXPECT_EQ(icc(0).read(IccReg::RPR), 0xA0u);
  icc(0).write(IccReg::EOIR1, 32);
  icc(0).write(IccReg::PMR, 0x10);
  EXPECT_FALSE(gic.core().irq_out(0).level());
  EXPECT_EQ(icc(0).read(IccReg::PMR), 0x10u);
}

TEST_F(Gicv3Test, RegisterTableMatchesEncodings) {
  const IccRegInfo* r = find_icc_reg(3, 0, 4, 6, 0);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->reg, IccReg::PMR);
  EXPECT_EQ(find_icc_reg(3, 0, 12, 11, 5)->reg, IccReg::SGI1R);
  EXPECT_EQ(find_icc_reg(3, 4, 12, 9, 5), nullptr);  // ICC_SRE_EL2
}

TEST_F(Gicv3Test, GuestErrorsAreHarmless) {
  linux_init();
  icc(0).write(IccReg::IAR1, 5);
  EXPECT_EQ(icc(0).read(IccReg::EOIR1), 0u);
  icc(0).write(IccReg::EOIR1, 999);
  rdist_w(0, G::GICR_CTLR, 1);  // EnableLPIs without LPIs
  wr(gic.distributor(), G::GICD_SGIR, 1);
  uint64_t v = rd(gic.redistributors(), 5 * G::kRedistStride);  // beyond the last CPU
  EXPECT_EQ(v, 0u);
}

}  // namespace
}  // namespace orrery::hw::intc
