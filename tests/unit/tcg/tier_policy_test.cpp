// The tiering policy (tcg/exec/tier_policy.h): benefit against measured compile cost, back-off
// of block keys whose compiled code keeps being invalidated, and the forced-LLVM tier's rule.
#include "tcg/exec/tier_policy.h"

#include <gtest/gtest.h>

namespace orrery::tcg::exec {
namespace {

using Kind = TierPolicy::Decision::Kind;

TierPolicyOptions options() {
  TierPolicyOptions o;
  o.hot_threshold = 64;
  o.saving_ns_per_insn = 1.0;
  o.initial_cost_ns_per_ir = 1000;  // 50 IR instructions: 50 us
  o.never_after = 4;
  return o;
}

TEST(TierPolicy, CompilesOnceTheSavingSoFarCoversTheCompileCost) {
  TierPolicy p(options());
  // A 10-instruction block of 50 IR instructions: 5,000 executions save 50 us.
  TierPolicy::Decision d = p.decide(64, 64 * 10, 50, 0);
  ASSERT_EQ(d.kind, Kind::Defer);
  EXPECT_EQ(d.next_check, 64u * 16) << "at most 16 times further out per check";
  d = p.decide(1024, 1024 * 10, 50, 0);
  ASSERT_EQ(d.kind, Kind::Defer);
  EXPECT_GE(d.next_check, 4999u);
  EXPECT_LE(d.next_check, 5000u);
  EXPECT_EQ(p.decide(5000, 5000 * 10, 50, 0).kind, Kind::Compile);
  // A region's members count too: the same head count with more guest work behind it.
  EXPECT_EQ(p.decide(1024, 1024 * 10 * 5, 50, 0).kind, Kind::Compile);
}

TEST(TierPolicy, NextCheckIsAlwaysAheadOfTheCount) {
  TierPolicy p(options());
  // Nearly enough benefit: the next check still moves out by at least hot_threshold.
  TierPolicy::Decision d = p.decide(4990, 49900, 50, 0);
  ASSERT_EQ(d.kind, Kind::Defer);
  EXPECT_GE(d.next_check, 4990u + 64);
  // A count the 32-bit counter cannot grow past is never checked again.
  EXPECT_EQ(p.decide(UINT32_MAX - 10, 0, 1000000, 0).kind, Kind::Never);
}

TEST(TierPolicy, InvalidatedKeysNeedDoubleTheBenefitEachTimeThenNever) {
  TierPolicy p(options());
  const TbKey key{0x1000, 0x41000, 0, 0};
  const TbKey other{0x2000, 0x41000, 0, 0};
  EXPECT_EQ(p.backoffs(key), 0u);
  EXPECT_EQ(p.decide(5000, 50000, 50, p.backoffs(key)).kind, Kind::Compile);
  p.note_invalidated(key);
  EXPECT_EQ(p.backoffs(key), 1u);
  EXPECT_EQ(p.backoffs(other), 0u);
  EXPECT_EQ(p.decide(5000, 50000, 50, p.backoffs(key)).kind, Kind::Defer);
  EXPECT_EQ(p.decide(10000, 100000, 50, p.backoffs(key)).kind, Kind::Compile);
  for (int i = 0; i < 3; ++i) p.note_invalidated(key);
  EXPECT_EQ(p.backoffs(key), 4u);
  EXPECT_EQ(p.decide(UINT32_MAX / 2, uint64_t(UINT32_MAX) * 10, 50, p.backoffs(key)).kind,
            Kind::Never);
  p.clear();
  EXPECT_EQ(p.backoffs(key), 0u);
}

TEST(TierPolicy, CountRuleWhenBenefitIsOff) {
  TierPolicyOptions o = options();
  o.by_benefit = false;
  TierPolicy p(o);
  EXPECT_EQ(p.decide(64, 64, 1000000, 0).kind, Kind::Compile);
  TierPolicy::Decision d = p.decide(64, 64, 50, 2);
  ASSERT_EQ(d.kind, Kind::Defer);
  EXPECT_EQ(d.next_check, 256u);
  EXPECT_EQ(p.decide(256, 256, 50, 2).kind, Kind::Compile);
  EXPECT_EQ(p.decide(1u << 30, 1u << 30, 50, 4).kind, Kind::Never);
}

TEST(TierPolicy, ForcedTierCompilesNewKeysAtOnceAndBacksOffInvalidatedOnes) {
  TierPolicy p(options());
  EXPECT_EQ(p.decide_forced(0, 0).kind, Kind::Compile);
  TierPolicy::Decision d = p.decide_forced(0, 1);
  ASSERT_EQ(d.kind, Kind::Defer);
  EXPECT_EQ(d.next_check, 64u);
  EXPECT_EQ(p.decide_forced(64, 1).kind, Kind::Compile);
  EXPECT_EQ(p.decide_forced(0, 3).next_check, 256u);
  EXPECT_EQ(p.decide_forced(1000000, 4).kind, Kind::Never);
}

TEST(TierPolicy, CompileCostFollowsMeasurements) {
  TierPolicy p(options());
  EXPECT_DOUBLE_EQ(p.cost_ns(50), 50000);
  // Compiles measured at 3,000 ns per IR instruction pull the estimate there.
  for (int i = 0; i < 200; ++i) p.note_compile(100, 300000);
  EXPECT_NEAR(p.cost_ns(50), 150000, 1000);
  // The higher cost defers what the old estimate compiled.
  EXPECT_EQ(p.decide(5000, 50000, 50, 0).kind, Kind::Defer);
  p.note_compile(0, 12345);  // nothing compiled: ignored
  EXPECT_NEAR(p.cost_ns(50), 150000, 1000);
}

}  // namespace
}  // namespace orrery::tcg::exec
