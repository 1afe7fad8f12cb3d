// The stage-1 MMU: 4K and 64K granules, TTBR0/TTBR1, blocks and pages, faults at each level,
// permissions, ASID-tagged and global TLB entries with TLBI, AT/PAR, and instruction fetch.
#include "cpu/arm64/cpu_models.h"
#include "cpu/arm64/exception.h"
#include "tests/unit/arm64/harness.h"

namespace orrery::cpu::arm64::test {
namespace {

constexpr uint64_t kTables = kRamBase + 0x300000;
constexpr uint64_t kValid = 1, kTable = 3, kPage = 3, kBlock = 1;
constexpr uint64_t kAf = 1ull << 10, kNg = 1ull << 11, kApRo = 1ull << 7, kApEl0 = 1ull << 6;
constexpr uint64_t kPxn = 1ull << 53, kUxn = 1ull << 54;
// 39-bit VAs in both halves, 4K granules, 48-bit IPS, 16-bit ASIDs.
constexpr uint64_t kTcr4k = 25 | (25ull << 16) | (2ull << 30) | (5ull << 32) | (1ull << 36);
constexpr uint64_t kL1 = kTables, kL2 = kTables + 0x1000, kL3 = kTables + 0x2000;
constexpr uint64_t kL1High = kTables + 0x3000, kL2High = kTables + 0x4000;
constexpr uint64_t kL1B = kTables + 0x5000, kL2B = kTables + 0x6000, kL3B = kTables + 0x7000;
constexpr uint64_t kAltData = kDataBase + 0x1000;

class MmuTest : public Arm64Test {
 protected:
  void set(uint64_t table, unsigned index, uint64_t desc) {
    m->write_mem(table + 8 * index, desc, 8);
  }

  /// Builds the 4K tables and turns the MMU on (ASID 1 in TTBR0).
  void setup_4k() {
    std::vector<uint8_t> zero(0x8000, 0);
    m->as.write_bytes(kTables, zero.data(), zero.size());
    set(kL1, 1, 0x40000000 | kAf | kBlock);  // identity 1G block: code, data, tables, vectors
    set(kL1, 0, kL2 | kTable);
    set(kL2, 0, kL3 | kTable);
    set(kL3, 1, kDataBase | kAf | kPage);                           // VA 0x1000: EL1 RW
    set(kL3, 2, kDataBase | kPage);                                 // VA 0x2000: AF clear
    set(kL3, 3, kDataBase | kAf | kApRo | kPage);                   // VA 0x3000: read-only
    set(kL3, 4, kDataBase | kAf | kApEl0 | kPage);                  // VA 0x4000: EL0 RW
    set(kL3, 6, kDataBase | kAf | kNg | kPage);                     // VA 0x6000: non-global
    set(kL3, 7, kDataBase | kAf | kPage);                           // VA 0x7000: global
    set(kL3, 8, (kCodeBase + 0x2000) | kAf | kPage);                // VA 0x8000: code
    set(kL3, 9, (kCodeBase + 0x2000) | kAf | kPxn | kUxn | kPage);  // VA 0x9000: XN
    set(kL1High, 0, kL2High | kTable);
    set(kL2High, 1, 0x40000000 | kAf | kBlock);  // VA 0xffffff8000200000: 2M block
    // A second address space (ASID 2): VA 0x6000 maps the alternate data page.
    set(kL1B, 1, 0x40000000 | kAf | kBlock);
    set(kL1B, 0, kL2B | kTable);
    set(kL2B, 0, kL3B | kTable);
    set(kL3B, 6, kAltData | kAf | kNg | kPage);
    Arm64State& s = m->cpu->state();
    s.tcr_el1 = kTcr4k;
    s.mair_el1 = 0xff;
    s.ttbr0_el1 = kL1 | (1ull << 48);
    s.ttbr1_el1 = kL1High;
    s.sctlr_el1 |= sctlr::kM;
    m->cpu->mmu().flush_all();
    m->write_mem(kDataBase + 8, 0xaaaa, 8);
    m->write_mem(kAltData + 8, 0xbbbb, 8);
  }

