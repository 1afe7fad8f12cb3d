// Differential tests against Unicorn: each case (one instruction or a short sequence) runs from
// the same random and edge-case inputs on Orrery and on Unicorn, and every general register,
// SP, NZCV, every vector register and the data area must agree. This is where the flag-heavy
// and the addressing-mode-heavy instructions get their broad coverage.
#include <cinttypes>
#include <cstdio>

#include "tests/unit/arm64/harness.h"

namespace orrery::cpu::arm64::test {
namespace {

enum class Profile {
  Alu,   // general registers from edge values and random numbers, random NZCV
  Mem,   // X1 points into the data area, X2 is a small index, the data area is random
  Simd,  // random vector registers as well
};

struct DiffCase {
  Profile profile;
  const char* text;
  std::vector<uint32_t> code;
};

const DiffCase kDiffCases[] = {
#include "tests/unit/arm64/differential_cases.inc"
};

uint64_t pick_value(Rng& r) {
  static constexpr uint64_t kEdges[] = {0,
                                        1,
                                        2,
                                        0x7f,
                                        0x80,
                                        0xff,
                                        0x7fff,
                                        0x8000,
                                        0xffff,
                                        0x7fffffff,
                                        0x80000000,
                                        0xffffffff,
                                        0x100000000ull,
                                        0x7fffffffffffffffull,
                                        0x8000000000000000ull,
                                        ~0ull,
                                        ~1ull,
                                        0xffffffff80000000ull,
                                        0x00000000fffffffeull,
                                        0x8000000000000001ull,
                                        0x0000000100000001ull,
                                        63,
                                        64,
                                        31,
                                        32};
  switch (r.next() % 4) {
    case 0:
    case 1:
      return kEdges[r.next() % std::size(kEdges)];
    case 2:
      return r.next();
    default:
      return r.next() >> (r.next() % 64);
  }
}

Inputs make_inputs(Profile p, Rng& r) {
  Inputs in;
  for (uint64_t& x : in.x) x = pick_value(r);
  in.nzcv = unsigned(r.next() & 15);
  if (p == Profile::Simd || p == Profile::Mem)
    for (VReg& v : in.v) v.d[0] = r.next(), v.d[1] = r.next();
  if (p == Profile::Mem) {
    in.x[1] = kDataBase + 0x200;  // 64-byte aligned, with room on both sides
    in.x[2] = r.next() % 16;
    in.data.resize(kDataSize);
    for (uint8_t& b : in.data) b = uint8_t(r.next());
  }
  return in;
}

std::string describe_inputs(const Inputs& in) {
  std::string s = "inputs: nzcv=" + hex(in.nzcv);
  for (unsigned i = 0; i < 6; ++i) s += " x" + std::to_string(i) + "=" + hex(in.x[i]);
  return s;
}

/// Runs every case on m and on Unicorn from the same inputs; returns the number of runs.
unsigned run_all_cases(TestMachine& m) {
  UnicornRef uc;
  EXPECT_TRUE(uc.ok()) << "cannot open Unicorn";
  if (!uc.ok()) return 0;
  unsigned runs = 0;
  for (const DiffCase& c : kDiffCases) {
    SCOPED_TRACE(c.text);
    runs += compare_runs_with_unicorn(
        m, uc, c.code, c.profile == Profile::Alu ? 48 : 16,
        0x9e3779b97f4a7c15ull ^ std::hash<std::string>()(c.text),
        [&](Rng& rng) { return make_inputs(c.profile, rng); }, false, describe_inputs);
  }
  return runs;
}

using DifferentialTest = Arm64Test;

TEST_P(DifferentialTest, MatchesUnicorn) {
  EXPECT_GT(run_all_cases(*m), 5000u);
}

// The translator's own output, before the optimiser touches it, must be right too.
TEST(Arm64Differential, MatchesUnicornWithoutOptimisation) {
  TestMachine m(Tier::Interp, /*optimize=*/false);
  ASSERT_TRUE(m.init_error.empty()) << m.init_error;
  EXPECT_GT(run_all_cases(m), 5000u);
}

ORRERY_ARM64_TIERS(DifferentialTest);

}  // namespace
}  // namespace orrery::cpu::arm64::test
