// Near control transfer, software interrupts, the stack (PUSH/POP/PUSHF/POPF/PUSHA/POPA/
// ENTER/LEAVE), flag instructions, NOPs and fences.
#include "cpu/x86/exception.h"
#include "cpu/x86/translate_system.h"
#include "cpu/x86/translators.h"

namespace orrery::cpu::x86 {

using tcg::ir::Cond;
using tcg::ir::Type;
using tcg::ir::Value;

namespace {

// raise_software_interrupt: a = vector | kind << 8, b = insn_pc, c = next_pc.
uint64_t helper_soft_int(tcg::CpuCommon* c, uint64_t a, uint64_t insn_pc, uint64_t next_pc) {
  raise_software_interrupt(state_of(c), unsigned(a & 0xff), unsigned(a >> 8), insn_pc, next_pc);
  return 0;
}
constexpr tcg::ir::Helper kHelperSoftInt{"x86_soft_int", helper_soft_int};

// INTO taken (a TrapIf target): fn(cpu, 0, insn_pc); INTO is one byte long.
uint64_t helper_into(tcg::CpuCommon* c, uint64_t, uint64_t insn_pc, uint64_t) {
  raise_software_interrupt(state_of(c), vec::kOf, 2, insn_pc, insn_pc + 1);
  return 0;
}
constexpr tcg::ir::Helper kHelperInto{"x86_into", helper_into};

int64_t rel(const TranslateContext& t) {
  return t.op(0).imm.value.s;
}

}  // namespace

// ---- Branches ----

bool tr_jcc(TranslateContext& t) {
  Value c = t.cond(t.insn().opcode & 0xf);
  t.branch_eip(c, t.next_eip() + rel(t), t.next_eip());
  return true;
}

bool tr_jcxz(TranslateContext& t) {
  auto& e = t.e();
  const Type at = t.type_of_bits(t.addr_bits());
  Value c = e.cmp(Cond::Eq, t.get_gpr(kRcx, at), t.konst(at, 0));
  t.branch_eip(c, t.next_eip() + rel(t), t.next_eip());
  return true;
}

bool tr_loop(TranslateContext& t) {
  auto& e = t.e();
  const Type at = t.type_of_bits(t.addr_bits());
  Value cx = e.sub(t.get_gpr(kRcx, at), t.konst(at, 1));
  t.set_gpr(kRcx, cx);
  Value c = e.cmp(Cond::Ne, cx, t.konst(at, 0));
  if (t.mnemonic() == ZYDIS_MNEMONIC_LOOPE) c = t.i1_and(c, t.cond(kCondE));
  if (t.mnemonic() == ZYDIS_MNEMONIC_LOOPNE) c = t.i1_and(c, t.cond(kCondNe));
  t.branch_eip(c, t.next_eip() + rel(t), t.next_eip());
  return true;
}

bool tr_jmp(TranslateContext& t) {
  if (t.is_imm(0)) {
    t.jump_eip(t.next_eip() + rel(t));
  } else {
    t.jump_indirect_eip(t.read(0));
  }
  return true;
}

bool tr_call(TranslateContext& t) {
  const Type ty = t.op_type();
  if (t.is_imm(0)) {
    t.push(t.konst(ty, t.next_eip()));
    t.jump_eip(t.next_eip() + rel(t));
  } else {
    Value target = t.read(0);  // before the push: it may use rSP
    t.push(t.konst(ty, t.next_eip()));
    t.jump_indirect_eip(target);
  }
  return true;
}

bool tr_ret(TranslateContext& t) {
  auto& e = t.e();
  Value target = t.pop(t.op_type());
  if (t.num_visible_ops() > 0 && t.is_imm(0) && t.op(0).imm.value.u)
    t.set_sp(e.add(t.get_sp(), e.c64(t.op(0).imm.value.u & 0xffff)));
  t.jump_indirect_eip(target);
  return true;
}

// ---- Software interrupts and invalid opcodes ----

bool tr_int3(TranslateContext& t) {
  auto& e = t.e();
  e.call(kHelperSoftInt, {e.c64(vec::kBp | 1u << 8), e.c64(t.pc()), e.c64(t.next_pc())});
  e.exit_pc_in_state(tcg::ir::ExitReason::Exception);
  t.mark_ended();
  return true;
}

bool tr_int1(TranslateContext& t) {
  auto& e = t.e();
  e.call(kHelperSoftInt, {e.c64(vec::kDb | 3u << 8), e.c64(t.pc()), e.c64(t.next_pc())});
  e.exit_pc_in_state(tcg::ir::ExitReason::Exception);
  t.mark_ended();
  return true;
}

bool tr_into(TranslateContext& t) {
  t.e().trap_if(t.cond(kCondO), kHelperInto, 0);
  return true;
}

bool tr_ud(TranslateContext& t) {
  return t.ud();
}

bool tr_bound(TranslateContext& t) {
  auto& e = t.e();
  if (!t.is_mem(1)) return t.ud();
  const Type ty = t.type_of_op(0);
  Value idx = t.read(0);
  Value addr = t.addr_of(1);
  Value lo = t.load(ty, addr);
  Value hi = t.load(ty, e.add(addr, e.c64(tcg::ir::bits(ty) / 8)));
  t.raise_if(t.i1_or(e.cmp(Cond::Slt, idx, lo), e.cmp(Cond::Sgt, idx, hi)), vec::kBr);
  return true;
}

// ---- Stack ----

bool tr_push(TranslateContext& t) {
  const Type ty = t.op_type();
  Value v = t.read(0, ty);
  if (t.e().type_of(v) != ty) v = t.e().sext(ty, v);
  t.push(v);
  return true;
}

bool tr_pop(TranslateContext& t) {
  auto& e = t.e();
  const Type ty = t.op_type();
  Value sp = t.get_sp();
  Value v = t.load(ty, t.stack_addr(sp));
  // rSP is incremented before a memory destination's address is computed, and a POP into rSP
  // leaves the popped value.
  t.set_sp(e.add(sp, e.c64(tcg::ir::bits(ty) / 8)));
  t.write(0, v);
  return true;
}

bool tr_pushf(TranslateContext& t) {
  auto& e = t.e();
  if (t.vm86() && t.iopl() < 3) {
    // CR4.VME, 16-bit only: FLAGS with VIF in place of IF and IOPL reading 3 (SDM 20.3.2).
    if (!(t.tb_flags() & tb_flags::kVme) || t.op_bits() != 16) return t.gp0();
    Value ef = t.get_eflags();
    Value vif = e.and_(e.lshr(ef, e.c64(10)), e.c64(eflags::kIf));
    ef = e.or_(e.and_(ef, e.c64(0xffff & ~(eflags::kIf | eflags::kIoplMask))),
               e.or_(vif, e.c64(eflags::kIoplMask)));
    t.push(e.trunc(Type::I16, ef));
    return true;
  }
  Value ef = e.and_(t.get_eflags(), e.c64(~(eflags::kVm | eflags::kRf)));
  t.push(e.trunc(t.op_type(), ef));
  return true;
}

bool tr_popf(TranslateContext& t) {
  auto& e = t.e();
  if (t.vm86() && t.iopl() < 3) return sys_popf_virtual(t);
  Value v = e.zext(Type::I64, t.pop(t.op_type()));
  uint64_t mask =
      eflags::kArith | eflags::kTf | eflags::kDf | eflags::kNt | eflags::kAc | eflags::kId;
  if (!t.protected_mode() || t.cpl() <= t.iopl()) mask |= eflags::kIf;
  if (!t.protected_mode() || (t.cpl() == 0 && !t.vm86())) mask |= eflags::kIoplMask;
  if (t.op_bits() == 16) mask &= 0xffff;
  Value cur = t.get_eflags();
  Value nv = e.or_(e.or_(e.and_(cur, e.c64(~mask & ~eflags::kRf)), e.and_(v, e.c64(mask))),
                   e.c64(eflags::kFixed1));
  e.set_reg(kEflagsOffset, nv);
  e.set_reg(kCcOpOffset, e.c32(uint32_t(CcOp::Eflags)));
  t.cc_unknown();
  t.exit_to_cpu_loop();  // TF (single-step) or IF (a pending interrupt) may have changed
  return true;
}

bool tr_pusha(TranslateContext& t) {
  const Type ty = t.op_type();
  Value sp = t.get_gpr(kRsp, ty);
  Value regs[8];
  for (unsigned r = 0; r < 8; ++r) regs[r] = r == kRsp ? sp : t.get_gpr(r, ty);
  for (unsigned r = 0; r < 8; ++r) t.push(regs[r]);
  return true;
}

bool tr_popa(TranslateContext& t) {
  const Type ty = t.op_type();
  for (int r = 7; r >= 0; --r) {
    Value v = t.pop(ty);
    if (r != kRsp) t.set_gpr(unsigned(r), v);
  }
  return true;
}

bool tr_enter(TranslateContext& t) {
  auto& e = t.e();
  const Type ty = t.op_type();
  const unsigned size = tcg::ir::bits(ty) / 8;
  const uint64_t alloc = t.op(0).imm.value.u & 0xffff;
  const unsigned level = t.op(1).imm.value.u & 31;
  const Type st = t.type_of_bits(t.stack_bits());
  t.push(t.get_gpr(kRbp, ty));
  Value frame = t.get_sp();
  if (level > 0) {
    Value bp = e.zext(Type::I64, t.get_gpr(kRbp, st));
    for (unsigned i = 1; i < level; ++i) {
      bp = e.sub(bp, e.c64(size));
      t.push(t.load(ty, t.stack_addr(bp)));
    }
    t.push(e.trunc(ty, frame));
  }
  t.set_gpr(kRbp, e.trunc(ty, frame));
  t.set_sp(e.sub(t.get_sp(), e.c64(alloc)));
  return true;
}

bool tr_leave(TranslateContext& t) {
  const Type st = t.type_of_bits(t.stack_bits());
  t.set_sp(t.e().zext(Type::I64, t.get_gpr(kRbp, st)));
  t.set_gpr(kRbp, t.pop(t.op_type()));
  return true;
}

// ---- Flags ----

bool tr_lahf(TranslateContext& t) {
  auto& e = t.e();
  Value ef = e.and_(t.get_eflags(), e.c64(0xd5));
  t.set_reg(ZYDIS_REGISTER_AH, e.trunc(Type::I8, e.or_(ef, e.c64(eflags::kFixed1))));
  return true;
}

bool tr_sahf(TranslateContext& t) {
  auto& e = t.e();
  Value ah = e.zext(Type::I64, t.get_reg(ZYDIS_REGISTER_AH));
  Value ef = t.get_eflags();
  t.set_arith_flags(e.or_(e.and_(ef, e.c64(~uint64_t(0xd5))), e.and_(ah, e.c64(0xd5))));
  return true;
}

bool tr_flag_op(TranslateContext& t) {
  auto& e = t.e();
  switch (t.mnemonic()) {
    case ZYDIS_MNEMONIC_CLD:
    case ZYDIS_MNEMONIC_STD: {
      Value ef = e.get_reg(Type::I64, kEflagsOffset);
      ef = t.mnemonic() == ZYDIS_MNEMONIC_STD ? e.or_(ef, e.c64(eflags::kDf))
                                              : e.and_(ef, e.c64(~eflags::kDf));
      e.set_reg(kEflagsOffset, ef);
      return true;
    }
    case ZYDIS_MNEMONIC_CLC:
      t.set_arith_flags(e.and_(t.get_eflags(), e.c64(~eflags::kCf)));
      break;
    case ZYDIS_MNEMONIC_STC:
      t.set_arith_flags(e.or_(t.get_eflags(), e.c64(eflags::kCf)));
      break;
    default:
      t.set_arith_flags(e.xor_(t.get_eflags(), e.c64(eflags::kCf)));
      break;  // CMC
  }
  return true;
}

// ---- Hints and fences ----

bool tr_nop(TranslateContext& t) {
  return true;
}

bool tr_fence(TranslateContext& t) {
  using tcg::ir::FenceKind;
  switch (t.mnemonic()) {
    case ZYDIS_MNEMONIC_LFENCE:
      t.e().fence(FenceKind::Load);
      break;
    case ZYDIS_MNEMONIC_SFENCE:
      t.e().fence(FenceKind::Store);
      break;
    default:
      t.e().fence(FenceKind::Full);
      break;
  }
  return true;
}

}  // namespace orrery::cpu::x86
