// Shared translator helpers: register access (XZR versus SP), NZCV computation, condition
// evaluation, shifted/extended operands, memory-operation descriptors and block endings.
#include "cpu/arm64/translate.h"

#include <algorithm>

#include "cpu/arm64/exception.h"
#include "cpu/arm64/helpers.h"
#include "tcg/ir/eval.h"

namespace orrery::cpu::arm64 {

using tcg::ir::Cond;
using tcg::ir::ExitReason;
using tcg::ir::MemOp;
using tcg::ir::Type;
using tcg::ir::Value;

Translator::Translator(tcg::ir::Emitter& e, uint64_t tb_flags)
    : e_(e),
      flags_(tb_flags),
      el_(unsigned((tb_flags >> tb_flags::kElShift) & tb_flags::kElMask)),
      spsel_((tb_flags & tb_flags::kSpSel) != 0) {}

uint32_t Translator::sp_offset() const {
  // The translation is keyed on EL and SPSel, so the choice of SP is made here, once.
  return (el_ != 0 && spsel_) ? kOffSpEl1 : kOffSpEl0;
}

Value Translator::get_x(unsigned r, bool sf) {
  if (r == 31) return imm(sf, 0);
  Value v = e_.get_reg(Type::I64, off_x(r));
  return sf ? v : e_.trunc(Type::I32, v);
}

Value Translator::get_xsp(unsigned r, bool sf) {
  if (r != 31) return get_x(r, sf);
  Value v = e_.get_reg(Type::I64, sp_offset());
  return sf ? v : e_.trunc(Type::I32, v);
}

void Translator::set_x(unsigned r, Value v) {
  if (r == 31) return;
  e_.set_reg(off_x(r), e_.zext(Type::I64, v));
}

void Translator::set_xsp(unsigned r, Value v) {
  if (r != 31) return set_x(r, v);
  sp_checked_ = false;
  e_.set_reg(sp_offset(), e_.zext(Type::I64, v));
}

void Translator::set_nz(Value result) {
  Value zero = e_.konst(e_.type_of(result), 0);
  set_flag(kOffN, e_.cmp(Cond::Slt, result, zero));
  set_flag(kOffZ, e_.cmp(Cond::Eq, result, zero));
}

void Translator::set_flags_logic(Value result) {
  set_nz(result);
  set_flag(kOffC, e_.c1(false));
  set_flag(kOffV, e_.c1(false));
}

Value Translator::add_with_carry(Value a, Value b, Value carry_in, bool set_flags) {
  Value r = e_.addc(a, b, carry_in);
  if (set_flags) {
    set_nz(r);
    set_flag(kOffC, e_.add_carry(a, b, carry_in));
    set_flag(kOffV, e_.add_ovf(a, b, carry_in));
  }
  return r;
}

Value Translator::sub_flags(Value a, Value b, bool set_flags) {
  Value r = e_.sub(a, b);
  if (set_flags) {
    // a - b = a + ~b + 1: C is "no borrow" (a >= b unsigned); V from the same sum.
    set_nz(r);
    set_flag(kOffC, e_.cmp(Cond::Uge, a, b));
    set_flag(kOffV, e_.add_ovf(a, e_.not_(b), e_.c1(true)));
    flags_sub_ = {a, b, e_.block().insts.size(), true};
  }
  return r;
}

Value Translator::cond_of_sub(unsigned cond) {
  const auto& insts = e_.block().insts;
  if (!flags_sub_.valid || flags_sub_.end > insts.size()) return {};
  for (size_t i = flags_sub_.end; i < insts.size(); ++i) {
    const tcg::ir::Inst& in = insts[i];
    const bool flag_write = in.op == tcg::ir::Opcode::SetReg && in.imm <= kOffV &&
                            in.imm + std::max(1u, tcg::ir::bits(in.type) / 8) > kOffN;
    if (flag_write || (tcg::ir::op_info(in.op).flags & tcg::ir::kRegsBarrier)) {
      flags_sub_.valid = false;
      return {};
    }
  }
  // The even condition of each pair; the odd one is its inverse.
  Cond c;
  switch (cond >> 1) {
    case 0:
      c = Cond::Eq;  // EQ/NE
      break;
    case 1:
      c = Cond::Uge;  // CS/CC
      break;
    case 4:
      c = Cond::Ugt;  // HI/LS
      break;
    case 5:
      c = Cond::Sge;  // GE/LT
      break;
    case 6:
      c = Cond::Sgt;  // GT/LE
      break;
    default:  // MI/PL and VS/VC (the sign and overflow of a - b), AL/NV
      return {};
  }
  return e_.cmp((cond & 1) ? tcg::ir::invert_cond(c) : c, flags_sub_.a, flags_sub_.b);
}

// The IR allows And/Or/Xor/Not/Select on I1, so flag logic stays in I1.
Value Translator::i1_not(Value a) {
  return e_.not_(a);
}
Value Translator::i1_and(Value a, Value b) {
  return e_.and_(a, b);
}
Value Translator::i1_eq(Value a, Value b) {
  return e_.not_(e_.xor_(a, b));
}

Value Translator::cond_holds(unsigned cond) {
  if (Value c = cond_of_sub(cond); c.valid()) return c;
  Value r;
  switch (cond >> 1) {
    case 0:
      r = get_flag(kOffZ);
      break;  // EQ/NE
    case 1:
      r = get_flag(kOffC);
      break;  // CS/CC
    case 2:
      r = get_flag(kOffN);
      break;  // MI/PL
    case 3:
      r = get_flag(kOffV);
      break;  // VS/VC
    case 4:
      r = i1_and(get_flag(kOffC), i1_not(get_flag(kOffZ)));
      break;  // HI/LS
    case 5:
      r = i1_eq(get_flag(kOffN), get_flag(kOffV));
      break;  // GE/LT
    case 6:   // GT/LE
      r = i1_and(i1_eq(get_flag(kOffN), get_flag(kOffV)), i1_not(get_flag(kOffZ)));
      break;
    default:
      return e_.c1(true);  // AL, and NV which A64 also treats as always
  }
  return (cond & 1) ? i1_not(r) : r;
}

Value Translator::shift_by(Value v, unsigned shift, unsigned amount) {
  if (amount == 0) return v;
  Value k = e_.konst(e_.type_of(v), amount);
  switch (shift) {
    case 0:
      return e_.shl(v, k);
    case 1:
      return e_.lshr(v, k);
    case 2:
      return e_.ashr(v, k);
    default:
      return e_.rotr(v, k);
  }
}

Value Translator::extend_reg(unsigned m, unsigned option, unsigned shift, bool sf) {
  Value v = get_x(m, true);
  switch (option) {
    case 0:
      v = e_.extract_u(v, 0, 8);
      break;  // UXTB
    case 1:
      v = e_.extract_u(v, 0, 16);
      break;  // UXTH
    case 2:
      v = e_.extract_u(v, 0, 32);
      break;  // UXTW
    case 4:
      v = e_.extract_s(v, 0, 8);
      break;  // SXTB
    case 5:
      v = e_.extract_s(v, 0, 16);
      break;  // SXTH
    case 6:
      v = e_.extract_s(v, 0, 32);
      break;  // SXTW
    default:
      break;  // UXTX, SXTX
  }
  if (shift) v = e_.shl(v, e_.c64(shift));
  return sf ? v : e_.trunc(Type::I32, v);
}

MemOp Translator::memop(unsigned size_log2, bool sign, bool align) const {
  MemOp m;
  m.size_log2 = uint8_t(size_log2);
  m.sign = sign;
  m.mmu_idx = uint8_t(el_ == 0 ? kMmuIdxEl0 : kMmuIdxEl1);
  m.align = align;
  return m;
}

MemOp Translator::memop_unpriv(unsigned size_log2, bool sign) const {
  // LDTR/STTR at EL1 access memory with EL0 permissions (PSTATE.UAO does not exist in v8.0).
  MemOp m = memop(size_log2, sign);
  m.mmu_idx = uint8_t(kMmuIdxEl0);
  return m;
}

void Translator::end_jump(uint64_t target) {
  e_.jump(target);
  ended_ = true;
}

void Translator::end_exit(ExitReason r, uint64_t pc, uint64_t arg) {
  e_.exit(r, pc, arg);
  ended_ = true;
}

void Translator::raise_exception(uint32_t esr, uint64_t return_pc, bool far_valid, uint64_t far) {
  const uint64_t arg = uint64_t(esr) | (far_valid ? kExceptionFarValid : 0);
  // The return PC (and a FAR, when there is one) are PC-derived: relative in stored code.
  e_.call(kHelperException,
          {e_.c64(arg), e_.pc_rel(return_pc), far_valid ? e_.pc_rel(far) : e_.c64(0)});
  // Not reached at run time (the helper sets pending_exit), but a block needs a terminal.
  e_.exit_pc_in_state(ExitReason::Exception);
  ended_ = true;
}

bool Translator::fp_enabled_or_trap() {
  if (flags_ & tb_flags::kFpEnabled) return true;
  raise_exception(kFpAccessEsr, pc_);
  return false;
}

bool Translator::trap_sysreg(unsigned op0, unsigned op1, unsigned crn, unsigned crm, unsigned op2,
                             unsigned rt, bool read) {
  raise_exception(make_esr(ec::kSysRegTrap, sysreg_trap_iss(op0, op1, crn, crm, op2, rt, read)),
                  pc_);
  return true;
}

Value Translator::base_reg(unsigned n) {
  Value v = get_xsp(n, true);
  if (n == 31 && (flags_ & tb_flags::kSpAlign) && !sp_checked_) {
    e_.trap_if(e_.cmp(Cond::Ne, e_.and_(v, e_.c64(15)), e_.c64(0)), kHelperSpAlignFault, 0);
    sp_checked_ = true;
  }
  return v;
}

bool Translator::unimplemented(std::string why) {
  why_ = std::move(why);
  return false;
}

}  // namespace orrery::cpu::arm64
