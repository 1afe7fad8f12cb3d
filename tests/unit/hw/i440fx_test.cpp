// The i440FX/PIIX3 chipset as a PC guest sees it: configuration mechanism #1 (byte, word and
// dword data accesses, the enable bit, CONFIG_ADDRESS's own width rules), the host bridge's
// identity, PAM registers and their callback, SMRAM's lock, PIIX3 PIRQ routing of INTx to ISA
// IRQs, the reset control register at 0xcf9 and the PIIX4 PM base callback.
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "hw/core/address_space.h"
#include "hw/pci/i440fx.h"
#include "hw/pci/pci_testdev.h"
#include "hw/pci/piix3.h"
#include "hw/pci/piix4_pm.h"
#include "tests/unit/hw/log_capture.h"

namespace orrery::hw::pci {
namespace {

constexpr uint64_t kHole = 0x08000000, kHoleEnd = 0xfec00000;

class Sink : public IrqSink {
 public:
  void set_irq(unsigned line, bool level) override {
    levels[line] = level;
    ++calls;
  }
  std::map<unsigned, bool> levels;
  unsigned calls = 0;
};

class ChipsetTest : public ::testing::Test {
 protected:
  ChipsetTest()
      : bus(log, kHole, kHoleEnd - kHole, 0xf000, 0x1000),
        ports(bus, log),
        rcr(log),
        host(mem, log),
        isa(mem, log),
        pm(mem, log) {
    EXPECT_EQ(io.add_mmio("pci-conf", 0xcf8, I440fxConfigPorts::kSize, ports), "");
    EXPECT_EQ(io.root().add_subregion(bus.io_window(), 0x1000), "");
    EXPECT_EQ(mem.add_ram("ram", 0, kHole), "");
    EXPECT_EQ(mem.root().add_subregion(bus.mem_window(), kHole), "");
    ports.set_reset_control(rcr);
    EXPECT_EQ(bus.plug(host, 0), "");
    EXPECT_EQ(bus.plug(isa, pci_devfn(1, 0)), "");
    EXPECT_EQ(bus.plug(pm, pci_devfn(1, 3)), "");
    for (unsigned i = 0; i < 4; ++i) bus.intx(i).connect(isa, i);
  }
  uint64_t in(uint16_t port, unsigned size) {
    uint64_t v = 0;
    EXPECT_EQ(io.read(port, size, v), MemResult::Ok);
    return v;
  }
  void out(uint16_t port, unsigned size, uint64_t v) {
    EXPECT_EQ(io.write(port, size, v), MemResult::Ok);
  }
  static uint32_t addr(unsigned devfn, unsigned reg) { return 0x80000000u | devfn << 8 | reg; }
  uint32_t cfg_read(unsigned devfn, unsigned reg, unsigned size) {
    out(0xcf8, 4, addr(devfn, reg & 0xfc));
    return uint32_t(in(uint16_t(0xcfc + (reg & 3)), size));
  }
  void cfg_write(unsigned devfn, unsigned reg, unsigned size, uint32_t v) {
    out(0xcf8, 4, addr(devfn, reg & 0xfc));
    out(uint16_t(0xcfc + (reg & 3)), size, v);
  }

