// The PCI bus model through an ECAM host bridge: configuration space registers (BAR sizing,
// read-only fields, capabilities, absent functions, bad accesses), BAR decode in the windows and
// its reprogramming, command-bit gating, INTx swizzling, MSI-X through a GICv2m frame, the
// pci-testdev, and a hostile sweep.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "hw/intc/gicv2m.h"
#include "hw/pci/msix.h"
#include "hw/pci/pci_bus.h"
#include "hw/pci/pci_host.h"
#include "hw/pci/pci_testdev.h"
#include "tests/unit/hw/log_capture.h"

namespace orrery::hw::pci {
namespace {

constexpr uint64_t kRam = 0x40000000;
constexpr uint64_t kMemBase = 0x10000000, kMemSize = 0x10000000, kIoSize = 0x10000;
constexpr uint64_t kV2m = 0x08020000;
constexpr unsigned kV2mFirst = 80, kV2mCount = 64;

// Records edges and levels per interrupt input.
class Sink : public IrqSink {
 public:
  void set_irq(unsigned line, bool level) override {
    std::lock_guard g(mu);
    if (level && !levels[line]) ++edges[line];
    levels[line] = level;
  }
  unsigned edge_count(unsigned line) {
    std::lock_guard g(mu);
    return edges[line];
  }
  std::mutex mu;
  std::map<unsigned, unsigned> edges;
  std::map<unsigned, bool> levels;
};

// A register file answering its BAR accesses with offset-tagged values and remembering writes.
class Regs : public MmioDevice {
 public:
  explicit Regs(uint32_t tag) : tag_(tag) {}
  MemResult read(uint64_t offset, unsigned size, uint64_t& value) override {
    value = tag_ + offset;
    if (size < 8) value &= (1ull << (8 * size)) - 1;
    return MemResult::Ok;
  }
  MemResult write(uint64_t offset, unsigned size, uint64_t value) override {
    last_offset = offset;
    last_value = value;
    ++writes;
    return MemResult::Ok;
  }
  std::atomic<uint64_t> last_offset{0}, last_value{0};
  std::atomic<unsigned> writes{0};

 private:
  uint32_t tag_;
};

// BAR 0: 4 KiB memory; BAR 1: 32 bytes of I/O; BAR 2+3: 1 MiB 64-bit prefetchable; BAR 5:
// MSI-X (4 vectors); a vendor capability after MSI-X.
class TestFn : public PciDevice {
 public:
  TestFn(const AddressSpace& as, Log& log, uint8_t pin = 1)
      : PciDevice(as, log, "testfn",
                  {.vendor = 0x1234,
                   .device = 0x5678,
                   .class_code = 0xff0000,
                   .revision = 7,
                   .subsys_vendor = 0x1af4,
                   .subsys_id = 0x42,
                   .int_pin = pin}),
        msix(*this, log, 4, 0x800) {
    add_bar(0, BarType::Mem32, 0x1000, false, mem);
    add_bar(1, BarType::Io, 32, false, io);
    add_bar(2, BarType::Mem64, 0x100000, true, big);
    add_bar(5, BarType::Mem32, msix.bar_size(), false, msix);
    msix_cap = add_msix_capability(4, 5, 0, 0x800);
    vendor_cap = add_capability(kCapIdVendor, 8);
  }
  using PciDevice::set_intx;
  void config_written(unsigned offset, unsigned size) override {
    if (offset < msix_cap + 4 && offset + size > msix_cap + 2)
      msix.control_written(config_word(msix_cap + 2));
  }
  Regs mem{0x1000}, io{0x2000}, big{0x3000};
  Msix msix;
  unsigned msix_cap = 0, vendor_cap = 0;
};

class PciTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(as.add_ram("ram", kRam, 0x10000), "");
    ASSERT_EQ(as.add_mmio("v2m", kV2m, intc::Gicv2m::kMmioSize, v2m), "");
    ASSERT_EQ(as.add_mmio("ecam", 0x3f000000, 0x1000000, ecam), "");
    ASSERT_EQ(as.root().add_subregion(bus.mem_window(), kMemBase), "");
    ASSERT_EQ(as.root().add_subregion(bus.io_window(), 0x3eff0000), "");
    for (unsigned i = 0; i < 4; ++i) bus.intx(i).connect(sink, 35 + i);
  }
  static uint64_t ecam_addr(unsigned devfn, unsigned reg) {
    return 0x3f000000 + (uint64_t(devfn) << 12) + reg;
  }
  uint32_t cfg_rd(unsigned devfn, unsigned reg, unsigned size = 4) {
    uint64_t v = 0;
    EXPECT_EQ(as.read(ecam_addr(devfn, reg), size, v), MemResult::Ok);
    return uint32_t(v);
  }
  void cfg_wr(unsigned devfn, unsigned reg, uint32_t v, unsigned size = 4) {
    EXPECT_EQ(as.write(ecam_addr(devfn, reg), size, v), MemResult::Ok);
  }
  uint64_t mem_rd(uint64_t addr, unsigned size = 4) {
    uint64_t v = 0;
    EXPECT_EQ(as.read(addr, size, v), MemResult::Ok);
    return v;
  }

