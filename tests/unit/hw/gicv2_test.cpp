// GICv2 register-level tests: distributor and banked CPU interface, ack/EOI flows, priority
// and preemption, edge/level, SGIs between CPUs, FIQ routing.
#include "hw/intc/gicv2.h"

#include <gtest/gtest.h>

#include "hw/core/requester.h"

namespace orrery::hw::intc {
namespace {

using G = Gicv2;

class Gicv2Test : public ::testing::Test {
 protected:
  Gicv2Test() : gic(2, 96, log) {}
  uint32_t rd(MmioDevice& d, uint64_t off, unsigned cpu = 0, unsigned size = 4) {
    RequesterScope s(cpu);
    uint64_t v = 0;
    EXPECT_EQ(d.read(off, size, v), MemResult::Ok);
    return uint32_t(v);
  }
  void wr(MmioDevice& d, uint64_t off, uint64_t v, unsigned cpu = 0, unsigned size = 4) {
    RequesterScope s(cpu);
    EXPECT_EQ(d.write(off, size, v), MemResult::Ok);
  }
  uint32_t dist(uint64_t off, unsigned cpu = 0) { return rd(gic.distributor(), off, cpu); }
  void dist_w(uint64_t off, uint64_t v, unsigned cpu = 0) { wr(gic.distributor(), off, v, cpu); }
  uint32_t cpuif(uint64_t off, unsigned cpu = 0) { return rd(gic.cpu_interface(), off, cpu); }
  void cpuif_w(uint64_t off, uint64_t v, unsigned cpu = 0) { wr(gic.cpu_interface(), off, v, cpu); }
  /// Linux's setup: distributor and both CPU interfaces on, PMR 0xF0.
  void enable_all() {
    dist_w(G::GICD_CTLR, 1);
    for (unsigned c = 0; c < 2; ++c) {
      cpuif_w(G::GICC_CTLR, 1, c);
      cpuif_w(G::GICC_PMR, 0xF0, c);
    }
  }
  Log log;
  Gicv2 gic;
};

TEST_F(Gicv2Test, IdRegisters) {
  EXPECT_EQ(dist(G::GICD_TYPER) & 0x1F, 96u / 32 - 1);
  EXPECT_EQ((dist(G::GICD_TYPER) >> 5) & 7, 1u);  // two CPUs
  EXPECT_EQ(dist(G::GICD_PIDR2) & 0xF0, 0x20u);
  EXPECT_EQ(cpuif(G::GICC_IIDR), 0x0200043Bu);
}

TEST_F(Gicv2Test, SpiAckEoiLevel) {
  enable_all();
  dist_w(G::GICD_ISENABLER + 4, 1u << (40 - 32));
  dist_w(G::GICD_ITARGETSR + 40, 0x01);  // byte write done as word below
  wr(gic.distributor(), G::GICD_ITARGETSR + 40, 0x01, 0, 1);
  wr(gic.distributor(), G::GICD_IPRIORITYR + 40, 0xA0, 0, 1);
  EXPECT_EQ(rd(gic.distributor(), G::GICD_IPRIORITYR + 40, 0, 1), 0xA0u);
  EXPECT_FALSE(gic.core().irq_out(0).level());
  gic.inputs().set_irq(40, true);
  EXPECT_TRUE(gic.core().irq_out(0).level());
  EXPECT_FALSE(gic.core().irq_out(1).level());  // not targeted
  EXPECT_EQ(cpuif(G::GICC_HPPIR), 40u);
  EXPECT_EQ(cpuif(G::GICC_IAR), 40u);
  EXPECT_EQ(cpuif(G::GICC_RPR), 0xA0u);
  EXPECT_FALSE(gic.core().irq_out(0).level());  // active: not signalled again
  EXPECT_EQ(dist(G::GICD_ISACTIVER + 4), 1u << 8);
  EXPECT_EQ(dist(G::GICD_ISPENDR + 4), 1u << 8);  // level still high: active and pending
  gic.inputs().set_irq(40, false);
  cpuif_w(G::GICC_EOIR, 40);
  EXPECT_EQ(cpuif(G::GICC_RPR), 0xFFu);
  EXPECT_EQ(dist(G::GICD_ISACTIVER + 4), 0u);
  EXPECT_EQ(cpuif(G::GICC_IAR), 1023u);
}

TEST_F(Gicv2Test, EdgeLatchesAndPendingRegisters) {
  enable_all();
  dist_w(G::GICD_ICFGR + 8, 2u << 2 * (33 - 32));  // INTID 33 edge
  EXPECT_EQ(dist(G::GICD_ICFGR + 8), 2u << 2);
  dist_w(G::GICD_ISENABLER + 4, 2);
  wr(gic.distributor(), G::GICD_ITARGETSR + 33, 0x02, 0, 1);
  gic.inputs().set_irq(33, true);
  gic.inputs().set_irq(33, false);
  EXPECT_TRUE(gic.core().irq_out(1).level());
  dist_w(G::GICD_ICPENDR + 4, 2);
  EXPECT_FALSE(gic.core().irq_out(1).level());
  dist_w(G::GICD_ISPENDR + 4, 2);
  EXPECT_EQ(cpuif(G::GICC_IAR, 1), 33u);
  EXPECT_EQ(dist(G::GICD_ISPENDR + 4), 0u);  // edge: ack clears pending
}

TEST_F(Gicv2Test, PreemptionByPriority) {
  enable_all();
  dist_w(G::GICD_ISENABLER + 4, 3);  // 32, 33
  wr(gic.distributor(), G::GICD_ITARGETSR + 32, 0x0101, 0, 2);
  wr(gic.distributor(), G::GICD_IPRIORITYR + 32, 0x40A0, 0, 2);  // 32: A0, 33: 40
  gic.inputs().set_irq(32, true);
  EXPECT_EQ(cpuif(G::GICC_IAR), 32u);
  gic.inputs().set_irq(33, true);
  EXPECT_TRUE(gic.core().irq_out(0).level());  // 0x40 preempts 0xA0
  EXPECT_EQ(cpuif(G::GICC_IAR), 33u);
  EXPECT_EQ(cpuif(G::GICC_RPR), 0x40u);
  cpuif_w(G::GICC_EOIR, 33);
  EXPECT_EQ(cpuif(G::GICC_RPR), 0xA0u);
  cpuif_w(G::GICC_EOIR, 32);
  // Same priority does not preempt.
  wr(gic.distributor(), G::GICD_IPRIORITYR + 33, 0xA0, 0, 1);
  EXPECT_EQ(cpuif(G::GICC_IAR), 32u);  // level 32 still high, lower INTID wins
  EXPECT_FALSE(gic.core().irq_out(0).level());
  // PMR masks.
  cpuif_w(G::GICC_EOIR, 32);
  cpuif_w(G::GICC_PMR, 0xA0);
  EXPECT_FALSE(gic.core().irq_out(0).level());
  EXPECT_EQ(cpuif(G::GICC_IAR), 1023u);
}

TEST_F(Gicv2Test, SgiBetweenCpusWithSource) {
  enable_all();
  dist_w(G::GICD_SGIR, (1u << 16 /* CPU 0 */) | 5, /*cpu=*/1);
  EXPECT_TRUE(gic.core().irq_out(0).level());
  EXPECT_EQ(rd(gic.distributor(), G::GICD_SPENDSGIR + 5, 0, 1), 0x02u);  // from CPU 1
  EXPECT_EQ(cpuif(G::GICC_IAR), (1u << 10) | 5);
  cpuif_w(G::GICC_EOIR, (1u << 10) | 5);
  // Filter 1: all but self.
  dist_w(G::GICD_SGIR, (1u << 24) | 3, 0);
  EXPECT_FALSE(gic.core().irq_out(0).level());
  EXPECT_TRUE(gic.core().irq_out(1).level());
  EXPECT_EQ(cpuif(G::GICC_IAR, 1), 3u);
  // CPENDSGIR clears.
  dist_w(G::GICD_SGIR, (2u << 24) | 7, 0);
  wr(gic.distributor(), G::GICD_CPENDSGIR + 7, 0xFF, 0, 1);
  EXPECT_EQ(cpuif(G::GICC_IAR), 1023u);
}

TEST_F(Gicv2Test, PpiBankedPerCpu) {
  enable_all();
  unsigned ppi = 30;
  dist_w(G::GICD_ISENABLER, 1u << ppi, 1);  // CPU 1's bank only
  EXPECT_EQ(dist(G::GICD_ISENABLER, 0) & (1u << ppi), 0u);
  EXPECT_EQ(rd(gic.distributor(), G::GICD_ITARGETSR + ppi, 1, 1), 0x02u);
  gic.inputs().set_irq(gic.core().ppi_input(1, ppi), true);
  EXPECT_TRUE(gic.core().irq_out(1).level());
  EXPECT_FALSE(gic.core().irq_out(0).level());
  EXPECT_EQ(cpuif(G::GICC_IAR, 1), ppi);
}

TEST_F(Gicv2Test, Group0AsFiqAndAckCtl) {
  dist_w(G::GICD_CTLR, 3);
  cpuif_w(G::GICC_PMR, 0xFF);
  cpuif_w(G::GICC_CTLR, G::CTLR_EnableGrp0 | G::CTLR_EnableGrp1 | G::CTLR_FIQEn);
  dist_w(G::GICD_ISENABLER + 4, 3);
  wr(gic.distributor(), G::GICD_ITARGETSR + 32, 0x0101, 0, 2);
  dist_w(G::GICD_IGROUPR + 4, 2);  // 33 is group 1
  gic.inputs().set_irq(32, true);
  EXPECT_TRUE(gic.core().fiq_out(0).level());
  EXPECT_FALSE(gic.core().irq_out(0).level());
  gic.inputs().set_irq(32, false);
  gic.inputs().set_irq(33, true);
  EXPECT_TRUE(gic.core().irq_out(0).level());
  EXPECT_EQ(cpuif(G::GICC_IAR), 1022u);  // group 1 without AckCtl
  EXPECT_EQ(cpuif(G::GICC_AIAR), 33u);
  cpuif_w(G::GICC_AEOIR, 33);
  EXPECT_EQ(cpuif(G::GICC_RPR), 0xFFu);
}

TEST_F(Gicv2Test, EoiModeAndDir) {
  enable_all();
  cpuif_w(G::GICC_CTLR, G::CTLR_EnableGrp0 | G::CTLR_EOImode);
  dist_w(G::GICD_ISENABLER + 4, 1);
  wr(gic.distributor(), G::GICD_ITARGETSR + 32, 1, 0, 1);
  gic.inputs().set_irq(32, true);
  EXPECT_EQ(cpuif(G::GICC_IAR), 32u);
  cpuif_w(G::GICC_EOIR, 32);
  EXPECT_EQ(cpuif(G::GICC_RPR), 0xFFu);
  EXPECT_NE(dist(G::GICD_ISACTIVER + 4) & 1, 0u);  // still active until DIR
  cpuif_w(G::GICC_DIR, 32);
  EXPECT_EQ(dist(G::GICD_ISACTIVER + 4) & 1, 0u);
}

TEST_F(Gicv2Test, GuestErrorsAreHarmless) {
  enable_all();
  cpuif_w(G::GICC_EOIR, 1000);  // beyond num_irqs
  cpuif_w(G::GICC_DIR, 77);
  wr(gic.distributor(), G::GICD_ISENABLER, 0xFF, 0, 1);  // byte write to a word register
  dist_w(G::GICD_SGIR, 3u << 24);
  dist_w(0xA00, 1);  // reserved
  EXPECT_EQ(dist(0xA00), 0u);
  gic.inputs().set_irq(5000, true);  // no such input
  EXPECT_EQ(cpuif(G::GICC_IAR), 1023u);
}

}  // namespace
}  // namespace orrery::hw::intc
