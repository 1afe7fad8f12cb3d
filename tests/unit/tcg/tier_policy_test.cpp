// The tiering policy (tcg/exec/tier_policy.h): benefit against measured compile cost, back-off
// of block keys whose compiled code keeps being invalidated, and the forced-LLVM tier's rule.
#include "tcg/exec/tier_policy.h"

#include <gtest/gtest.h>

#include "tcg/exec/tb.h"
#include "tcg/interp/interp.h"  // TranslationBlock owns an interp::Program

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

// The profile's blocks: compiled ahead of need in a run only when that run alone repays the
// compile (or the policy compiled the block in the profiled run); over several runs for the
// profile's own rule.
TEST(TierPolicy, CompileAheadOnlyWhenTheProfiledWorkRepaysIt) {
  TierPolicy p(options());
  // 50 IR instructions cost 50 us; 50,000 guest instructions save 50 us.
  EXPECT_TRUE(p.pays_ahead(50000, 50, false));
  EXPECT_FALSE(p.pays_ahead(49999, 50, false));
  EXPECT_TRUE(p.pays_ahead(0, 50, true)) << "compiled in the profiled run";
  EXPECT_FALSE(p.pays_ahead(3000, 50, false));
  EXPECT_TRUE(p.pays_ahead(3125, 50, false, 16)) << "repays over 16 runs";
  EXPECT_FALSE(p.pays_ahead(3000, 50, false, 16));
  // A measured, dearer compile raises the bar.
  for (int i = 0; i < 8; ++i) p.note_compile(50, 200000);
  EXPECT_FALSE(p.pays_ahead(50000, 50, false));
  EXPECT_TRUE(p.pays_ahead(250000, 50, false));
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
  // Compiles of 100 IR instructions measured at 300 us pull the estimate for that size there
  // (one size gives no slope: the initial one stays, the fixed part takes the rest).
  for (int i = 0; i < 200; ++i) p.note_compile(100, 300000);
  EXPECT_NEAR(p.cost_ns(100), 300000, 1000);
  EXPECT_NEAR(p.cost_ns(50), 250000, 1000);
  // The higher cost defers what the old estimate compiled.
  EXPECT_EQ(p.decide(5000, 50000, 50, 0).kind, Kind::Defer);
  p.note_compile(0, 12345);  // nothing compiled: ignored
  EXPECT_NEAR(p.cost_ns(50), 250000, 1000);
}

TEST(TierPolicy, CompileCostHasAFixedPart) {
  // What the amd64 boot measured: ~2.5 ms per compile plus ~60 us per IR instruction, with
  // many small compiles among a few big regions.
  TierPolicy p(options());
  const uint64_t sizes[] = {20, 40, 60, 30, 800, 25, 50, 900, 35, 70};
  for (int round = 0; round < 20; ++round)
    for (uint64_t ir : sizes) p.note_compile(ir, 2500000 + ir * 60000);
  EXPECT_NEAR(p.fixed_cost_ns(), 2500000, 1000);
  EXPECT_NEAR(p.cost_ns_per_ir(), 60000, 10);
  // A 900-instruction region costs what was measured, not 900 times the small compiles'
  // average cost per instruction (~120 us here, twice too much).
  EXPECT_NEAR(p.cost_ns(900), 56500000, 100000);
  EXPECT_NEAR(p.cost_ns(1), 2560000, 10000);
  // So a hot loop of that size is compiled once it saved its real cost (1 ns per guest
  // instruction here: 56.5M guest instructions), not twice that.
  EXPECT_EQ(p.decide(1000000, 60000000, 900, 0).kind, Kind::Compile);
  EXPECT_EQ(p.decide(1000000, 50000000, 900, 0).kind, Kind::Defer);
}

