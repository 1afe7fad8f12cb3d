// The 256-bit vector ops (I256: every op of tcg/ir/vec_ops.inc on each 128-bit half) on the LLVM
// and baseline tiers (AVX2, and the baseline's two-SSE2-halves fallback) and the interpreter,
// against the host's own AVX2 instructions (intrinsics) as the oracle.
#include <immintrin.h>

#include <random>

#include "llvm_test_util.h"
#include "tcg/interp/interp.h"
#include "tcg/ir/vec_eval.h"
#include "vec_host.h"

namespace orrery::tcg::llvm::test {
namespace {

using ir::Vec128;
using ir::Vec256;
using ir::VecOp;

bool host_avx2() {
  return __builtin_cpu_supports("avx2");
}

__attribute__((target("avx2"))) __m256i to_m(const Vec256& v) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(&v));
}
__attribute__((target("avx2"))) Vec256 from_m(__m256i m) {
  Vec256 v;
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(&v), m);
  return v;
}

/// What the host CPU's AVX2 instruction computes for op (independent of ir::eval_vec). The
/// immediate-controlled shuffles need a constant control, so those pick lanes one by one.
__attribute__((target("avx2"))) Vec256 oracle(VecOp op, const Vec256& va, const Vec256& vb,
                                              unsigned imm) {
  const __m256i a = to_m(va), b = to_m(vb);
  const __m128i n = _mm_cvtsi32_si128(int(imm));
  switch (op) {
    case VecOp::And:
      return from_m(_mm256_and_si256(a, b));
    case VecOp::Or:
      return from_m(_mm256_or_si256(a, b));
    case VecOp::Xor:
      return from_m(_mm256_xor_si256(a, b));
    case VecOp::Andn:
      return from_m(_mm256_andnot_si256(a, b));
    case VecOp::AddB:
      return from_m(_mm256_add_epi8(a, b));
    case VecOp::AddW:
      return from_m(_mm256_add_epi16(a, b));
    case VecOp::AddD:
      return from_m(_mm256_add_epi32(a, b));
    case VecOp::AddQ:
      return from_m(_mm256_add_epi64(a, b));
    case VecOp::SubB:
      return from_m(_mm256_sub_epi8(a, b));
    case VecOp::SubW:
      return from_m(_mm256_sub_epi16(a, b));
    case VecOp::SubD:
      return from_m(_mm256_sub_epi32(a, b));
    case VecOp::SubQ:
      return from_m(_mm256_sub_epi64(a, b));
    case VecOp::CmpEqB:
      return from_m(_mm256_cmpeq_epi8(a, b));
    case VecOp::CmpEqW:
      return from_m(_mm256_cmpeq_epi16(a, b));
    case VecOp::CmpEqD:
      return from_m(_mm256_cmpeq_epi32(a, b));
    case VecOp::CmpGtB:
      return from_m(_mm256_cmpgt_epi8(a, b));
    case VecOp::CmpGtW:
      return from_m(_mm256_cmpgt_epi16(a, b));
    case VecOp::CmpGtD:
      return from_m(_mm256_cmpgt_epi32(a, b));
    case VecOp::MinUB:
      return from_m(_mm256_min_epu8(a, b));
    case VecOp::MaxUB:
      return from_m(_mm256_max_epu8(a, b));
    case VecOp::MinSW:
      return from_m(_mm256_min_epi16(a, b));
    case VecOp::MaxSW:
      return from_m(_mm256_max_epi16(a, b));
    case VecOp::MulLoW:
      return from_m(_mm256_mullo_epi16(a, b));
    case VecOp::MulUDQ:
      return from_m(_mm256_mul_epu32(a, b));
    case VecOp::UnpackLoB:
      return from_m(_mm256_unpacklo_epi8(a, b));
    case VecOp::UnpackLoW:
      return from_m(_mm256_unpacklo_epi16(a, b));
    case VecOp::UnpackLoD:
      return from_m(_mm256_unpacklo_epi32(a, b));
    case VecOp::UnpackLoQ:
      return from_m(_mm256_unpacklo_epi64(a, b));
    case VecOp::UnpackHiB:
      return from_m(_mm256_unpackhi_epi8(a, b));
    case VecOp::UnpackHiW:
      return from_m(_mm256_unpackhi_epi16(a, b));
    case VecOp::UnpackHiD:
      return from_m(_mm256_unpackhi_epi32(a, b));
    case VecOp::UnpackHiQ:
      return from_m(_mm256_unpackhi_epi64(a, b));
    case VecOp::ShufD: {
      uint32_t d[8], r[8];
      std::memcpy(d, &va, 32);
      for (unsigned i = 0; i < 8; ++i) r[i] = d[(i & 4) + ((imm >> 2 * (i & 3)) & 3)];
      Vec256 v;
      std::memcpy(&v, r, 32);
      return v;
    }
    case VecOp::ShlW:
      return from_m(_mm256_sll_epi16(a, n));
    case VecOp::ShlD:
      return from_m(_mm256_sll_epi32(a, n));
    case VecOp::ShlQ:
      return from_m(_mm256_sll_epi64(a, n));
    case VecOp::ShrW:
      return from_m(_mm256_srl_epi16(a, n));
    case VecOp::ShrD:
      return from_m(_mm256_srl_epi32(a, n));
    case VecOp::ShrQ:
      return from_m(_mm256_srl_epi64(a, n));
    case VecOp::SarW:
      return from_m(_mm256_sra_epi16(a, n));
    case VecOp::SarD:
      return from_m(_mm256_sra_epi32(a, n));
    case VecOp::ShlBytes:
    case VecOp::ShrBytes: {  // each half as a 128-bit integer shifted by 8 * imm bits
      Vec256 v{};
      const unsigned bits = imm >= 16 ? 128 : imm * 8;
      for (unsigned h = 0; h < 2; ++h) {
        const unsigned __int128 x = (unsigned __int128)va.h[h].q[1] << 64 | va.h[h].q[0];
        const unsigned __int128 r = bits >= 128 ? 0 : op == VecOp::ShlBytes ? x << bits : x >> bits;
        v.h[h] = Vec128{uint64_t(r), uint64_t(r >> 64)};
      }
      return v;
    }
    default:  // the float ops and Count_: this oracle covers the integer ones
      break;
  }
  return Vec256{};
}

