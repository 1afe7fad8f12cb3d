// System instructions: hints, barriers, CLREX, MSR (immediate), MRS/MSR (register) through the
// system register table, and the SYS space (DC, IC, TLBI). Writes that change the mode, the
// translation regime or interrupt masking end the block with ExitReason::Lookup so the dispatcher
// recomputes tb_flags (and, later, takes pending interrupts).
#include "cpu/arm64/helpers.h"
#include "cpu/arm64/sysregs.h"
#include "cpu/arm64/translate.h"

namespace orrery::cpu::arm64 {

using tcg::ir::Cond;
using tcg::ir::ExitReason;
using tcg::ir::FenceKind;
using tcg::ir::Type;
using tcg::ir::Value;

// ---- Hints and barriers ----

bool Translator::HINT(u32 crm, u32 op2) {
  switch ((crm << 3) | op2) {
    case 1:  // YIELD
    case 2:  // WFE: no event sources yet, so it completes at once; ending the block lets
             // spin loops see exit requests
      end_at_next();
      return true;
    case 3:  // WFI
      end_exit(ExitReason::Halt, pc_ + 4);
      return true;
    default:  // NOP, SEV, SEVL and every unallocated hint execute as NOP
      return true;
  }
}

bool Translator::CLREX() {
  e_.set_reg(kOffMonitorValid, e_.konst(Type::I8, 0));
  return true;
}

namespace {
FenceKind barrier_kind(u32 crm) {
  switch (crm & 3) {
    case 1:
      return FenceKind::Load;  // *LD: loads before, loads and stores after
    case 2:
      return FenceKind::Store;  // *ST: stores before, stores after
    default:
      return FenceKind::Full;
  }
}
}  // namespace

bool Translator::DSB(u32 crm) {
  e_.fence(barrier_kind(crm));
  return true;
}

bool Translator::DMB(u32 crm) {
  e_.fence(barrier_kind(crm));
  return true;
}

bool Translator::ISB() {
  // Context synchronisation: later instructions see earlier system register writes. Ending the
  // block makes the next one translate in the current mode.
  e_.fence(FenceKind::Instruction);
  end_at_next();
  return true;
}

// ---- MSR (immediate) ----

bool Translator::MSR_imm(u32 op1, u32 crm, u32 op2) {
  if (el_ == 0) return unallocated();  // SCTLR_EL1.UMA (EL0 DAIF access) is not modelled
  if (op1 == 0 && op2 == 5) {          // SPSel
    e_.set_reg(kOffSpSel, e_.konst(Type::I8, crm & 1));
  } else if (op1 == 3 && (op2 == 6 || op2 == 7)) {  // DAIFSet, DAIFClr
    Value daif = e_.get_reg(Type::I8, kOffDaif);
    Value bits = e_.konst(Type::I8, crm);
    e_.set_reg(kOffDaif, op2 == 6 ? e_.or_(daif, bits) : e_.and_(daif, e_.not_(bits)));
  } else {
    return unimplemented("MSR (immediate) to PSTATE field op1=" + std::to_string(op1) +
                         " op2=" + std::to_string(op2));
  }
  end_exit(ExitReason::Lookup, pc_ + 4);
  return true;
}

// ---- MRS / MSR (register) ----

bool Translator::MRS(u32 sysreg, u32 t) {
  const uint32_t key = sysreg_key_from_field(sysreg);
  const SysReg* r = find_sysreg(key);
  if (!r) {
    if (el_ != 0 && is_raz_id_register(key)) {
      set_x(t, e_.c64(0));
      return true;
    }
    return unimplemented("MRS of system register " + sysreg_name(key));
  }
  if (!(r->access & (el_ == 0 ? kEl0Read : kEl1Read))) return unallocated();
  Value v;
  switch (r->kind) {
    case SysRegKind::Field:
      v = e_.get_reg(Type::I64, r->offset);
      break;
    case SysRegKind::Const:
      v = e_.c64(r->value);
      break;
    case SysRegKind::Special:
      switch (r->special) {
        case SysRegSpecial::Nzcv: {
          const uint32_t offs[4] = {kOffN, kOffZ, kOffC, kOffV};
          v = e_.c64(0);
          for (unsigned i = 0; i < 4; ++i) {
            Value bit = e_.shl(e_.zext(Type::I64, get_flag(offs[i])), e_.c64(31 - i));
            v = e_.or_(v, bit);
          }
          break;
        }
        case SysRegSpecial::Daif:
          v = e_.shl(e_.zext(Type::I64, e_.get_reg(Type::I8, kOffDaif)), e_.c64(6));
          break;
        case SysRegSpecial::CurrentEl:
          v = e_.c64(uint64_t(el_) << 2);
          break;
        case SysRegSpecial::SpSel:
          v = e_.c64(spsel_ ? 1 : 0);
          break;
        case SysRegSpecial::SpEl0:
          if (!spsel_) return unallocated();  // SP_EL0 is the current SP: UNDEFINED
          v = e_.get_reg(Type::I64, kOffSpEl0);
          break;
        case SysRegSpecial::Counter:
          v = e_.call(kHelperReadCounter);
          break;
        case SysRegSpecial::Sctlr:
          v = e_.get_reg(Type::I64, uint32_t(offsetof(Arm64State, sctlr_el1)));
          break;
        case SysRegSpecial::TimerCtl:
        case SysRegSpecial::TimerTval: {
          uint64_t op = (r->value ? kTimerVirtual : 0) |
                        (r->special == SysRegSpecial::TimerTval ? kTimerTval : 0);
          v = e_.call(kHelperTimer, {e_.c64(op), e_.c64(0), e_.c64(pc_)});
          break;
        }
        case SysRegSpecial::None:
          return unallocated();
      }
      break;
  }
  set_x(t, v);
  return true;
}

bool Translator::MSR_reg(u32 sysreg, u32 t) {
  const uint32_t key = sysreg_key_from_field(sysreg);
  const SysReg* r = find_sysreg(key);
  if (!r) {
    if (is_raz_id_register(key)) return unallocated();  // read-only
    return unimplemented("MSR to system register " + sysreg_name(key));
  }
  if (!(r->access & (el_ == 0 ? kEl0Write : kEl1Write))) return unallocated();
  Value v = get_x(t, true);
  switch (r->kind) {
    case SysRegKind::Field:
      if (r->write_mask != ~0ull) v = e_.and_(v, e_.c64(r->write_mask));
      e_.set_reg(r->offset, v);
      break;
    case SysRegKind::Const:
      return unallocated();
    case SysRegKind::Special:
      switch (r->special) {
        case SysRegSpecial::Nzcv: {
          const uint32_t offs[4] = {kOffN, kOffZ, kOffC, kOffV};
          for (unsigned i = 0; i < 4; ++i) {
            Value bit = e_.and_(v, e_.c64(1ull << (31 - i)));
            set_flag(offs[i], e_.cmp(Cond::Ne, bit, e_.c64(0)));
          }
          break;
        }
        case SysRegSpecial::Daif:
          e_.set_reg(kOffDaif, e_.trunc(Type::I8, e_.and_(e_.lshr(v, e_.c64(6)), e_.c64(0xf))));
          break;
        case SysRegSpecial::SpSel:
          e_.set_reg(kOffSpSel, e_.trunc(Type::I8, e_.and_(v, e_.c64(1))));
          break;
        case SysRegSpecial::SpEl0:
          if (!spsel_) return unallocated();
          e_.set_reg(kOffSpEl0, v);
          break;
        case SysRegSpecial::Sctlr:
          e_.call(kHelperWriteSctlr, {v, e_.c64(pc_)});
          break;
        case SysRegSpecial::TimerCtl:
        case SysRegSpecial::TimerTval: {
          uint64_t op = kTimerWrite | (r->value ? kTimerVirtual : 0) |
                        (r->special == SysRegSpecial::TimerTval ? kTimerTval : 0);
          e_.call(kHelperTimer, {e_.c64(op), v, e_.c64(pc_)});
          break;
        }
        case SysRegSpecial::CurrentEl:
        case SysRegSpecial::Counter:
        case SysRegSpecial::None:
          return unallocated();
      }
      break;
  }
  if (r->ends_block) end_exit(ExitReason::Lookup, pc_ + 4);
  return true;
}

// ---- SYS: cache and TLB maintenance ----

bool Translator::SYS(u32 op1, u32 crn, u32 crm, u32 op2, u32 t) {
  return sys_dc_ic_tlbi(op1, crn, crm, op2, t);
}

bool Translator::sys_dc_ic_tlbi(u32 op1, u32 crn, u32 crm, u32 op2, u32 t) {
  // EL0 may only use the op1 == 3 forms (DC ZVA/CVAC/CVAU/CIVAC, IC IVAU); their SCTLR_EL1
  // enables (DZE, UCI) are not modelled.
  if (el_ == 0 && op1 != 3) return unallocated();
  if (crn == 7) {
    if (op1 == 3 && crm == 4 && op2 == 1) {  // DC ZVA: zero the naturally aligned 64-byte block
      Value base = e_.and_(get_x(t, true), e_.c64(~63ull));
      for (unsigned i = 0; i < 64; i += 8)
        e_.store(i ? e_.add(base, e_.c64(i)) : base, e_.c64(0), memop(3));
      return true;
    }
    const bool dc_by_va = op2 == 1 && ((op1 == 0 && crm == 6) ||                 // IVAC
                                       (op1 == 3 && (crm == 10 || crm == 11 ||   // CVAC, CVAU
                                                     crm == 12 || crm == 14)));  // CVAP, CIVAC
    const bool dc_by_set_way = op1 == 0 && op2 == 2 && (crm == 6 || crm == 10 || crm == 14);
    const bool ic = (op1 == 0 && (crm == 1 || crm == 5) && op2 == 0) ||  // IALLUIS, IALLU
                    (op1 == 3 && crm == 5 && op2 == 1);                  // IVAU
    // Caches are not modelled and the translation cache tracks code writes itself, so these
    // have nothing to do.
    if (dc_by_va || dc_by_set_way || ic) return true;
    if (crm == 8 || crm == 9) return unimplemented("AT (address translation)");
  }
  if (crn == 8 && op1 == 0) {  // TLBI: every form flushes everything (correct, if coarse)
    e_.call(kHelperTlbFlush);
    return true;
  }
  return unimplemented("SYS #" + std::to_string(op1) + ", C" + std::to_string(crn) + ", C" +
                       std::to_string(crm) + ", #" + std::to_string(op2));
}

}  // namespace orrery::cpu::arm64
