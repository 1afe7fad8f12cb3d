// Data processing: the register-31 rules (SP versus XZR) and W-register zero-extension, stated
// explicitly. The Unicorn differential test covers the arithmetic and flags broadly.
#include "tests/unit/arm64/harness.h"

namespace orrery::cpu::arm64::test {
namespace {

using DataProcessingTest = Arm64Test;

TEST_P(DataProcessingTest, WResultsZeroTheUpperHalf) {
  m->load({
      0x0b020020,  // add w0, w1, w2
      0x2a0103e3,  // mov w3, w1
  });
  m->x(0) = m->x(3) = ~0ull;
  m->x(1) = 0xffffffff80000000ull;
  m->x(2) = 0x7fffffff00000001ull;
  rerun_ok();
  EXPECT_EQ(m->x(0), 0x80000001u);
  EXPECT_EQ(m->x(3), 0x80000000u);
}

TEST_P(DataProcessingTest, RegisterThirtyOneIsSpOrZeroByEncoding) {
  m->load({
      0x910043ff,  // add sp, sp, #16       (SP)
      0x910003e0,  // mov x0, sp            (ADD immediate: SP)
      0xab02003f,  // cmn x1, x2            (ADDS: XZR destination)
      0xea02003f,  // ands xzr, x1, x2
      0x8b2143e6,  // add x6, sp, w1, uxtw  (extended: SP base)
      0xcb0103e5,  // neg x5, x1            (shifted: XZR base)
      0xf28000bf,  // movk xzr, #5          (no effect)
      0x1000001f,  // adr xzr, .            (no effect)
      0xb27c0c3f,  // orr sp, x1, #0xf0     (logical immediate: SP destination)
  });
  m->x(1) = 0x1000;
  m->x(2) = 0xfffffffffffff000ull;
  rerun_ok();
  EXPECT_EQ(m->x(0), kStackTop + 16);
  EXPECT_EQ(m->x(6), kStackTop + 16 + 0x1000);
  EXPECT_EQ(m->x(5), uint64_t(-0x1000));
  EXPECT_EQ(m->sp(), 0x10f0u);
  EXPECT_EQ(m->nzcv(), 0u);  // CMN set Z and C (0x1000 + -0x1000); ANDS (0x1000) clears all
}

TEST_P(DataProcessingTest, FramePointerIdiom) {
  m->load({
      0xa9bf7bfd,  // stp x29, x30, [sp, #-16]!
      0x910003fd,  // mov x29, sp
      0xd10023e5,  // sub x5, sp, #8
      0xa8c17bfd,  // ldp x29, x30, [sp], #16
  });
  m->x(29) = 0x2929;
  m->x(30) = 0x3030;
  rerun_ok();
  EXPECT_EQ(m->x(5), kStackTop - 24);
  EXPECT_EQ(m->x(29), 0x2929u);
  EXPECT_EQ(m->x(30), 0x3030u);
  EXPECT_EQ(m->sp(), kStackTop);
}

TEST_P(DataProcessingTest, UnallocatedFieldCombinationsAreUndefined) {
  const uint32_t words[] = {
      0x12400020,  // AND (immediate) with sf=0, N=1
      0x9240fc20,  // AND (immediate) with a run of 64 ones (N=1, imms=111111)
      0x52e00040,  // MOVZ W with hw=3
      0x13400020,  // SBFM W with N=1
      0x93000020,  // SBFM X with N=0
      0x13808020,  // EXTR W with imms=32
      0x8bc00020,  // ADD (shifted) with shift=ROR
      0x0b008020,  // ADD W (shifted) with amount 32
      0x8b201420,  // ADD (extended) with shift 5
  };
  for (uint32_t w : words) {
    m->load({w});
    expect_exception(kVecCurrentSpxSync, 0x00);
    EXPECT_EQ(m->cpu->state().elr_el1, kCodeBase) << std::hex << w;
  }
}

ORRERY_ARM64_TIERS(DataProcessingTest);

}  // namespace
}  // namespace orrery::cpu::arm64::test
