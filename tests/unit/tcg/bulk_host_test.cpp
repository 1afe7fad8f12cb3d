// Softmmu::bulk_host, the whole-range access of x86 REP MOVS/STOS: a host pointer exactly where
// the TLB fast path would touch RAM, null (without a fault) where the slow path has work to do,
// and the first element's fault where the translation fails.
#include <gtest/gtest.h>

#include "hw/core/address_space.h"
#include "tcg/softmmu/softmmu.h"
#include "tests/unit/fault_translator.h"

namespace orrery::tcg {
namespace {

using softmmu::Access;

constexpr uint64_t kRam = 0x10000, kDev = 0x1000, kRom = 0x30000, kDenied = 0x18000;

class Register : public hw::MmioDevice {
 public:
  hw::MemResult read(uint64_t, unsigned, uint64_t& v) override {
    ++accesses;
    v = 0;
    return hw::MemResult::Ok;
  }
  hw::MemResult write(uint64_t, unsigned, uint64_t) override {
    ++accesses;
    return hw::MemResult::Ok;
  }
  hw::AccessRules valid() const override { return {1, 8, false}; }
  int accesses = 0;
};

class OneCodePage : public softmmu::CodePageTracker {
 public:
  bool is_code_page(uint64_t phys_page) const override { return phys_page == kRam + 0x2000; }
  void invalidate_phys(uint64_t, uint64_t) override {}
};

class Watched : public softmmu::WatchpointChecker {
 public:
  bool any_watchpoints() const override { return true; }
  bool page_watched(uint64_t vpage) const override { return vpage == kRam + 0x3000; }
  bool watch_hit(uint64_t, unsigned, bool, softmmu::WatchHit&) const override { return false; }
};

class BulkHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(as.add_ram("ram", kRam, 0x10000), "");
    ASSERT_EQ(as.add_mmio("dev", kDev, 0x100, dev), "");
    ASSERT_EQ(as.add_rom("rom", kRom, 0x1000), "");
    mmu.set_code_tracker(&code);
    mmu.set_watchpoints(&watched);
  }
  uint8_t* bulk(uint64_t vaddr, uint64_t len, Access a) {
    return mmu.bulk_host(vaddr, len, a, 0, 0x100);
  }
  hw::AddressSpace as;
  Register dev;
  OneCodePage code;
  Watched watched;
  CpuCommon cpu;
  test::FaultTranslator tr{cpu, kDenied};
  softmmu::Softmmu mmu{cpu, as, tr};
};

TEST_F(BulkHostTest, RamGivesTheHostBytesForReadAndWrite) {
  uint8_t* host = as.host_ptr(kRam + 0x10, 0x100);
  ASSERT_NE(host, nullptr);
  EXPECT_EQ(bulk(kRam + 0x10, 0x100, Access::Read), host);
  EXPECT_EQ(bulk(kRam + 0x10, 0x100, Access::Write), host);
  EXPECT_EQ(bulk(kRam + 0x10, 0xff0, Access::Write), host);  // to the page's last byte
  EXPECT_EQ(bulk(kRom + 0x20, 0x10, Access::Read), as.host_ptr(kRom + 0x20, 0x10));
  EXPECT_EQ(tr.faults, 0);
  EXPECT_EQ(cpu.pending_exit, 0u);
}

TEST_F(BulkHostTest, SlowPathWorkGivesNullWithoutAFault) {
  EXPECT_EQ(bulk(kRam + 0x10, 0xff1, Access::Read), nullptr);  // crosses into the next page
  EXPECT_EQ(bulk(kDev, 8, Access::Read), nullptr);
  EXPECT_EQ(bulk(kDev, 8, Access::Write), nullptr);
  EXPECT_EQ(dev.accesses, 0);
  EXPECT_EQ(bulk(kRom, 8, Access::Write), nullptr);  // writes to ROM are dropped one by one
  EXPECT_EQ(bulk(kRam + 0x2000, 8, Access::Write), nullptr);  // translated code lives there
  EXPECT_NE(bulk(kRam + 0x2000, 8, Access::Read), nullptr);
  EXPECT_EQ(bulk(kRam + 0x3000, 8, Access::Read), nullptr);  // a watchpoint
  EXPECT_EQ(bulk(kRam + 0x3000, 8, Access::Write), nullptr);
  EXPECT_EQ(tr.faults, 0);
  EXPECT_EQ(cpu.pending_exit, 0u);
}

TEST_F(BulkHostTest, AFailedTranslationRaisesTheFault) {
  EXPECT_EQ(bulk(kDenied + 0x40, 0x10, Access::Write), nullptr);
  EXPECT_EQ(tr.faults, 1);
  EXPECT_EQ(tr.fault_addr, kDenied + 0x40);
  EXPECT_NE(cpu.pending_exit, 0u);
}

}  // namespace
}  // namespace orrery::tcg
