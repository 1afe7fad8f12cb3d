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

}  // namespace
}  // namespace orrery::tcg::exec
