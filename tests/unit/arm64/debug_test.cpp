// Self-hosted debug (cpu/arm64/debug.h): the OS lock, hardware breakpoints (also on code that
// was translated before they were set), watchpoints and software step from EL0, with their
// syndromes, return addresses and SPSR.SS. Bare-metal guest programs compare the EL1 cases
// with QEMU (tests/guest/arm64/debug.c).
#include "cpu/arm64/debug.h"
#include "cpu/arm64/exception.h"
#include "tests/unit/arm64/harness.h"

namespace orrery::cpu::arm64::test {
namespace {

using DebugTest = Arm64Test;

constexpr uint64_t kEl0Code = kCodeBase + 0x1000;
constexpr uint64_t kEl0Stack = kRamBase + 0x180000;
constexpr uint32_t kOslarXzr = 0xd510109f;   // msr oslar_el1, xzr
constexpr uint32_t kMdscrX2 = 0xd5100242;    // msr mdscr_el1, x2
constexpr uint32_t kDbgbvr0X3 = 0xd5100083;  // msr dbgbvr0_el1, x3
constexpr uint32_t kDbgbcr0X4 = 0xd51000a4;  // msr dbgbcr0_el1, x4
constexpr uint32_t kDbgwvr0X3 = 0xd51000c3;  // msr dbgwvr0_el1, x3
constexpr uint32_t kDbgwcr0X4 = 0xd51000e4;  // msr dbgwcr0_el1, x4
constexpr uint32_t kDaifclrD = 0xd50348ff;   // msr daifclr, #8
constexpr uint32_t kIsb = 0xd5033fdf;
constexpr uint32_t kAddX0 = 0x91000400;  // add x0, x0, #1
constexpr uint32_t kSvc1 = 0xd4000021;
constexpr uint32_t kLdrW0X8 = 0xb9400100;  // ldr w0, [x8]
constexpr uint64_t kSpsrSs = 1ull << 21;

/// EL1 code: unlocks the OS lock unless `locked`, writes MDSCR_EL1 = x2 and the breakpoint or
/// watchpoint 0 (value x3, control x4), then ERETs to EL0 at kEl0Code with SPSR = x6.
void load_el0(TestMachine& m, const std::vector<uint32_t>& el0, bool watch) {
  m.load({
      kOslarXzr, kMdscrX2, watch ? kDbgwvr0X3 : kDbgbvr0X3, watch ? kDbgwcr0X4 : kDbgbcr0X4, kIsb,
      0xd5184025,  // msr elr_el1, x5
      0xd5184006,  // msr spsr_el1, x6
      0xd5184107,  // msr sp_el0, x7
      0xd69f03e0,  // eret
  });
  m.as.write_bytes(kEl0Code, el0.data(), el0.size() * 4);
}

void set_el0_regs(TestMachine& m, uint64_t mdscr, uint64_t value, uint64_t ctl, uint64_t spsr) {
  m.x(2) = mdscr;
  m.x(3) = value;
  m.x(4) = ctl;
  m.x(5) = kEl0Code;
  m.x(6) = spsr;
  m.x(7) = kEl0Stack;
}

TEST_P(DebugTest, TheOsLockIsLockedAfterResetAndOslarUnlocksIt) {
  run_ok({0xd5301180 /* mrs x0, oslsr_el1 */, kOslarXzr, 0xd5301181 /* mrs x1, oslsr_el1 */});
  EXPECT_EQ(m->x(0), 0xau);  // OSLM = 0b10, OSLK = 1
  EXPECT_EQ(m->x(1), 0x8u);
}

/// EL1 code whose instruction at kCodeBase + 28 is under breakpoint 0 when x4 enables it.
std::vector<uint32_t> el1_breakpoint_code(bool unlock) {
  return {
      unlock ? kOslarXzr : kIsb, kMdscrX2, kDbgbvr0X3, kDbgbcr0X4, kDaifclrD, kIsb, kAddX0, kAddX0};
}

// Unmasking PSTATE.D activates the breakpoints at once, with no ISB after it: the DAIF write
// ends its block with a plain jump, and its helper recomputes the tb flags (which follow
// PSTATE.D) and leaves the chained blocks. Both the immediate and the register form.
TEST_P(DebugTest, UnmaskingDebugExceptionsActivatesBreakpointsAtOnce) {
  for (const uint32_t unmask : {kDaifclrD, 0xd51b4225u /* msr daif, x5 */}) {
    SCOPED_TRACE(unmask == kDaifclrD ? "msr daifclr, #8" : "msr daif, x5");
    m->restart();
    m->load({kOslarXzr, kMdscrX2, kDbgbvr0X3, kDbgbcr0X4, kIsb, unmask, kAddX0, kAddX0});
    const uint64_t target = kCodeBase + 28;
    m->x(2) = mdscr::kKde | mdscr::kMde;
    m->x(3) = target;
    m->x(4) = 0x1e7;              // enabled, EL0 and EL1, BAS 0b1111
    m->x(5) = 0x3c0 & ~0x200ull;  // D clear, A, I and F still masked
    expect_exception(kVecCurrentSpxSync, ec::kBreakpointSame);
    EXPECT_EQ(m->cpu->state().elr_el1, target);
    EXPECT_EQ(m->x(0), 1u);
  }
}

TEST_P(DebugTest, ABreakpointSetAfterTheCodeWasTranslatedStillFires) {
  m->load(el1_breakpoint_code(true));
  const uint64_t target = kCodeBase + 24;
  m->x(2) = mdscr::kKde | mdscr::kMde;
  m->x(3) = target;
  m->x(4) = 0;  // disabled: the code runs, and its blocks are translated
  rerun_ok();
  EXPECT_EQ(m->x(0), 2u);

  m->restart();
  m->x(2) = mdscr::kKde | mdscr::kMde;
  m->x(3) = target;
  m->x(4) = 0x1e7;  // enabled, EL0 and EL1, BAS 0b1111
  expect_exception(kVecCurrentSpxSync, ec::kBreakpointSame);
  EXPECT_EQ(m->cpu->state().esr_el1, 0xc6000022u);
  EXPECT_EQ(m->cpu->state().elr_el1, target);
  EXPECT_EQ(m->x(0), 0u);
}

TEST_P(DebugTest, TheOsLockMasksBreakpoints) {
  m->load(el1_breakpoint_code(false));
  m->x(2) = mdscr::kKde | mdscr::kMde;
  m->x(3) = kCodeBase + 24;
  m->x(4) = 0x1e7;
  rerun_ok();
  EXPECT_EQ(m->x(0), 2u);
}

// The debug communication channel without an external debugger, as QEMU: EL0 may use it, the
// receive side reads as zero and transmitted words are dropped; MDSCR_EL1.TDCC traps EL0 use.
TEST_P(DebugTest, TheDebugCommunicationChannelIsEmptyAndTdccTrapsEl0) {
  const std::vector<uint32_t> el0 = {
      0xd5130509,  // msr dbgdtrtx_el0, x9
      0xd533040a,  // mrs x10, dbgdtr_el0
      0xd533010b,  // mrs x11, mdccsr_el0
      0xd533050c,  // mrs x12, dbgdtrrx_el0
      0xd4000001,  // svc #0
  };
  load_el0(*m, el0, false);
  set_el0_regs(*m, 0, 0, 0, 0);
  m->x(9) = 'A';
  m->x(10) = m->x(11) = m->x(12) = 0x5555;
  expect_exception(kVecLowerSync, ec::kSvc64);
  EXPECT_EQ(m->x(10), 0u);
  EXPECT_EQ(m->x(11), 0u);  // TXfull and RXfull clear
  EXPECT_EQ(m->x(12), 0u);

  load_el0(*m, el0, false);
  set_el0_regs(*m, mdscr::kTdcc, 0, 0, 0);
  expect_exception(kVecLowerSync, ec::kSysRegTrap);
  const Arm64State& s = m->cpu->state();
  EXPECT_EQ(s.elr_el1, kEl0Code);
  // ISS: op0 2, op2 0, op1 3, CRn 0, Rt 9, CRm 5, direction write.
  EXPECT_EQ(s.esr_el1 & 0x1ffffff, 0x20c12au);
}

TEST_P(DebugTest, AnEl0WatchpointReportsTheLowerElSyndromeAndFar) {
  load_el0(*m, {kLdrW0X8}, true);
  // E, PAC EL0 only, LSC loads, BAS bytes 4..7 of the doubleword.
  set_el0_regs(*m, mdscr::kMde, kDataBase, 0x1 | 0x4 | 0x8 | (0xf0 << 5), 0);
  m->x(8) = kDataBase + 6;
  expect_exception(kVecLowerSync, ec::kWatchpointLower);
  const Arm64State& s = m->cpu->state();
  EXPECT_EQ(s.esr_el1, 0xd2000022u);
  EXPECT_EQ(s.elr_el1, kEl0Code);
  EXPECT_EQ(s.far_el1, kDataBase + 6);
}

TEST_P(DebugTest, AWatchpointOnOtherBytesDoesNotFire) {
  load_el0(*m, {kLdrW0X8, 0xd4000001 /* svc #0 */}, true);
  set_el0_regs(*m, mdscr::kMde, kDataBase, 0x1 | 0x4 | 0x8 | (0x0f << 5), 0);  // bytes 0..3
  m->x(8) = kDataBase + 4;
  expect_exception(kVecLowerSync, ec::kSvc64);  // the load ran: no watchpoint exception
}

// The pair's two stores form one run with a single TLB probe (tcg/opt/mem_runs.h); the watched
// page's entries carry kTlbWatch, so the probe misses and each store is checked on its own.
TEST_P(DebugTest, AWatchpointOnTheSecondHalfOfAPairStoreFires) {
  load_el0(*m, {0xa9002909 /* stp x9, x10, [x8] */, 0xd4000001 /* svc #0 */}, true);
  // E, PAC EL0 only, LSC stores, BAS all bytes of the doubleword at kDataBase + 8.
  set_el0_regs(*m, mdscr::kMde, kDataBase + 8, 0x1 | 0x4 | 0x10 | (0xff << 5), 0);
  m->x(8) = kDataBase;
  m->x(9) = 0x1111;
  m->x(10) = 0x2222;
  expect_exception(kVecLowerSync, ec::kWatchpointLower);
  const Arm64State& s = m->cpu->state();
  EXPECT_EQ(s.elr_el1, kEl0Code);
  EXPECT_EQ(s.far_el1, kDataBase + 8);
  EXPECT_EQ(m->read_mem(kDataBase + 8, 8), 0u);
}

TEST_P(DebugTest, SoftwareStepFromEl0StopsAfterOneInstruction) {
  load_el0(*m, {kAddX0, kAddX0, kAddX0}, false);
  set_el0_regs(*m, mdscr::kSs, 0, 0, kSpsrSs);  // EL0t, SPSR.SS = 1: active-not-pending
  expect_exception(kVecLowerSync, ec::kSoftStepLower);
  const Arm64State& s = m->cpu->state();
  EXPECT_EQ(s.esr_el1, 0xcb000022u);  // ISV = 1, EX = 0, IFSC debug
  EXPECT_EQ(s.elr_el1, kEl0Code + 4);
  EXPECT_EQ(s.spsr_el1 & kSpsrSs, 0u);  // the step completed
  EXPECT_EQ(m->x(0), 1u);
}

TEST_P(DebugTest, SoftwareStepIsPendingAtOnceAfterAnEretWithSpsrSsClear) {
  load_el0(*m, {kAddX0, kAddX0}, false);
  set_el0_regs(*m, mdscr::kSs, 0, 0, 0);
  expect_exception(kVecLowerSync, ec::kSoftStepLower);
  EXPECT_EQ(m->cpu->state().elr_el1, kEl0Code);
  EXPECT_EQ(m->x(0), 0u);
}

TEST_P(DebugTest, ASteppedSvcCompletesTheStep) {
  load_el0(*m, {kSvc1, kAddX0}, false);
  set_el0_regs(*m, mdscr::kSs, 0, 0, kSpsrSs);
  expect_exception(kVecLowerSync, ec::kSvc64);
  EXPECT_EQ(m->cpu->state().spsr_el1 & kSpsrSs, 0u);
}

TEST_P(DebugTest, AnAbortedSteppedInstructionIsSteppedAgain) {
  load_el0(*m, {kLdrW0X8}, false);
  set_el0_regs(*m, mdscr::kSs, 0, 0, kSpsrSs);
  m->x(8) = 0x10000;  // no RAM or device there: a synchronous external abort
  expect_exception(kVecLowerSync, ec::kDataAbortLower);
  EXPECT_EQ(m->cpu->state().spsr_el1 & kSpsrSs, kSpsrSs);
}

ORRERY_ARM64_TIERS(DebugTest);

}  // namespace
}  // namespace orrery::cpu::arm64::test
