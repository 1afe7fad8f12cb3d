// The 128-bit vector ops (tcg/ir/vec_ops.inc) on the LLVM and baseline tiers and the
// interpreter, against the host's own SSE2 instructions (intrinsics) as the oracle: random and
// edge lanes, every shift count 0..255 and every shuffle control.
#include <random>

#include "llvm_test_util.h"
#include "tcg/ir/vec_eval.h"
#include "vec_host.h"

namespace orrery::tcg::llvm::test {
namespace {

using ir::Vec128;
using ir::VecOp;

/// What the host CPU computes for op (independent of ir::eval_vec).
Vec128 oracle(VecOp op, const Vec128& va, const Vec128& vb, unsigned imm) {
  const __m128i a = to_m(va), b = to_m(vb), n = _mm_cvtsi32_si128(int(imm));
  switch (op) {
    case VecOp::And:
      return from_m(_mm_and_si128(a, b));
    case VecOp::Or:
      return from_m(_mm_or_si128(a, b));
    case VecOp::Xor:
      return from_m(_mm_xor_si128(a, b));
    case VecOp::Andn:
      return from_m(_mm_andnot_si128(a, b));
    case VecOp::AddB:
      return from_m(_mm_add_epi8(a, b));
    case VecOp::AddW:
      return from_m(_mm_add_epi16(a, b));
    case VecOp::AddD:
      return from_m(_mm_add_epi32(a, b));
    case VecOp::AddQ:
      return from_m(_mm_add_epi64(a, b));
    case VecOp::SubB:
      return from_m(_mm_sub_epi8(a, b));
    case VecOp::SubW:
      return from_m(_mm_sub_epi16(a, b));
    case VecOp::SubD:
      return from_m(_mm_sub_epi32(a, b));
    case VecOp::SubQ:
      return from_m(_mm_sub_epi64(a, b));
    case VecOp::CmpEqB:
      return from_m(_mm_cmpeq_epi8(a, b));
    case VecOp::CmpEqW:
      return from_m(_mm_cmpeq_epi16(a, b));
    case VecOp::CmpEqD:
      return from_m(_mm_cmpeq_epi32(a, b));
    case VecOp::CmpGtB:
      return from_m(_mm_cmpgt_epi8(a, b));
    case VecOp::CmpGtW:
      return from_m(_mm_cmpgt_epi16(a, b));
    case VecOp::CmpGtD:
      return from_m(_mm_cmpgt_epi32(a, b));
    case VecOp::MinUB:
      return from_m(_mm_min_epu8(a, b));
    case VecOp::MaxUB:
      return from_m(_mm_max_epu8(a, b));
    case VecOp::MinSW:
      return from_m(_mm_min_epi16(a, b));
    case VecOp::MaxSW:
      return from_m(_mm_max_epi16(a, b));
    case VecOp::MulLoW:
      return from_m(_mm_mullo_epi16(a, b));
    case VecOp::MulUDQ:
      return from_m(_mm_mul_epu32(a, b));
    case VecOp::UnpackLoB:
      return from_m(_mm_unpacklo_epi8(a, b));
    case VecOp::UnpackLoW:
      return from_m(_mm_unpacklo_epi16(a, b));
    case VecOp::UnpackLoD:
      return from_m(_mm_unpacklo_epi32(a, b));
    case VecOp::UnpackLoQ:
      return from_m(_mm_unpacklo_epi64(a, b));
    case VecOp::UnpackHiB:
      return from_m(_mm_unpackhi_epi8(a, b));
    case VecOp::UnpackHiW:
      return from_m(_mm_unpackhi_epi16(a, b));
    case VecOp::UnpackHiD:
      return from_m(_mm_unpackhi_epi32(a, b));
    case VecOp::UnpackHiQ:
      return from_m(_mm_unpackhi_epi64(a, b));
    case VecOp::ShufD: {  // the control must be a constant: pick dwords one by one
      uint32_t d[4], r[4];
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d), a);
      for (unsigned i = 0; i < 4; ++i) r[i] = d[(imm >> 2 * i) & 3];
      return from_m(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r)));
    }
    case VecOp::ShlW:
      return from_m(_mm_sll_epi16(a, n));
    case VecOp::ShlD:
      return from_m(_mm_sll_epi32(a, n));
    case VecOp::ShlQ:
      return from_m(_mm_sll_epi64(a, n));
    case VecOp::ShrW:
      return from_m(_mm_srl_epi16(a, n));
    case VecOp::ShrD:
      return from_m(_mm_srl_epi32(a, n));
    case VecOp::ShrQ:
      return from_m(_mm_srl_epi64(a, n));
    case VecOp::SarW:
      return from_m(_mm_sra_epi16(a, n));
    case VecOp::SarD:
      return from_m(_mm_sra_epi32(a, n));
    case VecOp::ShlBytes:
    case VecOp::ShrBytes: {  // as PSLLQ/PSRLQ by 8 * imm on the 128-bit value
      const unsigned bits = imm >= 16 ? 128 : imm * 8;
      const unsigned __int128 x = (unsigned __int128)va.q[1] << 64 | va.q[0];
      const unsigned __int128 r = bits >= 128 ? 0 : op == VecOp::ShlBytes ? x << bits : x >> bits;
      return Vec128{uint64_t(r), uint64_t(r >> 64)};
    }
    default:  // Count_; the FP rows are vec_fp_test.cpp's
      break;
  }
  return Vec128{};
}

