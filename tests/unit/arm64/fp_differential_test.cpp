// FP/SIMD differential tests against Unicorn (QEMU softfloat: an independent oracle for NaN
// propagation, rounding modes, flush-to-zero, default NaN and FPSR flags). Each case runs from
// FP-special inputs (zeros, infinities, quiet and signalling NaNs, subnormals, halfway values,
// integers at the conversion limits) with a random FPCR, and every register, NZCV, FPSR and the
// data area must agree.
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string_view>

#include <unicorn/unicorn.h>

#include "cpu/arm64/cpu_models.h"

#include "tests/unit/arm64/harness.h"

namespace orrery::cpu::arm64::test {
namespace {

enum class FpProfile { Fp, Simd, Mem, Half };

struct FpCase {
  FpProfile profile;
  const char* text;
  std::vector<uint32_t> code;
};

const FpCase kFpCases[] = {
#include "tests/unit/arm64/fp_differential_cases.inc"
};

uint64_t pick_double(Rng& r) {
  static constexpr uint64_t kEdges[] = {0,
                                        0x8000000000000000ull,
                                        0x3ff0000000000000ull,
                                        0xbff0000000000000ull,
                                        0x7ff0000000000000ull,
                                        0xfff0000000000000ull,
                                        0x7ff8000000000000ull,
                                        0xfff8000000000001ull,
                                        0x7ff0000000000001ull,
                                        0xfff4000000000000ull,  // NaNs
                                        0x0000000000000001ull,
                                        0x800fffffffffffffull,
                                        0x0010000000000000ull,  // subnormal, min
                                        0x000fffffffffffffull,
                                        0x7fefffffffffffffull,
                                        0x3fe0000000000000ull,  // 0.5
                                        0x4004000000000000ull,
                                        0xc00c000000000000ull,  // 2.5, -3.5
                                        0x43e0000000000000ull,
                                        0xc3e0000000000000ull,
                                        0x41e0000000000000ull,  // 2^63, -2^63, 2^31
                                        0x41efffffffe00000ull,
                                        0x43f0000000000000ull,
                                        0x3fb999999999999aull,  // 2^32-1, 2^64, 0.1
                                        0x0010000000000001ull,
                                        0x3ca0000000000000ull,
                                        0x36a0000000000000ull};
  switch (r.next() % 4) {
    case 0:
    case 1:
      return kEdges[r.next() % std::size(kEdges)];
    case 2: {  // a moderate number with few significant bits (exact halves and integers)
      double d = double(int64_t(r.next() % 2001) - 1000) / double(1u << (r.next() % 4));
      uint64_t u;
      std::memcpy(&u, &d, 8);
      return u;
    }
    default:
      return r.next();
  }
}

uint32_t pick_float(Rng& r) {
  static constexpr uint32_t kEdges[] = {0,
                                        0x80000000u,
                                        0x3f800000u,
                                        0xbf800000u,
                                        0x7f800000u,
                                        0xff800000u,
                                        0x7fc00000u,
                                        0xffc00001u,
                                        0x7f800001u,
                                        0xffa00000u,
                                        0x00000001u,
                                        0x807fffffu,
                                        0x00800000u,
                                        0x007fffffu,
                                        0x7f7fffffu,
                                        0x3f000000u,
                                        0x40200000u,
                                        0xc0600000u,
                                        0x5f000000u,
                                        0xdf000000u,
                                        0x4f000000u,
                                        0x4f800000u,
                                        0x3dcccccdu,
                                        0x00800001u,
                                        0x33800000u,
                                        0x38800000u /* 2^-14 */,
                                        0x477fe000u /* 65504 */,
                                        0x33000000u /* 2^-25 */};
  switch (r.next() % 4) {
    case 0:
    case 1:
      return kEdges[r.next() % std::size(kEdges)];
    case 2: {
      float f = float(int32_t(r.next() % 2001) - 1000) / float(1u << (r.next() % 4));
      uint32_t u;
      std::memcpy(&u, &f, 4);
      return u;
    }
    default:
      return uint32_t(r.next());
  }
}

uint16_t pick_half(Rng& r) {
  static constexpr uint16_t kEdges[] = {0,      0x8000, 0x3c00, 0x7c00, 0xfc00, 0x7e00, 0x7c01,
                                        0xfd00, 0x0001, 0x03ff, 0x0400, 0x7bff, 0x3800, 0x3e00,
                                        0xc100, 0x6400, 0xf800, 0x7a00, 0x8401, 0x0200};
  return (r.next() & 1) ? kEdges[r.next() % std::size(kEdges)] : uint16_t(r.next());
}

Inputs make_inputs(FpProfile p, Rng& r) {
  Inputs in;
  for (uint64_t& x : in.x) x = (r.next() & 1) ? r.next() : r.next() >> (r.next() % 64);
  in.nzcv = unsigned(r.next() & 15);
  for (VReg& v : in.v) {
    if (p == FpProfile::Half) {
      v.d[0] = v.d[1] = 0;
      for (uint64_t& h : v.d)
        for (unsigned k = 0; k < 4; ++k) h |= uint64_t(pick_half(r)) << (16 * k);
      continue;
    }
    if (p != FpProfile::Fp) {
      v.d[0] = r.next(), v.d[1] = r.next();
      continue;
    }
    switch (r.next() % 3) {  // lanes as doubles, floats or halves
      case 0:
        v.d[0] = pick_double(r), v.d[1] = pick_double(r);
        break;
      case 1:
        for (uint64_t& h : v.d) h = pick_float(r) | uint64_t(pick_float(r)) << 32;
        break;
      default:
        for (uint64_t& h : v.d)
          for (unsigned k = 0; k < 4; ++k) h |= uint64_t(pick_half(r)) << (16 * k);
        break;
    }
  }
  if (p == FpProfile::Fp) {
    static constexpr uint64_t kModes[] = {
        0, 0, 1u << 22, 2u << 22, 3u << 22, 1u << 24, 1u << 25, 3u << 24, (3u << 24) | (2u << 22)};
    in.fpcr = kModes[r.next() % std::size(kModes)];
  }
  if (p == FpProfile::Half) {  // rounding, FZ16 (19), DN (25), AHP (26), FZ (24, ignored)
    static constexpr uint64_t kModes[] = {
        0,        0,        1u << 22, 2u << 22, 3u << 22,
        1u << 19, 1u << 25, 1u << 26, 1u << 24, (1u << 19) | (1u << 25) | (2u << 22)};
    in.fpcr = kModes[r.next() % std::size(kModes)];
  }
  if (p == FpProfile::Mem) {
    in.x[1] = kDataBase + 0x200;
    in.x[2] = r.next() % 16;
    in.data.resize(kDataSize);
    for (uint8_t& b : in.data) b = uint8_t(r.next());
  }
  return in;
}

std::string describe(const Inputs& in) {
  std::string s = "fpcr=" + hex(in.fpcr) + " nzcv=" + hex(in.nzcv);
  for (unsigned i = 0; i < 5; ++i)
    s += " v" + std::to_string(i) + "=" + hex(in.v[i].d[1]) + ":" + hex(in.v[i].d[0]);
  s += " x1=" + hex(in.x[1]) + " x2=" + hex(in.x[2]);
  return s;
}

/// The ARMv8.0 cases on the default models, or (max) the FP16 and DotProd cases with Orrery and
/// Unicorn both as the "max" CPU model.
unsigned run_fp_cases(TestMachine& m, bool max = false) {
  if (max) m.set_model(*find_cpu_model("max"));
  UnicornRef uc(max ? UC_CPU_ARM64_MAX : -1);
  EXPECT_TRUE(uc.ok()) << "cannot open Unicorn";
  if (!uc.ok()) return 0;
  unsigned runs = 0;
  for (const FpCase& c : kFpCases) {
    const bool v82 = c.profile == FpProfile::Half ||
                     std::string_view(c.text).find("dot ") != std::string_view::npos;
    if (v82 != max) continue;
    SCOPED_TRACE(c.text);
    runs += compare_runs_with_unicorn(
        m, uc, c.code, c.profile == FpProfile::Fp || c.profile == FpProfile::Half ? 96 : 24,
        0x9e3779b97f4a7c15ull ^ std::hash<std::string>()(c.text),
        [&](Rng& rng) { return make_inputs(c.profile, rng); }, /*fpsr=*/true, describe);
  }
  return runs;
}

using FpDifferentialTest = Arm64Test;

TEST_P(FpDifferentialTest, MatchesUnicorn) {
  EXPECT_GT(run_fp_cases(*m), 10000u);
}

TEST_P(FpDifferentialTest, Fp16AndDotProdMatchUnicornMax) {
  EXPECT_GT(run_fp_cases(*m, /*max=*/true), 10000u);
}

TEST(Arm64FpDifferential, MatchesUnicornWithoutOptimisation) {
  TestMachine m(Tier::Interp, /*optimize=*/false);
  ASSERT_TRUE(m.init_error.empty()) << m.init_error;
  EXPECT_GT(run_fp_cases(m), 10000u);
}

ORRERY_ARM64_TIERS(FpDifferentialTest);

}  // namespace
}  // namespace orrery::cpu::arm64::test
