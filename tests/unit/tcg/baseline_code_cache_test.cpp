// The baseline tier's code cache: blocks from several threads land intact, also across the
// steps in which pages are committed ahead, and a full cache says so.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tcg/baseline/code_cache.h"
#include "tcg/exec/tb.h"
#include "tcg/interp/interp.h"  // TranslationBlock::prog

namespace orrery::tcg::baseline {
namespace {

// ahead: a thread commits the first 6 MiB (populate_ahead) while the writers add blocks.
void blocks_land_intact(bool ahead) {
  std::string err;
  constexpr size_t kBytes = 9 << 20;  // several 2 MiB commit steps, and not a multiple of one
  auto cache = CodeCache::create(kBytes, err);
  ASSERT_TRUE(cache) << err;
  if (ahead) cache->populate_ahead(6 << 20);
  constexpr size_t kBlock = 3000;  // not a multiple of 16: the next block starts aligned
  struct Placed {
    const uint8_t* at;
    uint8_t fill;
  };
  std::vector<Placed> placed[2];
  auto writer = [&](unsigned t) {
    std::vector<uint8_t> code(kBlock);
    for (unsigned i = 0;; ++i) {
      const uint8_t fill = uint8_t(t * 128 + i % 127 + 1);
      std::memset(code.data(), fill, code.size());
      const uint8_t* at = cache->add(code.data(), code.size());
      if (!at) return;
      placed[t].push_back({at, fill});
    }
  };
  std::thread other(writer, 1);
  writer(0);
  other.join();
  size_t blocks = 0;
  for (const auto& list : placed) {
    for (const Placed& p : list) {
      ASSERT_TRUE(cache->contains(p.at));
      ASSERT_EQ(reinterpret_cast<uintptr_t>(p.at) % 16, 0u);
      // Every byte: the commit writes to the first byte of each page it commits.
      for (size_t i = 0; i < kBlock; ++i) ASSERT_EQ(p.at[i], p.fill) << i;
    }
    blocks += list.size();
  }
  // Every block but the one that no longer fitted, per thread.
  EXPECT_EQ(blocks, kBytes / 3008);
  EXPECT_EQ(cache->used(), cache->capacity());
  // After a reset the committed pages are written again from the start, past the exit stubs,
  // which stay.
  const std::vector<uint8_t> stubs(cache->base(), cache->first_block());
  cache->reset();
  const uint8_t one[3] = {0xc3, 0xcc, 0x90};
  const uint8_t* at = cache->add(one, sizeof one);
  ASSERT_EQ(at, cache->first_block());
  EXPECT_EQ(std::memcmp(at, one, sizeof one), 0);
  EXPECT_TRUE(std::equal(stubs.begin(), stubs.end(), cache->base()));
  EXPECT_LT(cache->exit_stub(0), cache->exit_stub(1));
  EXPECT_LT(cache->exit_stub(1), cache->first_block());
}

TEST(BaselineCodeCacheTest, BlocksAcrossCommitStepsLandIntact) {
  blocks_land_intact(false);
}

TEST(BaselineCodeCacheTest, BlocksLandIntactWhileAThreadCommitsAhead) {
  blocks_land_intact(true);
}

// The first write into a commit step commits the whole step, also the pages nobody wrote yet
// (a write to each page: MADV_POPULATE_WRITE held the process's mmap_lock meanwhile).
TEST(BaselineCodeCacheTest, AWriteCommitsItsWholeStep) {
  std::string err;
  auto cache = CodeCache::create(8 << 20, err);
  ASSERT_TRUE(cache) << err;
  const uint8_t one[1] = {0xc3};
  ASSERT_EQ(cache->add(one, 1), cache->first_block());
  ASSERT_LT(cache->first_block() - cache->base(), 4096);  // the exit stubs: a few dozen bytes
  constexpr size_t kPage = 4096, kStep = 2 << 20;
  std::vector<unsigned char> resident(kStep / kPage);
  ASSERT_EQ(mincore(const_cast<uint8_t*>(cache->base()), kStep, resident.data()), 0);
  for (size_t i = 0; i < resident.size(); ++i) EXPECT_TRUE(resident[i] & 1) << "page " << i;
  // The commit wrote zeros over zeros: the rest of the step is still empty.
  for (size_t at = kPage; at < kStep; at += kPage) ASSERT_EQ(cache->base()[at], 0) << at;
  EXPECT_EQ(cache->first_block()[0], 0xc3);
  EXPECT_EQ(cache->first_block()[1], 0);
}

// Destroyed while its commit thread runs: the thread stops and is joined.
TEST(BaselineCodeCacheTest, DestroyedWhileCommittingAhead) {
  std::string err;
  for (int i = 0; i < 4; ++i) {
    auto cache = CodeCache::create(64 << 20, err);
    ASSERT_TRUE(cache) << err;
    cache->populate_ahead(64 << 20);
  }
}

// The cache starts on a huge-page boundary, so the host can back it with huge pages (its
// ~40 MiB of hot code in a process-heavy guest otherwise spans ~10k 4 KiB pages of the
// instruction TLB), and it is usable to its last byte.
TEST(BaselineCodeCacheTest, StartsOnAHugePageBoundary) {
  std::string err;
  for (size_t bytes : {size_t(4) << 20, (size_t(5) << 20) + 4096}) {
    auto cache = CodeCache::create(bytes, err);
    ASSERT_TRUE(cache) << err;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(cache->base()) % CodeCache::kHugePage, 0u);
    EXPECT_EQ(cache->capacity(), bytes);
    const size_t room = bytes - size_t(cache->first_block() - cache->base());
    std::vector<uint8_t> code(room - 16, 0x90);
    code.back() = 0xc3;
    const uint8_t* at = cache->add(code.data(), code.size());
    ASSERT_EQ(at, cache->first_block());
    EXPECT_EQ(at[room - 17], 0xc3);
  }
}

// Tier-up counters: distinct cells past the code, a page away from its last byte (stores
// near running code make the host flush its pipeline), all within rel32 reach of every block;
// null once they are all taken; a reset hands them out again.
TEST(BaselineCodeCacheTest, CountersLieWithinReachAndAPageFromTheCode) {
  std::string err;
  constexpr size_t kBytes = 4 << 20;
  auto cache = CodeCache::create(kBytes, err);
  ASSERT_TRUE(cache) << err;
  const uint8_t* code_end = cache->base() + kBytes;
  std::vector<std::atomic<uint32_t>*> cells;
  while (std::atomic<uint32_t>* c = cache->add_counter()) {
    const auto* p = reinterpret_cast<const uint8_t*>(c);
    ASSERT_GE(p, code_end + 4096);
    ASSERT_LT(p + 4 - cache->base(), int64_t(1) << 31);
    ASSERT_EQ(reinterpret_cast<uintptr_t>(p) % 4, 0u);
    ASSERT_EQ(c->load(), 0u);
    c->store(uint32_t(cells.size()) + 1);
    cells.push_back(c);
  }
  ASSERT_GE(cells.size(), kBytes / 128);  // more than the smallest blocks could need
  for (size_t i = 0; i < cells.size(); ++i) ASSERT_EQ(cells[i]->load(), i + 1);
  cache->reset();
  EXPECT_EQ(cache->add_counter(), cells[0]);
  EXPECT_EQ(cells[0]->load(), 0u) << "a reused cell starts at zero";
}

// The count-down: executions are counted across arms, a check is due at the armed count, one
// raced past zero is still due, and arm(0) parks the cell (it counts on without a check).
TEST(TranslationBlockCount, ArmsChecksAndCountsOn) {
  exec::TranslationBlock tb;
  EXPECT_EQ(tb.executions(), 0u);
  tb.arm(64);
  EXPECT_FALSE(tb.count(63));
  EXPECT_EQ(tb.executions(), 63u);
  EXPECT_TRUE(tb.count());
  EXPECT_EQ(tb.executions(), 64u);
  EXPECT_TRUE(tb.count(5)) << "past zero (another vCPU raced it there) is still due";
  EXPECT_EQ(tb.executions(), 69u);
  tb.arm(100);
  EXPECT_FALSE(tb.count(30));
  EXPECT_TRUE(tb.count());
  tb.arm(0);
  EXPECT_FALSE(tb.count(1000000));
  EXPECT_EQ(tb.executions(), 1000100u);
  tb.arm(5);  // already past: due at the next execution
  EXPECT_TRUE(tb.count());
  // Moving to the code cache's cell keeps the count and the check.
  std::atomic<uint32_t> cell{0};
  tb.arm(tb.executions() + 10);
  tb.use_cell(&cell);
  EXPECT_EQ(tb.executions(), 1000101u);
  EXPECT_FALSE(tb.count(9));
  EXPECT_TRUE(tb.count());
  EXPECT_EQ(cell.load(), 0u);
}

// A check 2^31 or more executions ahead is far away, not past: `thresh=4000000000` once made
// every execution ask the engine (a boot took 12 s instead of 0.7).
TEST(TranslationBlockCount, ArmsAFarCheckAsFarAway) {
  exec::TranslationBlock tb;
  tb.arm(4000000000u);
  EXPECT_FALSE(tb.count(1000000));
  tb.arm(tb.executions() + 0x80000000u);
  EXPECT_FALSE(tb.count(1000000));
  EXPECT_EQ(tb.executions(), 2000000u);
}

}  // namespace
}  // namespace orrery::tcg::baseline