  AddressSpace as;
  Log log;
  test::LogCapture capture{log, "guest_errors,unimp"};
  Sink sink;
  intc::Gicv2m v2m{sink, log, kV2mFirst, kV2mCount};
  PciBus bus{log, kMemBase, kMemSize, kIoSize};
  PciEcam ecam{bus, log, 16};
  PciHostBridgeFunction host{as, log};
};

TEST_F(PciTest, HostBridgeAndIdentity) {
  ASSERT_EQ(bus.plug(host, 0), "");
  EXPECT_EQ(cfg_rd(0, 0), 0x00081b36u);
  EXPECT_EQ(cfg_rd(0, 0x08) >> 8, 0x060000u);
  TestFn fn(as, log);
  ASSERT_EQ(bus.plug(fn, pci_devfn(3, 0)), "");
  EXPECT_EQ(cfg_rd(pci_devfn(3, 0), 0), 0x56781234u);
  EXPECT_EQ(cfg_rd(pci_devfn(3, 0), 0x08), 0xff000007u);
  EXPECT_EQ(cfg_rd(pci_devfn(3, 0), 0x2c), 0x00421af4u);
  EXPECT_EQ(cfg_rd(pci_devfn(3, 0), 0x3d, 1), 1u);
  EXPECT_NE(bus.plug(fn, pci_devfn(3, 0)), "");  // taken
}

TEST_F(PciTest, BarSizingRoundTrip) {
  TestFn fn(as, log);
  ASSERT_EQ(bus.plug(fn, pci_devfn(1, 0)), "");
  const unsigned d = pci_devfn(1, 0);
  EXPECT_EQ(cfg_rd(d, 0x10), 0u);
  EXPECT_EQ(cfg_rd(d, 0x14), 1u);    // I/O
  EXPECT_EQ(cfg_rd(d, 0x18), 0xcu);  // 64-bit prefetchable
  for (unsigned bar = 0; bar < 6; ++bar) cfg_wr(d, 0x10 + 4 * bar, 0xffffffff);
  EXPECT_EQ(cfg_rd(d, 0x10), 0xfffff000u);
  EXPECT_EQ(cfg_rd(d, 0x14), 0xffffffe1u);
  EXPECT_EQ(cfg_rd(d, 0x18), 0xfff0000cu);
  EXPECT_EQ(cfg_rd(d, 0x1c), 0xffffffffu);
  EXPECT_EQ(cfg_rd(d, 0x20), 0u);  // BAR 4 absent: not writable
  EXPECT_EQ(cfg_rd(d, 0x24), 0xfffff000u);
  // Programming an address keeps the type bits and drops bits below the size.
  cfg_wr(d, 0x10, 0x10002345);
  EXPECT_EQ(cfg_rd(d, 0x10), 0x10002000u);
  cfg_wr(d, 0x18, 0x20000000);
  cfg_wr(d, 0x1c, 0x1);
  EXPECT_EQ(cfg_rd(d, 0x18), 0x2000000cu);
  EXPECT_EQ(cfg_rd(d, 0x1c), 1u);
  EXPECT_EQ(fn.bar_mapping(2).addr, 0x120000000ull);
}

TEST_F(PciTest, ReadOnlyFieldsIgnoreWritesAndStatusBitsClearOnOne) {
  TestFn fn(as, log);
  ASSERT_EQ(bus.plug(fn, 8), "");
  cfg_wr(8, 0x00, 0);
  cfg_wr(8, 0x08, 0);
  cfg_wr(8, 0x2c, 0);
  cfg_wr(8, 0x34, 0, 1);
  cfg_wr(8, 0x3d, 4, 1);
  EXPECT_EQ(cfg_rd(8, 0x00), 0x56781234u);
  EXPECT_EQ(cfg_rd(8, 0x08), 0xff000007u);
  EXPECT_EQ(cfg_rd(8, 0x2c), 0x00421af4u);
  EXPECT_EQ(cfg_rd(8, 0x34, 1), 0x40u);
  EXPECT_EQ(cfg_rd(8, 0x3d, 1), 1u);
  // Interrupt line is the guest's scratch byte.
  cfg_wr(8, 0x3c, 0x2a, 1);
  EXPECT_EQ(cfg_rd(8, 0x3c, 1), 0x2au);
  // Command: only the defined enable bits stick.
  cfg_wr(8, 0x04, 0xffff, 2);
  EXPECT_EQ(cfg_rd(8, 0x04, 2), unsigned(kCmdIo | kCmdMemory | kCmdBusMaster | kCmdParity |
                                         kCmdSerr | kCmdIntxDisable));
  // Status: writing the capability bit does not clear it.
  cfg_wr(8, 0x06, 0xffff, 2);
  EXPECT_EQ(cfg_rd(8, 0x06, 2), unsigned(kStatusCapList));
}

