// SIMD&FP data movement as compiled C uses it: memset/struct-init idioms, FMOV between register
// files, popcount via CNT/ADDV; and the boundary to what is not implemented yet.
#include "tests/unit/arm64/harness.h"

namespace orrery::cpu::arm64::test {
namespace {

using SimdTest = Arm64Test;

TEST_P(SimdTest, MemsetAndZeroInitIdioms) {
  m->load({
      0x4e010c20,  // dup v0.16b, w1
      0xad000000,  // stp q0, q0, [x0]
      0x6f00e401,  // movi v1.2d, #0
      0x3d800801,  // str q1, [x0, #32]
      0x0e073c04,  // umov w4, v0.b[3]
      0x4ea01c07,  // mov v7.16b, v0.16b
  });
  for (unsigned i = 0; i < 48; i += 8) m->write_mem(kDataBase + i, ~0ull, 8);
  m->x(0) = kDataBase;
  m->x(1) = 0x1234565a;  // only the low byte counts
  rerun_ok();
  for (unsigned i = 0; i < 32; i += 8)
    EXPECT_EQ(m->read_mem(kDataBase + i, 8), 0x5a5a5a5a5a5a5a5aull);
  for (unsigned i = 32; i < 48; i += 8) EXPECT_EQ(m->read_mem(kDataBase + i, 8), 0u);
  EXPECT_EQ(m->x(4), 0x5au);
  EXPECT_EQ(m->v(7).d[0], 0x5a5a5a5a5a5a5a5aull);
  EXPECT_EQ(m->v(7).d[1], 0x5a5a5a5a5a5a5a5aull);
}

TEST_P(SimdTest, FmovBetweenRegisterFiles) {
  m->load({
      0x9eaf0062,  // fmov v2.d[1], x3   (the low half is kept)
      0x9e670063,  // fmov d3, x3        (the high half is cleared)
      0x1e270065,  // fmov s5, w3
      0x9e660066,  // fmov x6, d3
  });
  m->x(3) = 0x0123456789abcdefull;
  m->v(2).d[0] = 0x1111;
  m->v(3).d[1] = m->v(5).d[1] = m->v(5).d[0] = ~0ull;
  rerun_ok();
  EXPECT_EQ(m->v(2).d[0], 0x1111u);
  EXPECT_EQ(m->v(2).d[1], 0x0123456789abcdefull);
  EXPECT_EQ(m->v(3).d[0], 0x0123456789abcdefull);
  EXPECT_EQ(m->v(3).d[1], 0u);
  EXPECT_EQ(m->v(5).d[0], 0x89abcdefu);
  EXPECT_EQ(m->v(5).d[1], 0u);
  EXPECT_EQ(m->x(6), 0x0123456789abcdefull);
}

TEST_P(SimdTest, PopcountIdiom) {
  m->load({
      0x9e670063,  // fmov d3, x3
      0x0e205868,  // cnt v8.8b, v3.8b
      0x0e31b908,  // addv b8, v8.8b
      0x1e260109,  // fmov w9, s8
  });
  m->x(3) = 0xf0f0f0f0f0f0f0ffull;
  rerun_ok();
  EXPECT_EQ(m->x(9), 36u);
}

// FEAT_FP16 is not in ARMv8.0: UNDEFINED on the Cortex-A57 (cpu_models_test runs it on max).
TEST_P(SimdTest, HalfPrecisionArithmeticIsUndefinedOnTheCortexA57) {
  m->load({0x1ee22820});  // fadd h0, h1, h2
  expect_exception(kVecCurrentSpxSync, 0);
}

ORRERY_ARM64_TIERS(SimdTest);

}  // namespace
}  // namespace orrery::cpu::arm64::test
