// The jump-cache hash shared by the dispatcher, the baseline tier and the LLVM tier.
#include <gtest/gtest.h>

#include <set>

#include "tcg/exec/cpu_common.h"

namespace orrery::tcg {
namespace {

// The index before byte-aligned guests: AArch64 must keep exactly this distribution.
constexpr unsigned arm64_index(uint64_t pc) {
  return (unsigned((pc >> 12) ^ (pc >> 18)) & kJumpCacheGroupMask) << kJumpCacheGroupBits |
         (unsigned((pc >> 2) ^ (pc >> 8)) & (kJumpCacheGroupSize - 1));
}

TEST(JumpCache, FourByteAlignedPcsHashAsBefore) {
  for (uint64_t pc = 0; pc < (uint64_t(1) << 24); pc += 4)
    ASSERT_EQ(jump_cache_index(pc), arm64_index(pc)) << pc;
  for (uint64_t pc = 0xffff000000000000ull; pc < 0xffff000000100000ull; pc += 4)
    ASSERT_EQ(jump_cache_index(pc), arm64_index(pc)) << pc;
}

TEST(JumpCache, ConsecutiveBytePcsSpreadOverTheGroup) {
  // Any 64 consecutive byte PCs of a page get distinct slots, and any 256 at least 7/8 of the
  // group (the old hash put every 4 consecutive bytes in one slot: 64 of 256).
  for (uint64_t page : {0x0ull, 0x7000ull, 0xffffffff81000000ull, 0x400000ull}) {
    for (uint64_t start = 0; start < 4096; ++start) {
      std::set<unsigned> w64, w256;
      unsigned n64 = 0, n256 = 0;
      for (uint64_t i = 0; i < 256 && start + i < 4096; ++i) {
        const unsigned idx = jump_cache_index(page + start + i);
        ASSERT_EQ(idx >> kJumpCacheGroupBits, jump_cache_group(page));  // grouped by page
        if (i < 64) w64.insert(idx), ++n64;
        w256.insert(idx), ++n256;
      }
      ASSERT_EQ(w64.size(), n64) << std::hex << page + start;
      ASSERT_GE(w256.size() * 8, n256 * 7) << std::hex << page + start;
    }
  }
}

TEST(JumpCache, TagFoldsCsBaseExactly) {
  EXPECT_EQ(jump_cache_tag(0x123, 0), 0x123u);
  EXPECT_EQ(jump_cache_tag(~0ull >> 1, 0), ~0ull >> 1);  // any flags without a CS base
  EXPECT_NE(jump_cache_tag(0x24, 0x10000), jump_cache_tag(0x24, 0x20000));
  EXPECT_NE(jump_cache_tag(0x24, 0x10000), jump_cache_tag(0x24, 0));
  EXPECT_EQ(jump_cache_tag(0x24, 0xffff0000), 0xffff000000000024ull);
  // Outside the exact range: no jump cache at all rather than a collision.
  EXPECT_EQ(jump_cache_tag(uint64_t(1) << 40, 0x1000), kNoJumpCacheTag);
  EXPECT_EQ(jump_cache_tag(1, uint64_t(1) << 32), kNoJumpCacheTag);
}

}  // namespace
}  // namespace orrery::tcg
