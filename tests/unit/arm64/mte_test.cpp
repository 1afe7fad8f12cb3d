// FEAT_MTE2/MTE3 on `max` with tag storage: each tag instruction, the MTE system registers, and
// tag checks (synchronous, asynchronous, asymmetric; TCO, TCMA, SP-based unchecked accesses,
// multi-granule accesses). Memory is an identity 1G block whose MAIR attribute is 0xF0
// (Tagged); VA 0x80000000 maps the same RAM as untagged Normal memory.
#include <memory>

#include "cpu/arm64/cpu_models.h"
#include "cpu/arm64/exception.h"
#include "cpu/arm64/mte.h"
#include "tests/unit/arm64/harness.h"

namespace orrery::cpu::arm64::test {
namespace {

constexpr uint64_t kTables = kRamBase + 0x300000;
constexpr uint64_t kUntaggedAlias = 0x80000000;  // VA of RAM mapped without the Tagged attribute
constexpr uint64_t kTbi0 = 1ull << 37, kTcma0 = 1ull << 57;
// 39-bit VAs, 4K granules, 48-bit IPS, top byte ignored in the lower half.
constexpr uint64_t kTcr = 25 | (25ull << 16) | (2ull << 30) | (5ull << 32) | kTbi0;

constexpr uint64_t tagged(uint64_t addr, unsigned tag) {
  return addr | uint64_t(tag) << 56;
}

class MteTest : public Arm64Test {
 protected:
  void SetUp() override {
    Arm64Test::SetUp();
    if (IsSkipped()) return;
    m->set_model(*find_cpu_model("max"));
    tags = std::make_unique<TagStorage>(kRamBase, kRamSize);
    m->cpu->set_tag_storage(tags.get());
  }

  /// Loads code, maps memory and enables MTE with SCTLR_EL1.TCF = tcf (ATA set).
  void load(const std::vector<uint32_t>& code, unsigned tcf = 1, uint64_t tcr_extra = 0) {
    m->load(code);
    for (uint64_t i = 0; i < 0x2000; i += 8) m->write_mem(kTables + i, 0, 8);
    constexpr uint64_t kAf = 1ull << 10, kBlock = 1;
    m->write_mem(kTables + 8 * 1, 0x40000000 | kAf | (0u << 2) | kBlock, 8);  // Tagged
    m->write_mem(kTables + 8 * 2, 0x40000000 | kAf | (1u << 2) | kBlock, 8);  // Normal
    Arm64State& s = m->cpu->state();
    s.tcr_el1 = kTcr | tcr_extra;
    s.mair_el1 = 0xfff0;
    s.ttbr0_el1 = kTables;
    s.sctlr_el1 |= sctlr::kM | sctlr::kAta | (uint64_t(tcf) << sctlr::kTcfShift);
    m->cpu->mmu().flush_all();
    m->cpu->mode_changed();
  }

  void expect_tag_fault(uint64_t far, bool write) {
    expect_exception(kVecCurrentSpxSync, ec::kDataAbortSame);
    const Arm64State& s = m->cpu->state();
    EXPECT_EQ(s.esr_el1 & 0x3f, kTagCheckFaultStatus) << std::hex << s.esr_el1;
    EXPECT_EQ((s.esr_el1 >> 6) & 1, write ? 1u : 0u);
    EXPECT_EQ(s.far_el1, far);
  }

