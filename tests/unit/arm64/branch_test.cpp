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

// A loop whose body crosses a page boundary is one block running on into the next page that
// links to itself (not two blocks meeting through the jump cache on every pass), in each tier.
TEST_P(BranchTest, LoopAcrossAPageBoundaryIsOneBlockLinkedToItself) {
  const uint64_t at = kCodeBase + 0x1000 - 12;
  m->load(
      {
          0xd2a00021,  // mov x1, #0x10000
          0x91000c00,  // loop: add x0, x0, #3
          0x91000442,  // add x2, x2, #1 (the page's last instruction)
          0xf1000421,  // subs x1, x1, #1 (the next page's first)
          0x54ffffa1,  // b.ne loop
      },
      at);
  ASSERT_EQ(m->run(), ExitKind::Shutdown) << m->cpu->exit_message();
  EXPECT_EQ(m->x(0), 3u * 0x10000);
  EXPECT_EQ(m->x(2), 0x10000u);
  if (GetParam() == Tier::Interp) return;  // the interpreter tier links nothing
  const tcg::exec::TbKey key{at + 4, at + 4, m->cpu->state().common.tb_flags};
  tcg::exec::TranslationBlock* tb = m->engine->lookup(key);
  ASSERT_NE(tb, nullptr);
  EXPECT_EQ(tb->phys_page2, kCodeBase + 0x1000);
  EXPECT_EQ(tb->ir.guest_size, 16u);
  if (GetParam() == Tier::Baseline) {
    EXPECT_EQ(tb->link_tb[0], tb);
  }
}

// A store into the second page of a block that spans two is self-modifying code like any
// other: the loop's first pass already runs the instruction it stored.
TEST_P(BranchTest, StoreIntoTheSecondPageOfALoopTakesEffect) {
  const uint64_t at = kCodeBase + 0x1000 - 8;
  m->load(
      {
          0xb9000085,  // loop: str w5, [x4]
          0x91000400,  // add x0, x0, #1 (the page's last instruction)
          0x91000442,  // target: add x2, x2, #1 (replaced by add x2, x2, #2)
          0xf1000421,  // subs x1, x1, #1
          0x54ffff81,  // b.ne loop
      },
      at);
  m->x(1) = 1000;
  m->x(4) = kCodeBase + 0x1000;
  m->x(5) = 0x91000842;  // add x2, x2, #2
  ASSERT_EQ(m->run(), ExitKind::Shutdown) << m->cpu->exit_message();
  EXPECT_EQ(m->x(0), 1000u);
  EXPECT_EQ(m->x(2), 2000u);
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

// ConditionHolds(cond) for the NZCV of a - b at the given width (the Arm ARM's definition, not
// the translator's shortcut).
bool condition_after_cmp(unsigned cond, uint64_t a, uint64_t b, bool wide) {
  const unsigned bits = wide ? 64 : 32;
  const uint64_t m = wide ? ~0ull : 0xffffffffull;
  a &= m;
  b &= m;
  const uint64_t r = (a - b) & m;
  const bool n = (r >> (bits - 1)) & 1, z = r == 0, c = a >= b;
  const bool v = (((a ^ b) & (a ^ r)) >> (bits - 1)) & 1;
  bool holds = false;
  switch (cond >> 1) {
    case 0:
      holds = z;
      break;
    case 1:
      holds = c;
      break;
    case 2:
      holds = n;
      break;
    case 3:
      holds = v;
      break;
    case 4:
      holds = c && !z;
      break;
    case 5:
      holds = n == v;
      break;
    case 6:
      holds = n == v && !z;
      break;
    default:
      return true;
  }
  return (cond & 1) ? !holds : holds;
}

// A condition read in the block that compared (b.cond, cset) is one compare of the operands
// (the translator's cond_of_sub): every condition, both widths, at the signed and unsigned edges.
TEST_P(BranchTest, EveryConditionRightAfterACompare) {
  static constexpr uint64_t kValues[] = {0,
                                         1,
                                         2,
                                         0x7fffffff,
                                         0x80000000,
                                         0xffffffff,
                                         0x100000000ull,
                                         0x7fffffffffffffffull,
                                         0x8000000000000000ull,
                                         ~0ull,
                                         ~1ull,
                                         0xffffffff80000000ull,
                                         0x7fffffff00000001ull};
  for (unsigned cond = 0; cond < 14; ++cond) {
    SCOPED_TRACE("cond " + std::to_string(cond));
    const uint32_t inv = (cond ^ 1) << 12;
    m->load({
        0xeb02003f,         // cmp x1, x2
        0x9a9f07e0 | inv,   // cset x0, cond
        0xd2800003,         // mov x3, #0
        0x54000040 | cond,  // b.cond .+8
        0xd2800023,         // mov x3, #1      (skipped when taken)
        0x6b02003f,         // cmp w1, w2
        0x1a9f07e4 | inv,   // cset w4, cond
    });
    for (uint64_t a : kValues)
      for (uint64_t b : kValues) {
        m->restart();
        m->x(1) = a;
        m->x(2) = b;
        rerun_ok();
        const bool wide = condition_after_cmp(cond, a, b, true);
        ASSERT_EQ(m->x(0), uint64_t(wide)) << std::hex << a << " " << b;
        ASSERT_EQ(m->x(3), uint64_t(!wide)) << std::hex << a << " " << b;
        ASSERT_EQ(m->x(4), uint64_t(condition_after_cmp(cond, a, b, false)))
            << std::hex << a << " " << b;
      }
  }
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