TEST_F(PciTest, CapabilitiesListWalk) {
  TestFn fn(as, log);
  ASSERT_EQ(bus.plug(fn, 8), "");
  EXPECT_TRUE(cfg_rd(8, 0x06, 2) & kStatusCapList);
  std::vector<uint8_t> ids;
  for (unsigned p = cfg_rd(8, 0x34, 1), n = 0; p && n < 48; p = cfg_rd(8, p + 1, 1), ++n) {
    EXPECT_EQ(p % 4, 0u);
    EXPECT_GE(p, 0x40u);
    ids.push_back(uint8_t(cfg_rd(8, p, 1)));
  }
  EXPECT_EQ(ids, (std::vector<uint8_t>{kCapIdMsix, kCapIdVendor}));
  // MSI-X: table size 4 (N-1 encoded), table and PBA in BAR 5.
  EXPECT_EQ(cfg_rd(8, fn.msix_cap + 2, 2), 3u);
  EXPECT_EQ(cfg_rd(8, fn.msix_cap + 4), 5u);
  EXPECT_EQ(cfg_rd(8, fn.msix_cap + 8), 0x805u);
  cfg_wr(8, fn.msix_cap + 2, 0xffff, 2);  // only enable and mask are writable
  EXPECT_EQ(cfg_rd(8, fn.msix_cap + 2, 2), 0xc003u);
}

TEST_F(PciTest, AbsentFunctionsAndBusesReadAllOnes) {
  EXPECT_EQ(cfg_rd(pci_devfn(5, 0), 0), 0xffffffffu);
  EXPECT_EQ(cfg_rd(pci_devfn(5, 3), 0x2, 2), 0xffffu);
  EXPECT_EQ(cfg_rd(pci_devfn(5, 3), 0xe, 1), 0xffu);
  uint64_t v = 0;
  ASSERT_EQ(as.read(0x3f000000 + (1 << 20), 4, v), MemResult::Ok);  // bus 1
  EXPECT_EQ(v, 0xffffffffu);
  cfg_wr(pci_devfn(5, 0), 0x04, 0xffff);  // ignored, no crash
  // A second function makes function 0 multi-function.
  TestFn f0(as, log), f1(as, log);
  ASSERT_EQ(bus.plug(f0, pci_devfn(2, 0)), "");
  EXPECT_EQ(cfg_rd(pci_devfn(2, 0), 0x0e, 1), 0u);
  ASSERT_EQ(bus.plug(f1, pci_devfn(2, 1)), "");
  EXPECT_EQ(cfg_rd(pci_devfn(2, 0), 0x0e, 1), 0x80u);
}

TEST_F(PciTest, BadConfigSizesAndOffsets) {
  TestFn fn(as, log);
  ASSERT_EQ(bus.plug(fn, 8), "");
  EXPECT_EQ(fn.config_read(4096, 4), 0xffffffffu);
  EXPECT_EQ(fn.config_read(2, 4), 0xffffffffu);  // misaligned
  EXPECT_EQ(fn.config_read(0, 3), 0xffffffffu);
  fn.config_write(0x10, 3, 0xffffffff);
  fn.config_write(0x11, 2, 0xffff);
  EXPECT_EQ(fn.config_read(0x10, 4), 0u);
  EXPECT_NE(capture.take().find("bad 3-byte config"), std::string::npos);
  // Through ECAM, a misaligned access is refused by the region; 8 bytes are split in two.
  uint64_t v = 0;
  EXPECT_EQ(as.read(ecam_addr(8, 1), 2, v), MemResult::DeviceError);
  ASSERT_EQ(as.read(ecam_addr(8, 0), 8, v), MemResult::Ok);
  EXPECT_EQ(v, 0x0010000056781234ull);  // IDs, then command 0 and status.caplist
  // Extended configuration space exists (zeros) up to 4 KiB.
  EXPECT_EQ(cfg_rd(8, 0xffc), 0u);
}

TEST_F(PciTest, BarDecodeFollowsReprogrammingAndCommandBits) {
  TestFn fn(as, log);
  ASSERT_EQ(bus.plug(fn, 8), "");
  cfg_wr(8, 0x10, kMemBase + 0x1000);
  cfg_wr(8, 0x14, 0x100);
  // Not decoded until the command register enables memory (and I/O).
  EXPECT_EQ(mem_rd(kMemBase + 0x1004), 0xffffffffu);
  cfg_wr(8, 0x04, kCmdMemory, 2);
  EXPECT_EQ(mem_rd(kMemBase + 0x1004), 0x1004u);
  EXPECT_EQ(mem_rd(0x3eff0000 + 0x104), 0xffffffffu);  // I/O still off
  cfg_wr(8, 0x04, kCmdMemory | kCmdIo, 2);
  EXPECT_EQ(mem_rd(0x3eff0000 + 0x104), 0x2004u);
  ASSERT_EQ(as.write(kMemBase + 0x1010, 4, 0xabcd), MemResult::Ok);
  EXPECT_EQ(fn.mem.last_offset, 0x10u);
  EXPECT_EQ(fn.mem.last_value, 0xabcdu);
  // Move it: the old address is a master abort, the new one decodes.
  cfg_wr(8, 0x10, kMemBase + 0x8000);
  EXPECT_EQ(mem_rd(kMemBase + 0x1004), 0xffffffffu);
  EXPECT_EQ(mem_rd(kMemBase + 0x8008), 0x1008u);
  // Right after the BAR's end nothing decodes.
  EXPECT_EQ(mem_rd(kMemBase + 0x9000, 8), ~0ull);
  // Memory decode off again.
  cfg_wr(8, 0x04, kCmdIo, 2);
  EXPECT_EQ(mem_rd(kMemBase + 0x8008), 0xffffffffu);
  EXPECT_NE(capture.take().find("decodes to no BAR"), std::string::npos);
}

