// FEAT_MTE instructions (IRG, GMI, ADDG, SUBG, SUBP(S), LDG, STG, STZG, ST2G, STZ2G, STGP,
// LDGM, STGM, STZGM, DC GVA/GZVA, MSR TCO), the MTE system registers, and the tag check that
// checked loads and stores emit in blocks translated with tb_flags::kMteCheck.
//
// ID_AA64PFR1_EL1.MTE decides what exists: 0 nothing (`-cpu max` without `-M virt,mte=on`,
// as QEMU); 1 (FEAT_MTE, no model has it today) the EL0 instructions with tag access disabled
// and PSTATE.TCO RAZ/WI; 2 and 3 everything.
#include "cpu/arm64/helpers.h"
#include "cpu/arm64/mte.h"
#include "cpu/arm64/sysregs.h"
#include "cpu/arm64/translate.h"

namespace orrery::cpu::arm64 {

using tcg::ir::Type;
using tcg::ir::Value;

namespace {

constexpr uint32_t kTco = sysreg_key(3, 3, 4, 2, 7);
constexpr uint32_t kGcr = sysreg_key(3, 0, 1, 0, 6);
constexpr uint32_t kRgsr = sysreg_key(3, 0, 1, 0, 5);
constexpr uint32_t kTfsr = sysreg_key(3, 0, 5, 6, 0);
constexpr uint32_t kTfsre0 = sysreg_key(3, 0, 5, 6, 1);
constexpr uint32_t kGmid = sysreg_key(3, 1, 0, 0, 4);

}  // namespace

void Translator::mte_check(Value addr, unsigned bytes, bool write, bool checked, bool unpriv) {
  const bool as_el0 = el_ == 0 || unpriv;
  if (!checked || !(flags_ & (el_ != 0 && unpriv ? tb_flags::kMteCheckEl0 : tb_flags::kMteCheck)))
    return;
  e_.call(kHelperMteCheck, {addr, e_.c64(mte_check_desc(bytes, write, as_el0)), e_.pc_rel(pc_)});
}

bool Translator::IRG(u32 m, u32 n, u32 d) {
  if (mte_ == 0) return unallocated();
  Value xn = get_xsp(n, true);
  if (!(flags_ & tb_flags::kMteAta)) {
    set_xsp(d, e_.and_(xn, e_.c64(~(0xfull << 56))));
    return true;
  }
  set_xsp(d, e_.call(kHelperMteIrg, {xn, get_x(m, true)}));
  return true;
}

bool Translator::GMI(u32 m, u32 n, u32 d) {
  if (mte_ == 0) return unallocated();
  Value tag = e_.extract_u(get_xsp(n, true), 56, 4);
  set_x(d, e_.or_(get_x(m, true), e_.shl(e_.c64(1), tag)));
  return true;
}

bool Translator::SUBP(u32 S, u32 m, u32 n, u32 d) {
  if (mte_ == 0) return unallocated();
  Value a = e_.extract_s(get_xsp(n, true), 0, 56);
  Value b = e_.extract_s(get_xsp(m, true), 0, 56);
  set_x(d, S ? sub_flags(a, b, true) : e_.sub(a, b));
  return true;
}

bool Translator::ADDG(u32 sub, u32 uimm6, u32 uimm4, u32 n, u32 d) {
  if (mte_ == 0) return unallocated();
  const int64_t offset = int64_t(uimm6) << 4;
  Value xn = get_xsp(n, true);
  if (!(flags_ & tb_flags::kMteAta)) {
    Value sum = e_.add(xn, e_.c64(uint64_t(sub ? -offset : offset)));
    set_xsp(d, e_.and_(sum, e_.c64(~(0xfull << 56))));
    return true;
  }
  const uint64_t desc = (uint64_t(uint16_t(int16_t(sub ? -offset : offset)))) | uint64_t(uimm4)
                                                                                    << 16;
  set_xsp(d, e_.call(kHelperMteAddg, {xn, e_.c64(desc)}));
  return true;
}

bool Translator::LDST_tag(u32 opc, u32 imm9, u32 op2, u32 n, u32 t) {
  if (mte_ == 0) return unallocated();
  const int64_t offset = sext(imm9, 9) << 4;
  if (op2 == 0) {
    // LDG (opc 01), and with imm9 == 0 the EL1 block forms STZGM (00), STGM (10), LDGM (11).
    if (opc == 1) {
      Value addr = e_.add(base_reg(n), e_.c64(uint64_t(offset)));
      set_x(t, e_.call(kHelperMteLdg, {addr, get_x(t, true), e_.pc_rel(pc_)}));
      return true;
    }
    if (imm9 != 0 || mte_ < 2) return unallocated();
    if (el_ == 0) return unallocated();
    const uint64_t op = opc == 0 ? kGmStoreZero : opc == 2 ? kGmStore : kGmLoad;
    Value r = e_.call(kHelperMteGm, {base_reg(n), e_.c64(op | uint64_t(t) << 8), e_.pc_rel(pc_)});
    if (op == kGmLoad) set_x(t, r);
    return true;
  }
  // STG (00), STZG (01), ST2G (10), STZ2G (11); op2: 1 post-index, 2 offset, 3 pre-index.
  const uint64_t kind = ((opc & 2) ? kStgTwo : 0) | ((opc & 1) ? kStgZero : 0);
  Value base = base_reg(n);
  Value updated = offset ? e_.add(base, e_.c64(uint64_t(offset))) : base;
  Value addr = op2 == 1 ? base : updated;
  Value tag = e_.shl(e_.extract_u(get_xsp(t, true), 56, 4), e_.c64(8));
  e_.call(kHelperMteStg, {addr, e_.or_(tag, e_.c64(kind)), e_.pc_rel(pc_)});
  if (op2 != 2) set_xsp(n, updated);
  return true;
}

bool Translator::STGP(u32 mode, u32 imm7, u32 t2, u32 n, u32 t) {
  if (mte_ == 0 || mode == 0) return unallocated();
  const int64_t offset = sext(imm7, 7) << 4;
  Value base = base_reg(n);
  Value updated = offset ? e_.add(base, e_.c64(uint64_t(offset))) : base;
  Value addr = mode == 1 ? base : updated;
  Value tag = e_.shl(e_.extract_u(addr, 56, 4), e_.c64(8));
  const uint64_t desc = kStgPair | uint64_t(t) << 16 | uint64_t(t2) << 21;
  e_.call(kHelperMteStg, {addr, e_.or_(tag, e_.c64(desc)), e_.pc_rel(pc_)});
  if (mode != 2) set_xsp(n, updated);
  return true;
}

bool Translator::mte_msr_tco(u32 crm) {
  if (mte_ == 0) return unallocated();
  if (mte_ >= 2) e_.set_reg(uint32_t(offsetof(Arm64State, tco)), e_.konst(Type::I8, crm & 1));
  end_exit(tcg::ir::ExitReason::Lookup, pc_ + 4);  // checks are chosen per block
  return true;
}

bool Translator::mte_dc(u32 op1, u32 crm, u32 op2, u32 t, bool& handled) {
  handled = false;
  if (mte_ < 2) return false;
  if (op1 == 3 && crm == 4 && (op2 == 3 || op2 == 4)) {  // DC GVA, DC GZVA
    handled = true;
    if (el_ == 0 && !(flags_ & tb_flags::kEl0Dze)) return trap_sysreg(1, 3, 7, 4, op2, t, false);
    Value addr = get_x(t, true);
    if (op2 == 4) mte_check(addr, 64, true, true);
    e_.call(kHelperMteGm, {addr, e_.c64(op2 == 3 ? kGmDcGva : kGmDcGzva), e_.pc_rel(pc_)});
    return true;
  }
  // The tag forms of clean/invalidate (DC CGVAC, CGDVAC, CGVAP, CGDVAP, CGVADP, CGDVADP,
  // CIGVAC, CIGDVAC by VA; IGVAC, IGDVAC, IGSW, IGDSW, CGSW, CGDSW, CIGSW, CIGDSW at EL1):
  // tags live beside RAM, not in a cache, so these have no visible effect.
  const bool by_va =
      op1 == 3 && (crm == 10 || crm == 12 || crm == 13 || crm == 14) && (op2 == 3 || op2 == 5);
  const bool el1_only = op1 == 0 && ((crm == 6 && op2 >= 3 && op2 <= 6) ||
                                     ((crm == 10 || crm == 14) && (op2 == 4 || op2 == 6)));
  if (!by_va && !el1_only) return false;
  handled = true;
  if (el_ == 0) {
    if (el1_only) return unallocated();
    if (!(flags_ & tb_flags::kEl0Uci)) return trap_sysreg(1, op1, 7, crm, op2, t, false);
  }
  return true;
}

bool Translator::mte_sysreg(uint32_t key, u32 t, bool read, bool& handled) {
  handled = true;
  if (key == kTco) {
    if (mte_ == 0) return unallocated();
    if (read) {
      Value tco = e_.zext(Type::I64, e_.get_reg(Type::I8, uint32_t(offsetof(Arm64State, tco))));
      set_x(t, mte_ >= 2 ? e_.shl(tco, e_.c64(25)) : e_.c64(0));
      return true;
    }
    if (mte_ >= 2) {
      Value bit = e_.and_(e_.lshr(get_x(t, true), e_.c64(25)), e_.c64(1));
      e_.set_reg(uint32_t(offsetof(Arm64State, tco)), e_.trunc(Type::I8, bit));
    }
    end_exit(tcg::ir::ExitReason::Lookup, pc_ + 4);
    return true;
  }
  uint32_t off = 0;
  uint64_t mask = ~0ull;
  switch (key) {
    case kGcr:
      off = uint32_t(offsetof(Arm64State, gcr_el1)), mask = 0x1ffff;
      break;
    case kRgsr:
      off = uint32_t(offsetof(Arm64State, rgsr_el1)), mask = 0xffff0f;
      break;
    case kTfsr:
      off = uint32_t(offsetof(Arm64State, tfsr_el1)), mask = 3;
      break;
    case kTfsre0:
      off = uint32_t(offsetof(Arm64State, tfsre0_el1)), mask = 3;
      break;
    case kGmid:
      break;
    default:
      handled = false;
      return false;
  }
  if (mte_ < 2 || el_ == 0) return unallocated();
  if (key == kGmid) {
    if (!read) return unallocated();
    set_x(t, e_.c64(kGmidBs));
    return true;
  }
  if (read)
    set_x(t, e_.get_reg(Type::I64, off));
  else
    e_.set_reg(off, e_.and_(get_x(t, true), e_.c64(mask)));
  return true;
}

}  // namespace orrery::cpu::arm64
