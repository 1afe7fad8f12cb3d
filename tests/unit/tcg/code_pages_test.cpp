// The lock-free code-page set: marks, unmarks, clear, and addresses outside its space.
#include <gtest/gtest.h>

#include "tcg/exec/code_pages.h"

namespace orrery::tcg::exec {
namespace {

TEST(CodePages, MarksWholePagesAndForgets) {
  CodePages p;
  EXPECT_FALSE(p.contains(0x40001000));
  p.set(0x40001234, true);
  EXPECT_TRUE(p.contains(0x40001000));
  EXPECT_TRUE(p.contains(0x40001fff));
  EXPECT_FALSE(p.contains(0x40002000));
  EXPECT_FALSE(p.contains(0x40000fff));
  p.set(0x7fffff000ull, true);  // another leaf (near 32 GiB)
  EXPECT_TRUE(p.contains(0x7fffff800ull));
  p.set(0x40001000, false);
  EXPECT_FALSE(p.contains(0x40001000));
  EXPECT_TRUE(p.contains(0x7fffff000ull));
  p.clear();
  EXPECT_FALSE(p.contains(0x7fffff000ull));
}

TEST(CodePages, AddressesBeyondItsSpaceAreLeftToTheCaller) {
  CodePages p;
  const uint64_t high = uint64_t(1) << 44;
  EXPECT_TRUE(CodePages::covers(high - 1));
  EXPECT_FALSE(CodePages::covers(high));
  p.set(high, true);  // ignored, not a crash
  EXPECT_FALSE(p.contains(high));
}

TEST(CodePages, NextFindsMarkedPagesInARangeAndSkipsEmptySpace) {
  CodePages p;
  EXPECT_EQ(p.next(0, CodePages::kLimit - 1), std::nullopt);
  p.set(0x5000, true);
  p.set(0x3fffff000ull, true);  // the last page of the 16th GiB
  p.set(0xfc00000000ull, true);
  EXPECT_EQ(p.next(0, ~uint64_t(0)), 0x5000u);
  EXPECT_EQ(p.next(0x5fff, ~uint64_t(0)), 0x5000u);  // the page holding `from` counts
  EXPECT_EQ(p.next(0x6000, ~uint64_t(0)), 0x3fffff000ull);
  EXPECT_EQ(p.next(0x6000, 0x3fffff000ull), 0x3fffff000ull);  // `last` inside the page
  EXPECT_EQ(p.next(0x6000, 0x3ffffefffull), std::nullopt);
  EXPECT_EQ(p.next(0x400000000ull, ~uint64_t(0)), 0xfc00000000ull);
  EXPECT_EQ(p.next(0xfc00001000ull, ~uint64_t(0)), std::nullopt);
  EXPECT_EQ(p.next(CodePages::kLimit, ~uint64_t(0)), std::nullopt);
}

}  // namespace
}  // namespace orrery::tcg::exec