TEST_F(PciTest, BarOverRamOrOutsideTheWindowDecodesNothing) {
  TestFn fn(as, log);
  ASSERT_EQ(bus.plug(fn, 8), "");
  ASSERT_TRUE(as.write_bytes(kRam, "\x11\x22\x33\x44", 4));
  cfg_wr(8, 0x10, uint32_t(kRam));
  cfg_wr(8, 0x18, 0);
  cfg_wr(8, 0x1c, 0);
  cfg_wr(8, 0x04, kCmdMemory, 2);
  EXPECT_EQ(mem_rd(kRam), 0x44332211u);  // RAM is not shadowed
  EXPECT_EQ(fn.mem.writes, 0u);
  ASSERT_EQ(as.write(kRam, 4, 0x55), MemResult::Ok);
  EXPECT_EQ(fn.mem.writes, 0u);
  // A 64-bit BAR above 4 GiB is outside the 32-bit window too.
  cfg_wr(8, 0x18, 0x10000000);
  cfg_wr(8, 0x1c, 1);
  EXPECT_EQ(mem_rd(kMemBase), 0xffffffffu);
}

TEST_F(PciTest, EachBarIsARegionOfItsOwn) {
  TestFn fn(as, log);
  ASSERT_EQ(bus.plug(fn, 8), "");
  // Programming BARs with decode off publishes no view: nothing that maps changed.
  const uint64_t gen = as.generation();
  cfg_wr(8, 0x10, kMemBase + 0x4000);
  cfg_wr(8, 0x14, 0x300);
  EXPECT_EQ(as.generation(), gen);
  cfg_wr(8, 0x04, kCmdMemory | kCmdIo, 2);
  // The softmmu's view reaches the function's device directly, at the BAR's bounds.
  RegionRef r = as.find(kMemBase + 0x4008);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->kind, RegionKind::Mmio);
  EXPECT_EQ(r->dev, &fn.mem);
  EXPECT_EQ(r->base, kMemBase + 0x4000);
  EXPECT_EQ(r->size, 0x1000u);
  EXPECT_EQ(r->offset, 0u);
  r = as.find(0x3eff0000 + 0x310);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->dev, &fn.io);
  EXPECT_EQ(r->base, 0x3eff0000u + 0x300);
  EXPECT_EQ(r->size, 32u);
  // A move is one region moving: the old place is the master abort again.
  cfg_wr(8, 0x10, kMemBase + 0x6000);
  r = as.find(kMemBase + 0x4008);
  ASSERT_NE(r, nullptr);
  EXPECT_NE(r->dev, &fn.mem);
  EXPECT_EQ(as.find(kMemBase + 0x6000)->dev, &fn.mem);
  // Disabling I/O decode takes the I/O BAR (only) out of the view.
  cfg_wr(8, 0x04, kCmdMemory, 2);
  EXPECT_NE(as.find(0x3eff0000 + 0x310)->dev, &fn.io);
  EXPECT_EQ(as.find(kMemBase + 0x6000)->dev, &fn.mem);
  // Reset unmaps every BAR.
  bus.reset();
  EXPECT_NE(as.find(kMemBase + 0x6000)->dev, &fn.mem);
  EXPECT_EQ(mem_rd(kMemBase + 0x6000), 0xffffffffu);
}

TEST_F(PciTest, OverlappingBarsResolveByPriority) {
  TestFn a(as, log), b(as, log);
  ASSERT_EQ(bus.plug(a, pci_devfn(1, 0)), "");
  ASSERT_EQ(bus.plug(b, pci_devfn(2, 0)), "");
  // Both BAR 0s at one address, and b's 1 MiB BAR 2 over both: the higher devfn and BAR
  // number wins, and whatever it leaves uncovered still decodes to the one below.
  for (unsigned devfn : {pci_devfn(1, 0), pci_devfn(2, 0)}) {
    cfg_wr(devfn, 0x10, kMemBase + 0x100000);
    cfg_wr(devfn, 0x04, kCmdMemory, 2);
  }
  EXPECT_EQ(as.find(kMemBase + 0x100000)->dev, &b.mem);
  cfg_wr(pci_devfn(2, 0), 0x04, 0, 2);
  EXPECT_EQ(as.find(kMemBase + 0x100000)->dev, &a.mem);
  EXPECT_EQ(mem_rd(kMemBase + 0x100010), 0x1010u);
  cfg_wr(pci_devfn(2, 0), 0x18, kMemBase + 0x100000);
  cfg_wr(pci_devfn(2, 0), 0x1c, 0);
  cfg_wr(pci_devfn(2, 0), 0x04, kCmdMemory, 2);
  EXPECT_EQ(as.find(kMemBase + 0x100000)->dev, &b.big);
  EXPECT_EQ(mem_rd(kMemBase + 0x100010), 0x3010u);
  // Moving the big one away uncovers a again.
  cfg_wr(pci_devfn(2, 0), 0x18, kMemBase + 0x200000);
  EXPECT_EQ(as.find(kMemBase + 0x100000)->dev, &b.mem);
  cfg_wr(pci_devfn(2, 0), 0x10, kMemBase + 0x300000);
  EXPECT_EQ(mem_rd(kMemBase + 0x100010), 0x1010u);
  EXPECT_EQ(mem_rd(kMemBase + 0x200010), 0x3010u);
}

