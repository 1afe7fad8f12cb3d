// Code and data on one page under the LLVM tiers: a loop rewrites the immediate of an
// instruction it runs (a counter kept in the code, with the architected cache maintenance), so
// every iteration invalidates that block. The result must be right on every tier, and the
// block must stop being sent to LLVM: tier=llvm compiled every retranslation (one per
// iteration; issue 14 saw ~8,600 in 20 s).
#include <gtest/gtest.h>

#include "tests/unit/arm64/harness.h"

namespace orrery::cpu::arm64::test {
namespace {

constexpr unsigned kIterations = 200;

const std::vector<uint32_t> kRewritingLoop = {
    0xd2801901,  // movz x1, #200
    0x10000122,  // adr x2, .+36       (the movz w5 below)
    0xb9400043,  // ldr w3, [x2]
    0x11008063,  // loop: add w3, w3, #32   (its imm16 + 1)
    0xb9000043,  // str w3, [x2]
    0xd50b7b22,  // dc cvau, x2
    0xd5033b9f,  // dsb ish
    0xd50b7522,  // ic ivau, x2
    0xd5033b9f,  // dsb ish
    0xd5033fdf,  // isb
    0x52800005,  // movz w5, #0         (rewritten: #1, #2, ...)
    0x8b050000,  // add x0, x0, x5
    0xf1000421,  // subs x1, x1, #1
    0x54fffec1,  // b.ne loop
};

class TierBackoffTest : public ::testing::TestWithParam<Tier> {};

TEST_P(TierBackoffTest, RewrittenBlockStopsBeingCompiled) {
  TestMachine m(GetParam());
  if (!m.init_error.empty()) GTEST_SKIP() << "tier unavailable: " << m.init_error;
  m.load(kRewritingLoop);
  ASSERT_EQ(m.run(), ExitKind::Shutdown) << m.cpu->exit_message();
  m.engine->drain_compiles();
  EXPECT_EQ(m.x(0), uint64_t(kIterations) * (kIterations + 1) / 2);
  const auto s = m.engine->stats();
  // Every write but the first (before the block ever ran) drops a translation.
  EXPECT_GE(s.invalidations, uint64_t(kIterations) - 1);
  EXPECT_LT(s.blocks_compiled, 20u);
}

INSTANTIATE_TEST_SUITE_P(Tiers, TierBackoffTest,
                         ::testing::Values(Tier::Interp, Tier::Baseline, Tier::Llvm, Tier::Auto),
                         tier_name);

}  // namespace
}  // namespace orrery::cpu::arm64::test
