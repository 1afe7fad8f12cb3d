// SSE floating point as IR vector values (the FP rows of tcg/ir/vec_ops.inc). The rows are
// defined under MXCSR = 0x1f80, so they are used only in blocks translated with exactly that
// control word (tb_flags::kMxcsrDefault; LDMXCSR, FXRSTOR and XRSTOR end their block). Then no
// exception is unmasked, so none can fault, and the host's instruction under the same control
// bits gives silicon's result. The sticky status flags stay exact: each operation's raised
// flags (the row's kVecFpFlags form) are ORed into the guest MXCSR. Other control words keep
// the helper (kHelperSseOp), which runs the host instruction under the guest's MXCSR.
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

}  // namespace

std::optional<VecOp> sse_fp_vec_op(const TranslateContext& t) {
  if (!(t.tb_flags() & tb_flags::kMxcsrDefault)) return std::nullopt;
  const ZydisMnemonic m = t.mnemonic();
  for (const FpForm& f : kFpForms)
    if (f.m == m) return f.op;
  return std::nullopt;
}

void emit_sse_fp_vec(TranslateContext& t, VecOp op, unsigned dst, Value b, unsigned imm) {
  auto& e = t.e();
  const unsigned pred = imm & 7;  // CMPxx: legacy SSE reads only bits 2:0 of the predicate
  Value a = e.get_reg(Type::I128, ymm_offset(dst));
  Value r = e.vec_fp(op, a, b, pred);
  Value raised = e.vec_fp(op, a, b, pred | tcg::ir::kVecFpFlags);
  constexpr uint32_t kMxcsr = offsetof(X86State, mxcsr);
  Value flags = e.trunc(Type::I32, e.vec_lane(raised, 0));
  e.set_reg(kMxcsr, e.or_(e.get_reg(Type::I32, kMxcsr), flags));
  e.set_reg(ymm_offset(dst), r);
}

}  // namespace orrery::cpu::x86
