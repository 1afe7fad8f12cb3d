// Branches (immediate, conditional, compare/test and branch, register) and exception generation.
// Every one of them ends the block.
#include "cpu/arm64/exception.h"
#include "cpu/arm64/helpers.h"
#include "cpu/arm64/translate.h"

namespace orrery::cpu::arm64 {

using tcg::ir::Cond;
using tcg::ir::ExitReason;
using tcg::ir::Value;

bool Translator::branch_cond(Value cond, int64_t offset) {
  e_.branch(cond, pc_ + offset, pc_ + 4);
  ended_ = true;
  return true;
}

bool Translator::B(u32 imm26) {
  end_jump(pc_ + sext(imm26, 26) * 4);
  return true;
}

bool Translator::BL(u32 imm26) {
  set_x(30, e_.pc_rel(pc_ + 4));
  end_jump(pc_ + sext(imm26, 26) * 4);
  return true;
}

bool Translator::CBZ(u32 sf, u32 imm19, u32 t) {
  Value x = get_x(t, sf);
  return branch_cond(e_.cmp(Cond::Eq, x, imm(sf, 0)), sext(imm19, 19) * 4);
}

bool Translator::CBNZ(u32 sf, u32 imm19, u32 t) {
  Value x = get_x(t, sf);
  return branch_cond(e_.cmp(Cond::Ne, x, imm(sf, 0)), sext(imm19, 19) * 4);
}

bool Translator::TBZ(u32 bit, u32 imm14, u32 t) {
  Value m = e_.and_(get_x(t, true), e_.c64(1ull << bit));
  return branch_cond(e_.cmp(Cond::Eq, m, e_.c64(0)), sext(imm14, 14) * 4);
}

bool Translator::TBNZ(u32 bit, u32 imm14, u32 t) {
  Value m = e_.and_(get_x(t, true), e_.c64(1ull << bit));
  return branch_cond(e_.cmp(Cond::Ne, m, e_.c64(0)), sext(imm14, 14) * 4);
}

bool Translator::B_cond(u32 imm19, u32 cond) {
  int64_t off = sext(imm19, 19) * 4;
  if (cond >= 14) {  // AL and NV: always
    end_jump(pc_ + off);
    return true;
  }
  return branch_cond(cond_holds(cond), off);
}

bool Translator::BR(u32 n) {
  e_.jump_indirect(get_x(n, true));
  ended_ = true;
  return true;
}

bool Translator::BLR(u32 n) {
  Value target = get_x(n, true);  // read before X30 is written: BLR X30 is valid
  set_x(30, e_.pc_rel(pc_ + 4));
  e_.jump_indirect(target);
  ended_ = true;
  return true;
}

bool Translator::RET(u32 n) {
  e_.jump_indirect(get_x(n, true));
  ended_ = true;
  return true;
}

// Exception generation. SVC and BRK are guest exceptions to EL1; HVC from EL1 goes to the
// board (PSCI: there is no EL2) and is UNDEFINED at EL0.

bool Translator::SVC(u32 imm16) {
  raise_exception(make_esr(ec::kSvc64, imm16), pc_ + 4);  // preferred return: the next insn
  return true;
}

bool Translator::HVC(u32 imm16) {
  if (el_ == 0) return unallocated();  // HVC is UNDEFINED at EL0
  end_exit(ExitReason::Hypercall, pc_ + 4, imm16);
  return true;
}

bool Translator::BRK(u32 imm16) {
  raise_exception(make_esr(ec::kBrk, imm16), pc_);  // preferred return: the BRK itself
  return true;
}

bool Translator::ERET() {
  if (el_ == 0) return unallocated();
  e_.call(kHelperEret, {e_.pc_rel(pc_)});
  // The helper wrote PC and PSTATE: look the next block up in the new mode.
  e_.exit_pc_in_state(ExitReason::Lookup);
  ended_ = true;
  return true;
}

}  // namespace orrery::cpu::arm64