  Log log;
  AddressSpace mem;
  AddressSpace io{"io", kIoPortSpaceSize};
  PciBus bus;
  I440fxConfigPorts ports;
  Piix3ResetControl rcr;
  I440fxFunction host;
  Piix3IsaFunction isa;
  Piix4PmFunction pm;
};

TEST_F(ChipsetTest, ConfigMechanismOneByteWordDword) {
  // 00.0: 8086:1237 rev 2, class 0600; every width at every lane of CONFIG_DATA.
  EXPECT_EQ(cfg_read(0, 0, 4), 0x12378086u);
  EXPECT_EQ(cfg_read(0, 0, 2), 0x8086u);
  EXPECT_EQ(cfg_read(0, 2, 2), 0x1237u);
  EXPECT_EQ(cfg_read(0, 1, 1), 0x80u);
  EXPECT_EQ(cfg_read(0, 3, 1), 0x12u);
  EXPECT_EQ(cfg_read(0, 8, 4), 0x06000002u);
  EXPECT_EQ(cfg_read(0, 0x2c, 4), 0x11001af4u);
  // PIIX3 at 01.0: multi-function (its PM function exists), class 0601; PIIX4 PM at 01.3.
  EXPECT_EQ(cfg_read(pci_devfn(1, 0), 0, 4), 0x70008086u);
  EXPECT_EQ(cfg_read(pci_devfn(1, 0), 0x0e, 1), 0x80u);
  // ... at every width that covers the header type (firmware reads the dword at 0x0c).
  EXPECT_EQ(cfg_read(pci_devfn(1, 0), 0x0e, 2), 0x0080u);
  EXPECT_EQ(cfg_read(pci_devfn(1, 0), 0x0c, 4) >> 16, 0x0080u);
  EXPECT_EQ(cfg_read(0, 0x0c, 4) >> 16, 0x0000u);
  EXPECT_EQ(cfg_read(pci_devfn(1, 0), 0x08, 4) >> 8, 0x060100u);
  EXPECT_EQ(cfg_read(pci_devfn(1, 3), 0, 4), 0x71138086u);
  EXPECT_EQ(cfg_read(pci_devfn(1, 3), 0x08, 4), 0x06800003u);
  // Absent functions read all-ones at every width.
  EXPECT_EQ(cfg_read(pci_devfn(5, 0), 0, 4), 0xffffffffu);
  EXPECT_EQ(cfg_read(pci_devfn(5, 0), 2, 2), 0xffffu);
  // Byte writes at a lane: the interrupt line register (0x3c) of 00.0 and back.
  cfg_write(0, 0x3c, 1, 0x5a);
  EXPECT_EQ(cfg_read(0, 0x3c, 1), 0x5au);
  cfg_write(0, 0x0c, 2, 0x1008);  // cache line size and latency timer as one word
  EXPECT_EQ(cfg_read(0, 0x0c, 4) & 0xffff, 0x1008u);
}

TEST_F(ChipsetTest, ConfigAddressWidthsAndTheEnableBit) {
  // CONFIG_ADDRESS keeps a dword write (bits 1:0 read 0); byte and word writes leave it alone.
  out(0xcf8, 4, 0x80000003);
  EXPECT_EQ(in(0xcf8, 4), 0x80000000u);
  out(0xcf8, 2, 0x1234);
  EXPECT_EQ(in(0xcf8, 4), 0x80000000u);
  // Disabled (bit 31 clear): CONFIG_DATA reads all-ones and writes go nowhere.
  out(0xcf8, 4, 0x0000003c);
  EXPECT_EQ(in(0xcfc, 4), 0xffffffffu);
  EXPECT_EQ(in(0xcfc, 1), 0xffu);
  out(0xcfc, 1, 0x77);
  EXPECT_EQ(cfg_read(0, 0x3c, 1), 0x00u);
  // Another bus: no bridges, so nothing answers.
  out(0xcf8, 4, 0x80010000);
  EXPECT_EQ(in(0xcfc, 4), 0xffffffffu);
  // A word at lane 1 is misaligned: the port access itself is invalid (as in QEMU, where it
  // reaches no register); lane 2 is fine.
  out(0xcf8, 4, addr(0, 0));
  uint64_t v = 0;
  EXPECT_NE(io.read(0xcfd, 2, v), MemResult::Ok);
  EXPECT_EQ(in(0xcfe, 2), 0x1237u);
}

TEST_F(ChipsetTest, PamRegistersCallTheBoard) {
  std::vector<std::pair<unsigned, PamSegment>> calls;
  host.set_pam_callback([&](unsigned i, const PamSegment& s) { calls.push_back({i, s}); });
  // Power-on: everything to ROM/PCI.
  for (unsigned i = 0; i < 7; ++i) EXPECT_EQ(cfg_read(0, 0x59 + i, 1), 0u);
  // PAM0: only the high nibble exists (0xf0000 segment); 0x30 = read and write DRAM.
  cfg_write(0, 0x59, 1, 0xff);
  EXPECT_EQ(cfg_read(0, 0x59, 1), 0x30u);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].first, 0u);
  EXPECT_EQ(calls[0].second.base, 0xf0000u);
  EXPECT_EQ(calls[0].second.size, 0x10000u);
  EXPECT_TRUE(calls[0].second.read_dram);
  EXPECT_TRUE(calls[0].second.write_dram);
  calls.clear();
  // PAM1..PAM4 in one dword at 0x5c (PAM3..PAM6): only the changed segments are told.
  cfg_write(0, 0x5a, 1, 0x21);  // 0xc0000 read DRAM, 0xc4000 write DRAM
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].second.base, 0xc0000u);
  EXPECT_TRUE(calls[0].second.read_dram);
  EXPECT_FALSE(calls[0].second.write_dram);
  EXPECT_EQ(calls[1].second.base, 0xc4000u);
  EXPECT_FALSE(calls[1].second.read_dram);
  EXPECT_TRUE(calls[1].second.write_dram);
  calls.clear();
  cfg_write(0, 0x5c, 4, 0xffffffff);  // PAM3..PAM6: reserved bits 7:6, 3:2 stay 0
  EXPECT_EQ(cfg_read(0, 0x5c, 4), 0x33333333u);
  EXPECT_EQ(calls.size(), 8u);
  EXPECT_EQ(calls.back().second.base, 0xec000u);
  EXPECT_TRUE(host.pam_segment(12).write_dram);
  calls.clear();
  cfg_write(0, 0x5c, 4, 0x33333333);  // no change, no call
  EXPECT_TRUE(calls.empty());
  // Reset: the segments that were DRAM go back, and the board hears of it.
  host.reset();
  EXPECT_EQ(cfg_read(0, 0x59, 1), 0u);
  EXPECT_EQ(calls.size(), 11u);
  EXPECT_FALSE(host.pam_segment(0).read_dram);
}

