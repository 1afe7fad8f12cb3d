// Saturating Advanced SIMD (shifts, narrows, doubling multiplies, SUQADD/USQADD) and the
// integer by-element forms against Unicorn's "max" CPU, in every tier: registers and FPSR.QC
// must agree from random inputs biased to small lanes and to the saturation limits.
#include <unicorn/unicorn.h>

#include "cpu/arm64/cpu_models.h"
#include "tests/unit/arm64/harness.h"

namespace orrery::cpu::arm64::test {
namespace {

struct SatCase {
  const char* text;
  uint32_t insn;
};

// Generated with aarch64-linux-gnu-as -march=armv8.4-a+rdm.
const SatCase kCases[] = {
    {"sqshl v0.16b, v1.16b, #3", 0x4f0b7420},
    {"sqshl v0.8h, v1.8h, #15", 0x4f1f7420},
    {"sqshl v0.4s, v1.4s, #1", 0x4f217420},
    {"sqshl v0.2d, v1.2d, #63", 0x4f7f7420},
    {"uqshl v0.8b, v1.8b, #7", 0x2f0f7420},
    {"uqshl v0.2d, v1.2d, #5", 0x6f457420},
    {"sqshlu v0.16b, v1.16b, #2", 0x6f0a6420},
    {"sqshlu v0.2d, v1.2d, #40", 0x6f686420},
    {"sqshl b0, b1, #4", 0x5f0c7420},
    {"sqshl d0, d1, #33", 0x5f617420},
    {"uqshl s0, s1, #17", 0x7f317420},
    {"sqshlu h0, h1, #9", 0x7f196420},
    {"sqshl v0.16b, v1.16b, v2.16b", 0x4e224c20},
    {"sqshl v0.8h, v1.8h, v2.8h", 0x4e624c20},
    {"sqshl v0.4s, v1.4s, v2.4s", 0x4ea24c20},
    {"sqshl v0.2d, v1.2d, v2.2d", 0x4ee24c20},
    {"uqshl v0.16b, v1.16b, v2.16b", 0x6e224c20},
    {"uqshl v0.2d, v1.2d, v2.2d", 0x6ee24c20},
    {"sqrshl v0.8h, v1.8h, v2.8h", 0x4e625c20},
    {"sqrshl v0.2d, v1.2d, v2.2d", 0x4ee25c20},
    {"uqrshl v0.4s, v1.4s, v2.4s", 0x6ea25c20},
    {"uqrshl v0.2d, v1.2d, v2.2d", 0x6ee25c20},
    {"srshl v0.16b, v1.16b, v2.16b", 0x4e225420},
    {"srshl v0.2d, v1.2d, v2.2d", 0x4ee25420},
    {"urshl v0.4h, v1.4h, v2.4h", 0x2e625420},
    {"urshl d0, d1, d2", 0x7ee25420},
    {"srshl d0, d1, d2", 0x5ee25420},
    {"sqshl b0, b1, b2", 0x5e224c20},
    {"sqshl d0, d1, d2", 0x5ee24c20},
    {"uqrshl h0, h1, h2", 0x7e625c20},
    {"sqrshl s0, s1, s2", 0x5ea25c20},
    {"sqxtn v0.8b, v1.8h", 0x0e214820},
    {"sqxtn2 v0.16b, v1.8h", 0x4e214820},
    {"sqxtn v0.4h, v1.4s", 0x0e614820},
    {"sqxtn v0.2s, v1.2d", 0x0ea14820},
    {"uqxtn v0.8b, v1.8h", 0x2e214820},
    {"uqxtn2 v0.4s, v1.2d", 0x6ea14820},
    {"sqxtun v0.8b, v1.8h", 0x2e212820},
    {"sqxtun2 v0.8h, v1.4s", 0x6e612820},
    {"sqxtn b0, h1", 0x5e214820},
    {"sqxtn s0, d1", 0x5ea14820},
    {"uqxtn h0, s1", 0x7e614820},
    {"sqxtun s0, d1", 0x7ea12820},
    {"sqshrn v0.8b, v1.8h, #3", 0x0f0d9420},
    {"sqshrn2 v0.16b, v1.8h, #8", 0x4f089420},
    {"sqshrn v0.2s, v1.2d, #32", 0x0f209420},
    {"sqrshrn v0.4h, v1.4s, #1", 0x0f1f9c20},
    {"sqrshrn2 v0.4s, v1.2d, #17", 0x4f2f9c20},
    {"uqshrn v0.8b, v1.8h, #1", 0x2f0f9420},
    {"uqrshrn v0.2s, v1.2d, #31", 0x2f219c20},
    {"uqrshrn2 v0.8h, v1.4s, #16", 0x6f109c20},
    {"sqshrun v0.8b, v1.8h, #2", 0x2f0e8420},
    {"sqrshrun v0.4h, v1.4s, #7", 0x2f198c20},
    {"sqrshrun2 v0.4s, v1.2d, #32", 0x6f208c20},
    {"sqshrn b0, h1, #3", 0x5f0d9420},
    {"sqrshrn s0, d1, #20", 0x5f2c9c20},
    {"uqshrn h0, s1, #16", 0x7f109420},
    {"sqshrun s0, d1, #1", 0x7f3f8420},
    {"sqrshrun b0, h1, #8", 0x7f088c20},
    {"sqdmulh v0.4h, v1.4h, v2.4h", 0x0e62b420},
    {"sqdmulh v0.4s, v1.4s, v2.4s", 0x4ea2b420},
    {"sqrdmulh v0.8h, v1.8h, v2.8h", 0x6e62b420},
    {"sqrdmulh v0.2s, v1.2s, v2.2s", 0x2ea2b420},
    {"sqdmulh h0, h1, h2", 0x5e62b420},
    {"sqrdmulh s0, s1, s2", 0x7ea2b420},
    {"sqrdmlah v0.8h, v1.8h, v2.8h", 0x6e428420},
    {"sqrdmlah v0.4s, v1.4s, v2.4s", 0x6e828420},
    {"sqrdmlsh v0.4h, v1.4h, v2.4h", 0x2e428c20},
    {"sqrdmlsh v0.2s, v1.2s, v2.2s", 0x2e828c20},
    {"sqrdmlah h0, h1, h2", 0x7e428420},
    {"sqrdmlsh s0, s1, s2", 0x7e828c20},
    {"sqdmull v0.4s, v1.4h, v2.4h", 0x0e62d020},
    {"sqdmull2 v0.2d, v1.4s, v2.4s", 0x4ea2d020},
    {"sqdmlal v0.4s, v1.4h, v2.4h", 0x0e629020},
    {"sqdmlal2 v0.4s, v1.8h, v2.8h", 0x4e629020},
    {"sqdmlsl v0.2d, v1.2s, v2.2s", 0x0ea2b020},
    {"sqdmlsl2 v0.2d, v1.4s, v2.4s", 0x4ea2b020},
    {"sqdmull s0, h1, h2", 0x5e62d020},
    {"sqdmull d0, s1, s2", 0x5ea2d020},
    {"sqdmlal s0, h1, h2", 0x5e629020},
    {"sqdmlsl d0, s1, s2", 0x5ea2b020},
    {"sqdmulh v0.8h, v1.8h, v2.h[7]", 0x4f72c820},
    {"sqdmulh v0.2s, v1.2s, v2.s[3]", 0x0fa2c820},
    {"sqrdmulh v0.4h, v1.4h, v15.h[2]", 0x0f6fd020},
    {"sqrdmulh v0.4s, v1.4s, v31.s[1]", 0x4fbfd020},
    {"sqdmulh h0, h1, v2.h[5]", 0x5f52c820},
    {"sqrdmulh s0, s1, v2.s[2]", 0x5f82d820},
    {"sqrdmlah v0.8h, v1.8h, v2.h[3]", 0x6f72d020},
    {"sqrdmlsh v0.4s, v1.4s, v2.s[1]", 0x6fa2f020},
    {"sqrdmlah s0, s1, v2.s[3]", 0x7fa2d820},
    {"sqrdmlsh h0, h1, v2.h[6]", 0x7f62f820},
    {"sqdmull v0.4s, v1.4h, v2.h[1]", 0x0f52b020},
    {"sqdmull2 v0.2d, v1.4s, v2.s[3]", 0x4fa2b820},
    {"sqdmlal v0.2d, v1.2s, v2.s[0]", 0x0f823020},
    {"sqdmlal2 v0.4s, v1.8h, v2.h[7]", 0x4f723820},
    {"sqdmlsl v0.4s, v1.4h, v2.h[4]", 0x0f427820},
    {"sqdmlsl2 v0.2d, v1.4s, v19.s[2]", 0x4f937820},
    {"sqdmull s0, h1, v2.h[3]", 0x5f72b020},
    {"sqdmlal d0, s1, v2.s[1]", 0x5fa23020},
    {"sqdmlsl s0, h1, v2.h[7]", 0x5f727820},
    {"mul v0.8h, v1.8h, v2.h[5]", 0x4f528820},
    {"mul v0.2s, v1.2s, v17.s[3]", 0x0fb18820},
    {"mla v0.4s, v1.4s, v2.s[2]", 0x6f820820},
    {"mls v0.4h, v1.4h, v2.h[1]", 0x2f524020},
    {"smull v0.4s, v1.4h, v2.h[3]", 0x0f72a020},
    {"smull2 v0.2d, v1.4s, v2.s[1]", 0x4fa2a020},
    {"umull v0.2d, v1.2s, v2.s[3]", 0x2fa2a820},
    {"umull2 v0.4s, v1.8h, v2.h[6]", 0x6f62a820},
    {"smlal v0.4s, v1.4h, v2.h[0]", 0x0f422020},
    {"umlal2 v0.2d, v1.4s, v2.s[2]", 0x6f822820},
    {"smlsl2 v0.4s, v1.8h, v2.h[7]", 0x4f726820},
    {"umlsl v0.2d, v1.2s, v2.s[0]", 0x2f826020},
    {"suqadd v0.16b, v1.16b", 0x4e203820},
    {"suqadd v0.2d, v1.2d", 0x4ee03820},
    {"usqadd v0.8h, v1.8h", 0x6e603820},
    {"usqadd v0.2s, v1.2s", 0x2ea03820},
    {"suqadd b0, b1", 0x5e203820},
    {"usqadd d0, d1", 0x7ee03820},
    {"suqadd s0, s1", 0x5ea03820},
    {"usqadd h0, h1", 0x7e603820},
};

struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545f4914f6cdd1dull;
  }
};

