// PMUv3 (cpu/arm64/pmu.h): exact INST_RETIRED on every tier, the EL filters, PMUSERENR_EL0's
// EL0 access control, SW_INCR overflow and the interrupt line. tests/guest/arm64/pmu.c
// covers the rest through the GIC.
#include "cpu/arm64/pmu.h"
#include "cpu/arm64/exception.h"
#include "tests/unit/arm64/harness.h"

namespace orrery::cpu::arm64::test {
namespace {

using PmuTest = Arm64Test;

constexpr uint64_t kEl0Code = kCodeBase + 0x1000;
constexpr uint64_t kEl0Stack = kRamBase + 0x180000;
constexpr uint32_t kPmcrX2 = 0xd51b9c02;        // msr pmcr_el0, x2
constexpr uint32_t kPmevtyper0X3 = 0xd51bec03;  // msr pmevtyper0_el0, x3
constexpr uint32_t kPmcntensetX4 = 0xd51b9c24;  // msr pmcntenset_el0, x4
constexpr uint32_t kMrsX0Pmevcntr0 = 0xd53be800;
constexpr uint32_t kMrsX0Pmccntr = 0xd53b9d00;
constexpr uint32_t kPmuserenrX2 = 0xd51b9e02;
constexpr uint32_t kPmswincX4 = 0xd51b9c84;
constexpr uint32_t kMrsX1Pmovsset = 0xd53b9e61;
constexpr uint32_t kIsb = 0xd5033fdf;
constexpr uint32_t kAddX5 = 0x910004a5;  // add x5, x5, #1

std::vector<uint32_t> count_adds(unsigned adds) {
  std::vector<uint32_t> code = {kPmcrX2, kPmevtyper0X3, kPmcntensetX4, kIsb};
  for (unsigned i = 0; i < adds; ++i) code.push_back(kAddX5);
  code.push_back(kMrsX0Pmevcntr0);
  return code;
}

TEST_P(PmuTest, InstRetiredIsExact) {
  for (unsigned adds : {10u, 700u}) {  // 700: more than one block
    m->load(count_adds(adds));
    m->x(2) = 1;     // PMCR_EL0.E
    m->x(3) = 0x08;  // INST_RETIRED
    m->x(4) = 1;
    rerun_ok();
    // The ISB, the adds; not the MSR that enabled the counter nor the MRS that reads it.
    EXPECT_EQ(m->x(0), adds + 1) << adds;
    EXPECT_EQ(m->x(5), adds);
  }
}

TEST_P(PmuTest, AnEl1FilteredCounterDoesNotCountAtEl1) {
  m->load(count_adds(20));
  m->x(2) = 1;
  m->x(3) = 0x08 | 1ull << 31;  // P: not at EL1
  m->x(4) = 1;
  rerun_ok();
  EXPECT_EQ(m->x(0), 0u);
}

TEST_P(PmuTest, ThePmuCostsNothingWhileOff) {
  m->load(count_adds(20));
  m->x(2) = 0;  // PMCR_EL0.E clear
  m->x(3) = 0x08;
  m->x(4) = 1;
  rerun_ok();
  EXPECT_EQ(m->x(0), 0u);
  EXPECT_EQ(m->cpu->state().pmu.insns[1], 0u);  // no counting code ran
}

TEST_P(PmuTest, SwIncrOverflowSetsTheFlagAndRaisesTheInterruptLine) {
  m->load({kPmcrX2, kPmevtyper0X3, kPmcntensetX4, 0xd5189e24 /* msr pmintenset_el1, x4 */,
           kPmswincX4, kPmswincX4, kMrsX0Pmevcntr0, kMrsX1Pmovsset});
  m->x(2) = 1;
  m->x(3) = 0x00;  // SW_INCR
  m->x(4) = 1;
  m->cpu->state().pmu.evcntr[0] = 0xffffffff;
  rerun_ok();
  EXPECT_EQ(m->x(0), 1u);  // wrapped to 0, then one more
  EXPECT_EQ(m->x(1), 1u);
  EXPECT_TRUE(m->cpu->pmu_irq().level());
}

/// EL1 writes PMUSERENR_EL0 = x2 and the PMU on, then ERETs to EL0, which reads PMCCNTR_EL0.
void load_el0_read(TestMachine& m, uint64_t userenr) {
  m.load({kPmuserenrX2, 0xd5184025 /* msr elr_el1, x5 */, 0xd5184006 /* msr spsr_el1, x6 */,
          0xd5184107 /* msr sp_el0, x7 */, 0xd69f03e0 /* eret */});
  const uint32_t el0[] = {kMrsX0Pmccntr, 0xd4000001 /* svc #0 */};
  m.as.write_bytes(kEl0Code, el0, sizeof el0);
  m.x(2) = userenr;
  m.x(5) = kEl0Code;
  m.x(6) = 0;
  m.x(7) = kEl0Stack;
}

TEST_P(PmuTest, El0ReadsOfTheCycleCounterTrapUnlessPmuserenrAllows) {
  load_el0_read(*m, 0);
  expect_exception(kVecLowerSync, ec::kSysRegTrap);
  EXPECT_EQ(m->cpu->state().elr_el1, kEl0Code);
  EXPECT_EQ(m->cpu->state().esr_el1,
            make_esr(ec::kSysRegTrap, sysreg_trap_iss(3, 3, 9, 13, 0, 0, true)));
  load_el0_read(*m, 4);  // CR
  expect_exception(kVecLowerSync, ec::kSvc64);
}

ORRERY_ARM64_TIERS(PmuTest);

}  // namespace
}  // namespace orrery::cpu::arm64::test