TEST_F(ChipsetTest, SmramLocksAndIsNamedUnimplemented) {
  test::LogCapture cap(log, "unimp");
  ASSERT_TRUE(cap.ok());
  EXPECT_EQ(cfg_read(0, 0x72, 1), 0x02u);  // C_BASE_SEG 010
  cfg_write(0, 0x72, 1, 0x4a);             // D_OPEN | G_SMRAME
  EXPECT_EQ(cfg_read(0, 0x72, 1), 0x4au);
  EXPECT_NE(cap.take().find("SMM"), std::string::npos);
  cfg_write(0, 0x72, 1, 0x5a);  // D_LCK: D_OPEN clears
  EXPECT_EQ(cfg_read(0, 0x72, 1), 0x1au);
  cfg_write(0, 0x72, 1, 0x62);  // only D_CLS may still change
  EXPECT_EQ(cfg_read(0, 0x72, 1), 0x3au);
  host.reset();
  EXPECT_EQ(cfg_read(0, 0x72, 1), 0x02u);
  cfg_write(0, 0x72, 1, 0x40);
  EXPECT_EQ(cfg_read(0, 0x72, 1), 0x42u);
}

TEST_F(ChipsetTest, PirqRoutesIntxToIsaIrqs) {
  Sink sink;
  for (unsigned n = 0; n < 16; ++n) isa.isa_irq(n).connect(sink, n);
  sink.levels.clear();
  // A pci-testdev has no pin; drive the bus's lines as slot devices would: INTA at slot 2 pin 1
  // is line (2 + 0) % 4 = C.
  EXPECT_EQ(cfg_read(pci_devfn(1, 0), 0x60, 4), 0x80808080u);
  bus.set_device_intx(pci_devfn(2, 0), 1, true);
  EXPECT_TRUE(isa.pirq_level(2));
  EXPECT_TRUE(sink.levels.empty());           // routing disabled: no ISA IRQ moves
  cfg_write(pci_devfn(1, 0), 0x62, 1, 0x0b);  // PIRQC -> IRQ 11
  EXPECT_EQ(isa.pirq_route(2), 11);
  EXPECT_TRUE(sink.levels[11]);
  // PIRQA (slot 4 pin 1 -> line 0) shares IRQ 11: the level is the OR.
  cfg_write(pci_devfn(1, 0), 0x60, 1, 0x0b);
  bus.set_device_intx(pci_devfn(4, 0), 1, true);
  bus.set_device_intx(pci_devfn(2, 0), 1, false);
  EXPECT_TRUE(sink.levels[11]);
  bus.set_device_intx(pci_devfn(4, 0), 1, false);
  EXPECT_FALSE(sink.levels[11]);
  // Moving a routed, asserted PIRQ moves the level; bit 7 disables; reserved IRQs deliver nothing.
  bus.set_device_intx(pci_devfn(2, 0), 1, true);
  cfg_write(pci_devfn(1, 0), 0x62, 1, 0x0a);
  EXPECT_FALSE(sink.levels[11]);
  EXPECT_TRUE(sink.levels[10]);
  cfg_write(pci_devfn(1, 0), 0x62, 1, 0x8a);
  EXPECT_FALSE(sink.levels[10]);
  EXPECT_EQ(isa.pirq_route(2), -1);
  {
    test::LogCapture cap(log, "guest_errors");
    cfg_write(pci_devfn(1, 0), 0x62, 1, 0x02);  // IRQ 2: reserved
    EXPECT_EQ(isa.pirq_route(2), -1);
    EXPECT_FALSE(sink.levels[2]);
    EXPECT_NE(cap.take().find("reserved IRQ 2"), std::string::npos);
  }
  // Bits 6:4 are reserved; reset disables every route again.
  cfg_write(pci_devfn(1, 0), 0x63, 1, 0x7f);
  EXPECT_EQ(cfg_read(pci_devfn(1, 0), 0x63, 1), 0x0fu);
  cfg_write(pci_devfn(1, 0), 0x62, 1, 0x05);
  EXPECT_TRUE(sink.levels[5]);
  bus.reset();
  EXPECT_EQ(cfg_read(pci_devfn(1, 0), 0x60, 4), 0x80808080u);
  EXPECT_FALSE(sink.levels[5]);
}

