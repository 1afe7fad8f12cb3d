// Lowering of the pure integer ops. Every op is defined for all inputs (opcodes.inc), while
// several LLVM instructions are poison or UB on some (oversized shifts, division by zero,
// INT_MIN / -1): each such case is guarded here so no input reaches them.
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/PatternMatch.h>

#include "tcg/llvm/lower.h"

namespace orrery::tcg::llvm {

namespace {

ll::CmpInst::Predicate predicate(ir::Cond c) {
  switch (c) {
    case ir::Cond::Eq:
      return ll::CmpInst::ICMP_EQ;
    case ir::Cond::Ne:
      return ll::CmpInst::ICMP_NE;
    case ir::Cond::Ult:
      return ll::CmpInst::ICMP_ULT;
    case ir::Cond::Ule:
      return ll::CmpInst::ICMP_ULE;
    case ir::Cond::Ugt:
      return ll::CmpInst::ICMP_UGT;
    case ir::Cond::Uge:
      return ll::CmpInst::ICMP_UGE;
    case ir::Cond::Slt:
      return ll::CmpInst::ICMP_SLT;
    case ir::Cond::Sle:
      return ll::CmpInst::ICMP_SLE;
    case ir::Cond::Sgt:
      return ll::CmpInst::ICMP_SGT;
    case ir::Cond::Sge:
      return ll::CmpInst::ICMP_SGE;
  }
  return ll::CmpInst::BAD_ICMP_PREDICATE;
}

}  // namespace

ll::Value* BlockLowering::carry_flag_const_cin(bool overflow, ll::Value* a, ll::Value* b,
                                               ll::Value* cin) {
  // With a constant carry-in these are the host's own flags: x86 reads them with one
  // seto/setc/setae after the add or cmp, where the generic forms cost an xor/and chain (and
  // LLVM turned a loop counter's into an induction variable of its own).
  auto* k = ll::dyn_cast<ll::ConstantInt>(cin);
  if (!k) return nullptr;
  if (k->isZero()) {
    auto id = overflow ? ll::Intrinsic::sadd_with_overflow : ll::Intrinsic::uadd_with_overflow;
    return b_.CreateExtractValue(b_.CreateBinaryIntrinsic(id, a, b), 1);
  }
  // a + ~x + 1 is a - x (how a subtraction's flags are written): its signed overflow, and a
  // carry out exactly when nothing is borrowed.
  ll::Value* x = nullptr;
  if (auto* cb = ll::dyn_cast<ll::ConstantInt>(b))
    x = ll::ConstantInt::get(b->getType(), ~cb->getValue());
  else if (!ll::PatternMatch::match(b, ll::PatternMatch::m_Not(ll::PatternMatch::m_Value(x))))
    return nullptr;
  if (!overflow) return b_.CreateICmpUGE(a, x);
  return b_.CreateExtractValue(b_.CreateBinaryIntrinsic(ll::Intrinsic::ssub_with_overflow, a, x),
                               1);
}

ll::Value* BlockLowering::lower_alu(const ir::Inst& in) {
  using ir::Opcode;
  if (in.type == ir::Type::V) {
    fail("operation without a type");
    return nullptr;
  }
  ll::IntegerType* ty = int_type(in.type);
  const unsigned n = ty->getBitWidth();
  auto c = [&](uint64_t v) { return ll::ConstantInt::get(ty, v); };
  ll::Value* a = in.nargs > 0 ? arg(in, 0) : nullptr;
  ll::Value* b = in.nargs > 1 ? arg(in, 1) : nullptr;
  auto shift_amount = [&] { return b_.CreateAnd(b, c(n - 1)); };  // widths are powers of two

  switch (in.op) {
    case Opcode::Add:
      return b_.CreateAdd(a, b);
    case Opcode::Sub:
      return b_.CreateSub(a, b);
    case Opcode::Mul:
      return b_.CreateMul(a, b);
    case Opcode::MulHiU:
    case Opcode::MulHiS: {
      bool s = in.op == Opcode::MulHiS;
      auto* wide = ll::IntegerType::get(ctx_, 2 * n);
      ll::Value* wa = s ? b_.CreateSExt(a, wide) : b_.CreateZExt(a, wide);
      ll::Value* wb = s ? b_.CreateSExt(b, wide) : b_.CreateZExt(b, wide);
      return b_.CreateTrunc(b_.CreateLShr(b_.CreateMul(wa, wb), n), ty);
    }
    case Opcode::DivU: {
      ll::Value* zero = b_.CreateICmpEQ(b, c(0));
      ll::Value* q = b_.CreateUDiv(a, b_.CreateSelect(zero, c(1), b));
      return b_.CreateSelect(zero, c(0), q);
    }
    case Opcode::DivS: {
      // x / 0 = 0; INT_MIN / -1 = INT_MIN, which is also INT_MIN / 1.
      ll::Value* zero = b_.CreateICmpEQ(b, c(0));
      ll::Value* ovf = b_.CreateAnd(
          b_.CreateICmpEQ(a, ll::ConstantInt::get(ty, ll::APInt::getSignedMinValue(n))),
          b_.CreateICmpEQ(b, ll::ConstantInt::getAllOnesValue(ty)));
      ll::Value* safe = b_.CreateSelect(b_.CreateOr(zero, ovf), c(1), b);
      return b_.CreateSelect(zero, c(0), b_.CreateSDiv(a, safe));
    }
    case Opcode::And:
      return b_.CreateAnd(a, b);
    case Opcode::Or:
      return b_.CreateOr(a, b);
    case Opcode::Xor:
      return b_.CreateXor(a, b);
    case Opcode::Shl:
      return b_.CreateShl(a, shift_amount());
    case Opcode::Lshr:
      return b_.CreateLShr(a, shift_amount());
    case Opcode::Ashr:
      return b_.CreateAShr(a, shift_amount());
    case Opcode::Rotr:
      // Funnel shifts take the amount modulo the width by definition.
      return b_.CreateIntrinsic(ll::Intrinsic::fshr, {ty}, {a, a, b});
    case Opcode::Not:
      return b_.CreateNot(a);
    case Opcode::Neg:
      return b_.CreateNeg(a);
    case Opcode::Clz:
      return b_.CreateIntrinsic(ll::Intrinsic::ctlz, {ty}, {a, b_.getFalse()});
    case Opcode::Ctz:
      return b_.CreateIntrinsic(ll::Intrinsic::cttz, {ty}, {a, b_.getFalse()});
    case Opcode::Popcnt:
      return b_.CreateUnaryIntrinsic(ll::Intrinsic::ctpop, a);
    case Opcode::Bswap:
      if (n % 16 != 0) return a;  // one byte: nothing to swap
      return b_.CreateUnaryIntrinsic(ll::Intrinsic::bswap, a);
    case Opcode::Bitrev:
      return b_.CreateUnaryIntrinsic(ll::Intrinsic::bitreverse, a);

    case Opcode::AddC:
      return b_.CreateAdd(b_.CreateAdd(a, b), b_.CreateZExt(arg(in, 2), ty));
    case Opcode::AddCarry: {
      if (ll::Value* f = carry_flag_const_cin(false, a, b, arg(in, 2))) return f;
      // Carry out of a + b + cin: either partial sum wraps (they cannot both wrap).
      ll::Value* s1 = b_.CreateAdd(a, b);
      ll::Value* s2 = b_.CreateAdd(s1, b_.CreateZExt(arg(in, 2), ty));
      return b_.CreateOr(b_.CreateICmpULT(s1, a), b_.CreateICmpULT(s2, s1));
    }
    case Opcode::AddOvf: {
      if (ll::Value* f = carry_flag_const_cin(true, a, b, arg(in, 2))) return f;
      // Signed overflow: the result's sign differs from both operands' signs.
      ll::Value* r = b_.CreateAdd(b_.CreateAdd(a, b), b_.CreateZExt(arg(in, 2), ty));
      ll::Value* x = b_.CreateAnd(b_.CreateXor(a, r), b_.CreateXor(b, r));
      return b_.CreateICmpSLT(x, c(0));
    }

    case Opcode::ZExt:
    case Opcode::SExt:
    case Opcode::Trunc: {
      unsigned from = a->getType()->getIntegerBitWidth();
      if (from == n) return a;
      if (from > n) return b_.CreateTrunc(a, ty);
      return in.op == Opcode::SExt ? b_.CreateSExt(a, ty) : b_.CreateZExt(a, ty);
    }
    case Opcode::ExtractU:
      return lower_extract(in, false);
    case Opcode::ExtractS:
      return lower_extract(in, true);
    case Opcode::Deposit:
      return lower_deposit(in);

    case Opcode::Cmp: {
      if (in.imm > uint64_t(ir::Cond::Sge)) {
        fail("Cmp: bad condition");
        return nullptr;
      }
      return b_.CreateICmp(predicate(ir::Cond(in.imm)), a, b);
    }
    case Opcode::Select:
      return b_.CreateSelect(a, b, arg(in, 2));
    default:
      return nullptr;
  }
}

// imm2 bits at position imm, zero- or sign-extended. Bits beyond the width read as zero, and
// an empty field (or one starting past the width) is 0.
ll::Value* BlockLowering::lower_extract(const ir::Inst& in, bool sign) {
  ll::IntegerType* ty = int_type(in.type);
  const uint64_t n = ty->getBitWidth(), pos = in.imm, len = in.imm2;
  if (len == 0 || pos >= n) return ll::ConstantInt::get(ty, 0);
  ll::Value* v = arg(in, 0);
  if (pos) v = b_.CreateLShr(v, pos);
  if (len >= n) return v;
  if (sign) return b_.CreateAShr(b_.CreateShl(v, n - len), n - len);
  return b_.CreateAnd(v, ll::ConstantInt::get(ty, ll::APInt::getLowBitsSet(n, len)));
}

// arg1's low imm2 bits replace arg0's bits [imm, imm + imm2) (clipped to the width).
ll::Value* BlockLowering::lower_deposit(const ir::Inst& in) {
  ll::IntegerType* ty = int_type(in.type);
  const uint64_t n = ty->getBitWidth(), pos = in.imm, len = in.imm2;
  ll::Value* base = arg(in, 0);
  if (len == 0 || pos >= n) return base;
  ll::APInt m = ll::APInt::getBitsSet(n, pos, unsigned(std::min(n, pos + len)));
  ll::Value* field = arg(in, 1);
  if (pos) field = b_.CreateShl(field, pos);
  return b_.CreateOr(b_.CreateAnd(base, ll::ConstantInt::get(ty, ~m)),
                     b_.CreateAnd(field, ll::ConstantInt::get(ty, m)));
}

}  // namespace orrery::tcg::llvm