  void expect_data_abort(uint64_t far, uint32_t dfsc, bool write = false) {
    expect_exception(kVecCurrentSpxSync, ec::kDataAbortSame);
    const Arm64State& s = m->cpu->state();
    EXPECT_EQ(s.esr_el1 & 0x3f, dfsc) << std::hex << s.esr_el1;
    EXPECT_EQ((s.esr_el1 >> 6) & 1, write ? 1u : 0u);
    EXPECT_EQ(s.far_el1, far);
    EXPECT_EQ(s.elr_el1, kCodeBase);
  }
};

TEST_P(MmuTest, PageInTtbr0AndBlockInTtbr1) {
  m->load({0xf9400020 /* ldr x0, [x1] */, 0xf9400045 /* ldr x5, [x2] */});
  setup_4k();
  m->x(1) = 0x1008;
  m->x(2) = 0xffffff8000200000ull + 0x100008;  // block offset 1M: kDataBase + 8
  rerun_ok();
  EXPECT_EQ(m->x(0), 0xaaaau);
  EXPECT_EQ(m->x(5), 0xaaaau);
}

TEST_P(MmuTest, TranslationAndAccessFlagFaultsReportTheirLevel) {
  const struct {
    uint64_t va;
    uint32_t dfsc;
  } cases[] = {
      {0x80000000, 0x05},             // L1 entry invalid
      {0x200000, 0x06},               // L2 entry invalid
      {0x5000, 0x07},                 // L3 entry invalid
      {0x2000, 0x0b},                 // access flag, level 3
      {0x0000800000000000ull, 0x04},  // outside the 39-bit TTBR0 range: level 0
      {0xffffff8000400000ull, 0x06},  // TTBR1: L2 entry invalid
  };
  for (const auto& c : cases) {
    m->load({0xf9400020});  // ldr x0, [x1]
    setup_4k();
    m->x(1) = c.va;
    expect_data_abort(c.va, c.dfsc);
  }
}

TEST_P(MmuTest, PermissionFaults) {
  m->load({0xf9000020});  // str x0, [x1]
  setup_4k();
  m->x(1) = 0x3000;  // read-only
  expect_data_abort(0x3000, 0x0f, true);

  m->load({0xf8400820});  // ldtr x0, [x1]: EL0 permissions
  setup_4k();
  m->x(1) = 0x1008;  // EL1-only
  expect_data_abort(0x1008, 0x0f);

  m->load({0xf8400820});  // ldtr x0, [x1]
  setup_4k();
  m->x(1) = 0x4008;  // EL0 RW
  rerun_ok();
  EXPECT_EQ(m->x(0), 0xaaaau);
}

TEST_P(MmuTest, InstructionFetchGoesThroughTheMmu) {
  const uint32_t code[] = {0xd2800120 /* mov x0, #9 */, 0xd4000ee2 /* hvc #0x77 */};
  m->load({0xd61f0020});  // br x1
  m->as.write_bytes(kCodeBase + 0x2000, code, sizeof code);
  setup_4k();
  m->x(1) = 0x8000;
  ASSERT_EQ(m->run(), ExitKind::Shutdown) << m->cpu->exit_message();
  ASSERT_EQ(m->hvcs.size(), 1u);
  EXPECT_EQ(m->hvcs[0], 0x77);
  EXPECT_EQ(m->x(0), 9u);

  m->load({0xd61f0020});  // br x1 to an execute-never page
  setup_4k();
  m->x(1) = 0x9000;
  expect_exception(kVecCurrentSpxSync, ec::kInsnAbortSame);
  EXPECT_EQ(m->cpu->state().esr_el1 & 0x3f, 0x0fu);
  EXPECT_EQ(m->cpu->state().far_el1, 0x9000u);
  EXPECT_EQ(m->cpu->state().elr_el1, 0x9000u);
}

TEST_P(MmuTest, AsidTaggedEntriesAndTlbiAside1) {
  m->load({
      0xf9400020,  // ldr x0, [x1]      fills the TLB (ASID 1, non-global)
      0xf9000083,  // str x3, [x4]      remaps VA 0x6000 without TLBI
      0xf9400025,  // ldr x5, [x1]      stale
      0xd5088742,  // tlbi aside1, x2   another ASID: still stale
      0xf9400026,  // ldr x6, [x1]
      0xd5088747,  // tlbi aside1, x7   this ASID
      0xf9400028,  // ldr x8, [x1]      new mapping
  });
  setup_4k();
  m->x(1) = 0x6008;
  m->x(2) = 5ull << 48;
  m->x(3) = kAltData | kAf | kNg | kPage;
  m->x(4) = kL3 + 8 * 6;
  m->x(7) = 1ull << 48;
  rerun_ok();
  EXPECT_EQ(m->x(0), 0xaaaau);
  EXPECT_EQ(m->x(5), 0xaaaau);
  EXPECT_EQ(m->x(6), 0xaaaau);
  EXPECT_EQ(m->x(8), 0xbbbbu);
}

TEST_P(MmuTest, GlobalEntriesSurviveTlbiAside1ButNotTlbiVae1) {
  m->load({
      0xf9400020,  // ldr x0, [x1]
      0xf9000083,  // str x3, [x4]
      0xd5088747,  // tlbi aside1, x7
      0xf9400026,  // ldr x6, [x1]      global: still cached
      0xd5088729,  // tlbi vae1, x9
      0xf9400028,  // ldr x8, [x1]
  });
  setup_4k();
  m->x(1) = 0x7008;
  m->x(3) = kAltData | kAf | kPage;
  m->x(4) = kL3 + 8 * 7;
  m->x(7) = 1ull << 48;
  m->x(9) = 0x7000 >> 12;
  rerun_ok();
  EXPECT_EQ(m->x(0), 0xaaaau);
  EXPECT_EQ(m->x(6), 0xaaaau);
  EXPECT_EQ(m->x(8), 0xbbbbu);
}

TEST_P(MmuTest, AsidSwitchSelectsTheOtherAddressSpace) {
  m->load({
      0xf9400020,  // ldr x0, [x1]      ASID 1
      0xd5182002,  // msr ttbr0_el1, x2 ASID 2, other tables
      0xf9400025,  // ldr x5, [x1]
      0xd5182003,  // msr ttbr0_el1, x3 back to ASID 1
      0xf9400026,  // ldr x6, [x1]
  });
  setup_4k();
  m->x(1) = 0x6008;
  m->x(2) = kL1B | (2ull << 48);
  m->x(3) = kL1 | (1ull << 48);
  rerun_ok();
  EXPECT_EQ(m->x(0), 0xaaaau);
  EXPECT_EQ(m->x(5), 0xbbbbu);
  EXPECT_EQ(m->x(6), 0xaaaau);
}

TEST_P(MmuTest, AddressTranslationInstructionsWritePar) {
  m->load({
      0xd5087801,  // at s1e1r, x1
      0xd5387400,  // mrs x0, par_el1
      0xd5087802,  // at s1e1r, x2
      0xd5387405,  // mrs x5, par_el1
      0xd5087863,  // at s1e0w, x3
      0xd5387406,  // mrs x6, par_el1
  });
  setup_4k();
  m->x(1) = 0x1234;
  m->x(2) = 0x5000;
  m->x(3) = 0x3000;  // read-only at EL1, no EL0 access
  rerun_ok();
  EXPECT_EQ(m->x(0) & 1, 0u);
  EXPECT_EQ(m->x(0) & 0xfffffffff000ull, kDataBase);
  EXPECT_EQ(m->x(0) >> 56, 0xffu);               // MAIR attribute
  EXPECT_EQ(m->x(5) & 0x7f, 1u | (0x07u << 1));  // F, translation fault level 3
  EXPECT_EQ(m->x(6) & 0x7f, 1u | (0x0fu << 1));  // F, permission fault level 3
}

TEST_P(MmuTest, SixtyFourKGranuleWithLevel2BlockAndLevel3Page) {
  constexpr uint64_t l2 = kTables + 0x10000, l3 = kTables + 0x20000;
  m->load({0xf9400020 /* ldr x0, [x1] */});
  std::vector<uint8_t> zero(0x20000, 0);
  m->as.write_bytes(l2, zero.data(), zero.size());
  set(l2, 2, 0x40000000 | kAf | kBlock);  // identity 512M block
  set(l2, 0, l3 | kTable);
  set(l3, 1, kDataBase | kAf | kPage);  // VA 0x10000
  Arm64State& s = m->cpu->state();
  s.tcr_el1 = 25 | (1ull << 14) | (1ull << 23) | (5ull << 32);  // TG0 64K, EPD1
  s.ttbr0_el1 = l2;
  s.sctlr_el1 |= sctlr::kM;
  m->write_mem(kDataBase + 8, 0xcccc, 8);
  m->x(1) = 0x10008;
  rerun_ok();
  EXPECT_EQ(m->x(0), 0xccccu);

  for (uint64_t va : {0x20000ull, 0x20000000ull}) {
    m->restart();
    s.tcr_el1 = 25 | (1ull << 14) | (1ull << 23) | (5ull << 32);
    s.ttbr0_el1 = l2;
    s.sctlr_el1 |= sctlr::kM;
    m->x(1) = va;
    expect_exception(kVecCurrentSpxSync, ec::kDataAbortSame);
    EXPECT_EQ(s.esr_el1 & 0x3f, va == 0x20000 ? 0x07u : 0x06u);
    EXPECT_EQ(s.far_el1, va);
  }
  // TTBR1 disabled by EPD1: level 0 translation fault.
  m->restart();
  s.tcr_el1 = 25 | (25ull << 16) | (1ull << 14) | (1ull << 23) | (5ull << 32);
  s.ttbr0_el1 = l2;
  s.sctlr_el1 |= sctlr::kM;
  m->x(1) = 0xffffff8000000000ull;
  expect_exception(kVecCurrentSpxSync, ec::kDataAbortSame);
  EXPECT_EQ(s.esr_el1 & 0x3f, 0x04u);
}

// Cortex-A57 implements 44 physical address bits (ID_AA64MMFR0_EL1.PARange = 4), `max` 48.
TEST_P(MmuTest, A57AccessAt2To44WithTheMmuOffIsAnAddressSizeFault) {
  m->load({0xf9400020});  // ldr x0, [x1]
  m->x(1) = 1ull << 44;
  expect_data_abort(1ull << 44, 0x00);  // address size fault, level 0
}

TEST_P(MmuTest, MaxAccessAt2To44WithTheMmuOffIsAnExternalAbort) {
  m->set_model(*find_cpu_model("max"));
  m->load({0xf9400020});  // ldr x0, [x1]
  m->x(1) = 1ull << 44;
  expect_data_abort(1ull << 44, 0x10);  // within the PA range, nothing there
}

TEST_P(MmuTest, A57OutputAddressesAt2To44AreAddressSizeFaultsAtTheirLevel) {
  auto prepare = [&](uint64_t va) {
    m->restart();
    setup_4k();  // TCR_EL1.IPS = 48 bits, beyond PARange: treated as 44
    set(kL3, 10, (1ull << 44) | kAf | kPage);  // VA 0xa000: page output 2^44
    set(kL1, 2, (1ull << 44) | kTable);        // VA 0x80000000: next-level table at 2^44
    m->x(1) = va;
  };
  m->load({0xf9400020});  // ldr x0, [x1]
  prepare(0xa000);
  expect_data_abort(0xa000, 0x03);  // level 3
  prepare(0x80000000);
  expect_data_abort(0x80000000, 0x01);  // level 1
}

TEST_P(MmuTest, MaxOutputAddressAt2To44IsWithinThePaRange) {
  m->set_model(*find_cpu_model("max"));
  auto prepare = [&](uint64_t va) {
    m->restart();
    setup_4k();
    set(kL3, 10, (1ull << 44) | kAf | kPage);
    set(kL3, 11, (1ull << 47) | kAf | kPage);
    m->x(1) = va;
  };
  m->load({0xf9400020});  // ldr x0, [x1]
  prepare(0xa000);
  expect_data_abort(0xa000, 0x10);  // translated; nothing at 2^44
  prepare(0xb000);
  expect_data_abort(0xb000, 0x10);
}

ORRERY_ARM64_TIERS(MmuTest);

}  // namespace
}  // namespace orrery::cpu::arm64::test