TEST_F(ChipsetTest, ResetControlAtCf9) {
  std::vector<bool> resets;
  rcr.set_reset_callback([&](bool hard) { resets.push_back(hard); });
  EXPECT_EQ(in(0xcf9, 1), 0u);
  out(0xcf9, 1, 0x02);  // SRST alone: selects, does not reset
  EXPECT_TRUE(resets.empty());
  EXPECT_EQ(in(0xcf9, 1), 0x02u);
  out(0xcf9, 1, 0x06);  // RCPU with SRST: hard reset
  ASSERT_EQ(resets.size(), 1u);
  EXPECT_TRUE(resets[0]);
  EXPECT_EQ(in(0xcf9, 1), 0x02u);  // RCPU reads 0
  out(0xcf9, 1, 0x04);             // RCPU alone: soft reset
  ASSERT_EQ(resets.size(), 2u);
  EXPECT_FALSE(resets[1]);
  // The dword at 0xcf8 is still CONFIG_ADDRESS; the byte at 0xcf9 never touches it.
  out(0xcf8, 4, 0x80000800);
  EXPECT_EQ(in(0xcf8, 4), 0x80000800u);
  EXPECT_EQ(resets.size(), 2u);
  rcr.reset();
  EXPECT_EQ(in(0xcf9, 1), 0u);
}

TEST_F(ChipsetTest, Piix4PmBaseCallback) {
  std::vector<std::pair<uint16_t, bool>> calls;
  pm.set_pm_base_callback([&](uint16_t base, bool on) { calls.push_back({base, on}); });
  const unsigned fn = pci_devfn(1, 3);
  EXPECT_EQ(cfg_read(fn, 0x40, 4), 0x00000001u);  // PMBA: I/O indicator
  EXPECT_EQ(cfg_read(fn, 0x3d, 1), 0x01u);        // INTA
  cfg_write(fn, 0x40, 4, 0x0000b03f);             // SeaBIOS's base; bits 5:1 read 0
  EXPECT_EQ(cfg_read(fn, 0x40, 4), 0x0000b001u);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0], std::make_pair(uint16_t(0xb000), false));
  cfg_write(fn, 0x80, 1, 0x01);  // PMIOSE
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1], std::make_pair(uint16_t(0xb000), true));
  cfg_write(fn, 0x80, 1, 0x01);  // unchanged
  EXPECT_EQ(calls.size(), 2u);
  // DEVACTB keeps what firmware writes (SeaBIOS's "SMM set up" mark, APMC_EN).
  cfg_write(fn, 0x58, 4, 1u << 25);
  EXPECT_EQ(cfg_read(fn, 0x58, 4), 1u << 25);
  bus.reset();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[2], std::make_pair(uint16_t(0), false));
}

TEST_F(ChipsetTest, BarsDecodeInThePortSpaceAndTheHole) {
  PciTestdev dev(mem, log, "pci-testdev");
  ASSERT_EQ(bus.plug(dev, pci_devfn(3, 0)), "");
  const unsigned fn = pci_devfn(3, 0);
  // Sizing: BAR 0 memory (2 KiB), BAR 1 I/O (128 ports).
  cfg_write(fn, 0x10, 4, 0xffffffff);
  EXPECT_EQ(cfg_read(fn, 0x10, 4), 0xfffff800u);
  cfg_write(fn, 0x14, 4, 0xffffffff);
  EXPECT_EQ(cfg_read(fn, 0x14, 4), 0xffffff81u);
  cfg_write(fn, 0x10, 4, 0xfebff000);
  cfg_write(fn, 0x14, 4, 0xc080);
  uint64_t v = 0;
  // Not decoding until the command register enables it.
  EXPECT_EQ(io.read(0xc080, 1, v), MemResult::Ok);
  EXPECT_EQ(v, 0xffu);
  cfg_write(fn, 0x04, 2, 0x0003);
  // The testdev's header: byte 0 written selects a test; its name is "no-eventfd" for test 0.
  out(0xc080, 1, 0);
  EXPECT_EQ(io.read(0xc080 + 16, 1, v), MemResult::Ok);
  EXPECT_EQ(char(v), 'n');
  EXPECT_EQ(mem.read(0xfebff000 + 16, 1, v), MemResult::Ok);
  EXPECT_EQ(char(v), 'n');
  // A BAR below the I/O window (ISA range) or outside the hole decodes nothing there.
  cfg_write(fn, 0x14, 4, 0x0080);
  EXPECT_EQ(io.read(0xc080, 1, v), MemResult::Ok);
  EXPECT_EQ(v, 0xffu);
}

}  // namespace
}  // namespace orrery::hw::pci