// A 64-bit word of lanes: random, small signed bytes (shift counts, values that do not
// saturate), or lane-size limits (0x80.., 0x7f.., 0xff.., 0, 1).
uint64_t pick_word(Rng& r) {
  switch (r.next() % 4) {
    case 0: {
      uint64_t w = 0;
      for (unsigned b = 0; b < 8; ++b) w |= uint64_t(uint8_t(int(r.next() % 41) - 20)) << (8 * b);
      return w;
    }
    case 1: {
      static constexpr uint64_t kLimits[] = {0x8000800080008000ull,
                                             0x7fff7fff7fff7fffull,
                                             0x8000000080000000ull,
                                             0x7fffffff7fffffffull,
                                             0x8000000000000000ull,
                                             0x7fffffffffffffffull,
                                             0xffffffffffffffffull,
                                             0,
                                             1,
                                             0x8080808080808080ull,
                                             0x7f7f7f7f7f7f7f7full,
                                             0x0001000100010001ull};
      return kLimits[r.next() % std::size(kLimits)];
    }
    default:
      return r.next() >> (r.next() % 2 ? 0 : r.next() % 64);
  }
}

using SimdSatTest = Arm64Test;

TEST_P(SimdSatTest, MatchesUnicornMax) {
  m->set_model(*find_cpu_model("max"));
  UnicornRef uc(UC_CPU_ARM64_MAX);
  ASSERT_TRUE(uc.ok());
  unsigned runs = 0;
  for (const SatCase& c : kCases) {
    SCOPED_TRACE(c.text);
    m->load({c.insn});
    uc.load({c.insn});
    Rng rng{0x13198a2e03707344ull ^ c.insn};
    for (unsigned k = 0; k < 32; ++k) {
      Inputs in;
      for (VReg& v : in.v) v.d[0] = pick_word(rng), v.d[1] = pick_word(rng);
      in.fpsr = (rng.next() & 1) ? 1u << 27 : 0;  // QC is sticky
      if (std::string diff = compare_with_unicorn(*m, uc, in, /*fpsr=*/true); !diff.empty()) {
        ADD_FAILURE() << diff << "\nv0=" << hex(in.v[0].d[1]) << ":" << hex(in.v[0].d[0])
                      << " v1=" << hex(in.v[1].d[1]) << ":" << hex(in.v[1].d[0])
                      << " v2=" << hex(in.v[2].d[1]) << ":" << hex(in.v[2].d[0]);
        break;
      }
      ++runs;
    }
  }
  EXPECT_EQ(runs, 32 * std::size(kCases));
}

// SQRDMLAH needs FEAT_RDM, which the Cortex-A57 does not have: UNDEFINED there.
TEST_P(SimdSatTest, RdmIsUndefinedOnCortexA57) {
  m->set_model(*find_cpu_model("cortex-a57"));
  m->load({0x6e428420});  // sqrdmlah v0.8h, v1.8h, v2.8h
  expect_exception(kVecCurrentSpxSync, 0);
  run_ok({0x4e62b420});  // sqdmulh v0.8h, v1.8h, v2.8h: ARMv8.0
}

ORRERY_ARM64_TIERS(SimdSatTest);

}  // namespace
}  // namespace orrery::cpu::arm64::test
