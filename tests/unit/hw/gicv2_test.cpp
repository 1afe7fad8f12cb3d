// GICv2 register-level tests: distributor and banked CPU interface, ack/EOI flows, priority
// and preemption, edge/level, SGIs between CPUs, FIQ routing.
#include "hw/intc/gicv2.h"

#include <gtest/gtest.h>

#include <vector>

#include "log_capture.h"

namespace orrery::hw::intc {
namespace {

using G = Gicv2;

class Gicv2Test : public ::testing::Test {
 protected:
  Gicv2Test() : gic(2, 96, log) {}
  uint32_t rd(MmioDevice& d, uint64_t off, unsigned cpu = 0, unsigned size = 4) {
    uint64_t v = 0;
    EXPECT_EQ(d.read_attrs(off, size, v, MemAttrs::cpu(cpu)), MemResult::Ok);
    return uint32_t(v);
  }
  void wr(MmioDevice& d, uint64_t off, uint64_t v, unsigned cpu = 0, unsigned size = 4) {
    EXPECT_EQ(d.write_attrs(off, size, v, MemAttrs::cpu(cpu)), MemResult::Ok);
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
  /// Every distributor word and the side-effect-free CPU interface registers of both CPUs,
  /// read with logging off: equal snapshots mean an access changed nothing.
  std::vector<uint32_t> snapshot() {
    uint32_t mask = log.mask();
    log.set_mask_bits(0);
    std::vector<uint32_t> s;
    for (unsigned cpu = 0; cpu < 2; ++cpu) {
      for (uint64_t off = 0; off < G::kDistSize; off += 4) s.push_back(dist(off, cpu));
      for (uint64_t off : {G::GICC_CTLR, G::GICC_PMR, G::GICC_BPR, G::GICC_ABPR, G::GICC_RPR,
                           G::GICC_HPPIR, G::GICC_AHPPIR})
        s.push_back(cpuif(off, cpu));
      for (uint64_t i = 0; i < 4; ++i) {
        s.push_back(cpuif(G::GICC_APR0 + 4 * i, cpu));
        s.push_back(cpuif(G::GICC_NSAPR0 + 4 * i, cpu));
      }
    }
    log.set_mask_bits(mask);
    return s;
  }
  /// Some state worth preserving: enables, priorities, targets, a pending SPI and an active one.
  void busy_state() {
    enable_all();
    dist_w(G::GICD_ISENABLER + 4, 0x7);
    wr(gic.distributor(), G::GICD_ITARGETSR + 32, 0x020101, 0, 4);
    wr(gic.distributor(), G::GICD_IPRIORITYR + 32, 0x80A060, 0, 4);
    dist_w(G::GICD_ICFGR + 8, 2u << 2);
    gic.inputs().set_irq(32, true);
    gic.inputs().set_irq(33, true);
    EXPECT_EQ(cpuif(G::GICC_IAR), 32u);
  }
  struct Access {
    bool write;
    uint64_t off;
    unsigned size;
    uint64_t value;
    const char* why;  // expected reason in the log line; null: silent
  };
  /// Performs each access on frame (RAZ for reads) and expects exactly one log line naming
  /// frame_name, the offset, the size and the reason.
  void expect_logged(test::LogCapture& cap, MmioDevice& d, const char* frame_name, const char* kind,
                     std::initializer_list<Access> accesses) {
    for (const Access& a : accesses) {
      if (a.write) {
        wr(d, a.off, a.value, 0, a.size);
      } else {
        EXPECT_EQ(rd(d, a.off, 0, a.size), 0u) << std::hex << a.off;
      }
      std::string text = cap.take();
      if (!a.why) {
        EXPECT_EQ(text, "") << std::hex << a.off;
        continue;
      }
      char expect[160];
      std::snprintf(expect, sizeof expect, "%s %s %s at offset 0x%llx size %u (%s)\n", frame_name,
                    kind, a.write ? "write" : "read", (unsigned long long)a.off, a.size, a.why);
      EXPECT_EQ(text, expect);
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

// A device sets its line again at every access that might change it: the same level again is
// no new edge, and a level interrupt whose line stays high is pending again after its EOI.
TEST_F(Gicv2Test, TheSameLevelAgainChangesNothing) {
  enable_all();
  dist_w(G::GICD_ICFGR + 8, 2u << 2 * (33 - 32));  // INTID 33 edge, 34 level
  dist_w(G::GICD_ISENABLER + 4, (1u << 1) | (1u << 2));
  wr(gic.distributor(), G::GICD_ITARGETSR + 33, 0x01, 0, 1);
  wr(gic.distributor(), G::GICD_ITARGETSR + 34, 0x01, 0, 1);
  gic.inputs().set_irq(33, true);
  gic.inputs().set_irq(33, true);
  EXPECT_EQ(cpuif(G::GICC_IAR), 33u);
  cpuif_w(G::GICC_EOIR, 33);
  gic.inputs().set_irq(33, true);  // still high: no new edge
  EXPECT_FALSE(gic.core().irq_out(0).level());
  EXPECT_EQ(cpuif(G::GICC_IAR), 1023u);

  gic.inputs().set_irq(34, true);
  EXPECT_EQ(cpuif(G::GICC_IAR), 34u);
  gic.inputs().set_irq(34, true);
  EXPECT_FALSE(gic.core().irq_out(0).level());  // active
  cpuif_w(G::GICC_EOIR, 34);
  EXPECT_TRUE(gic.core().irq_out(0).level()) << "the line is still high";
  EXPECT_EQ(cpuif(G::GICC_IAR), 34u);
  gic.inputs().set_irq(34, false);
  gic.inputs().set_irq(34, false);
  cpuif_w(G::GICC_EOIR, 34);
  EXPECT_FALSE(gic.core().irq_out(0).level());
  EXPECT_EQ(cpuif(G::GICC_IAR), 1023u);
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

TEST_F(Gicv2Test, DistributorIgnoredAccessesAreLoggedAndChangeNothing) {
  busy_state();
  const std::vector<uint32_t> before = snapshot();
  test::LogCapture cap(log, "guest_errors");
  ASSERT_TRUE(cap.ok());
  expect_logged(cap, gic.distributor(), "gicv2: GICD", "bad",
                {
                    {true, 0x00C, 4, ~0ull, "reserved"},
                    {false, 0x040, 4, 0, "reserved"},
                    {true, 0x7FC, 4, ~0ull, "reserved"},  // INTIDs 1020-1023 have no priority
                    {true, 0xF30, 4, ~0ull, "reserved"},
                    {false, 0xF34, 1, 0, "reserved"},
                    {true, G::GICD_IPRIORITYR + 96, 1, 0xFF, "INTID not implemented"},
                    {false, G::GICD_ITARGETSR + 100, 4, 0, "INTID not implemented"},
                    {true, G::GICD_ISENABLER + 12, 4, ~0ull, "INTID not implemented"},
                    {true, G::GICD_ISPENDR + 0x7C, 4, ~0ull, "INTID not implemented"},
                    {false, G::GICD_ICFGR + 24, 4, 0, "INTID not implemented"},
                    {true, G::GICD_ITARGETSR, 4, ~0ull, "read-only GICD_ITARGETSR0-7"},
                    {true, G::GICD_ISENABLER + 4, 1, 0xFF, "word register"},
                    {false, G::GICD_CTLR, 2, 0, "word register"},
                    {false, G::GICD_CTLR + 2, 4, 0, "bad access size"},
                    {true, G::GICD_TYPER, 4, 0, "read-only GICD_TYPER"},
                    {true, G::GICD_IIDR, 4, 0, "read-only GICD_IIDR"},
                    {true, G::GICD_PIDR2, 4, 0, "read-only GICD_PIDR2"},
                    {true, 0xFD0, 4, 0, "read-only identification register"},
                    {false, G::GICD_SGIR, 4, 0, "write-only GICD_SGIR"},
                    {true, G::GICD_SGIR, 4, 3u << 24, "GICD_SGIR with reserved TargetListFilter 3"},
                    {true, G::GICD_NSACR, 4, ~0ull, nullptr},  // RAZ/WI without Security Exts
                    {true, 0xD00, 4, ~0ull, nullptr},          // unimp: not enabled here
                });
  EXPECT_EQ(snapshot(), before);
}

TEST_F(Gicv2Test, DistributorUnimplementedRegistersLogUnderUnimp) {
  busy_state();
  const std::vector<uint32_t> before = snapshot();
  test::LogCapture cap(log, "unimp");
  ASSERT_TRUE(cap.ok());
  expect_logged(cap, gic.distributor(), "gicv2: GICD", "unimplemented",
                {
                    {false, 0x020, 4, 0, "implementation-defined register"},
                    {true, 0xD00, 4, ~0ull, "implementation-defined register"},
                    {false, 0xFD0, 4, 0, "identification register other than PIDR2"},
                    {false, 0xFFC, 4, 0, "identification register other than PIDR2"},
                    {true, 0x00C, 4, ~0ull, nullptr},  // a guest error: not enabled here
                });
  EXPECT_EQ(snapshot(), before);
}

TEST_F(Gicv2Test, CpuInterfaceIgnoredAccessesAreLoggedAndChangeNothing) {
  busy_state();
  const std::vector<uint32_t> before = snapshot();
  test::LogCapture cap(log, "guest_errors");
  ASSERT_TRUE(cap.ok());
  expect_logged(cap, gic.cpu_interface(), "gicv2: GICC", "bad",
                {
                    {false, 0x2C, 4, 0, "reserved"},
                    {true, 0xF0, 4, ~0ull, "reserved"},
                    {true, 0x100, 4, ~0ull, "reserved"},
                    {false, 0x1004, 4, 0, "reserved"},
                    {true, G::GICC_IAR, 4, 32, "read-only GICC_IAR"},
                    {true, G::GICC_RPR, 4, 0, "read-only GICC_RPR"},
                    {true, G::GICC_HPPIR, 4, 0, "read-only GICC_HPPIR"},
                    {true, G::GICC_IIDR, 4, 0, "read-only GICC_IIDR"},
                    {false, G::GICC_EOIR, 4, 0, "write-only GICC_EOIR"},
                    {false, G::GICC_AEOIR, 4, 0, "write-only GICC_AEOIR"},
                    {false, G::GICC_DIR, 4, 0, "write-only GICC_DIR"},
                    {false, G::GICC_PMR, 2, 0, "bad access size"},
                    {true, G::GICC_EOIR, 1, 32, "bad access size"},
                    {false, G::GICC_PMR + 1, 4, 0, "bad access size"},
                });
  EXPECT_EQ(snapshot(), before);
  test::LogCapture unimp(log, "unimp");
  ASSERT_TRUE(unimp.ok());
  expect_logged(unimp, gic.cpu_interface(), "gicv2: GICC", "unimplemented",
                {{false, 0x40, 4, 0, "implementation-defined register"},
                 {true, 0xCC, 4, ~0ull, "implementation-defined register"}});
  EXPECT_EQ(snapshot(), before);
}

TEST_F(Gicv2Test, GuestErrorsAreNotLoggedUnlessEnabled) {
  test::LogCapture cap(log, "int");
  ASSERT_TRUE(cap.ok());
  dist_w(0x00C, 1);
  dist(0xFD0);
  cpuif(0x2C);
  EXPECT_EQ(cap.take(), "");
}

TEST_F(Gicv2Test, ActivePriorityRegistersOneToThree) {
  // 128 preemption levels need GICC_APR0-3; APR1 bit 0 is priority 0x40.
  enable_all();
  cpuif_w(G::GICC_APR0 + 4, 1);
  EXPECT_EQ(cpuif(G::GICC_APR0 + 4), 1u);
  EXPECT_EQ(cpuif(G::GICC_RPR), 0x40u);
  cpuif_w(G::GICC_NSAPR0 + 12, 0x8000'0000);
  EXPECT_EQ(cpuif(G::GICC_NSAPR0 + 12), 0x8000'0000u);
  cpuif_w(G::GICC_APR0 + 4, 0);
  EXPECT_EQ(cpuif(G::GICC_RPR), 0xFEu);
  EXPECT_EQ(cpuif(G::GICC_RPR, 1), 0xFFu);  // banked
}

}  // namespace
}  // namespace orrery::hw::intc