TEST(TierPolicy, FewTinyCompilesDoNotMakeBigBlocksLookExpensive) {
  // The first compiles of a run are often blocks of one or two guest instructions that pay
  // LLVM's fixed cost (here 9 ms each, 3 IR instructions). A line through the origin charged
  // 3 ms per IR instruction, so a 200-instruction loop looked like 600 ms and was never
  // compiled (bench/net.sh: md5sum's loop ran in the baseline tier for the whole download).
  TierPolicy p(options());
  p.note_compile(3, 9000000);
  EXPECT_NEAR(p.fixed_cost_ns(), 9000000 - 3 * 1000, 1000);
  EXPECT_NEAR(p.cost_ns(200), 9000000 + 197 * 1000, 1000);
  p.note_compile(3, 9000000);
  p.note_compile(3, 9000000);
  p.note_compile(3, 9000000);  // enough compiles, but all of one size: no slope to fit
  EXPECT_NEAR(p.cost_ns(200), 9000000 + 197 * 1000, 1000);
  // A compile too cheap for the prior slope: the line through the origin again.
  TierPolicy q(options());
  q.note_compile(100, 50000);
  EXPECT_DOUBLE_EQ(q.fixed_cost_ns(), 0);
  EXPECT_NEAR(q.cost_ns(200), 100000, 1);
}

TEST(TierPolicy, CompileCostFitFallsBackOnOddData) {
  TierPolicy p(options());
  // Bigger compiles measured cheaper (noise): no negative cost per instruction.
  p.note_compile(100, 5000000);
  p.note_compile(200, 4000000);
  p.note_compile(300, 3000000);
  EXPECT_GE(p.cost_ns_per_ir(), 0);
  EXPECT_NEAR(p.cost_ns(200), 4000000, 200000);  // the recent compiles weigh more
  // A line through the origin fits better than one with a negative fixed cost.
  TierPolicy q(options());
  q.note_compile(100, 100000);
  q.note_compile(200, 1000000);
  q.note_compile(300, 1900000);
  EXPECT_GE(q.fixed_cost_ns(), 0);
  EXPECT_GT(q.cost_ns(300), 0);
}

// Baseline code counts with a plain decrement: a vCPU that read the cell just before another
// vCPU's check armed it writes the old count back, and executions() then takes the whole armed
// distance as run. Parking arms at most kParked, so such a race overcounts by at most that
// (parking at 2^31 gave one block of an SMP boot 4.3G executions under -d tier).
TEST(TierCount, AStaleWriteBackOvercountsByLittle) {
  TranslationBlock tb;
  tb.arm(100);
  for (int i = 0; i < 99; ++i) EXPECT_FALSE(tb.count());
  const uint32_t seen = tb.count_cell->load();  // the other vCPU loads the cell...
  EXPECT_TRUE(tb.count());                      // ...this one's check comes due
  EXPECT_EQ(tb.executions(), 100u);
  tb.arm(0);                       // the check parks the block
  tb.count_cell->store(seen - 1);  // ...and the other vCPU stores its decrement
  EXPECT_LE(tb.executions(), 101u + (1u << 20));
}

// tier_up parks a block, then arms its next check nearer. Another vCPU that loaded the parked
// count in between and stores its decrement after leaves a cell above the armed distance: the
// count must not go back (it went past zero to ~2^32, 9.3G guest instructions for ~0.6G).
TEST(TierCount, AStaleParkedCountNeverMakesTheCountGoBack) {
  TranslationBlock tb;
  tb.arm(100);
  for (int i = 0; i < 99; ++i) EXPECT_FALSE(tb.count());
  EXPECT_TRUE(tb.count());
  tb.arm(0);                                    // tier_up: the check uses up the count-down
  const uint32_t seen = tb.count_cell->load();  // the other vCPU loads the parked cell...
  tb.arm(200);                                  // ...the policy asks again at 200...
  tb.count_cell->store(seen - 1);               // ...and the other vCPU stores its decrement
  EXPECT_EQ(tb.executions(), 100u);
  EXPECT_FALSE(tb.count());
  EXPECT_EQ(tb.executions(), 100u);  // still behind the armed count: not counted, never wrapped
  tb.arm(200);
  for (int i = 0; i < 99; ++i) EXPECT_FALSE(tb.count());
  EXPECT_TRUE(tb.count());
  EXPECT_EQ(tb.executions(), 200u);
}

}  // namespace
}  // namespace orrery::tcg::exec
