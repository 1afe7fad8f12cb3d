// The GICv3 ITS and LPIs: command queue (MAPD/MAPC/MAPTI/MAPI/MOVI/DISCARD/INV/INVALL/INT/CLEAR/
// SYNC/MOVALL), MSI translation into pending LPIs that the CPU interface acknowledges, command
// errors that stall the queue, and hostile table and queue contents.
#include "hw/intc/gicv3_its.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "hw/core/address_space.h"
#include "hw/core/guest_memory.h"
#include "log_capture.h"

namespace orrery::hw::intc {
namespace {

using G = Gicv3;
using Its = Gicv3Its;

constexpr uint64_t kRam = 0x4000'0000, kRamSize = 16 << 20;
constexpr uint64_t kProp = kRam + 0x10'0000;  // LPI configuration table (64 KiB)
constexpr uint64_t kPend[2] = {kRam + 0x20'0000, kRam + 0x21'0000};
constexpr uint64_t kDevTable = kRam + 0x30'0000;   // 16 pages: 8192 devices
constexpr uint64_t kCollTable = kRam + 0x40'0000;  // 1 page: 512 collections
constexpr uint64_t kQueue = kRam + 0x50'0000;      // 1 page: 128 commands
constexpr uint64_t kItt = kRam + 0x60'0000;
constexpr uint8_t kLpiCfg = 0xA0 | 1;  // priority 0xA0, enabled

class Gicv3ItsTest : public ::testing::Test {
 protected:
  Gicv3ItsTest() {
    EXPECT_EQ(as.add_ram("ram", kRam, kRamSize), "");
    gic = std::make_unique<Gicv3>(std::vector<uint64_t>{0x8000'0000, 0x8000'0001}, 96, log, &mem);
    its = std::make_unique<Its>(*gic, mem, log);
  }
  uint64_t rd(MmioDevice& d, uint64_t off, unsigned size = 4) {
    uint64_t v = 0;
    EXPECT_EQ(d.read(off, size, v), MemResult::Ok);
    return v;
  }
  void wr(MmioDevice& d, uint64_t off, uint64_t v, unsigned size = 4) {
    EXPECT_EQ(d.write(off, size, v), MemResult::Ok);
  }
  void rdist_w(unsigned cpu, uint64_t off, uint64_t v, unsigned size = 4) {
    wr(gic->redistributors(), cpu * G::kRedistStride + off, v, size);
  }
  uint64_t rdist(unsigned cpu, uint64_t off, unsigned size = 4) {
    return rd(gic->redistributors(), cpu * G::kRedistStride + off, size);
  }
  Gicv3CpuInterface& icc(unsigned cpu) { return gic->cpu_interface(cpu); }
  void fill(uint64_t addr, uint8_t byte, uint64_t len) {
    std::vector<uint8_t> v(len, byte);
    ASSERT_TRUE(as.write_bytes(addr, v.data(), len));
  }
  /// What Linux's GICv3 and ITS drivers do at boot: group 1 on, LPI tables, EnableLPIs, the
  /// ITS tables and command queue, GITS_CTLR.Enabled.
  void linux_init() {
    wr(gic->distributor(), G::GICD_CTLR, 0x13);
    fill(kProp, kLpiCfg, 0x1'0000 - 8192);
    for (unsigned c = 0; c < 2; ++c) {
      rdist_w(c, G::GICR_WAKER, 0);
      icc(c).write(IccReg::PMR, 0xF0);
      icc(c).write(IccReg::BPR1, 0);
      icc(c).write(IccReg::IGRPEN1, 1);
      fill(kPend[c], 0, 0x2000);
      rdist_w(c, G::GICR_PROPBASER, kProp | 15, 8);  // 16 ID bits
      rdist_w(c, G::GICR_PENDBASER, kPend[c], 8);
      rdist_w(c, G::GICR_CTLR, G::GICR_CTLR_EnableLPIs);
    }
    wr(*its, Its::GITS_BASER, 1ull << 63 | kDevTable | 15, 8);
    wr(*its, Its::GITS_BASER + 8, 1ull << 63 | kCollTable, 8);
    wr(*its, Its::GITS_CBASER, 1ull << 63 | kQueue, 8);
    wr(*its, Its::GITS_CWRITER, 0, 8);
    wr(*its, Its::GITS_CTLR, Its::GITS_CTLR_Enabled);
  }
  /// Queues one command and writes GITS_CWRITER.
  void cmd(uint64_t dw0, uint64_t dw1 = 0, uint64_t dw2 = 0, uint64_t dw3 = 0) {
    const uint64_t c[4] = {dw0, dw1, dw2, dw3};
    ASSERT_TRUE(as.write_bytes(kQueue + writer, c, sizeof c));
    writer = (writer + 32) % 4096;
    wr(*its, Its::GITS_CWRITER, writer, 8);
  }
  static uint64_t dev(uint8_t op, uint32_t device) { return op | uint64_t(device) << 32; }
  void mapd(uint32_t device, unsigned event_bits, uint64_t itt = kItt) {
    cmd(dev(Its::kMapd, device), event_bits - 1, 1ull << 63 | itt);
  }
  void mapc(uint16_t icid, unsigned cpu) {
    cmd(Its::kMapc, 0, 1ull << 63 | uint64_t(cpu) << 16 | icid);
  }
  void mapti(uint32_t device, uint32_t event, uint32_t intid, uint16_t icid) {
    cmd(dev(Its::kMapti, device), event | uint64_t(intid) << 32, icid);
  }
  uint64_t creadr() { return rd(*its, Its::GITS_CREADR, 8); }
  /// The highest-priority pending group 1 interrupt of cpu.
  uint64_t hppi(unsigned cpu) { return icc(cpu).read(IccReg::HPPIR1); }

  Log log;
  AddressSpace as;
  GuestMemory mem{as};
  std::unique_ptr<Gicv3> gic;
  std::unique_ptr<Its> its;
  uint64_t writer = 0;
};

TEST_F(Gicv3ItsTest, IdentificationRegistersAdvertiseLpisAndTheIts) {
  const uint64_t typer = rd(*its, Its::GITS_TYPER, 8);
  EXPECT_EQ(typer & 1, 1u);              // physical LPIs
  EXPECT_EQ((typer >> 4) & 0xF, 7u);     // 8-byte ITT entries
  EXPECT_EQ((typer >> 8) & 0x1F, 15u);   // 16 EventID bits
  EXPECT_EQ((typer >> 13) & 0x1F, 15u);  // 16 DeviceID bits
  EXPECT_EQ((typer >> 19) & 1, 0u);      // PTA = 0: processor numbers
  EXPECT_EQ(rd(*its, Its::GITS_TYPER + 4), typer >> 32);
  EXPECT_EQ(rd(*its, Its::GITS_PIDR2) >> 4 & 0xF, 3u);
  EXPECT_EQ(rd(*its, Its::GITS_CTLR), Its::GITS_CTLR_Quiescent);
  // BASER0 holds devices, BASER1 collections, each with 8-byte entries; BASER2 is absent.
  EXPECT_EQ(rd(*its, Its::GITS_BASER, 8) >> 56 & 7, 1u);
  EXPECT_EQ(rd(*its, Its::GITS_BASER + 8, 8) >> 56 & 7, 4u);
  EXPECT_EQ(rd(*its, Its::GITS_BASER, 8) >> 48 & 0x1F, 7u);
  EXPECT_EQ(rd(*its, Its::GITS_BASER + 16, 8), 0u);
  // Indirect (bit 62) does not stick: flat tables only.
  wr(*its, Its::GITS_BASER, 3ull << 62 | kDevTable, 8);
  EXPECT_EQ(rd(*its, Its::GITS_BASER, 8) >> 62, 2u);
  const uint64_t gicd_typer = rd(gic->distributor(), G::GICD_TYPER);
  EXPECT_EQ(gicd_typer >> 17 & 1, 1u);            // LPIS
  EXPECT_EQ(gicd_typer >> 19 & 0x1F, 15u);        // 16 INTID bits
  EXPECT_EQ(rdist(1, G::GICR_TYPER, 8) & 1, 1u);  // PLPIS
}

TEST_F(Gicv3ItsTest, MsiBecomesAPendingLpiThatTheCpuTakes) {
  linux_init();
  mapd(0x10, 5);
  mapc(0, 1);
  mapti(0x10, 3, 8195, 0);
  cmd(Its::kSync, 0, uint64_t(1) << 16);
  EXPECT_EQ(creadr(), writer);  // all done, not stalled
  EXPECT_EQ(hppi(1), 1023u);
  // A PCI function with requester ID 0x10 (00:02.0) writes EventID 3 to GITS_TRANSLATER.
  its->msi_write(0x10, Its::GITS_TRANSLATER, 3);
  EXPECT_EQ(hppi(0), 1023u);
  EXPECT_EQ(hppi(1), 8195u);
  EXPECT_TRUE(gic->core().irq_out(1).level());
  EXPECT_EQ(icc(1).read(IccReg::IAR1), 8195u);
  EXPECT_EQ(icc(1).read(IccReg::RPR), 0xA0u);  // running at the LPI's priority
  EXPECT_EQ(hppi(1), 1023u);                   // no active state: it left the pending set
  icc(1).write(IccReg::EOIR1, 8195);
  EXPECT_EQ(icc(1).read(IccReg::RPR), 0xFFu);
  EXPECT_FALSE(gic->core().irq_out(1).level());
}

TEST_F(Gicv3ItsTest, MapiUsesTheEventIdAsTheLpi) {
  linux_init();
  mapd(7, 16);
  mapc(3, 0);
  cmd(dev(Its::kMapi, 7), 9000, 3);
  EXPECT_TRUE(its->translate(7, 9000));
  EXPECT_EQ(hppi(0), 9000u);
}

TEST_F(Gicv3ItsTest, IntClearMoviDiscard) {
  linux_init();
  mapd(1, 4);
  mapc(0, 0);
  mapc(1, 1);
  mapti(1, 2, 8200, 0);
  cmd(dev(Its::kInt, 1), 2);
  EXPECT_EQ(hppi(0), 8200u);
  cmd(dev(Its::kClear, 1), 2);
  EXPECT_EQ(hppi(0), 1023u);
  cmd(dev(Its::kInt, 1), 2);
  cmd(dev(Its::kMovi, 1), 2, 1);  // to collection 1 (CPU 1): the pending state moves along
  EXPECT_EQ(hppi(0), 1023u);
  EXPECT_EQ(hppi(1), 8200u);
  EXPECT_TRUE(its->translate(1, 2));
  cmd(dev(Its::kDiscard, 1), 2);
  EXPECT_EQ(hppi(1), 1023u);
  test::LogCapture cap(log, "guest_errors");
  ASSERT_TRUE(cap.ok());
  EXPECT_FALSE(its->translate(1, 2));
  EXPECT_NE(cap.take().find("EventID 2 dropped (event not mapped)"), std::string::npos);
  EXPECT_EQ(creadr(), writer);
}

TEST_F(Gicv3ItsTest, InvAndInvallRereadTheConfiguration) {
  linux_init();
  mapd(2, 4);
  mapc(0, 0);
  mapti(2, 0, 8300, 0);
  mapti(2, 1, 8301, 0);
  const uint8_t off = 0;
  ASSERT_TRUE(as.write_bytes(kProp + 8300 - 8192, &off, 1));  // disabled
  ASSERT_TRUE(as.write_bytes(kProp + 8301 - 8192, &off, 1));
  cmd(dev(Its::kInv, 2), 0);
  cmd(dev(Its::kInv, 2), 1);
  EXPECT_TRUE(its->translate(2, 0));
  EXPECT_TRUE(its->translate(2, 1));
  EXPECT_EQ(hppi(0), 1023u);  // pending, but disabled
  uint8_t on = 0x40 | 1;
  ASSERT_TRUE(as.write_bytes(kProp + 8301 - 8192, &on, 1));
  EXPECT_EQ(hppi(0), 1023u);  // cached until invalidated
  cmd(dev(Its::kInv, 2), 1);
  EXPECT_EQ(hppi(0), 8301u);
  on = 0x20 | 1;  // higher priority
  ASSERT_TRUE(as.write_bytes(kProp + 8300 - 8192, &on, 1));
  cmd(Its::kInvall, 0, 0);
  EXPECT_EQ(hppi(0), 8300u);
}

TEST_F(Gicv3ItsTest, MovallMovesEveryPendingLpi) {
  linux_init();
  mapd(3, 4);
  mapc(0, 0);
  mapti(3, 0, 8400, 0);
  mapti(3, 1, 8401, 0);
  EXPECT_TRUE(its->translate(3, 0));
  EXPECT_TRUE(its->translate(3, 1));
  cmd(Its::kMovall, 0, 0, uint64_t(1) << 16);
  EXPECT_EQ(hppi(0), 1023u);
  EXPECT_EQ(icc(1).read(IccReg::IAR1), 8400u);
  EXPECT_EQ(icc(1).read(IccReg::IAR1), 1023u);  // 8401 has the same priority: no preemption
  icc(1).write(IccReg::EOIR1, 8400);
  EXPECT_EQ(icc(1).read(IccReg::IAR1), 8401u);
}

TEST_F(Gicv3ItsTest, CommandErrorStallsUntilRetried) {
  linux_init();
  mapc(0, 0);
  test::LogCapture cap(log, "guest_errors");
  ASSERT_TRUE(cap.ok());
  const uint64_t bad = writer;
  mapti(0x20, 0, 8500, 0);       // the device is not mapped yet
  mapc(1, 1);                    // queued behind the failed command
  EXPECT_EQ(creadr(), bad | 1);  // Stalled, pointing at the failed command
  EXPECT_NE(cap.take().find("command 0x0a at GITS_CREADR 0x20 failed (MAPTI: device not mapped); "
                            "stalled"),
            std::string::npos);
  // The guest fixes the queue: the failing slot becomes MAPD, then retries.
  const uint64_t fixed[4] = {dev(Its::kMapd, 0x20), 3, 1ull << 63 | kItt, 0};
  ASSERT_TRUE(as.write_bytes(kQueue + bad, fixed, sizeof fixed));
  wr(*its, Its::GITS_CWRITER, writer | 1, 8);
  EXPECT_EQ(creadr(), writer);
  cmd(dev(Its::kMapti, 0x20), 0 | uint64_t(8500) << 32, 1);
  EXPECT_TRUE(its->translate(0x20, 0));
  EXPECT_EQ(hppi(1), 8500u);
}

TEST_F(Gicv3ItsTest, LpisNeedEnableLpisAndAnEnabledIts) {
  linux_init();
  mapd(4, 4);
  mapc(0, 0);
  mapti(4, 0, 8600, 0);
  wr(*its, Its::GITS_CTLR, 0);
  EXPECT_FALSE(its->translate(4, 0));
  wr(*its, Its::GITS_CTLR, Its::GITS_CTLR_Enabled);
  rdist_w(0, G::GICR_CTLR, 0);
  EXPECT_FALSE(its->translate(4, 0));
  rdist_w(0, G::GICR_CTLR, G::GICR_CTLR_EnableLPIs);
  EXPECT_TRUE(its->translate(4, 0));
  EXPECT_EQ(hppi(0), 8600u);
}

TEST_F(Gicv3ItsTest, EnablingLpisLoadsThePendingTable) {
  linux_init();
  rdist_w(1, G::GICR_CTLR, 0);
  const uint8_t bit = 1u << (8700 % 8);
  ASSERT_TRUE(as.write_bytes(kPend[1] + 8700 / 8, &bit, 1));
  rdist_w(1, G::GICR_CTLR, G::GICR_CTLR_EnableLPIs);
  EXPECT_EQ(hppi(1), 8700u);
  // PENDBASER and PROPBASER are frozen while LPIs are enabled.
  rdist_w(1, G::GICR_PENDBASER, 0, 8);
  EXPECT_EQ(rdist(1, G::GICR_PENDBASER, 8), kPend[1]);
}

TEST_F(Gicv3ItsTest, TablesOutsideRamStallInsteadOfCrashing) {
  linux_init();
  wr(*its, Its::GITS_CTLR, 0);
  wr(*its, Its::GITS_BASER, 1ull << 63 | 0xFFFF'0000'0000ull | 0xFF, 8);
  wr(*its, Its::GITS_CTLR, Its::GITS_CTLR_Enabled);
  test::LogCapture cap(log, "guest_errors");
  ASSERT_TRUE(cap.ok());
  mapd(0xFFFF, 4);
  EXPECT_EQ(creadr() & 1, 1u);
  EXPECT_NE(cap.take().find("table entry not in RAM"), std::string::npos);
  EXPECT_FALSE(its->translate(0xFFFF, 0));
  EXPECT_FALSE(its->translate(0x1'0000, 0));  // beyond the DeviceID bits
}

TEST_F(Gicv3ItsTest, WriterBeyondTheQueueStalls) {
  linux_init();
  wr(*its, Its::GITS_CWRITER, 0x8000, 8);  // the queue is one page
  EXPECT_EQ(creadr(), 1u);
}

// Random commands, tables and MSIs from a hostile guest: nothing crashes or hangs, and the
// ITS keeps answering.
TEST_F(Gicv3ItsTest, RandomCommandsAreHarmless) {
  linux_init();
  log.set_mask_bits(0);
  std::mt19937_64 rng(1234);
  for (int i = 0; i < 20000; ++i) {
    uint64_t c[4] = {rng(), rng(), rng(), rng()};
    c[0] = (c[0] & ~0xFFull) | (rng() % 16);
    if (rng() % 2) c[0] &= 0xFFFF'FFFF'0000'00FFull | 0xFF;  // small DeviceIDs
    if (rng() % 2) c[1] &= 0xFFFF'0000'FFFFull;
    if (rng() % 2) c[2] = (c[2] & (1ull << 63 | 0x3'0000 | 0xFF)) | (kItt + (rng() % 64) * 256);
    ASSERT_TRUE(as.write_bytes(kQueue + writer, c, sizeof c));
    writer = (writer + 32) % 4096;
    wr(*its, Its::GITS_CWRITER, writer | (rng() % 2), 8);
    its->translate(uint32_t(rng() % 256), uint32_t(rng() % 64));
    if (rng() % 64 == 0) {
      wr(*its, Its::GITS_CTLR, 0);
      wr(*its, Its::GITS_CBASER, 1ull << 63 | kQueue, 8);
      wr(*its, Its::GITS_CWRITER, 0, 8);
      writer = 0;
      wr(*its, Its::GITS_CTLR, 1);
    }
    if (rng() % 16 == 0) icc(rng() % 2).read(IccReg::IAR1);
  }
  EXPECT_EQ(rd(*its, Its::GITS_CTLR) & Its::GITS_CTLR_Quiescent, Its::GITS_CTLR_Quiescent);
}

}  // namespace
}  // namespace orrery::hw::intc
