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

// CMP and SUBS at the signed-overflow edges, register and immediate forms, 32 and 64 bits, each
// read back through MRS: V and C come from different IR operations (AddOvf of x + ~y + 1, a
// compare of x with y) that every tier lowers on its own.
TEST_P(DataProcessingTest, CompareFlagsAtTheOverflowEdges) {
  m->load({
      0xeb02003f,  // cmp x1, x2
      0xd53b420a,  // mrs x10, nzcv
      0x7100047f,  // cmp w3, #1
      0xd53b420b,  // mrs x11, nzcv
      0xeb0600a4,  // subs x4, x5, x6
      0xd53b420c,  // mrs x12, nzcv
      0x6b0800ff,  // cmp w7, w8
      0xd53b420d,  // mrs x13, nzcv
  });
  m->x(1) = 0x8000000000000000ull;
  m->x(2) = 1;
  m->x(3) = 0xffffffff80000000ull;  // w3 = INT32_MIN
  m->x(5) = 1;
  m->x(6) = 0x8000000000000000ull;
  m->x(7) = m->x(8) = 5;
  rerun_ok();
  EXPECT_EQ(m->x(10), 0x30000000u);  // INT64_MIN - 1: C and V
  EXPECT_EQ(m->x(11), 0x30000000u);  // INT32_MIN - 1: C and V
  EXPECT_EQ(m->x(4), 0x8000000000000001ull);
  EXPECT_EQ(m->x(12), 0x90000000u);  // 1 - INT64_MIN: N and V, a borrow (C clear)
  EXPECT_EQ(m->x(13), 0x60000000u);  // equal: Z and C
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
