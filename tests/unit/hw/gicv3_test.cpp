// GICv3 register-level tests: distributor with affinity routing, redistributors, and the
// system-register CPU interface (ack/EOI, priority, SGIs by affinity).
#include "hw/intc/gicv3.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "log_capture.h"

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
  /// Every distributor and redistributor word and the side-effect-free ICC registers of both
  /// CPUs, read with logging off: equal snapshots mean an access changed nothing.
  std::vector<uint64_t> snapshot() {
    uint32_t mask = log.mask();
    log.set_mask_bits(0);
    std::vector<uint64_t> s;
    for (uint64_t off = 0; off < G::kDistSize; off += 4) s.push_back(rd(gic.distributor(), off));
    for (uint64_t off = 0; off < gic.redistributor_size(); off += 4)
      s.push_back(rd(gic.redistributors(), off));
    for (unsigned c = 0; c < 2; ++c) {
      for (IccReg r : {IccReg::PMR, IccReg::BPR0, IccReg::BPR1, IccReg::CTLR, IccReg::IGRPEN0,
                       IccReg::IGRPEN1, IccReg::RPR, IccReg::HPPIR0, IccReg::HPPIR1, IccReg::AP0R0,
                       IccReg::AP1R0, IccReg::AP1R1, IccReg::AP1R2, IccReg::AP1R3})
        s.push_back(icc(c).read(r));
    }
    log.set_mask_bits(mask);
    return s;
  }
  /// Linux's setup plus enabled, routed, prioritised SPIs and PPIs, one of them active.
  void busy_state() {
    linux_init();
    wr(gic.distributor(), G::GICD_ISENABLER + 4, 0x7);
    wr(gic.distributor(), G::GICD_IPRIORITYR + 32, 0x80A060, 4);
    wr(gic.distributor(), G::GICD_IROUTER + 8 * 33, 1, 8);
    wr(gic.distributor(), G::GICD_ICFGR + 8, 2u << 4);
    rdist_w(1, G::kSgiBase + G::GICR_ISENABLER0, 1u << 27);
    rdist_w(1, G::kSgiBase + G::GICR_IPRIORITYR + 24, 0x40u << 24);
    gic.inputs().set_irq(32, true);
    gic.inputs().set_irq(34, true);
    EXPECT_EQ(icc(0).read(IccReg::IAR1), 32u);
  }
  struct Access {
    bool write;
    uint64_t off;
    unsigned size;
    uint64_t value;
    const char* why;  // expected reason in the log line; null: silent
  };
  /// Performs each access at base + off (reads must be zero) and expects exactly one log line
  /// naming frame, the offset, the size and the reason.
  void expect_logged(test::LogCapture& cap, MmioDevice& d, uint64_t base, const char* frame,
                     const char* kind, std::initializer_list<Access> accesses) {
    for (const Access& a : accesses) {
      if (a.write)
        wr(d, base + a.off, a.value, a.size);
      else
        EXPECT_EQ(rd(d, base + a.off, a.size), 0u) << std::hex << a.off;
      std::string text = cap.take();
      if (!a.why) {
        EXPECT_EQ(text, "") << std::hex << a.off;
        continue;
      }
      char expect[160];
      std::snprintf(expect, sizeof expect, "%s %s %s at offset 0x%llx size %u (%s)\n", frame, kind,
                    a.write ? "write" : "read", (unsigned long long)a.off, a.size, a.why);
      EXPECT_EQ(text, expect);
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

TEST_F(Gicv3Test, DistributorIgnoredAccessesAreLoggedAndChangeNothing) {
  busy_state();
  const auto before = snapshot();
  test::LogCapture cap(log, "guest_errors");
  ASSERT_TRUE(cap.ok());
  const char* const kPrivate = "private INTIDs: use the redistributor";
  expect_logged(
      cap, gic.distributor(), 0, "gicv3: GICD", "bad",
      {
          {true, 0x0020, 4, ~0ull, "reserved"},
          {true, 0x1000, 4, ~0ull, "reserved"},  // extended SPIs: GICD_TYPER.ESPI = 0
          {false, 0x0F80, 4, 0, "reserved"},     // GICD_INMIR: no NMIs
          {true, 0x7FE0, 8, ~0ull, "reserved"},  // GICD_IROUTER1020
          {false, 0x0040, 4, 0, "GICD_SETSPI/CLRSPI without message-based SPIs"},
          {true, G::GICD_ITARGETSR + 32, 4, ~0ull, "GICD_ITARGETSR with affinity routing"},
          {false, G::GICD_SGIR, 4, 0, "GICD_SGIR with affinity routing"},
          {true, G::GICD_SGIR, 4, 1u << 24, "GICD_SGIR with affinity routing"},
          {true, 0x0F20, 1, 0xFF, "GICD_CPENDSGIR/SPENDSGIR with affinity routing"},
          {true, G::GICD_ISENABLER, 4, ~0ull, kPrivate},
          {true, G::GICD_ISPENDR, 4, ~0ull, kPrivate},
          {false, G::GICD_ICFGR + 4, 4, 0, kPrivate},
          {true, G::GICD_IPRIORITYR + 28, 4, 0, "private INTID: use GICR_IPRIORITYR"},
          {true, G::GICD_IROUTER + 8 * 5, 8, 1, "GICD_IROUTER of a private INTID"},
          {true, G::GICD_IPRIORITYR + 96, 1, 0, "INTID not implemented"},
          {true, G::GICD_ISENABLER + 12, 4, ~0ull, "INTID not implemented"},
          {true, G::GICD_ICFGR + 24, 4, ~0ull, "INTID not implemented"},
          {false, G::GICD_IROUTER + 8 * 96, 8, 0, "INTID not implemented"},
          {true, G::GICD_IROUTER + 8 * 33, 2, 0, "bad access size"},
          {false, G::GICD_CTLR, 2, 0, "word register"},
          {true, G::GICD_CTLR, 8, 0, "word register"},
          {false, G::GICD_CTLR + 2, 4, 0, "bad access size"},
          {true, G::GICD_TYPER, 4, 0, "read-only GICD_TYPER"},
          {true, G::GICD_IIDR, 4, 0, "read-only GICD_IIDR"},
          {true, G::GICD_TYPER2, 4, ~0ull, "read-only GICD_TYPER2"},
          {true, G::GICD_PIDR2, 4, 0, "read-only GICD_PIDR2"},
          {true, 0xFFD0, 4, 0, "read-only identification register"},
          // RAZ/WI by the architecture with one security state, or optional and absent.
          {true, G::GICD_IGRPMODR + 4, 4, ~0ull, nullptr},
          {true, G::GICD_NSACR + 8, 4, ~0ull, nullptr},
          {true, G::GICD_STATUSR, 4, ~0ull, nullptr},
          {false, 0xC000, 4, 0, nullptr},  // unimp: not enabled here
      });
  EXPECT_EQ(snapshot(), before);
}

TEST_F(Gicv3Test, DistributorUnimplementedRegistersLogUnderUnimp) {
  busy_state();
  const auto before = snapshot();
  test::LogCapture cap(log, "unimp");
  ASSERT_TRUE(cap.ok());
  expect_logged(cap, gic.distributor(), 0, "gicv3: GICD", "unimplemented",
                {
                    {false, 0xC000, 4, 0, "implementation-defined register"},
                    {true, 0xFFCC, 4, ~0ull, "implementation-defined register"},
                    {false, 0xFFD0, 4, 0, "identification register other than PIDR2"},
                    {false, 0xFFFC, 4, 0, "identification register other than PIDR2"},
                    {true, 0x0020, 4, ~0ull, nullptr},  // a guest error: not enabled here
                });
  EXPECT_EQ(snapshot(), before);
}

TEST_F(Gicv3Test, RedistributorIgnoredAccessesAreLoggedAndChangeNothing) {
  busy_state();
  const auto before = snapshot();
  test::LogCapture cap(log, "guest_errors");
  ASSERT_TRUE(cap.ok());
  const uint64_t sgi = G::kSgiBase;
  expect_logged(cap, gic.redistributors(), G::kRedistStride, "gicv3: GICR1", "bad",
                {
                    {false, 0x0020, 4, 0, "reserved"},
                    {true, 0x0018, 4, ~0ull, "reserved"},  // GICR_MPAMIDR: no MPAM
                    {true, G::GICR_TYPER, 8, 0, "read-only GICR_TYPER"},
                    {true, G::GICR_TYPER + 4, 4, 0, "read-only GICR_TYPER"},
                    {true, G::GICR_IIDR, 4, 0, "read-only GICR_IIDR"},
                    {true, G::GICR_PIDR2, 4, 0, "read-only GICR_PIDR2"},
                    {true, 0xFFD4, 4, 0, "read-only identification register"},
                    {false, G::GICR_WAKER, 2, 0, "bad access size"},
                    {false, G::GICR_CTLR, 8, 0, "bad access size"},
                    {true, G::GICR_WAKER + 1, 1, 0, "bad access size"},
                    {true, G::GICR_CTLR, 4, 1, "GICR_CTLR.EnableLPIs set, but LPIs are absent"},
                    {false, sgi + 0x0084, 4, 0, "reserved"},     // GICR_IGROUPR1E: no extended PPIs
                    {true, sgi + 0x0F80, 4, ~0ull, "reserved"},  // GICR_INMIR0: no NMIs
                    {true, sgi + 0x0420, 4, ~0ull, "reserved"},  // past GICR_IPRIORITYR7
                    {false, sgi + G::GICR_ISENABLER0, 8, 0, "bad access size"},
                    {true, sgi + G::GICR_ISENABLER0 + 2, 2, ~0ull, "bad access size"},
                    {true, sgi + G::GICR_IGRPMODR0, 4, ~0ull, nullptr},  // DS = 1: RAZ/WI
                    {true, sgi + G::GICR_NSACR, 4, ~0ull, nullptr},
                    {true, G::GICR_STATUSR, 4, ~0ull, nullptr},  // optional, absent
                });
  expect_logged(cap, gic.redistributors(), 0, "gicv3: GICR", "bad",
                {{false, 2 * G::kRedistStride, 4, 0, "no such redistributor"},
                 {true, 3 * G::kRedistStride + sgi, 4, ~0ull, "no such redistributor"}});
  EXPECT_EQ(snapshot(), before);
  test::LogCapture unimp(log, "unimp");
  ASSERT_TRUE(unimp.ok());
  expect_logged(unimp, gic.redistributors(), 0, "gicv3: GICR0", "unimplemented",
                {
                    {true, 0x0070, 8, ~0ull, "LPI register: no LPIs"},  // GICR_PROPBASER
                    {false, 0x0078, 8, 0, "LPI register: no LPIs"},     // GICR_PENDBASER
                    {true, 0x0040, 8, 64, "LPI register: no LPIs"},     // GICR_SETLPIR
                    {false, 0x00C0, 4, 0, "LPI register: no LPIs"},     // GICR_SYNCR
                    {false, 0xC000, 4, 0, "implementation-defined register"},
                    {false, sgi + 0xC000, 4, 0, "implementation-defined register"},
                    {false, 0xFFD0, 4, 0, "identification register other than PIDR2"},
                });
  EXPECT_EQ(snapshot(), before);
}

TEST_F(Gicv3Test, EoiUsesTheWholeIntidField) {
  // GICv3's EOIR INTID is 24 bits: 32 + 1024 must not end INTID 32.
  linux_init();
  wr(gic.distributor(), G::GICD_ISENABLER + 4, 1);
  gic.inputs().set_irq(32, true);
  EXPECT_EQ(icc(0).read(IccReg::IAR1), 32u);
  icc(0).write(IccReg::CTLR, G::ICC_CTLR_EOImode);  // EOI drops priority only; DIR deactivates
  icc(0).write(IccReg::EOIR1, 32 + 1024);
  EXPECT_EQ(icc(0).read(IccReg::RPR), 0xFFu);
  EXPECT_EQ(rd(gic.distributor(), G::GICD_ISACTIVER + 4) & 1, 1u);
  icc(0).write(IccReg::DIR, 32 + 1024);
  EXPECT_EQ(rd(gic.distributor(), G::GICD_ISACTIVER + 4) & 1, 1u);
  icc(0).write(IccReg::DIR, 32);
  EXPECT_EQ(rd(gic.distributor(), G::GICD_ISACTIVER + 4) & 1, 0u);
}

}  // namespace
}  // namespace orrery::hw::intc
