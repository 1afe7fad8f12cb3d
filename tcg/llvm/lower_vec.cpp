// Lowering of the vector ops (tcg/ir/vec_ops.inc) to LLVM vector IR. I128 values are
// <2 x i64> and I256 values <4 x i64>; each op bitcasts to its lane shape, so the x86 backend
// picks the SSE2 or AVX2 instruction (and keeps vectors in XMM/YMM registers across a block).
// At 256 bits the shuffles (unpack, PSHUFD, byte shifts) stay within each 128-bit half, as
// AVX2's do. Immediate shifts of the lane width or more, poison in LLVM, are folded to their x86
// results here. The SSE floating-point rows are inline asm (lower_vec_fp).
#include <llvm/IR/InlineAsm.h>

#include "tcg/ir/vec_eval.h"
#include "tcg/llvm/lower.h"

namespace orrery::tcg::llvm {

namespace {

/// The host SSE instruction of an FP row (AT&T mnemonic).
const char* fp_mnemonic(ir::VecOp op) {
  using ir::VecOp;
  switch (op) {
    case VecOp::AddPS:
      return "addps";
    case VecOp::AddPD:
      return "addpd";
    case VecOp::AddSS:
      return "addss";
    case VecOp::AddSD:
      return "addsd";
    case VecOp::SubPS:
      return "subps";
    case VecOp::SubPD:
      return "subpd";
    case VecOp::SubSS:
      return "subss";
    case VecOp::SubSD:
      return "subsd";
    case VecOp::MulPS:
      return "mulps";
    case VecOp::MulPD:
      return "mulpd";
    case VecOp::MulSS:
      return "mulss";
    case VecOp::MulSD:
      return "mulsd";
    case VecOp::DivPS:
      return "divps";
    case VecOp::DivPD:
      return "divpd";
    case VecOp::DivSS:
      return "divss";
    case VecOp::DivSD:
      return "divsd";
    case VecOp::MinPS:
      return "minps";
    case VecOp::MinPD:
      return "minpd";
    case VecOp::MinSS:
      return "minss";
    case VecOp::MinSD:
      return "minsd";
    case VecOp::MaxPS:
      return "maxps";
    case VecOp::MaxPD:
      return "maxpd";
    case VecOp::MaxSS:
      return "maxss";
    case VecOp::MaxSD:
      return "maxsd";
    case VecOp::SqrtPS:
      return "sqrtps";
    case VecOp::SqrtPD:
      return "sqrtpd";
    case VecOp::SqrtSS:
      return "sqrtss";
    case VecOp::SqrtSD:
      return "sqrtsd";
    case VecOp::CmpPS:
      return "cmpps";
    case VecOp::CmpPD:
      return "cmppd";
    case VecOp::CmpSS:
      return "cmpss";
    case VecOp::CmpSD:
      return "cmpsd";
    case VecOp::CvtDQ2PS:
      return "cvtdq2ps";
    case VecOp::CvtPS2DQ:
      return "cvtps2dq";
    case VecOp::CvtTPS2DQ:
      return "cvttps2dq";
    case VecOp::CvtPS2PD:
      return "cvtps2pd";
    case VecOp::CvtPD2PS:
      return "cvtpd2ps";
    case VecOp::CvtSS2SD:
      return "cvtss2sd";
    case VecOp::CvtSD2SS:
      return "cvtsd2ss";
    case VecOp::CvtDQ2PD:
      return "cvtdq2pd";
    case VecOp::CvtPD2DQ:
      return "cvtpd2dq";
    case VecOp::CvtTPD2DQ:
      return "cvttpd2dq";
    default:
      return nullptr;
  }
}

}  // namespace

// The SSE FP rows are inline asm of the host instruction: LLVM may not fold or rewrite them
// (its fadd/minnum/fptosi differ from SSE on NaNs, signed zeros and out-of-range values), but
// as pure asm it still keeps the operands in XMM registers. The flags form clears the status
// bits with LDMXCSR 0x1f80 and reads them back with STMXCSR through a stack slot.
ll::Value* BlockLowering::lower_vec_fp(const ir::Inst& in) {
  const auto op = ir::VecOp(in.imm);
  // The integer-conversion and EFLAGS rows: a fixed sequence on xmm0/xmm1 (vec_fp_asm.inc).
  const char* gpr_seq = nullptr;
  switch (op) {
#define FP_GPR(name, text) \
  case ir::VecOp::name:    \
    gpr_seq = text;        \
    break;
#include "tcg/ir/vec_fp_asm.inc"
#undef FP_GPR
    default:
      break;
  }
  const char* mn = gpr_seq ? "" : fp_mnemonic(op);
  if (!mn) {
    fail("vector fp op unsupported");
    return nullptr;
  }
  auto* v2i64 = ll::FixedVectorType::get(b_.getInt64Ty(), 2);
  std::string insn;
  std::string cons = "=x,0,x";
  if (gpr_seq) {
    for (const char* c = gpr_seq; *c; ++c)  // GCC's `%%` is LLVM's `%`
      if (!(c[0] == '%' && c[1] == '%')) insn += *c;
    cons = "={xmm0},{xmm0},{xmm1}";
  } else {
    const unsigned pred = in.imm2 & ir::kVecFpPredMask;
    const bool cmp = op == ir::VecOp::CmpPS || op == ir::VecOp::CmpPD || op == ir::VecOp::CmpSS ||
                     op == ir::VecOp::CmpSD;
    if (cmp && pred >= 8) insn += 'v';  // VEX-only predicates (AVX hosts, vec_ops.inc)
    insn += mn;
    insn += ' ';
    if (cmp) insn += "$$" + std::to_string(pred) + ", ";
    insn += cmp && pred >= 8 ? "$2, $0, $0" : "$2, $0";
  }
  if (!(in.imm2 & ir::kVecFpFlags)) {
    auto* ft = ll::FunctionType::get(v2i64, {v2i64, v2i64}, false);
    auto* asm_ = ll::InlineAsm::get(ft, insn, gpr_seq ? cons + ",~{rax},~{flags}" : cons,
                                    /*hasSideEffects=*/false);
    return b_.CreateCall(ft, asm_, {arg(in, 0), arg(in, 1)});
  }
  ll::Function* f = b_.GetInsertBlock()->getParent();
  ll::IRBuilder<> entry(&f->getEntryBlock(), f->getEntryBlock().begin());
  ll::Value* csr = entry.CreateAlloca(b_.getInt32Ty());
  b_.CreateStore(b_.getInt32(ir::kVecFpMxcsr), csr);
  auto* ft = ll::FunctionType::get(v2i64, {v2i64, v2i64, csr->getType()}, false);
  // The address of the MXCSR slot must survive the sequence, which clobbers rax.
  const std::string csr_cons = gpr_seq ? ",{rcx},~{rax}" : ",r";
  auto* asm_ = ll::InlineAsm::get(ft, "ldmxcsr ($3)\n\t" + insn + "\n\tstmxcsr ($3)",
                                  cons + csr_cons + ",~{memory},~{dirflag},~{fpsr},~{flags}",
                                  /*hasSideEffects=*/true);
  b_.CreateCall(ft, asm_, {arg(in, 0), arg(in, 1), csr});
  ll::Value* flags = b_.CreateAnd(b_.CreateLoad(b_.getInt32Ty(), csr), 0x3f);
  ll::Value* v = ll::ConstantAggregateZero::get(v2i64);
  return b_.CreateInsertElement(v, b_.CreateZExt(flags, b_.getInt64Ty()), uint64_t(0));
}

ll::Value* BlockLowering::lower_vec(const ir::Inst& in) {
  using ir::VecOp;
  auto* v2i64 = ll::FixedVectorType::get(b_.getInt64Ty(), 2);
  if (in.op == ir::Opcode::VecBuild) {
    ll::Value* v = ll::PoisonValue::get(v2i64);
    v = b_.CreateInsertElement(v, arg(in, 0), uint64_t(0));
    return b_.CreateInsertElement(v, arg(in, 1), uint64_t(1));
  }
  if (in.op == ir::Opcode::VecLane) return b_.CreateExtractElement(arg(in, 0), in.imm & 1);
  if (in.op == ir::Opcode::VecConcat)
    return b_.CreateShuffleVector(arg(in, 0), arg(in, 1), {0, 1, 2, 3});
  if (in.op == ir::Opcode::VecHalf) {
    const int h = int(in.imm & 1) * 2;
    return b_.CreateShuffleVector(arg(in, 0), {h, h + 1});
  }
  if (in.imm >= ir::kNumVecOps) {
    fail("vector op out of range");
    return nullptr;
  }
  const auto op = VecOp(in.imm);
  if (ir::is_fp_vec_op(op)) return lower_vec_fp(in);
  const unsigned width = ir::bits(in.type);  // 128 or 256
  const unsigned lane = ir::vec_op_info(op).lane_bits;
  const unsigned lbits = lane == 128 ? 8 : lane;       // byte shifts work on <16 x i8> per half
  const unsigned n = width / lbits, nh = 128 / lbits;  // lanes in all, lanes per 128-bit half
  auto* lt = ll::IntegerType::get(ctx_, lbits);
  auto* vt = ll::FixedVectorType::get(lt, n);
  ll::Value* a = b_.CreateBitCast(arg(in, 0), vt);
  ll::Value* b = in.nargs > 1 ? b_.CreateBitCast(arg(in, 1), vt) : nullptr;
  const unsigned imm = unsigned(in.imm2 & 0xff);
  auto splat = [&](uint64_t x) { return ll::ConstantInt::get(vt, x); };
  auto mask_of = [&](ll::Value* cond) { return b_.CreateSExt(cond, vt); };
  // index(j) picks lane j of a 128-bit half from the half's lanes (0..nh-1 of x, nh..2nh-1 of
  // y, or -1 for y's lane 0 of the zero vector); every half does the same.
  auto shuffle = [&](ll::Value* x, ll::Value* y, auto index) {
    std::vector<int> m(n);
    for (unsigned i = 0; i < n; ++i) {
      const unsigned base = i / nh * nh;
      const int k = index(i % nh);
      m[i] = k < 0 ? int(n) : k < int(nh) ? int(base) + k : int(n + base) + k - int(nh);
    }
    return b_.CreateShuffleVector(x, y, m);
  };
  ll::Value* r = nullptr;
  switch (op) {
    case VecOp::And:
      r = b_.CreateAnd(a, b);
      break;
    case VecOp::Or:
      r = b_.CreateOr(a, b);
      break;
    case VecOp::Xor:
      r = b_.CreateXor(a, b);
      break;
    case VecOp::Andn:
      r = b_.CreateAnd(b_.CreateNot(a), b);
      break;
    case VecOp::AddB:
    case VecOp::AddW:
    case VecOp::AddD:
    case VecOp::AddQ:
      r = b_.CreateAdd(a, b);
      break;
    case VecOp::SubB:
    case VecOp::SubW:
    case VecOp::SubD:
    case VecOp::SubQ:
      r = b_.CreateSub(a, b);
      break;
    case VecOp::CmpEqB:
    case VecOp::CmpEqW:
    case VecOp::CmpEqD:
      r = mask_of(b_.CreateICmpEQ(a, b));
      break;
    case VecOp::CmpGtB:
    case VecOp::CmpGtW:
    case VecOp::CmpGtD:
      r = mask_of(b_.CreateICmpSGT(a, b));
      break;
    case VecOp::MinUB:
      r = b_.CreateSelect(b_.CreateICmpULT(a, b), a, b);
      break;
    case VecOp::MaxUB:
      r = b_.CreateSelect(b_.CreateICmpUGT(a, b), a, b);
      break;
    case VecOp::MinSW:
      r = b_.CreateSelect(b_.CreateICmpSLT(a, b), a, b);
      break;
    case VecOp::MaxSW:
      r = b_.CreateSelect(b_.CreateICmpSGT(a, b), a, b);
      break;
    case VecOp::MulLoW:
      r = b_.CreateMul(a, b);
      break;
    case VecOp::MulUDQ: {
      ll::Value* lo32 = splat(0xffffffffu);
      r = b_.CreateMul(b_.CreateAnd(a, lo32), b_.CreateAnd(b, lo32));
      break;
    }
    case VecOp::UnpackLoB:
    case VecOp::UnpackLoW:
    case VecOp::UnpackLoD:
    case VecOp::UnpackLoQ:
    case VecOp::UnpackHiB:
    case VecOp::UnpackHiW:
    case VecOp::UnpackHiD:
    case VecOp::UnpackHiQ: {
      const bool hi = op >= VecOp::UnpackHiB;
      const unsigned base = hi ? nh / 2 : 0;
      r = shuffle(a, b, [&](unsigned j) { return int((j & 1 ? nh : 0) + base + j / 2); });
      break;
    }
    case VecOp::ShufD:
      r = shuffle(a, a, [&](unsigned j) { return int((imm >> 2 * j) & 3); });
      break;
    case VecOp::ShlW:
    case VecOp::ShlD:
    case VecOp::ShlQ:
      r = imm >= lane ? splat(0) : b_.CreateShl(a, splat(imm));
      break;
    case VecOp::ShrW:
    case VecOp::ShrD:
    case VecOp::ShrQ:
      r = imm >= lane ? splat(0) : b_.CreateLShr(a, splat(imm));
      break;
    case VecOp::SarW:
    case VecOp::SarD:
      r = b_.CreateAShr(a, splat(imm >= lane ? lane - 1 : imm));
      break;
    case VecOp::ShlBytes:  // byte j of a half is its byte j - imm, or zero
      r = shuffle(a, splat(0), [&](unsigned j) { return j >= imm ? int(j - imm) : -1; });
      break;
    case VecOp::ShrBytes:
      r = shuffle(a, splat(0), [&](unsigned j) { return j + imm < nh ? int(j + imm) : -1; });
      break;
    default:  // Count_; the FP rows are lower_vec_fp's
      break;
  }
  if (!r) {
    fail("vector op unsupported");
    return nullptr;
  }
  return b_.CreateBitCast(r, ll::FixedVectorType::get(b_.getInt64Ty(), width / 64));
}

}  // namespace orrery::tcg::llvm