class VecTest : public BothBackends {
 protected:
  /// A block: r0..1 = op(r2..3, r4..5 or imm); r6 = quadword 1 of the result; r8..9 = a built
  /// from r10, r11.
  std::unique_ptr<exec::TranslationBlock> block(VecOp op, unsigned imm) {
    auto tb = new_tb();
    Emitter e(tb->ir);
    Value a = e.get_reg(Type::I128, reg(2));
    Value r = ir::vec_op_info(op).arity == 2 ? e.vec_op(op, a, e.get_reg(Type::I128, reg(4)))
                                             : e.vec_op(op, a, imm);
    e.set_reg(reg(0), r);
    e.set_reg(reg(6), e.vec_lane(r, 1));
    e.set_reg(reg(8), e.vec_build(e.get_reg(Type::I64, reg(10)), e.get_reg(Type::I64, reg(11))));
    e.jump(0x2000);
    return tb;
  }

  /// Compiles op once and runs it on every input pair.
  void check(VecOp op, unsigned imm, const std::vector<std::pair<Vec128, Vec128>>& inputs) {
    auto tb = block(op, imm);
    const Tiers tiers = both_tiers(*tb);
    ASSERT_NE(tiers.fn, nullptr);
    for (const auto& [a, b] : inputs) {
      check_one(tiers, op, imm, a, b);
      if (HasFatalFailure()) return;
    }
  }
  void check_one(const Tiers& tiers, VecOp op, unsigned imm, const Vec128& a, const Vec128& b) {
    const Vec128 want = oracle(op, a, b, imm);
    ASSERT_EQ(ir::eval_vec(op, a, b, imm), want) << ir::vec_op_info(op).name << " imm " << imm;
    for (int tier = 0; tier < kBothTiers; ++tier) {
      cpu_->r[2] = a.q[0], cpu_->r[3] = a.q[1], cpu_->r[4] = b.q[0], cpu_->r[5] = b.q[1];
      cpu_->r[10] = a.q[1], cpu_->r[11] = b.q[0];
      EXPECT_EQ(run_tier(tiers, tier), exec::kRetNext);
      const char* who = tier_name(tier);
      ASSERT_EQ(cpu_->r[0], want.q[0]) << who << " " << ir::vec_op_info(op).name << " imm " << imm;
      ASSERT_EQ(cpu_->r[1], want.q[1]) << who << " " << ir::vec_op_info(op).name << " imm " << imm;
      ASSERT_EQ(cpu_->r[6], want.q[1]) << who;
      ASSERT_EQ(cpu_->r[8], a.q[1]) << who;
      ASSERT_EQ(cpu_->r[9], b.q[0]) << who;
    }
  }
};

TEST_P(VecTest, EveryOpMatchesTheHostSse2) {
  std::mt19937_64 rng(7);
  for (unsigned o = 0; o < ir::kNumVecOps; ++o) {
    const auto op = VecOp(o);
    if (ir::is_fp_vec_op(op)) continue;  // vec_fp_test.cpp
    for (unsigned imm : vec_imms(op)) {
      std::vector<std::pair<Vec128, Vec128>> in;
      for (int k = 0; k < 8; ++k) {
        Vec128 a{rng(), rng()}, b{rng(), rng()};
        if (k < 6) a.q[k & 1] = kVecEdges[k], b.q[(k + 1) & 1] = kVecEdges[5 - k];
        if (k == 6) b = a;  // equal lanes for the compares
        in.push_back({a, b});
      }
      check(op, imm, in);
      if (HasFatalFailure()) return;
    }
  }
}

TEST_P(VecTest, EveryShuffleControl) {
  std::mt19937_64 rng(9);
  for (unsigned imm = 0; imm < 256; imm += 7) {
    check(VecOp::ShufD, imm, {{Vec128{rng(), rng()}, Vec128{}}});
    if (HasFatalFailure()) return;
  }
}

// A register read as a vector after quadword writes, and quadwords read after a vector write,
// in one block: the state's bytes are the one truth (no stale forwarding between widths).
TEST_P(VecTest, VectorAndQuadwordAccessesToOneRegisterAgree) {
  auto tb = new_tb();
  Emitter e(tb->ir);
  e.set_reg(reg(2), e.c64(0x1111));
  e.set_reg(reg(3), e.c64(0x2222));
  Value v = e.get_reg(Type::I128, reg(2));
  e.set_reg(reg(0), v);
  e.set_reg(reg(2), e.vec_op(VecOp::AddQ, v, v));
  e.set_reg(reg(6), e.get_reg(Type::I64, reg(3)));
  e.jump(0x2000);
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  EXPECT_EQ(run(fn), exec::kRetNext);
  EXPECT_EQ(cpu_->r[0], 0x1111u);
  EXPECT_EQ(cpu_->r[1], 0x2222u);
  EXPECT_EQ(cpu_->r[2], 0x2222u);
  EXPECT_EQ(cpu_->r[6], 0x4444u);
}

INSTANTIATE_TEST_SUITE_P(Backends, VecTest, ::testing::Values(Backend::Llvm, Backend::Baseline),
                         backend_name);

}  // namespace
}  // namespace orrery::tcg::llvm::test
