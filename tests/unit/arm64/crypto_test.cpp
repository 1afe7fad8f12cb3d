// The cryptographic extension and PMULL: known answers (FIPS-197 round values), per-model
// gating (UNDEFINED where ID_AA64ISAR0_EL1 does not advertise the feature), and every encoding
// against Unicorn's "max" CPU from random register contents, in every tier.
#include <unicorn/unicorn.h>

#include "cpu/arm64/cpu_models.h"
#include "cpu/arm64/crypto.h"
#include "tests/unit/arm64/harness.h"

namespace orrery::cpu::arm64::test {
namespace {

struct CryptoCase {
  const char* text;
  uint32_t insn;
};

// Generated with aarch64-linux-gnu-as -march=armv8.4-a+crypto+sha3.
const CryptoCase kCases[] = {
    {"aese v0.16b, v1.16b", 0x4e284820},
    {"aesd v0.16b, v1.16b", 0x4e285820},
    {"aesmc v0.16b, v1.16b", 0x4e286820},
    {"aesimc v0.16b, v1.16b", 0x4e287820},
    {"sha1c q0, s1, v2.4s", 0x5e020020},
    {"sha1p q0, s1, v2.4s", 0x5e021020},
    {"sha1m q0, s1, v2.4s", 0x5e022020},
    {"sha1su0 v0.4s, v1.4s, v2.4s", 0x5e023020},
    {"sha256h q0, q1, v2.4s", 0x5e024020},
    {"sha256h2 q0, q1, v2.4s", 0x5e025020},
    {"sha256su1 v0.4s, v1.4s, v2.4s", 0x5e026020},
    {"sha1h s0, s1", 0x5e280820},
    {"sha1su1 v0.4s, v1.4s", 0x5e281820},
    {"sha256su0 v0.4s, v1.4s", 0x5e282820},
    {"sha512h q0, q1, v2.2d", 0xce628020},
    {"sha512h2 q0, q1, v2.2d", 0xce628420},
    {"sha512su1 v0.2d, v1.2d, v2.2d", 0xce628820},
    {"rax1 v0.2d, v1.2d, v2.2d", 0xce628c20},
    {"sha512su0 v0.2d, v1.2d", 0xcec08020},
    {"eor3 v0.16b, v1.16b, v2.16b, v3.16b", 0xce020c20},
    {"bcax v0.16b, v1.16b, v2.16b, v3.16b", 0xce220c20},
    {"xar v0.2d, v1.2d, v2.2d, #0", 0xce820020},
    {"xar v0.2d, v1.2d, v2.2d, #13", 0xce823420},
    {"xar v0.2d, v1.2d, v2.2d, #63", 0xce82fc20},
    {"pmull v0.8h, v1.8b, v2.8b", 0x0e22e020},
    {"pmull2 v0.8h, v1.16b, v2.16b", 0x4e22e020},
    {"pmull v0.1q, v1.1d, v2.1d", 0x0ee2e020},
    {"pmull2 v0.1q, v1.2d, v2.2d", 0x4ee2e020},
    {"pmul v0.8b, v1.8b, v2.8b", 0x2e229c20},
    {"pmul v0.16b, v1.16b, v2.16b", 0x6e229c20},
    {"aese v1.16b, v1.16b", 0x4e284821},
    {"sha256h q1, q1, v1.4s", 0x5e014021},
    {"sha512h q2, q2, v2.2d", 0xce628042},
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

V128 v128(uint64_t lo, uint64_t hi) {
  return {lo, hi};
}

// FIPS-197 appendix B, round 1: the state after the first AddRoundKey, after SubBytes and
// ShiftRows, and after MixColumns (bytes in order, so byte 0 is the low byte of lo).
const V128 kStart = v128(0x2be2f4a0bee33d19ull, 0x0848f8e92a8dc69aull);
const V128 kShifted = v128(0xae52b4e0305dbfd4ull, 0xe598271ef11141b8ull);
const V128 kMixed = v128(0x9a19cbe0e5816604ull, 0x4c2606287ad3f848ull);

TEST(Arm64Crypto, AesRoundMatchesFips197) {
  using crypto_sw::compute;
  EXPECT_EQ(compute({CryptoOp::Aese}, kStart, {}, {}, {}), kShifted);
  EXPECT_EQ(compute({CryptoOp::Aesmc}, {}, kShifted, {}, {}), kMixed);
  EXPECT_EQ(compute({CryptoOp::Aesimc}, {}, kMixed, {}, {}), kShifted);
  EXPECT_EQ(compute({CryptoOp::Aesd}, kShifted, {}, {}, {}), kStart);
  // The round key is XORed first: AESE(d, n) = AESE(d ^ n, 0).
  EXPECT_EQ(compute({CryptoOp::Aese}, v128(1, 2), v128(kStart.lo ^ 1, kStart.hi ^ 2), {}, {}),
            kShifted);
}

TEST(Arm64Crypto, Pmull64IsCarrylessMultiplication) {
  V128 r = crypto_sw::compute({CryptoOp::Pmull64}, {}, v128(0x8000000000000001ull, 0),
                              v128(0x8000000000000003ull, 0), {});
  // (x^63 + 1)(x^63 + x + 1) = x^126 + x^64 + x^63 + x^63 + x + 1
  EXPECT_EQ(r, v128(0x3, 0x4000000000000001ull));
}

using CryptoTest = Arm64Test;

TEST_P(CryptoTest, MatchesUnicornMax) {
  m->set_model(*find_cpu_model("max"));
  UnicornRef uc(UC_CPU_ARM64_MAX);
  ASSERT_TRUE(uc.ok());
  unsigned runs = 0;
  for (const CryptoCase& c : kCases) {
    SCOPED_TRACE(c.text);
    m->load({c.insn});
    uc.load({c.insn});
    Rng rng{0x243f6a8885a308d3ull ^ c.insn};
    for (unsigned k = 0; k < 48; ++k) {
      Inputs in;
      for (VReg& v : in.v) v.d[0] = rng.next(), v.d[1] = rng.next();
      if (std::string diff = compare_with_unicorn(*m, uc, in); !diff.empty()) {
        ADD_FAILURE() << diff;
        break;
      }
      ++runs;
    }
  }
  EXPECT_EQ(runs, 48 * std::size(kCases));
}

// SHA512 and SHA3 are not in the Cortex-A57: UNDEFINED there; AES, SHA1, SHA256 and PMULL are.
TEST_P(CryptoTest, CortexA57HasTheArmv80CryptoExtensionOnly) {
  m->set_model(*find_cpu_model("cortex-a57"));
  for (uint32_t insn : {0x4e284820u, 0x5e020020u, 0x5e024020u, 0x0ee2e020u}) {
    SCOPED_TRACE(insn);
    run_ok({insn});
  }
  for (uint32_t insn : {0xce628020u, 0xce020c20u, 0xce823420u, 0xcec08020u}) {
    SCOPED_TRACE(insn);
    m->load({insn});
    expect_exception(kVecCurrentSpxSync, 0);
  }
}

ORRERY_ARM64_TIERS(CryptoTest);

}  // namespace
}  // namespace orrery::cpu::arm64::test
