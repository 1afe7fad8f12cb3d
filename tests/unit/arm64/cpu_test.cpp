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

TEST_P(CpuExitTest, UndefinedEncodingStopsAtItsPc) {
  m->load({
      0xd2800020,  // mov x0, #1
      0x00001234,  // udf #0x1234
      0xd2800040,  // mov x0, #2
  });
  ASSERT_EQ(m->run(), ExitKind::Error);
  EXPECT_EQ(m->cpu->pc(), kCodeBase + 4);
  EXPECT_EQ(m->x(0), 1u);  // the instruction before ran, the one after did not
  EXPECT_EQ(m->cpu->exit_message(),
            "orrery: unimplemented or undefined A64 instruction 0x00001234 at PC "
            "0x0000000040000004");
}

TEST_P(CpuExitTest, UndefinedAsFirstInstruction) {
  m->load({0xffffffff});
  ASSERT_EQ(m->run(), ExitKind::Error);
  EXPECT_EQ(m->cpu->pc(), kCodeBase);
  EXPECT_NE(m->cpu->exit_message().find("0xffffffff"), std::string::npos);
}

TEST_P(CpuExitTest, UnallocatedFieldValueIsUndefined) {
  // AND (immediate) with sf=0 and N=1 is unallocated.
  m->load({0x12400020});
  ASSERT_EQ(m->run(), ExitKind::Error);
  EXPECT_EQ(m->cpu->pc(), kCodeBase);
  EXPECT_NE(m->cpu->exit_message().find("0x12400020"), std::string::npos);
}

TEST_P(CpuExitTest, WfiHaltsWithPcAfterIt) {
  m->load({
      0xd503207f,  // wfi
  });
  ASSERT_EQ(m->run(), ExitKind::Halted);
  EXPECT_EQ(m->cpu->pc(), kCodeBase + 4);
  // Running again continues after the WFI.
  ASSERT_EQ(m->run(), ExitKind::Shutdown);
}

TEST_P(CpuExitTest, SvcStopsWithMessage) {
  m->load({0xd4000841});  // svc #0x42
  ASSERT_EQ(m->run(), ExitKind::Error);
  EXPECT_EQ(m->cpu->pc(), kCodeBase + 4);
  EXPECT_NE(m->cpu->exit_message().find("SVC #0x42"), std::string::npos);
}

TEST_P(CpuExitTest, BrkReportsBreakpointAtItself) {
  m->load({
      0xd2800020,  // mov x0, #1
      0xd4207d00,  // brk #0x3e8
  });
  ASSERT_EQ(m->run(), ExitKind::Breakpoint);
  EXPECT_EQ(m->cpu->pc(), kCodeBase + 4);
  EXPECT_NE(m->cpu->exit_message().find("BRK #0x3e8"), std::string::npos);
}

TEST_P(CpuExitTest, BusErrorIsADataAbortStop) {
  m->load({
      0xd2a00021,  // mov x1, #0x10000
      0xf9400020,  // ldr x0, [x1]
  });
  ASSERT_EQ(m->run(), ExitKind::Error);
  EXPECT_EQ(m->cpu->pc(), kCodeBase + 4);
  const std::string& msg = m->cpu->exit_message();
  EXPECT_NE(msg.find("data abort"), std::string::npos) << msg;
  EXPECT_NE(msg.find("0x0000000040000004"), std::string::npos) << msg;
}

TEST_P(CpuExitTest, AddressBeyondPaSizeIsAnAbort) {
  m->load({
      0xd2e00201,  // mov x1, #0x10000000000000
      0xf9000020,  // str x0, [x1]
  });
  ASSERT_EQ(m->run(), ExitKind::Error);
  EXPECT_NE(m->cpu->exit_message().find("address size fault"), std::string::npos)
      << m->cpu->exit_message();
}

TEST_P(CpuExitTest, BranchToMisalignedPcStops) {
  m->load({
      0x58000041,  // ldr x1, .+8
      0xd61f0020,  // br x1
      0x40000102,  // .word 0x40000102 (low half of the literal)
      0x00000000,  // .word 0
  });
  ASSERT_EQ(m->run(), ExitKind::Error);
  EXPECT_NE(m->cpu->exit_message().find("PC alignment fault"), std::string::npos)
      << m->cpu->exit_message();
  EXPECT_EQ(m->cpu->pc(), 0x40000102u);
}

TEST_P(CpuExitTest, MmuEnableStopsAsUnimplemented) {
  m->load({
      0xd2800020,  // mov x0, #1
      0xd5181000,  // msr sctlr_el1, x0
  });
  ASSERT_EQ(m->run(), ExitKind::Error);
  EXPECT_EQ(m->cpu->pc(), kCodeBase + 4);
  EXPECT_NE(m->cpu->exit_message().find("MMU"), std::string::npos) << m->cpu->exit_message();
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
