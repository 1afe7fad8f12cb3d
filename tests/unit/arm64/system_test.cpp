// System instructions: MRS/MSR, PSTATE access, the counter and timers, cache and TLB
// maintenance, barriers and hints.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "tests/unit/arm64/harness.h"

namespace orrery::cpu::arm64::test {
namespace {

using SystemTest = Arm64Test;

TEST_P(SystemTest, IdentificationRegisters) {
  run_ok({
      0xd5380000,  // mrs x0, midr_el1
      0xd53800a1,  // mrs x1, mpidr_el1
      0xd5384242,  // mrs x2, currentel
      0xd5384203,  // mrs x3, spsel
      0xd53b4224,  // mrs x4, daif
      0xd53b0025,  // mrs x5, ctr_el0
      0xd53b00e6,  // mrs x6, dczid_el0
      0xd53be007,  // mrs x7, cntfrq_el0
      0xd5380408,  // mrs x8, id_aa64pfr0_el1
      0xd5380709,  // mrs x9, id_aa64mmfr0_el1
      0xd538030a,  // mrs x10, s3_0_c0_c3_0 (reserved ID space: reads as zero)
      0xd538100b,  // mrs x11, sctlr_el1
  });
  EXPECT_EQ(m->x(0), 0x411fd070u);
  EXPECT_EQ(m->x(1), 0x80000000u);
  EXPECT_EQ(m->x(2), 1u << 2);  // EL1
  EXPECT_EQ(m->x(3), 1u);
  EXPECT_EQ(m->x(4), 0x3c0u);
  EXPECT_EQ(m->x(5), 0x8444c004u);
  EXPECT_EQ(m->x(6), 4u);  // 64-byte DC ZVA blocks
  EXPECT_EQ(m->x(7), 62500000u);
  EXPECT_EQ(m->x(8), 0x11u);
  EXPECT_EQ(m->x(9), 0x24u);  // 44-bit PA as a real Cortex-A57
  EXPECT_EQ(m->x(10), 0u);
  EXPECT_EQ(m->x(11) & 1, 0u);
}

struct RoundTrip {
  uint32_t msr, mrs;
  uint64_t written, read_back;
  const char* name;
};

TEST_P(SystemTest, RegistersReadBackWhatWasWrittenWithinTheirMasks) {
  const RoundTrip cases[] = {
      {0xd51bd041, 0xd53bd040, 0x1122334455667788, 0x1122334455667788, "TPIDR_EL0"},
      {0xd51bd061, 0xd53bd060, 0xa5a5a5a5a5a5a5a5, 0xa5a5a5a5a5a5a5a5, "TPIDRRO_EL0"},
      {0xd518d081, 0xd538d080, 0xfeedfacecafebeef, 0xfeedfacecafebeef, "TPIDR_EL1"},
      {0xd518c001, 0xd538c000, 0x40000fff, 0x40000800, "VBAR_EL1 (bits 10:0 RES0)"},
      {0xd5181041, 0xd5381040, ~0ull, 0x10300000, "CPACR_EL1 (FPEN, TTA)"},
      {0xd51b4401, 0xd53b4400, ~0ull, 0x07f79f00, "FPCR"},
      {0xd51b4421, 0xd53b4420, ~0ull, 0xf800009f, "FPSR"},
      {0xd5185201, 0xd5385200, 0x96000045, 0x96000045, "ESR_EL1"},
      {0xd5184021, 0xd5384020, 0xffff000012345678, 0xffff000012345678, "ELR_EL1"},
      {0xd5184001, 0xd5384000, 0x3c5, 0x3c5, "SPSR_EL1"},
      {0xd5186001, 0xd5386000, 0xdeadbeef, 0xdeadbeef, "FAR_EL1"},
      {0xd518a201, 0xd538a200, 0x000000ff440c0400, 0x000000ff440c0400, "MAIR_EL1"},
      {0xd5182041, 0xd5382040, 0x32b5193519, 0x32b5193519, "TCR_EL1"},
      {0xd5182001, 0xd5382000, 0x40080000, 0x40080000, "TTBR0_EL1"},
      {0xd5182021, 0xd5382020, 0x40090000, 0x40090000, "TTBR1_EL1"},
      {0xd518d021, 0xd538d020, 0x4242, 0x4242, "CONTEXTIDR_EL1"},
      {0xd5181001, 0xd538100b & ~31u, 0x30d0180c, 0x30d0180c, "SCTLR_EL1 (M clear)"},
  };
  for (const RoundTrip& c : cases) {
    SCOPED_TRACE(c.name);
    m->load({c.msr, c.mrs});
    m->x(1) = c.written;
    rerun_ok();
    EXPECT_EQ(m->x(0), c.read_back);
  }
}

TEST_P(SystemTest, NzcvIsReadAndWrittenAsBits31To28) {
  m->load({
      0xd51b4201,  // msr nzcv, x1
      0xd53b4200,  // mrs x0, nzcv
  });
  m->x(1) = 0x1a00000ffull;
  rerun_ok();
  EXPECT_EQ(m->x(0), 0xa0000000u);
  EXPECT_EQ(m->nzcv(), 0xau);
}

TEST_P(SystemTest, DaifSetClearAndWrite) {
  run_ok({
      0xd5034fff,  // msr daifclr, #0xf
      0xd53b4220,  // mrs x0, daif
  });
  EXPECT_EQ(m->cpu->state().daif, 0u);
  m->load({
      0xd5034fff,  // msr daifclr, #0xf
      0xd50345df,  // msr daifset, #0x5
      0xd53b4221,  // mrs x1, daif
      0xd51b4222,  // msr daif, x2
      0xd53b4223,  // mrs x3, daif
  });
  m->x(2) = 0x2c0;
  rerun_ok();
  EXPECT_EQ(m->x(1), 0x140u);  // D and I
  EXPECT_EQ(m->x(3), 0x2c0u);
  EXPECT_EQ(m->cpu->state().daif, 0xbu);
}

TEST_P(SystemTest, SpSelChoosesTheStackPointer) {
  m->load({
      0xd5184101,  // msr sp_el0, x1
      0x910003e3,  // mov x3, sp           (SP_EL1)
      0xd50040bf,  // msr spsel, #0
      0x910003e4,  // mov x4, sp           (SP_EL0)
      0xd5384205,  // mrs x5, spsel
      0x9100005f,  // mov sp, x2           (writes SP_EL0)
      0xd50041bf,  // msr spsel, #1
      0xd5384100,  // mrs x0, sp_el0
  });
  m->x(1) = 0x1000;
  m->x(2) = 0x2000;
  rerun_ok();
  EXPECT_EQ(m->x(3), kStackTop);
  EXPECT_EQ(m->x(4), 0x1000u);
  EXPECT_EQ(m->x(5), 0u);
  EXPECT_EQ(m->x(0), 0x2000u);
  EXPECT_EQ(m->cpu->state().sp_el0, 0x2000u);
  EXPECT_EQ(m->cpu->state().sp_el1, kStackTop);
  EXPECT_EQ(m->cpu->state().spsel, 1);
}

TEST_P(SystemTest, SpSelRegisterForm) {
  m->load({
      0xd5184202,  // msr spsel, x2
      0x910003e1,  // mov x1, sp
  });
  m->x(2) = 0;
  m->cpu->state().sp_el0 = 0x7777;
  rerun_ok();
  EXPECT_EQ(m->x(1), 0x7777u);
}

TEST_P(SystemTest, SpEl0IsUndefinedWhileItIsTheCurrentSp) {
  m->load({
      0xd50040bf,  // msr spsel, #0
      0xd5384101,  // mrs x1, sp_el0
  });
  expect_exception(kVecCurrentSp0Sync, 0x00);  // taken from EL1t
  EXPECT_EQ(m->cpu->state().elr_el1, kCodeBase + 4);
}

TEST_P(SystemTest, CounterIsMonotonicAndAdvances) {
  m->load({
      0xd53be040,  // mrs x0, cntvct_el0
      0xd2a00202,  // mov x2, #0x100000
      0xf1000442,  // subs x2, x2, #1
      0x54ffffe1,  // b.ne .-4
      0xd53be041,  // mrs x1, cntvct_el0
      0xd53be022,  // mrs x2, cntpct_el0
  });
  rerun_ok();
  EXPECT_GT(m->x(1), m->x(0));
  EXPECT_GE(m->x(2), m->x(1));
}

TEST_P(SystemTest, VirtualTimerRegisters) {
  m->load({
      0xd51be341,  // msr cntv_cval_el0, x1
      0xd51be322,  // msr cntv_ctl_el0, x2
      0xd53be320,  // mrs x0, cntv_ctl_el0
      0xd51be303,  // msr cntv_tval_el0, x3
      0xd53be305,  // mrs x5, cntv_tval_el0
      0xd53be324,  // mrs x4, cntv_ctl_el0
  });
  m->x(1) = 0;           // CVAL in the past: ISTATUS set once enabled
  m->x(2) = 3;           // ENABLE | IMASK
  m->x(3) = 0x10000000;  // TVAL: CVAL in the future
  rerun_ok();
  EXPECT_EQ(m->x(0), 7u);
  EXPECT_EQ(m->x(4), 3u);
  EXPECT_LE(m->x(5), 0x10000000u);
  EXPECT_GT(m->x(5), 0x08000000u);
}

TEST_P(SystemTest, UnknownSystemRegisterIsUndefinedAndLogged) {
  char path[] = "/tmp/orrery_arm64_unimp_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  ASSERT_TRUE(m->log.set_file(path));
  m->log.set_mask_bits(hw::kLogUnimp);
  m->load({
      0xd518f200,  // msr s3_0_c15_c2_0, x0
  });
  expect_exception(kVecCurrentSpxSync, 0x00);
  EXPECT_EQ(m->cpu->state().elr_el1, kCodeBase);
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_NE(ss.str().find("S3_0_C15_C2_0"), std::string::npos) << ss.str();
  std::remove(path);
}

TEST_P(SystemTest, WritesToReadOnlyRegistersAreUndefined) {
  const uint32_t words[] = {
      0xd5180000,  // msr midr_el1, x0
      0xd5184240,  // msr currentel, x0
      0xd51be040,  // msr cntvct_el0, x0
      0xd5180400,  // msr id_aa64pfr0_el1, x0
  };
  for (uint32_t w : words) {
    m->load({w});
    expect_exception(kVecCurrentSpxSync, 0x00);
    EXPECT_EQ(m->cpu->state().elr_el1, kCodeBase) << std::hex << w;
  }
}

TEST_P(SystemTest, DcZvaZeroesItsAlignedBlockOnly) {
  m->load({
      0xd50b7421,  // dc zva, x1
  });
  for (unsigned i = 0; i < 192; i += 8) m->write_mem(kDataBase + i, 0x0101010101010101ull * i, 8);
  m->x(1) = kDataBase + 64 + 37;
  rerun_ok();
  for (unsigned i = 0; i < 192; i += 8) {
    uint64_t want = (i >= 64 && i < 128) ? 0 : 0x0101010101010101ull * i;
    EXPECT_EQ(m->read_mem(kDataBase + i, 8), want) << i;
  }
}

TEST_P(SystemTest, CacheMaintenanceBarriersAndHintsHaveNoVisibleEffect) {
  m->load({
      0xd50b7e21,  // dc civac, x1
      0xd50b7b21,  // dc cvau, x1
      0xd5087621,  // dc ivac, x1
      0xd50b7521,  // ic ivau, x1
      0xd508751f,  // ic iallu
      0xd508711f,  // ic ialluis
      0xd508871f,  // tlbi vmalle1
      0xd5088321,  // tlbi vae1is, x1
      0xd5033bbf,  // dmb ish
      0xd5033f9f,  // dsb sy
      0xd5033fdf,  // isb
      0xd503201f,  // nop
      0xd503203f,  // yield
      0xd50320bf,  // sevl (sets the event register, so the WFE does not sleep)
      0xd503205f,  // wfe
      0xd503209f,  // sev
      0xd5032fff,  // hint #0x7f
      0xd5033f5f,  // clrex
      0x91000400,  // add x0, x0, #1
  });
  m->x(1) = kDataBase;
  m->x(0) = 41;
  rerun_ok();
  EXPECT_EQ(m->x(0), 42u);
  EXPECT_EQ(m->x(1), kDataBase);
}

TEST_P(SystemTest, AddressTranslationWithTheMmuOffIsFlat) {
  m->load({
      0xd5087801,  // at s1e1r, x1
      0xd5387400,  // mrs x0, par_el1
  });
  m->x(1) = 0x12345678;
  rerun_ok();
  EXPECT_EQ(m->x(0) & ~0xfffull & ((1ull << 48) - 1), 0x12345000u);
  EXPECT_EQ(m->x(0) & 1, 0u);
}

TEST_P(SystemTest, PanIsNotImplementedSoItsPstateFieldIsUndefined) {
  m->load({
      0xd500419f,  // msr pan, #1 (ARMv8.1)
  });
  expect_exception(kVecCurrentSpxSync, 0x00);
}

TEST_P(SystemTest, ModeChangesEndTheBlockAndTakeEffect) {
  // MSR SPSel in the middle of a straight-line sequence: the following MOV must use the new SP.
  m->load({
      0xd50040bf,  // msr spsel, #0
      0x910003e1,  // mov x1, sp
      0xd50041bf,  // msr spsel, #1
      0x910003e2,  // mov x2, sp
  });
  m->cpu->state().sp_el0 = 0x5000;
  rerun_ok();
  EXPECT_EQ(m->x(1), 0x5000u);
  EXPECT_EQ(m->x(2), kStackTop);
}

ORRERY_ARM64_TIERS(SystemTest);

}  // namespace
}  // namespace orrery::cpu::arm64::test
