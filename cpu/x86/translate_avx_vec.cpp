// The VEX.128 and VEX.256 forms of the SSE2 integer and bitwise operations that have an IR vector
// operation (kVecForms in translate_sse.cpp: VPADD*, VPCMPEQ*, VPUNPCK*, VPSHUFD, shifts by an
// immediate ...), and VEX register-to-register moves, as I128/I256 IR values instead of
// kHelperAvxOp calls. The 256-bit IR ops work on each 128-bit half on their own, which is AVX2's
// rule for all of these (unpack, shuffle and byte shifts never cross the halves). A VEX.128
// result zeroes bits 255:128 of its register. A memory source is one VecLoad of its width.
#include "cpu/x86/simd_helpers.h"
#include "cpu/x86/translators.h"

namespace orrery::cpu::x86 {

using tcg::ir::Type;
using tcg::ir::Value;
using tcg::ir::VecOp;

bool avx_is_vreg(const TranslateContext& t, unsigned i) {
  if (!t.is_reg(i)) return false;
  const ZydisRegister r = t.op(i).reg.value;
  return (r >= ZYDIS_REGISTER_XMM0 && r <= ZYDIS_REGISTER_XMM15) ||
         (r >= ZYDIS_REGISTER_YMM0 && r <= ZYDIS_REGISTER_YMM15);
}
unsigned avx_vreg_num(const TranslateContext& t, unsigned i) {
  const ZydisRegister r = t.op(i).reg.value;
  return r >= ZYDIS_REGISTER_YMM0 ? unsigned(r - ZYDIS_REGISTER_YMM0)
                                  : unsigned(r - ZYDIS_REGISTER_XMM0);
}

Value avx_vec_source(TranslateContext& t, unsigned i, unsigned bits) {
  auto& e = t.e();
  const Type vt = bits == 256 ? Type::I256 : Type::I128;
  if (avx_is_vreg(t, i)) return e.get_reg(vt, ymm_offset(avx_vreg_num(t, i)));
  return vex_vec_load(t, i);
}

void avx_set_vec(TranslateContext& t, unsigned r, Value v) {
  auto& e = t.e();
  e.set_reg(ymm_offset(r), v);
  if (e.type_of(v) == Type::I128) {
    e.set_reg(ymm_offset(r, 2), e.c64(0));
    e.set_reg(ymm_offset(r, 3), e.c64(0));
  }
}

bool try_avx_vec_op(TranslateContext& t) {
  VecOp op;
  if (!sse_vec_form(legacy_mnemonic(t.mnemonic()), op)) return false;
  const unsigned bits = t.insn().avx.vector_length;
  if (bits != 128 && bits != 256) return false;
  unsigned ops[3], n = 0;
  bool has_imm = false;
  unsigned imm = 0;
  for (unsigned i = 0; i < t.num_visible_ops(); ++i) {
    if (t.is_imm(i)) {
      has_imm = true;
      imm = unsigned(t.op(i).imm.value.u & 0xff);
    } else if (n < 3) {
      ops[n++] = i;
    } else {
      return false;
    }
  }
  // Binary: dst, src1 (VEX.vvvv), src2 (r/m). Immediate forms (VPSHUFD, VPSLLW ... by imm8):
  // dst, src (r/m), imm8; shifts by an XMM count stay helpers.
  const bool unary = tcg::ir::vec_op_info(op).arity == 1;
  if (unary ? (n != 2 || !has_imm) : (n != 3 || has_imm)) return false;
  if (!avx_is_vreg(t, ops[0]) || !avx_is_vreg(t, ops[1]) ||
      (!unary && t.is_reg(ops[2]) && !avx_is_vreg(t, ops[2])))
    return false;
  for (unsigned k = 1; k < n; ++k)  // a memory source is one full-width vector load
    if (t.is_mem(ops[k]) && t.op(ops[k]).size != bits) return false;
  auto& e = t.e();
  Value a = avx_vec_source(t, ops[1], bits);
  Value r = unary ? e.vec_op(op, a, imm) : e.vec_op(op, a, avx_vec_source(t, ops[2], bits));
  avx_set_vec(t, avx_vreg_num(t, ops[0]), r);
  return true;
}

void avx_vec_move(TranslateContext& t, unsigned dst, unsigned src, unsigned bits) {
  avx_set_vec(t, dst, t.e().get_reg(bits == 256 ? Type::I256 : Type::I128, ymm_offset(src)));
}

}  // namespace orrery::cpu::x86
