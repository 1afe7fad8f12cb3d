// Quick fixed-seed differential fuzz run for CI; `fuzz_arm64_long` runs the same for longer.
#include <gtest/gtest.h>

#include "tests/fuzz/arm64_fuzz.h"

namespace orrery::tests::fuzz {
namespace {

TEST(Arm64Fuzz, FixedSeedAgainstUnicorn) {
  FuzzResult r = fuzz_arm64(20261121, 1500, 8);
  RecordProperty("sequences", int(r.sequences));
  EXPECT_EQ(r.mismatches, 0u) << r.summary << r.first_failure;
  EXPECT_GT(r.sequences - r.skipped, r.sequences * 9 / 10) << "too few sequences compared";
}

// FP16 and DotProd (with random FPCR: rounding, FZ, FZ16, DN, AHP) on the max models.
TEST(Arm64Fuzz, Armv82FixedSeedAgainstUnicornMax) {
  FuzzResult r = fuzz_arm64(20261203, 1000, 8, /*max=*/true);
  RecordProperty("sequences", int(r.sequences));
  EXPECT_EQ(r.mismatches, 0u) << r.summary << r.first_failure;
  EXPECT_GT(r.sequences - r.skipped, r.sequences * 9 / 10) << "too few sequences compared";
}

}  // namespace
}  // namespace orrery::tests::fuzz