TEST_F(PciTest, BarsStraddlingAWindowEdgeShowOnlyTheirInsidePart) {
  // Windows that are not aligned to the BAR's size (virt's memory window ends at 0x3eff0000).
  AddressSpace mem;
  PciBus edge{log, 0x10080000, 0x2ef70000, kIoSize};
  ASSERT_EQ(mem.root().add_subregion(edge.mem_window(), 0x10080000), "");
  TestFn fn(mem, log);
  ASSERT_EQ(edge.plug(fn, 8), "");
  edge.config_write(8, 0x04, 2, kCmdMemory);
  // 1 MiB BAR 2 from 0x3ef00000: the window holds its first 0xf0000 bytes.
  edge.config_write(8, 0x18, 4, 0x3ef00000);
  RegionRef r = mem.find(0x3ef00000);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->dev, &fn.big);
  EXPECT_EQ(r->size, 0xf0000u);
  EXPECT_EQ(mem.find(0x3eff0000), nullptr);
  // From 0x10000000: the window starts 0x80000 into the BAR, at device offset 0x80000.
  edge.config_write(8, 0x18, 4, 0x10000000);
  uint64_t v = 0;
  ASSERT_EQ(mem.read(0x10080010, 4, v), MemResult::Ok);
  EXPECT_EQ(v, 0x3000u + 0x80010);
  EXPECT_EQ(mem.find(0x10080000)->base, 0x10080000u);
  EXPECT_EQ(mem.find(0x10080000)->size, 0x80000u);
  EXPECT_NE(mem.find(0x3ef00000)->dev, &fn.big);  // the master abort's
  // Entirely below the window: nothing.
  edge.config_write(8, 0x18, 4, 0x0ff00000);
  EXPECT_NE(mem.find(0x10080000)->dev, &fn.big);
}

TEST_F(PciTest, HostileBarsNeverCoverRam) {
  TestFn a(as, log), b(as, log);
  ASSERT_EQ(bus.plug(a, pci_devfn(1, 0)), "");
  ASSERT_EQ(bus.plug(b, pci_devfn(1, 1)), "");
  std::vector<uint8_t> pattern(0x10000);
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = uint8_t(i * 13 + 5);
  ASSERT_TRUE(as.write_bytes(kRam, pattern.data(), pattern.size()));
  std::mt19937_64 rng(99);
  const uint32_t places[] = {uint32_t(kRam), uint32_t(kRam + 0x8000),
                             uint32_t(kV2m), uint32_t(kMemBase),
                             0x3eff0000,     0x3f000000,
                             0xffffffff};
  for (int i = 0; i < 3000; ++i) {
    const unsigned devfn = rng() % 2 ? pci_devfn(1, 0) : pci_devfn(1, 1);
    const unsigned reg = 0x10 + 4 * unsigned(rng() % 6);
    cfg_wr(devfn, reg, rng() % 2 ? places[rng() % std::size(places)] : uint32_t(rng()));
    if (rng() % 8 == 0) cfg_wr(devfn, 0x04, uint32_t(rng() % 8), 2);
    // Guest stores into RAM go to RAM, whatever the BARs say.
    const uint64_t at = kRam + (rng() % pattern.size() & ~7ull);
    const uint64_t word = rng();
    ASSERT_EQ(as.write(at, 8, word), MemResult::Ok);
    std::memcpy(&pattern[at - kRam], &word, 8);
  }
  std::vector<uint8_t> now(pattern.size());
  ASSERT_TRUE(as.read_bytes(kRam, now.data(), now.size()));
  EXPECT_EQ(now, pattern);
  EXPECT_EQ(as.find(kRam)->kind, RegionKind::Ram);
  EXPECT_EQ(as.find(kRam)->size, 0x10000u);
  EXPECT_EQ(as.find(kV2m)->dev, &v2m);
  EXPECT_EQ(a.mem.writes + b.mem.writes + a.big.writes + b.big.writes, 0u);
}

TEST_F(PciTest, IntxSwizzleDisableAndStatus) {
  TestFn a(as, log, 1), b(as, log, 2), c(as, log, 1);
  ASSERT_EQ(bus.plug(a, pci_devfn(1, 0)), "");  // slot 1 INTA -> line 1
  ASSERT_EQ(bus.plug(b, pci_devfn(3, 0)), "");  // slot 3 INTB -> line 0
  ASSERT_EQ(bus.plug(c, pci_devfn(6, 0)), "");  // slot 6 INTA -> line 2
  EXPECT_EQ(pci_swizzle(1, 1), 1u);
  EXPECT_EQ(pci_swizzle(3, 2), 0u);
  a.set_intx(true);
  EXPECT_TRUE(sink.levels[36]);
  EXPECT_TRUE(cfg_rd(pci_devfn(1, 0), 0x06, 2) & kStatusInterrupt);
  b.set_intx(true);
  EXPECT_TRUE(sink.levels[35]);
  c.set_intx(true);
  EXPECT_TRUE(sink.levels[37]);
  // INTx disable deasserts the pin; status still shows the request.
  cfg_wr(pci_devfn(1, 0), 0x04, kCmdIntxDisable, 2);
  EXPECT_FALSE(sink.levels[36]);
  EXPECT_TRUE(cfg_rd(pci_devfn(1, 0), 0x06, 2) & kStatusInterrupt);
  cfg_wr(pci_devfn(1, 0), 0x04, 0, 2);
  EXPECT_TRUE(sink.levels[36]);
  a.set_intx(false);
  EXPECT_FALSE(sink.levels[36]);
  EXPECT_FALSE(cfg_rd(pci_devfn(1, 0), 0x06, 2) & kStatusInterrupt);
}