  std::unique_ptr<TagStorage> tags;
};

TEST_P(MteTest, IdRegistersAndGmid) {
  load({0xd5380423 /* mrs x3, id_aa64pfr1_el1 */, 0xd5390084 /* mrs x4, gmid_el1 */});
  rerun_ok();
  EXPECT_EQ((m->x(3) >> 8) & 0xf, 3u);  // FEAT_MTE3
  EXPECT_EQ(m->x(4), kGmidBs);
}

TEST_P(MteTest, WithoutTagStorageThereIsNoMte) {
  // -cpu max without -M virt,mte=on: QEMU 7.2 reports MTE 0 and IRG is UNDEFINED.
  m->set_model(*find_cpu_model("max"));  // no set_tag_storage
  m->load({0xd5380423 /* mrs x3, id_aa64pfr1_el1 */});
  rerun_ok();
  EXPECT_EQ((m->x(3) >> 8) & 0xf, 0u);
  for (uint32_t insn : {0x9ac21020u /* irg x0, x1, x2 */, 0xd9200820u /* stg x0, [x1] */,
                        0xd53810c3u /* mrs x3, gcr_el1 */, 0xd503419fu /* msr tco, #1 */}) {
    m->load({insn});
    expect_exception(kVecCurrentSpxSync, ec::kUnknown);
  }
}

TEST_P(MteTest, StgThenLdgAndTheIndexedForms) {
  load({0xd9200820 /* stg x0, [x1] */, 0xd9201c20 /* stg x0, [x1, #16]! */,
        0xd9601025 /* ldg x5, [x1, #16] */, 0xd93ff420 /* stg x0, [x1], #-16 */,
        0xd9600023 /* ldg x3, [x1] */});
  m->x(0) = tagged(kDataBase, 3);
  m->x(1) = kDataBase;
  m->x(3) = kDataBase + 0x123;
  m->x(5) = tagged(0x55, 0xa);
  rerun_ok();
  EXPECT_EQ(tags->get(kDataBase), 3u);
  EXPECT_EQ(tags->get(kDataBase + 16), 3u);
  EXPECT_EQ(tags->get(kDataBase + 32), 0u);
  EXPECT_EQ(m->x(1), kDataBase);  // +16 pre-index, -16 post-index
  EXPECT_EQ(m->x(3), tagged(kDataBase + 0x123, 3));
  EXPECT_EQ(m->x(5), 0x55u);  // LDG at kDataBase + 32: tag 0, other bits kept
}

TEST_P(MteTest, St2gStzgStz2gAndStgp) {
  load({0xd9a00820 /* st2g x0, [x1] */, 0xd9600820 /* stzg x0, [x1] */,
        0xd9e02820 /* stz2g x0, [x1, #32] */, 0x69811404 /* stgp x4, x5, [x0, #32]! */});
  for (unsigned i = 0; i < 0x80; i += 8) m->write_mem(kDataBase + i, ~0ull, 8);
  m->x(0) = tagged(kDataBase + 0x40, 6);
  m->x(1) = kDataBase;
  m->x(4) = 0x1111;
  m->x(5) = 0x2222;
  rerun_ok();
  EXPECT_EQ(tags->get(kDataBase), 6u);
  EXPECT_EQ(tags->get(kDataBase + 16), 6u);
  EXPECT_EQ(m->read_mem(kDataBase, 8), 0u);          // STZG zeroed granule 0
  EXPECT_EQ(m->read_mem(kDataBase + 16, 8), ~0ull);  // ST2G left the data alone
  EXPECT_EQ(m->read_mem(kDataBase + 32, 8), 0u);     // STZ2G zeroed 32..63
  EXPECT_EQ(m->read_mem(kDataBase + 56, 8), 0u);
  EXPECT_EQ(tags->get(kDataBase + 48), 6u);
  EXPECT_EQ(m->x(0), tagged(kDataBase + 0x60, 6));  // STGP pre-index
  EXPECT_EQ(m->read_mem(kDataBase + 0x60, 8), 0x1111u);
  EXPECT_EQ(m->read_mem(kDataBase + 0x68, 8), 0x2222u);
  EXPECT_EQ(tags->get(kDataBase + 0x60), 6u);
  EXPECT_EQ(tags->get(kDataBase + 0x70), 0u);
}

TEST_P(MteTest, StgToMisalignedAddressIsAnAlignmentFault) {
  load({0xd9200820 /* stg x0, [x1] */});
  m->x(1) = kDataBase + 8;
  expect_exception(kVecCurrentSpxSync, ec::kDataAbortSame);
  EXPECT_EQ(m->cpu->state().esr_el1 & 0x3f, 0x21u);
}

TEST_P(MteTest, IrgHonoursTheExcludeMaskAndAdvancesRgsr) {
  load({0x9ac21020 /* irg x0, x1, x2 */, 0x9adf1023 /* irg x3, x1 */});
  m->x(1) = tagged(kDataBase, 0xf);
  m->x(2) = 0xffff & ~(1u << 5);  // only tag 5 allowed
  m->cpu->state().rgsr_el1 = 0x1234u << 8;
  m->cpu->state().gcr_el1 = 0xffff;  // everything excluded: tag 0
  rerun_ok();
  EXPECT_EQ(m->x(0), tagged(kDataBase, 0));
  EXPECT_EQ(m->x(3), tagged(kDataBase, 0));
  load({0x9ac21020 /* irg x0, x1, x2 */});
  m->x(1) = tagged(kDataBase, 0xf);
  m->x(2) = 0xffff & ~(1u << 5);
  m->cpu->state().rgsr_el1 = 0x1234u << 8;
  rerun_ok();
  EXPECT_EQ(m->x(0), tagged(kDataBase, 5));
  const uint64_t rgsr = m->cpu->state().rgsr_el1;
  EXPECT_EQ(rgsr & 0xf, 5u);
  EXPECT_NE(rgsr >> 8, 0x1234u);  // the LFSR stepped four times
  // The same seed and start give the same tag (the LFSR is deterministic).
  EXPECT_EQ(choose_nonexcluded_tag(0, 0, 0xffff), 0u);
  EXPECT_EQ(choose_nonexcluded_tag(14, 3, 1u << 15 | 1u << 1), 3u);  // 14 -> 0 -> 2 -> 3
}

TEST_P(MteTest, AddgSubgGmiSubp) {
  load({0x91820420 /* addg x0, x1, #32, #1 */, 0xd1810826 /* subg x6, x1, #16, #2 */,
        0x9ac21423 /* gmi x3, x1, x2 */, 0xbac20024 /* subps x4, x1, x2 */,
        0x9ac20025 /* subp x5, x1, x2 */});
  m->cpu->state().gcr_el1 = 1u << 8;  // exclude tag 8
  m->x(1) = tagged(kDataBase + 0x40, 7);
  m->x(2) = tagged(kDataBase + 0x50, 0xc) | 0x3;
  rerun_ok();
  EXPECT_EQ(m->x(0), tagged(kDataBase + 0x60, 9));  // 7 + 1 skipping 8
  EXPECT_EQ(m->x(6), tagged(kDataBase + 0x30, 0xa));
  EXPECT_EQ(m->x(3), (tagged(kDataBase + 0x50, 0xc) | 0x3) | (1u << 7));
  EXPECT_EQ(m->x(4), uint64_t(-0x13));
  EXPECT_EQ(m->x(5), uint64_t(-0x13));
  EXPECT_EQ(m->nzcv(), 0x8u);  // N: negative, borrow
}

TEST_P(MteTest, SynchronousTagCheckFaultOnLoadAndStore) {
  load({0xd9200820 /* stg x0, [x1] */, 0xf9400003 /* ldr x3, [x0] */,
        0xf9400043 /* ldr x3, [x2] */});
  m->x(0) = tagged(kDataBase, 3);
  m->x(1) = kDataBase;
  m->x(2) = tagged(kDataBase + 8, 4);
  expect_tag_fault(tagged(kDataBase + 8, 4), false);
  EXPECT_EQ(m->cpu->state().elr_el1, kCodeBase + 8);
  load({0xf9000043 /* str x3, [x2] */});
  m->x(2) = tagged(kDataBase + 8, 4);
  expect_tag_fault(tagged(kDataBase + 8, 4), true);
}

TEST_P(MteTest, AccessesAcrossGranulesCheckEachGranule) {
  tags->set(kDataBase, 2);
  tags->set(kDataBase + 16, 5);
  load({0xa9409003 /* ldp x3, x4, [x0, #8] */});
  m->x(0) = tagged(kDataBase, 2);
  expect_tag_fault(tagged(kDataBase + 16, 2), false);  // the second granule's address
  load({0xa9400003 /* ldp x3, x4, [x0] */});
  m->x(0) = tagged(kDataBase, 2);
  rerun_ok();
}

TEST_P(MteTest, AsynchronousFaultsAccumulateInTfsr) {
  load({0xf9400003 /* ldr x3, [x0] */, 0xf9000003 /* str x3, [x0] */,
        0xd5385605 /* mrs x5, tfsr_el1 */},
       2);
  m->x(0) = tagged(kDataBase, 1);
  rerun_ok();
  EXPECT_EQ(m->x(5), 1u);  // TF0: a lower-half address
}

TEST_P(MteTest, AsymmetricModeFaultsReadsAndRecordsWrites) {
  load({0xf9000003 /* str x3, [x0] */, 0xf9400003 /* ldr x3, [x0] */}, 3);
  m->x(0) = tagged(kDataBase, 1);
  expect_tag_fault(tagged(kDataBase, 1), false);
  EXPECT_EQ(m->cpu->state().tfsr_el1, 1u);
  EXPECT_EQ(m->cpu->state().elr_el1, kCodeBase + 4);
}

TEST_P(MteTest, UncheckedAccesses) {
  // TCO, SP-based immediate, untagged memory, TCMA0 with tag 0 and an LDR literal are unchecked.
  load(
      {0xd503419f /* msr tco, #1 */, 0xf9400003 /* ldr x3, [x0] */, 0xd503409f /* msr tco, #0 */,
       0xf94003e3 /* ldr x3, [sp] */, 0xf9400023 /* ldr x3, [x1] */, 0xf9400043 /* ldr x3, [x2] */},
      1, kTcma0);
  tags->set(kDataBase, 9);
  tags->set(kStackTop, 9);
  m->x(0) = tagged(kDataBase, 1);
  m->x(1) = tagged(kUntaggedAlias + 0x100000, 1);
  m->x(2) = kDataBase;  // tag 0 with TCMA0
  m->sp() = kStackTop;
  rerun_ok();
  EXPECT_EQ(m->cpu->state().tco, 0u);
}

TEST_P(MteTest, ExceptionEntrySetsTcoAndSpsrKeepsIt) {
  load({0xd4000001 /* svc #0 */});
  expect_exception(kVecCurrentSpxSync, ec::kSvc64);
  EXPECT_EQ(m->cpu->state().tco, 1u);
  EXPECT_EQ((m->cpu->state().spsr_el1 >> 25) & 1, 0u);
}

TEST_P(MteTest, LdgmStgmStzgmAndDcGzva) {
  load({0xd9a00023 /* stgm x3, [x1] */, 0xd9e00024 /* ldgm x4, [x1] */,
        0xd9200045 /* stzgm x5, [x2] */, 0xd50b7466 /* dc gva, x6 */});
  m->x(1) = kDataBase + 0x123;  // aligned down to 256 bytes: kDataBase + 0x100
  m->x(3) = 0xfedcba9876543210ull;
  m->x(2) = kDataBase + 0x200;
  m->x(5) = 0xc;
  m->x(6) = tagged(kDataBase + 0x300, 0xd);
  m->write_mem(kDataBase + 0x208, 0x99, 8);
  rerun_ok();
  EXPECT_EQ(m->x(4), 0xfedcba9876543210ull);
  EXPECT_EQ(tags->get(kDataBase + 0x110), 1u);
  EXPECT_EQ(tags->get(kDataBase + 0x1f0), 0xfu);
  EXPECT_EQ(tags->get(kDataBase + 0x230), 0xcu);
  EXPECT_EQ(m->read_mem(kDataBase + 0x208, 8), 0u);
  EXPECT_EQ(tags->get(kDataBase + 0x330), 0xdu);
  EXPECT_EQ(tags->get(kDataBase + 0x340), 0u);
}

TEST_P(MteTest, SystemRegistersKeepTheirFields) {
  load({0xd51810c2 /* msr gcr_el1, x2 */, 0xd53810c3 /* mrs x3, gcr_el1 */,
        0xd51810a2 /* msr rgsr_el1, x2 */, 0xd53810a4 /* mrs x4, rgsr_el1 */,
        0xd51b42e2 /* msr tco, x2 */, 0xd53b42e5 /* mrs x5, tco */});
  m->x(2) = ~0ull;
  rerun_ok();
  EXPECT_EQ(m->x(3), 0x1ffffu);
  EXPECT_EQ(m->x(4), 0xffff0fu);
  EXPECT_EQ(m->x(5), 1u << 25);
}

ORRERY_ARM64_TIERS(MteTest);

}  // namespace
}  // namespace orrery::cpu::arm64::test