/// Runs once per backend, and for the baseline also with its SSE2 fallback.
struct Vec256Case {
  Backend backend;
  bool avx2;
};
std::string case_name(const ::testing::TestParamInfo<Vec256Case>& i) {
  return i.param.backend == Backend::Llvm ? "Llvm" : i.param.avx2 ? "BaselineAvx2" : "BaselineSse2";
}

class Vec256Test : public LlvmTest, public ::testing::WithParamInterface<Vec256Case> {
 protected:
  Backend backend() const override { return GetParam().backend; }
  void SetUp() override {
    if (!host_avx2()) GTEST_SKIP() << "the host has no AVX2 (the oracle)";
    LlvmTest::SetUp();
    baseline_avx2_ = GetParam().avx2;
  }

  /// A block: r0..3 = op(r4..7, r8..11 or imm); r12..13 = half 1 of the result; r14..17 = the
  /// I256 built from halves r18..19 and r20..21 (VecConcat).
  std::unique_ptr<exec::TranslationBlock> block(VecOp op, unsigned imm) {
    auto tb = new_tb();
    Emitter e(tb->ir);
    Value a = e.get_reg(Type::I256, reg(4));
    Value r = ir::vec_op_info(op).arity == 2 ? e.vec_op(op, a, e.get_reg(Type::I256, reg(8)))
                                             : e.vec_op(op, a, imm);
    e.set_reg(reg(0), r);
    e.set_reg(reg(12), e.vec_half(r, 1));
    e.set_reg(reg(14),
              e.vec_concat(e.get_reg(Type::I128, reg(18)), e.get_reg(Type::I128, reg(20))));
    e.jump(0x2000);
    return tb;
  }

  void check(VecOp op, unsigned imm, const std::vector<std::pair<Vec256, Vec256>>& inputs) {
    auto tb = block(op, imm);
    const Tiers tiers = both_tiers(*tb);
    ASSERT_NE(tiers.fn, nullptr);
    const char* name = ir::vec_op_info(op).name;
    for (const auto& [a, b] : inputs) {
      const Vec256 want = oracle(op, a, b, imm);
      ASSERT_EQ(ir::eval_vec(op, a, b, imm), want) << "eval_vec " << name << " imm " << imm;
      for (int tier = 0; tier < kBothTiers; ++tier) {
        std::memcpy(&cpu_->r[4], &a, 32);
        std::memcpy(&cpu_->r[8], &b, 32);
        std::memcpy(&cpu_->r[18], &b, 32);  // halves b.h[0], b.h[1] -> r14..17 == b
        EXPECT_EQ(run_tier(tiers, tier), exec::kRetNext);
        const char* who = tier_name(tier);
        Vec256 got, cat;
        std::memcpy(&got, &cpu_->r[0], 32);
        std::memcpy(&cat, &cpu_->r[14], 32);
        ASSERT_EQ(got, want) << who << " " << name << " imm " << imm;
        ASSERT_EQ(cpu_->r[12], want.h[1].q[0]) << who << " " << name;
        ASSERT_EQ(cpu_->r[13], want.h[1].q[1]) << who << " " << name;
        ASSERT_EQ(cat, b) << who;
      }
    }
  }
};