TEST_F(PciTest, IntxLinesAreWiredOr) {
  TestFn a(as, log, 1), b(as, log, 1);
  ASSERT_EQ(bus.plug(a, pci_devfn(1, 0)), "");
  ASSERT_EQ(bus.plug(b, pci_devfn(5, 0)), "");  // same line (5 + 0) % 4 == 1
  a.set_intx(true);
  b.set_intx(true);
  a.set_intx(false);
  EXPECT_TRUE(sink.levels[36]);
  b.set_intx(false);
  EXPECT_FALSE(sink.levels[36]);
}

TEST_F(PciTest, V2mSetSpiRaisesAnEdge) {
  uint64_t v = 0;
  ASSERT_EQ(as.read(kV2m + 0x8, 4, v), MemResult::Ok);
  EXPECT_EQ(v, (uint64_t(kV2mFirst) << 16) | kV2mCount);
  ASSERT_EQ(as.write(kV2m + 0x40, 4, kV2mFirst + 3), MemResult::Ok);
  EXPECT_EQ(sink.edge_count(kV2mFirst + 3), 1u);
  EXPECT_FALSE(sink.levels[kV2mFirst + 3]);  // an edge, not a level
  ASSERT_EQ(as.write(kV2m + 0x40, 4, kV2mFirst + kV2mCount), MemResult::Ok);  // not ours
  EXPECT_EQ(sink.edge_count(kV2mFirst + kV2mCount), 0u);
  EXPECT_NE(capture.take().find("outside the frame"), std::string::npos);
}

TEST_F(PciTest, MsixTableWriteProducesTheMessage) {
  TestFn fn(as, log);
  ASSERT_EQ(bus.plug(fn, 8), "");
  cfg_wr(8, 0x24, kMemBase + 0x10000);  // BAR 5
  cfg_wr(8, 0x04, kCmdMemory | kCmdBusMaster, 2);
  const uint64_t table = kMemBase + 0x10000;
  // Vector 2 -> v2m SETSPI with the INTID as data.
  ASSERT_EQ(as.write(table + 2 * 16, 4, kV2m + 0x40), MemResult::Ok);
  ASSERT_EQ(as.write(table + 2 * 16 + 4, 4, 0), MemResult::Ok);
  ASSERT_EQ(as.write(table + 2 * 16 + 8, 4, kV2mFirst + 5), MemResult::Ok);
  EXPECT_EQ(mem_rd(table + 2 * 16 + 12), 1u);  // masked at reset
  ASSERT_EQ(as.write(table + 2 * 16 + 12, 4, 0), MemResult::Ok);
  fn.msix.notify(2);  // MSI-X not enabled yet: nothing
  EXPECT_EQ(sink.edge_count(kV2mFirst + 5), 0u);
  cfg_wr(8, fn.msix_cap + 2, 0x8000, 2);
  EXPECT_TRUE(fn.msix.enabled());
  fn.msix.notify(2);
  EXPECT_EQ(sink.edge_count(kV2mFirst + 5), 1u);
  // Masked: pending in the PBA, sent on unmask.
  ASSERT_EQ(as.write(table + 2 * 16 + 12, 4, 1), MemResult::Ok);
  fn.msix.notify(2);
  EXPECT_EQ(sink.edge_count(kV2mFirst + 5), 1u);
  EXPECT_EQ(mem_rd(table + 0x800), 4u);
  ASSERT_EQ(as.write(table + 2 * 16 + 12, 4, 0), MemResult::Ok);
  EXPECT_EQ(sink.edge_count(kV2mFirst + 5), 2u);
  EXPECT_EQ(mem_rd(table + 0x800), 0u);
  // Function mask works the same way.
  cfg_wr(8, fn.msix_cap + 2, 0xc000, 2);
  fn.msix.notify(2);
  EXPECT_EQ(sink.edge_count(kV2mFirst + 5), 2u);
  cfg_wr(8, fn.msix_cap + 2, 0x8000, 2);
  EXPECT_EQ(sink.edge_count(kV2mFirst + 5), 3u);
  // Without bus mastering the message is dropped and logged.
  cfg_wr(8, 0x04, kCmdMemory, 2);
  fn.msix.notify(2);
  EXPECT_EQ(sink.edge_count(kV2mFirst + 5), 3u);
  EXPECT_NE(capture.take().find("bus mastering disabled"), std::string::npos);
}

