// The vCPU's run loop: how each block exit reaches the board or the user.
#include "cpu/arm64/cpu_models.h"
#include "tests/unit/arm64/harness.h"

namespace orrery::cpu::arm64::test {
namespace {

using CpuExitTest = Arm64Test;

TEST_P(CpuExitTest, HvcGoesToThePlatformWithItsImmediate) {
  m->load({
      0xd2800540,  // mov x0, #42
      0xd40002e2,  // hvc #0x17
  });
  ASSERT_EQ(m->run(), ExitKind::Shutdown) << m->cpu->exit_message();
  ASSERT_EQ(m->hvcs.size(), 1u);
  EXPECT_EQ(m->hvcs[0], 0x17);
  EXPECT_EQ(m->x(0), 42u);
  EXPECT_EQ(m->cpu->pc(), kCodeBase + 8);  // after the HVC
}

TEST_P(CpuExitTest, UndefinedEncodingIsAGuestException) {
  m->load({
      0xd2800020,  // mov x0, #1
      0x00001234,  // udf #0x1234
      0xd2800040,  // mov x0, #2
  });
  expect_exception(kVecCurrentSpxSync, 0x00);
  const Arm64State& s = m->cpu->state();
  EXPECT_EQ(s.esr_el1, 0x02000000u);  // EC 0, IL
  EXPECT_EQ(s.elr_el1, kCodeBase + 4);
  EXPECT_EQ(s.spsr_el1, 0x3c5u);  // EL1h, DAIF masked
  EXPECT_EQ(m->x(0), 1u);         // the instruction before ran, the one after did not
}

TEST_P(CpuExitTest, UndefinedAsFirstInstruction) {
  m->load({0xffffffff});
  // 0xffffffff has no decode row and lies in the FP/SIMD space: allocated but unimplemented
  // encodings stop the vCPU with the -d unimp reason rather than fool the guest.
  ASSERT_EQ(m->run(), ExitKind::Error);
  EXPECT_EQ(m->cpu->pc(), kCodeBase);
  EXPECT_NE(m->cpu->exit_message().find("0xffffffff"), std::string::npos);
}

TEST_P(CpuExitTest, UnallocatedFieldValueIsUndefined) {
  // AND (immediate) with sf=0 and N=1 is unallocated.
  m->load({0x12400020});
  expect_exception(kVecCurrentSpxSync, 0x00);
  EXPECT_EQ(m->cpu->state().elr_el1, kCodeBase);
}

TEST_P(CpuExitTest, SvcIsAnExceptionReturningPastIt) {
  m->load({0xd4000841});  // svc #0x42
  expect_exception(kVecCurrentSpxSync, 0x15);
  EXPECT_EQ(m->cpu->state().esr_el1, 0x56000042u);
  EXPECT_EQ(m->cpu->state().elr_el1, kCodeBase + 4);
}

TEST_P(CpuExitTest, BrkIsAnExceptionAtItself) {
  m->load({
      0xd2800020,  // mov x0, #1
      0xd4207d00,  // brk #0x3e8
  });
  expect_exception(kVecCurrentSpxSync, 0x3c);
  EXPECT_EQ(m->cpu->state().esr_el1, 0xf20003e8u);
  EXPECT_EQ(m->cpu->state().elr_el1, kCodeBase + 4);
}

TEST_P(CpuExitTest, BusErrorIsAnExternalDataAbort) {
  m->load({
      0xd2a00021,  // mov x1, #0x10000
      0xf9400020,  // ldr x0, [x1]
  });
  expect_exception(kVecCurrentSpxSync, 0x25);
  const Arm64State& s = m->cpu->state();
  EXPECT_EQ(s.esr_el1 & 0x3f, 0x10u);  // synchronous external abort
  EXPECT_EQ(s.far_el1, 0x10000u);
  EXPECT_EQ(s.elr_el1, kCodeBase + 4);
}

TEST_P(CpuExitTest, AddressBeyondPaSizeIsAnAddressSizeFault) {
  m->load({
      0xd2e00201,  // mov x1, #0x10000000000000
      0xf9000020,  // str x0, [x1]
  });
  expect_exception(kVecCurrentSpxSync, 0x25);
  EXPECT_EQ(m->cpu->state().esr_el1 & 0x7f, 0x40u);  // WnR, address size fault level 0
}

TEST_P(CpuExitTest, BranchToMisalignedPcIsAPcAlignmentFault) {
  m->load({
      0x58000041,  // ldr x1, .+8
      0xd61f0020,  // br x1
      0x40000102,  // .word 0x40000102 (low half of the literal)
      0x00000000,  // .word 0
  });
  expect_exception(kVecCurrentSpxSync, 0x22);
  EXPECT_EQ(m->cpu->state().far_el1, 0x40000102u);
  EXPECT_EQ(m->cpu->state().elr_el1, 0x40000102u);
}

TEST_P(CpuExitTest, KickReturnsKicked) {
  m->load({0x14000000});  // b . (an endless loop)
  m->cpu->kick();
  EXPECT_EQ(m->run(), ExitKind::Kicked);
}

TEST_P(CpuExitTest, ResetStateIsEl1hWithInterruptsMasked) {
  const Arm64State& s = m->cpu->state();
  EXPECT_EQ(s.el, 1);
  EXPECT_EQ(s.spsel, 1);
  EXPECT_EQ(s.daif, 0xf);
  EXPECT_EQ(s.sctlr_el1 & 1, 0u);
  EXPECT_EQ(s.mpidr_el1, 0x80000000u);
  EXPECT_EQ(s.midr_el1, 0x411fd070u);
}

TEST_P(CpuExitTest, DisassemblesWithCapstone) {
  const uint32_t add = 0x8b020020;  // add x0, x1, x2
  EXPECT_EQ(m->cpu->frontend().disassemble(0x1000, reinterpret_cast<const uint8_t*>(&add), 4),
            "add x0, x1, x2");
}

TEST(Arm64CpuModels, TableAndLookup) {
  EXPECT_EQ(find_cpu_model("cortex-a57")->midr, 0x411fd070u);
  EXPECT_NE(find_cpu_model("max"), nullptr);
  EXPECT_EQ(find_cpu_model("cortex-a53x"), nullptr);
  EXPECT_STREQ(default_cpu_model().name, "cortex-a57");
}

ORRERY_ARM64_TIERS(CpuExitTest);

}  // namespace
}  // namespace orrery::cpu::arm64::test