TEST_P(Vec256Test, EveryOpMatchesTheHostAvx2) {
  std::mt19937_64 rng(11);
  for (unsigned o = 0; o < ir::kNumVecOps; ++o) {
    const auto op = VecOp(o);
    if (ir::is_fp_vec_op(op)) continue;  // 128-bit only (vec_fp_test.cpp)
    for (unsigned imm : vec_imms(op)) {
      std::vector<std::pair<Vec256, Vec256>> in;
      for (int k = 0; k < 8; ++k) {
        Vec256 a, b;
        for (unsigned h = 0; h < 2; ++h) a.h[h] = {rng(), rng()}, b.h[h] = {rng(), rng()};
        if (k < 6)
          a.h[k & 1].q[k >> 1 & 1] = kVecEdges[k], b.h[(k + 1) & 1].q[k & 1] = kVecEdges[5 - k];
        if (k == 6) b = a;            // equal lanes for the compares
        if (k == 7) b.h[1] = a.h[1];  // equal only in the upper half
        in.push_back({a, b});
      }
      check(op, imm, in);
      if (HasFatalFailure()) return;
    }
  }
}

TEST_P(Vec256Test, EveryShuffleControlStaysInItsHalf) {
  std::mt19937_64 rng(13);
  for (unsigned imm = 0; imm < 256; imm += 5) {
    Vec256 a{{{rng(), rng()}, {rng(), rng()}}};
    check(VecOp::ShufD, imm, {{a, Vec256{}}});
    if (HasFatalFailure()) return;
  }
}

// I256 and I128/I64 accesses to one register in a block agree: the state's bytes are the one
// truth, whatever the widths (a VEX.128 write then a VEX.256 read, and the reverse).
TEST_P(Vec256Test, MixedWidthAccessesToOneRegisterAgree) {
  auto tb = new_tb();
  Emitter e(tb->ir);
  for (unsigned q = 0; q < 4; ++q) e.set_reg(reg(4 + q), e.c64(0x1111 * (q + 1)));
  Value v = e.get_reg(Type::I256, reg(4));
  e.set_reg(reg(0), v);  // r0..3 = 0x1111, 0x2222, 0x3333, 0x4444
  e.set_reg(reg(4), e.vec_op(VecOp::AddQ, v, v));
  e.set_reg(reg(6), e.vec_build(e.c64(7), e.c64(8)));  // upper half of r4..7 as I128
  e.set_reg(reg(8), e.get_reg(Type::I256, reg(4)));    // r8..11 = 0x2222, 0x4444, 7, 8
  e.set_reg(reg(12), e.get_reg(Type::I64, reg(5)));
  e.jump(0x2000);
  const Tiers tiers = both_tiers(*tb);
  ASSERT_NE(tiers.fn, nullptr);
  for (int tier = 0; tier < kBothTiers; ++tier) {
    std::memset(cpu_->r, 0, 16 * 8);
    EXPECT_EQ(run_tier(tiers, tier), exec::kRetNext);
    const uint64_t want[] = {0x1111, 0x2222, 0x3333, 0x4444, 0x2222, 0x4444, 7,
                             8,      0x2222, 0x4444, 7,      8,      0x4444};
    for (unsigned k = 0; k < std::size(want); ++k)
      EXPECT_EQ(cpu_->r[k], want[k]) << tier_name(tier) << " r" << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, Vec256Test,
                         ::testing::Values(Vec256Case{Backend::Llvm, true},
                                           Vec256Case{Backend::Baseline, true},
                                           Vec256Case{Backend::Baseline, false}),
                         case_name);

}  // namespace
}  // namespace orrery::tcg::llvm::test