TEST_F(PciTest, MsixGoesToTheBoardsMsiSink) {
  struct Recorder : MsiSink {
    std::vector<std::pair<uint64_t, uint32_t>> got;
    bool deliver_msi(const MsiMessage& m) override {
      got.emplace_back(m.address, m.data);
      return true;
    }
  } rec;
  bus.set_msi_sink(&rec);
  TestFn fn(as, log);
  ASSERT_EQ(bus.plug(fn, 8), "");
  cfg_wr(8, 0x24, kMemBase + 0x10000);
  cfg_wr(8, 0x04, kCmdMemory | kCmdBusMaster, 2);
  const uint64_t table = kMemBase + 0x10000;
  ASSERT_EQ(as.write(table + 16, 4, 0xfee01000), MemResult::Ok);
  ASSERT_EQ(as.write(table + 16 + 4, 4, 0), MemResult::Ok);
  ASSERT_EQ(as.write(table + 16 + 8, 4, 0x4041), MemResult::Ok);
  ASSERT_EQ(as.write(table + 16 + 12, 4, 0), MemResult::Ok);
  cfg_wr(8, fn.msix_cap + 2, 0x8000, 2);
  fn.msix.notify(1);
  ASSERT_EQ(rec.got.size(), 1u);
  EXPECT_EQ(rec.got[0], (std::pair<uint64_t, uint32_t>{0xfee01000, 0x4041}));
  bus.set_msi_sink(nullptr);
}

TEST_F(PciTest, MsiIntoPciSpaceIsDroppedNotADeadlock) {
  TestFn fn(as, log);
  ASSERT_EQ(bus.plug(fn, 8), "");
  cfg_wr(8, 0x24, kMemBase + 0x10000);
  cfg_wr(8, 0x04, kCmdMemory | kCmdBusMaster, 2);
  cfg_wr(8, fn.msix_cap + 2, 0x8000, 2);
  const uint64_t table = kMemBase + 0x10000;
  // Vector 0 aims at vector 1's data word (its own table); vector 1 at the ECAM.
  ASSERT_EQ(as.write(table + 0, 8, table + 16 + 8), MemResult::Ok);
  ASSERT_EQ(as.write(table + 8, 4, 0x1234), MemResult::Ok);
  ASSERT_EQ(as.write(table + 16, 8, ecam_addr(8, 0x04)), MemResult::Ok);
  ASSERT_EQ(as.write(table + 24, 4, 0), MemResult::Ok);
  ASSERT_EQ(as.write(table + 12, 4, 0), MemResult::Ok);
  ASSERT_EQ(as.write(table + 28, 4, 0), MemResult::Ok);
  fn.msix.notify(0);
  fn.msix.notify(1);
  EXPECT_EQ(mem_rd(table + 24), 0u);                                    // not written
  EXPECT_EQ(cfg_rd(8, 0x04, 2), unsigned(kCmdMemory | kCmdBusMaster));  // not cleared
  EXPECT_NE(capture.take().find("targets PCI space"), std::string::npos);
  // A message into RAM is a plain DMA write.
  ASSERT_EQ(as.write(table + 0, 8, kRam + 0x100), MemResult::Ok);
  fn.msix.notify(0);
  EXPECT_EQ(mem_rd(kRam + 0x100), 0x1234u);
}

TEST_F(PciTest, DmaNeedsBusMastering) {
  TestFn fn(as, log);
  ASSERT_EQ(bus.plug(fn, 8), "");
  uint32_t v = 0;
  EXPECT_FALSE(fn.dma().load(kRam, v));
  EXPECT_FALSE(fn.dma().store(kRam, v));
  cfg_wr(8, 0x04, kCmdBusMaster, 2);
  EXPECT_TRUE(fn.dma().store<uint32_t>(kRam, 7));
  EXPECT_TRUE(fn.dma().load(kRam, v));
  EXPECT_EQ(v, 7u);
}

TEST_F(PciTest, TestdevCountsWritesPerTest) {
  PciTestdev td(as, log, "pci-testdev");
  ASSERT_EQ(bus.plug(td, 8), "");
  EXPECT_EQ(cfg_rd(8, 0), 0x00051b36u);
  cfg_wr(8, 0x10, kMemBase);
  cfg_wr(8, 0x14, 0x200);
  cfg_wr(8, 0x04, kCmdMemory | kCmdIo, 2);
  for (uint64_t base : {kMemBase, uint64_t(0x3eff0000 + 0x200)}) {
    for (unsigned t = 0; t < PciTestdev::kNumTests; ++t) {
      ASSERT_EQ(as.write(base, 1, t), MemResult::Ok);
      const uint32_t width = uint32_t(mem_rd(base + 1, 1)), off = uint32_t(mem_rd(base + 4));
      const uint32_t data = uint32_t(mem_rd(base + 8));
      ASSERT_EQ(width, 4u);
      ASSERT_EQ(as.write(base + off, width, data), MemResult::Ok);
      ASSERT_EQ(as.write(base + off, width, data), MemResult::Ok);
      EXPECT_EQ(mem_rd(base + 12), 2u) << "test " << t;
    }
    ASSERT_EQ(as.write(base, 1, PciTestdev::kNumTests), MemResult::Ok);
    EXPECT_NE(mem_rd(base + 1, 1), 4u);  // end of the tests
  }
  EXPECT_EQ(td.count(0, 2), 2u);
  EXPECT_EQ(td.count(1, 0), 2u);
}

