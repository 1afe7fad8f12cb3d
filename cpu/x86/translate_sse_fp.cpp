// SSE floating point as IR vector values (the FP rows of tcg/ir/vec_ops.inc). The rows are
// defined under MXCSR = 0x1f80, so they are used only in blocks translated with exactly that
// control word (tb_flags::kMxcsrDefault; LDMXCSR, FXRSTOR and XRSTOR end their block). Then no
// exception is unmasked, so none can fault, and the host's instruction under the same control
// bits gives silicon's result. The sticky status flags stay exact: each operation's raised
// flags (the row's kVecFpFlags form) are ORed into the guest MXCSR. Other control words keep
// the helper (kHelperSseOp), which runs the host instruction under the guest's MXCSR.
#include "cpu/x86/simd_helpers.h"
#include "cpu/x86/translators.h"

namespace orrery::cpu::x86 {

using tcg::ir::Type;
using tcg::ir::Value;
using tcg::ir::VecOp;

namespace {

struct FpForm {
  ZydisMnemonic m;
  VecOp op;
};
constexpr FpForm kFpForms[] = {
    {ZYDIS_MNEMONIC_ADDPS, VecOp::AddPS},         {ZYDIS_MNEMONIC_ADDPD, VecOp::AddPD},
    {ZYDIS_MNEMONIC_ADDSS, VecOp::AddSS},         {ZYDIS_MNEMONIC_ADDSD, VecOp::AddSD},
    {ZYDIS_MNEMONIC_SUBPS, VecOp::SubPS},         {ZYDIS_MNEMONIC_SUBPD, VecOp::SubPD},
    {ZYDIS_MNEMONIC_SUBSS, VecOp::SubSS},         {ZYDIS_MNEMONIC_SUBSD, VecOp::SubSD},
    {ZYDIS_MNEMONIC_MULPS, VecOp::MulPS},         {ZYDIS_MNEMONIC_MULPD, VecOp::MulPD},
    {ZYDIS_MNEMONIC_MULSS, VecOp::MulSS},         {ZYDIS_MNEMONIC_MULSD, VecOp::MulSD},
    {ZYDIS_MNEMONIC_DIVPS, VecOp::DivPS},         {ZYDIS_MNEMONIC_DIVPD, VecOp::DivPD},
    {ZYDIS_MNEMONIC_DIVSS, VecOp::DivSS},         {ZYDIS_MNEMONIC_DIVSD, VecOp::DivSD},
    {ZYDIS_MNEMONIC_MINPS, VecOp::MinPS},         {ZYDIS_MNEMONIC_MINPD, VecOp::MinPD},
    {ZYDIS_MNEMONIC_MINSS, VecOp::MinSS},         {ZYDIS_MNEMONIC_MINSD, VecOp::MinSD},
    {ZYDIS_MNEMONIC_MAXPS, VecOp::MaxPS},         {ZYDIS_MNEMONIC_MAXPD, VecOp::MaxPD},
    {ZYDIS_MNEMONIC_MAXSS, VecOp::MaxSS},         {ZYDIS_MNEMONIC_MAXSD, VecOp::MaxSD},
    {ZYDIS_MNEMONIC_SQRTPS, VecOp::SqrtPS},       {ZYDIS_MNEMONIC_SQRTPD, VecOp::SqrtPD},
    {ZYDIS_MNEMONIC_SQRTSS, VecOp::SqrtSS},       {ZYDIS_MNEMONIC_SQRTSD, VecOp::SqrtSD},
    {ZYDIS_MNEMONIC_CMPPS, VecOp::CmpPS},         {ZYDIS_MNEMONIC_CMPPD, VecOp::CmpPD},
    {ZYDIS_MNEMONIC_CMPSS, VecOp::CmpSS},         {ZYDIS_MNEMONIC_CMPSD, VecOp::CmpSD},
    {ZYDIS_MNEMONIC_CVTDQ2PS, VecOp::CvtDQ2PS},   {ZYDIS_MNEMONIC_CVTPS2DQ, VecOp::CvtPS2DQ},
    {ZYDIS_MNEMONIC_CVTTPS2DQ, VecOp::CvtTPS2DQ}, {ZYDIS_MNEMONIC_CVTPS2PD, VecOp::CvtPS2PD},
    {ZYDIS_MNEMONIC_CVTPD2PS, VecOp::CvtPD2PS},   {ZYDIS_MNEMONIC_CVTSS2SD, VecOp::CvtSS2SD},
    {ZYDIS_MNEMONIC_CVTSD2SS, VecOp::CvtSD2SS},   {ZYDIS_MNEMONIC_CVTDQ2PD, VecOp::CvtDQ2PD},
    {ZYDIS_MNEMONIC_CVTPD2DQ, VecOp::CvtPD2DQ},   {ZYDIS_MNEMONIC_CVTTPD2DQ, VecOp::CvtTPD2DQ},
};

/// The row of a legacy mnemonic (a VEX one through legacy_mnemonic); `int_bits` is the integer
/// operand's width for the conversions with a GPR side (32 or 64).
std::optional<VecOp> fp_row(unsigned m, unsigned int_bits) {
  const bool q = int_bits == 64;
  switch (m) {
    case ZYDIS_MNEMONIC_CVTSI2SS:
      return q ? VecOp::CvtSQ2SS : VecOp::CvtSI2SS;
    case ZYDIS_MNEMONIC_CVTSI2SD:
      return q ? VecOp::CvtSQ2SD : VecOp::CvtSI2SD;
    case ZYDIS_MNEMONIC_CVTSS2SI:
      return q ? VecOp::CvtSS2SQ : VecOp::CvtSS2SI;
    case ZYDIS_MNEMONIC_CVTTSS2SI:
      return q ? VecOp::CvtTSS2SQ : VecOp::CvtTSS2SI;
    case ZYDIS_MNEMONIC_CVTSD2SI:
      return q ? VecOp::CvtSD2SQ : VecOp::CvtSD2SI;
    case ZYDIS_MNEMONIC_CVTTSD2SI:
      return q ? VecOp::CvtTSD2SQ : VecOp::CvtTSD2SI;
    case ZYDIS_MNEMONIC_COMISS:
      return VecOp::ComiSS;
    case ZYDIS_MNEMONIC_UCOMISS:
      return VecOp::UcomiSS;
    case ZYDIS_MNEMONIC_COMISD:
      return VecOp::ComiSD;
    case ZYDIS_MNEMONIC_UCOMISD:
      return VecOp::UcomiSD;
    default:
      break;
  }
  for (const FpForm& f : kFpForms)
    if (unsigned(f.m) == m) return f.op;
  return std::nullopt;
}

bool is_comis(VecOp op) {
  return op >= VecOp::ComiSS && op <= VecOp::UcomiSD;
}
bool is_to_int(VecOp op) {
  return op >= VecOp::CvtSS2SI && op <= VecOp::CvtTSD2SQ;
}

/// Emits row op on a, b and ORs the flags it raises into `raised` (an I32 value).
Value row(TranslateContext& t, VecOp op, Value a, Value b, unsigned imm, Value& raised) {
  auto& e = t.e();
  Value f = e.trunc(Type::I32, e.vec_lane(e.vec_fp(op, a, b, imm | tcg::ir::kVecFpFlags), 0));
  raised = raised.valid() ? e.or_(raised, f) : f;
  return e.vec_fp(op, a, b, imm);
}

void or_mxcsr(TranslateContext& t, Value raised) {
  auto& e = t.e();
  constexpr uint32_t kMxcsr = offsetof(X86State, mxcsr);
  e.set_reg(kMxcsr, e.or_(e.get_reg(Type::I32, kMxcsr), raised));
}

/// VEX operand i as a vector value: I256 for a ymm register or 32-byte memory, else I128 (a
/// GPR or memory narrower than 16 bytes is zero-extended into quadword 0; only its own bytes
/// are accessed). Vector registers and 16- and 32-byte memory go through avx_vec_source.
Value vex_operand(TranslateContext& t, unsigned i) {
  auto& e = t.e();
  const unsigned bits = t.op(i).size;
  if (avx_is_vreg(t, i) || (t.is_mem(i) && bits >= 128)) return avx_vec_source(t, i, bits);
  Value v = t.is_mem(i) ? t.zext64(t.load(TranslateContext::type_of_bits(bits), t.addr_of(i)))
                        : t.zext64(t.get_reg(t.op(i).reg.value));
  return e.vec_build(v, e.c64(0));
}

Value half(TranslateContext& t, Value v, unsigned h) {
  return t.e().vec_half(v, h);
}

}  // namespace

std::optional<VecOp> sse_fp_vec_op(const TranslateContext& t) {
  if (!(t.tb_flags() & tb_flags::kMxcsrDefault)) return std::nullopt;
  const unsigned int_bits = t.num_visible_ops() > 1 && !t.is_imm(1) ? t.op(1).size : 0;
  const auto op = fp_row(t.mnemonic(), int_bits);
  if (op && is_to_int(*op)) return std::nullopt;  // tr_sse_gpr's (sse_fp_to_int)
  return op;
}

void emit_sse_fp_vec(TranslateContext& t, VecOp op, unsigned dst, Value b, unsigned imm) {
  auto& e = t.e();
  const unsigned pred = imm & 7;  // CMPxx: legacy SSE reads only bits 2:0 of the predicate
  Value raised;
  Value r = row(t, op, e.get_reg(Type::I128, ymm_offset(dst)), b, pred, raised);
  or_mxcsr(t, raised);
  if (is_comis(op)) {
    t.set_arith_flags(e.vec_lane(r, 0));  // ZF PF CF; OF SF AF clear
    return;
  }
  e.set_reg(ymm_offset(dst), r);
}

std::optional<VecOp> sse_fp_to_int_op(const TranslateContext& t) {
  if (!(t.tb_flags() & tb_flags::kMxcsrDefault)) return std::nullopt;
  const unsigned vex = legacy_mnemonic(t.mnemonic());
  const auto op = fp_row(vex ? vex : unsigned(t.mnemonic()), t.op(0).size);
  if (!op || !is_to_int(*op)) return std::nullopt;
  return op;
}

void emit_sse_fp_to_int(TranslateContext& t, VecOp op, Value src, unsigned dst_gpr) {
  auto& e = t.e();
  Value raised;
  Value r = row(t, op, src, src, 0, raised);
  or_mxcsr(t, raised);
  Value v = e.vec_lane(r, 0);
  t.set_gpr(dst_gpr, t.op(0).size == 64 ? v : e.trunc(Type::I32, v));
}

bool try_avx_fp_op(TranslateContext& t) {
  if (!(t.tb_flags() & tb_flags::kMxcsrDefault)) return false;
  unsigned ops[3], n = 0, imm = 0;
  for (unsigned i = 0; i < t.num_visible_ops(); ++i) {
    if (t.is_imm(i)) {
      imm = unsigned(t.op(i).imm.value.u & 0xff);
    } else if (n < 3) {
      ops[n++] = i;
    } else {
      return false;
    }
  }
  if (n < 2 || !avx_is_vreg(t, ops[0])) return false;
  const auto op = fp_row(legacy_mnemonic(t.mnemonic()), t.op(ops[n - 1]).size);
  if (!op || is_to_int(*op)) return false;
  auto& e = t.e();
  Value raised;
  if (is_comis(*op)) {  // VCOMISS xmm1, xmm2/m32: EFLAGS only
    if (n != 2) return false;
    Value r = row(t, *op, vex_operand(t, ops[0]), vex_operand(t, ops[1]), 0, raised);
    or_mxcsr(t, raised);
    t.set_arith_flags(e.vec_lane(r, 0));
    return true;
  }
  // dst, src1 (VEX.vvvv), src2 (r/m); the unary packed forms (VSQRTPS, VCVTDQ2PS ...) have no
  // src1, and their rows read only b.
  Value b = vex_operand(t, ops[n - 1]);
  Value a = n == 3 ? vex_operand(t, ops[1]) : b;
  const unsigned dst = avx_vreg_num(t, ops[0]);
  imm &= tcg::ir::kVecFpPredMask;
  const bool dst256 = t.op(ops[0]).size == 256;
  Value r;
  if (e.type_of(b) == Type::I128 && !dst256) {
    r = row(t, *op, e.type_of(a) == Type::I128 ? a : half(t, a, 0), b, imm, raised);
  } else if (dst256 && e.type_of(b) == Type::I256) {  // per 128-bit half (VADDPS ymm ...)
    if (e.type_of(a) != Type::I256) return false;
    Value lo = row(t, *op, half(t, a, 0), half(t, b, 0), imm, raised);
    Value hi = row(t, *op, half(t, a, 1), half(t, b, 1), imm, raised);
    r = e.vec_concat(lo, hi);
  } else if (dst256) {  // widening: VCVTPS2PD/VCVTDQ2PD ymm, xmm/m128
    Value hi_src = e.vec_build(e.vec_lane(b, 1), e.c64(0));
    Value lo = row(t, *op, b, b, imm, raised);
    Value hi = row(t, *op, hi_src, hi_src, imm, raised);
    r = e.vec_concat(lo, hi);
  } else {  // narrowing: VCVTPD2PS/VCVT(T)PD2DQ xmm, ymm/m256
    Value lo = row(t, *op, half(t, b, 0), half(t, b, 0), imm, raised);
    Value hi = row(t, *op, half(t, b, 1), half(t, b, 1), imm, raised);
    r = e.vec_build(e.vec_lane(lo, 0), e.vec_lane(hi, 0));
  }
  or_mxcsr(t, raised);
  avx_set_vec(t, dst, r);
  return true;
}

}  // namespace orrery::cpu::x86
