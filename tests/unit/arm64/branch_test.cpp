// Branches and block structure: long straight-line code (max_insns), code crossing page
// boundaries, hot loops (chaining, tier-up), calls and returns, and single-stepping.
#include <chrono>
#include <thread>

#include "tests/unit/arm64/harness.h"

namespace orrery::cpu::arm64::test {
namespace {

using BranchTest = Arm64Test;

TEST_P(BranchTest, StraightLineCodeLongerThanABlockAndAcrossPages) {
  // 1500 instructions starting 16 bytes before a page boundary: blocks end at max_insns and at
  // every page end.
  std::vector<uint32_t> code(1500, 0x91000400);  // add x0, x0, #1
  m->load(code, kCodeBase + 0x1000 - 16);
  rerun_ok();
  EXPECT_EQ(m->x(0), 1500u);
}

// When the baseline tier's code space runs out, later blocks run in the interpreter and the
// program still computes the right result (the cache must never be overrun).
TEST(BaselineCodeCache, FullCacheFallsBackToTheInterpreter) {
  TestMachine m(Tier::Baseline, true, /*code_cache_bytes=*/4096);
  ASSERT_EQ(m.init_error, "");
  // 40 short blocks (add; b next), each a few hundred bytes of host code, then a hot loop.
  std::vector<uint32_t> code;
  for (unsigned i = 0; i < 40; ++i) {
    code.push_back(0x91000400);  // add x0, x0, #1
    code.push_back(0x14000001);  // b .+4
  }
  code.insert(code.end(), {
                              0xd2a00021,  // mov x1, #0x10000
                              0x91000c42,  // loop: add x2, x2, #3
                              0xf1000421,  // subs x1, x1, #1
                              0x54ffffc1,  // b.ne loop
                          });
  m.load(code);
  ASSERT_EQ(m.run(), ExitKind::Shutdown) << m.cpu->exit_message();
  EXPECT_EQ(m.x(0), 40u);
  EXPECT_EQ(m.x(2), 3u * 0x10000);
  const auto st = m.engine->stats();
  EXPECT_GT(st.baseline_blocks, 0u);
  EXPECT_LT(st.baseline_blocks, st.blocks_translated);
}

// In the default tier a hot loop starts in baseline code, tiers up, and once LLVM publishes
// its code every direct link into the block (here the loop's own back edge) moves to the LLVM
// code, so the next run of the loop executes it.
TEST(AutoTier, PublishedLlvmCodeReplacesBaselineCodeInLinks) {
  TestMachine m(Tier::Auto, true, 0, /*hot_threshold=*/16);
  ASSERT_EQ(m.init_error, "");
  const std::vector<uint32_t> loop = {
      0xd2800000,  // mov x0, #0
      0xd2a00021,  // mov x1, #0x10000
      0x91000c00,  // loop: add x0, x0, #3
      0xf1000421,  // subs x1, x1, #1
      0x54ffffc1,  // b.ne loop
  };
  m.load(loop);
  ASSERT_EQ(m.run(), ExitKind::Shutdown) << m.cpu->exit_message();
  m.engine->drain_compiles();
  const tcg::exec::TbKey key{kCodeBase + 8, kCodeBase + 8, m.cpu->state().common.tb_flags};
  tcg::exec::TranslationBlock* tb = m.engine->lookup(key);
  ASSERT_NE(tb, nullptr);
  const tcg::exec::NativeFn fn = tb->native.load();
  ASSERT_NE(fn, nullptr);
  EXPECT_FALSE(m.engine->is_baseline_code(fn)) << "the hot loop was never compiled by LLVM";
  EXPECT_EQ(tb->link[0].load(), fn) << "the back edge still leads to the baseline code";
  m.restart();
  ASSERT_EQ(m.run(), ExitKind::Shutdown) << m.cpu->exit_message();
  EXPECT_EQ(m.x(0), 3u * 0x10000);
}

TEST_P(BranchTest, HotLoop) {
  run_ok({
      0xd2800000,  // mov x0, #0
      0xd2a00021,  // mov x1, #0x10000
      0x91000c00,  // loop: add x0, x0, #3
      0xf1000421,  // subs x1, x1, #1
      0x54ffffc1,  // b.ne loop
  });
  EXPECT_EQ(m->x(0), 3u * 0x10000);
  EXPECT_EQ(m->x(1), 0u);
}

TEST_P(BranchTest, BranchBackAcrossAPage) {
  // At kCodeBase: MOV X1, #2 then the final HVC. At kCodeBase + 0x1000: MOV X1, #1 and a branch
  // back to kCodeBase.
  m->load({0xd2800041});                                      // mov x1, #2
  m->load({0xd2800021, 0x17fffc00 - 1}, kCodeBase + 0x1000);  // mov x1, #1; b .-0x1004
  m->code_end = kCodeBase + 4;
  rerun_ok();
  EXPECT_EQ(m->x(1), 2u);
}

TEST_P(BranchTest, CallAndReturn) {
  run_ok({
      0x94000003,  // bl func
      0x91000442,  // add x2, x2, #1
      0x14000003,  // b end
      0x91001463,  // func: add x3, x3, #5
      0xd65f03c0,  // ret
  });
  EXPECT_EQ(m->x(2), 1u);
  EXPECT_EQ(m->x(3), 5u);
  EXPECT_EQ(m->x(30), kCodeBase + 4);
}

TEST_P(BranchTest, BlrThroughTheLinkRegister) {
  run_ok({
      0x1000007e,  // adr x30, .+12
      0xd63f03c0,  // blr x30           (jumps to the old X30, then X30 = the next PC)
      0xd28000e0,  // mov x0, #7        (skipped)
      0xaa1e03e4,  // mov x4, x30
  });
  EXPECT_EQ(m->x(0), 0u);
  EXPECT_EQ(m->x(4), kCodeBase + 8);
}

TEST_P(BranchTest, IndirectBranch) {
  m->load({
      0xd61f00a0,  // br x5
      0xd28000e0,  // mov x0, #7        (skipped)
  });
  m->x(5) = kCodeBase + 8;
  rerun_ok();
  EXPECT_EQ(m->x(0), 0u);
}

TEST_P(BranchTest, CompareAndBranchOnWRegisterIgnoresTheUpperHalf) {
  m->load({
      0x34000041,  // cbz w1, .+8
      0xd28000e0,  // mov x0, #7        (skipped)
  });
  m->x(1) = 0xffffffff00000000ull;
  rerun_ok();
  EXPECT_EQ(m->x(0), 0u);
}

TEST_P(BranchTest, TestBitAbove31) {
  m->load({
      0xb7400041,  // tbnz x1, #40, .+8
      0xd28000e0,  // mov x0, #7        (skipped)
  });
  m->x(1) = 1ull << 40;
  rerun_ok();
  EXPECT_EQ(m->x(0), 0u);
}

TEST_P(BranchTest, ConditionNvIsAlways) {
  m->load({
      0x5400004f,  // b.nv .+8
      0xd28000e0,  // mov x0, #7        (skipped)
  });
  m->set_nzcv(0);
  rerun_ok();
  EXPECT_EQ(m->x(0), 0u);
}

TEST_P(BranchTest, SingleStep) {
  m->load({
      0xd2800021,  // mov x1, #1
      0xd2800041,  // mov x1, #2
  });
  m->cpu->exec().set_single_step(true);
  ASSERT_EQ(m->run(), ExitKind::Step);
  EXPECT_EQ(m->cpu->pc(), kCodeBase + 4);
  EXPECT_EQ(m->x(1), 1u);
  ASSERT_EQ(m->run(), ExitKind::Step);
  EXPECT_EQ(m->x(1), 2u);
  m->cpu->exec().set_single_step(false);
  rerun_ok();
}

TEST_P(BranchTest, KickFromAnotherThreadStopsAnEndlessLoop) {
  m->load({0x14000000});  // b .
  bool running = false;
  std::thread t([&] {
    running = m->cpu->wait_until_running(std::chrono::seconds(30));  // kick a running vCPU
    m->cpu->kick();
  });
  EXPECT_EQ(m->run(), ExitKind::Kicked);
  t.join();
  EXPECT_TRUE(running);
  EXPECT_EQ(m->cpu->pc(), kCodeBase);
}

ORRERY_ARM64_TIERS(BranchTest);

}  // namespace
}  // namespace orrery::cpu::arm64::test