TEST_F(PciTest, ConcurrentReprogrammingIsSafe) {
  TestFn fn(as, log);
  ASSERT_EQ(bus.plug(fn, 8), "");
  cfg_wr(8, 0x10, kMemBase + 0x1000);
  cfg_wr(8, 0x04, kCmdMemory, 2);
  std::atomic<bool> stop{false};
  std::atomic<unsigned> bad{0};
  std::thread reader([&] {
    while (!stop) {
      uint64_t v = 0;
      if (as.read(kMemBase + 0x1004, 4, v) != MemResult::Ok || (v != 0x1004 && v != 0xffffffff))
        ++bad;
    }
  });
  for (int i = 0; i < 2000; ++i) cfg_wr(8, 0x10, uint32_t(kMemBase + ((i & 1) ? 0x1000 : 0x2000)));
  stop = true;
  reader.join();
  EXPECT_EQ(bad, 0u);
}

TEST_F(PciTest, HostileSweepEveryAccessIsAnswered) {
  TestFn a(as, log), b(as, log, 3);
  PciTestdev td(as, log, "td");
  ASSERT_EQ(bus.plug(host, 0), "");
  ASSERT_EQ(bus.plug(a, pci_devfn(1, 0)), "");
  ASSERT_EQ(bus.plug(b, pci_devfn(1, 2)), "");
  ASSERT_EQ(bus.plug(td, pci_devfn(2, 0)), "");
  std::mt19937_64 rng(1234);
  const unsigned sizes[] = {1, 2, 4, 8};
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 400; ++i) {
      const unsigned devfn = rng() % 24, size = sizes[rng() % 3];
      // Bias towards the header, command and BARs.
      const unsigned reg = (rng() % 2 ? rng() % 0x40 : rng() % 0x1000) & ~(size - 1);
      uint32_t v = uint32_t(rng());
      if (rng() % 3 == 0) v = uint32_t(kMemBase + (rng() % 0x100000 & ~0xfffu)) | 7;
      cfg_wr(devfn, reg, v, size);
    }
    for (int i = 0; i < 2000; ++i) {
      const unsigned size = sizes[rng() % 4];
      const bool io = rng() % 4 == 0;
      const uint64_t addr = io ? 0x3eff0000 + (rng() % kIoSize & ~uint64_t(size - 1))
                               : kMemBase + (rng() % 0x200000 & ~uint64_t(size - 1));
      uint64_t v = rng();
      const MemResult r = rng() % 2 ? as.read(addr, size, v) : as.write(addr, size, v);
      // The BAR devices here accept their sizes; the MSI-X BAR refuses 1- and 2-byte ones.
      EXPECT_TRUE(r == MemResult::Ok || r == MemResult::DeviceError);
    }
  }
}

}  // namespace
}  // namespace orrery::hw::pci

namespace orrery::hw::pci {
namespace {

// A doorbell that records who rang it (the GICv3 ITS takes the DeviceID from the requester).
class RecordingDoorbell final : public MsiDoorbell {
 public:
  void msi_write(uint32_t requester_id, uint64_t offset, uint32_t data) override {
    calls.push_back({requester_id, offset, data});
  }
  struct Call {
    uint32_t rid;
    uint64_t offset;
    uint32_t data;
    bool operator==(const Call&) const = default;
  };
  std::vector<Call> calls;
};

TEST_F(PciTest, MsixToADoorbellCarriesTheRequesterId) {
  RecordingDoorbell bell;
  constexpr uint64_t kBell = 0x0808'0000;
  bus.set_msi_doorbell(kBell, 0x20000, &bell);
  TestFn fn(as, log);
  ASSERT_EQ(bus.plug(fn, pci_devfn(3, 0)), "");
  const unsigned devfn = pci_devfn(3, 0);
  cfg_wr(devfn, 0x24, kMemBase + 0x10000);
  cfg_wr(devfn, 0x04, kCmdMemory | kCmdBusMaster, 2);
  cfg_wr(devfn, fn.msix_cap + 2, 0x8000, 2);
  const uint64_t table = kMemBase + 0x10000;
  ASSERT_EQ(as.write(table + 16, 8, kBell + 0x10040), MemResult::Ok);  // GITS_TRANSLATER
  ASSERT_EQ(as.write(table + 24, 4, 7), MemResult::Ok);                // EventID 7
  ASSERT_EQ(as.write(table + 28, 4, 0), MemResult::Ok);
  fn.msix.notify(1);
  ASSERT_EQ(bell.calls.size(), 1u);
  EXPECT_EQ(bell.calls[0], (RecordingDoorbell::Call{0x18, 0x10040, 7}));  // 00:03.0
  // Outside the doorbell the message goes through the address space as before.
  ASSERT_EQ(as.write(table + 16, 8, kV2m + 0x40), MemResult::Ok);
  ASSERT_EQ(as.write(table + 24, 4, kV2mFirst + 1), MemResult::Ok);
  fn.msix.notify(1);
  EXPECT_EQ(bell.calls.size(), 1u);
  EXPECT_EQ(sink.edge_count(kV2mFirst + 1), 1u);
}

}  // namespace
}  // namespace orrery::hw::pci
