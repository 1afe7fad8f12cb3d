// System instructions: hints, barriers, CLREX, MSR (immediate), MRS/MSR (register) through the
// system register table (plus the GICv3 ICC_* registers and RAZ/WI debug/PMU space), and the SYS
// space (DC, IC, TLBI, AT). Writes that change the mode or the translation regime end the block
// with ExitReason::Lookup so the dispatcher recomputes tb_flags. DAIF writes (a kernel's
// local_irq_save/restore: ~190k in an arm64 boot) end it with a plain jump: their helper asks
// the run loop to take an interrupt that became deliverable, and recomputes the tb flags when
// PSTATE.D, the one DAIF bit they follow, changed.
//
// EL0 rules: registers without EL0 access are UNDEFINED (EC 0); EL0 accesses that a control bit
// disables (CNTKCTL_EL1, SCTLR_EL1.UCT/UMA/DZE/UCI) trap with EC 0x18. Encodings no table knows
// are UNDEFINED and logged by -d unimp with their op0/op1/CRn/CRm/op2.
#include "cpu/arm64/debug.h"
#include "cpu/arm64/exception.h"
#include "cpu/arm64/fp.h"
#include "cpu/arm64/helpers.h"
#include "cpu/arm64/pmu.h"
#include "cpu/arm64/sysregs.h"
#include "cpu/arm64/translate.h"
#include "hw/intc/gicv3_cpu_if.h"

namespace orrery::cpu::arm64 {

using tcg::ir::Cond;
using tcg::ir::ExitReason;
using tcg::ir::FenceKind;
using tcg::ir::Type;
using tcg::ir::Value;

// ---- Hints and barriers ----

bool Translator::HINT(u32 crm, u32 op2) {
  switch ((crm << 3) | op2) {
    case 1:  // YIELD: ending the block lets spin loops see exit requests
      end_at_next();
      return true;
    case 2:  // WFE: the run loop clears the event register or sleeps (Arm64Cpu::wait_for_event)
      end_exit(ExitReason::Halt, pc_ + 4, kHaltWfe);
      return true;
    case 3:  // WFI
      end_exit(ExitReason::Halt, pc_ + 4, kHaltWfi);
      return true;
    case 4:  // SEV
    case 5:  // SEVL
      e_.call(kHelperSendEvent, {e_.c64(op2 == 4 ? kSendEventAll : 0)});
      return true;
    default:  // NOP and every unallocated hint execute as NOP
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
  if (op1 == 0 && op2 == 5) {  // SPSel
    if (el_ == 0) return unallocated();
    e_.set_reg(kOffSpSel, e_.konst(Type::I8, crm & 1));
  } else if (op1 == 3 && (op2 == 6 || op2 == 7)) {  // DAIFSet, DAIFClr
    if (el_ == 0 && !(flags_ & tb_flags::kEl0Uma))
      return trap_sysreg(0, op1, 4, crm, op2, 31, false);
    Value daif = e_.get_reg(Type::I8, kOffDaif);
    Value bits = e_.konst(Type::I8, crm);
    e_.set_reg(kOffDaif, op2 == 6 ? e_.or_(daif, bits) : e_.and_(daif, e_.not_(bits)));
    if (op2 == 7 || (crm & 8)) e_.call(kHelperCheckIrq, {e_.zext(Type::I64, daif)});
    end_at_next();
    return true;
  } else if (op1 == 3 && op2 == 4) {  // TCO
    return mte_msr_tco(crm);
  } else {
    // PAN and UAO (op2 4, 3) are not implemented nor advertised; the rest is unallocated.
    return unallocated();
  }
  end_exit(ExitReason::Lookup, pc_ + 4);
  return true;
}

// ---- MRS / MSR (register) ----

namespace {
struct SysRegFields {
  unsigned op0, op1, crn, crm, op2;
};
SysRegFields fields_of(uint32_t key) {
  return {key >> 14, (key >> 11) & 7, (key >> 7) & 15, (key >> 3) & 15, key & 7};
}
}  // namespace

bool Translator::sysreg_unlisted(uint32_t key, u32 t, bool read) {
  const SysRegFields f = fields_of(key);
  if (flags_ & tb_flags::kGicSysregs) {
    if (const hw::intc::IccRegInfo* icc =
            hw::intc::find_icc_reg(f.op0, f.op1, f.crn, f.crm, f.op2)) {
      if (el_ == 0) return unallocated();
      const bool ok = icc->access == hw::intc::IccAccess::ReadWrite ||
                      (read ? icc->access == hw::intc::IccAccess::ReadOnly
                            : icc->access == hw::intc::IccAccess::WriteOnly);
      if (!ok) return unallocated();
      if (read) {
        set_x(t, e_.call(kHelperIcc, {e_.c64(uint64_t(icc->reg)), e_.c64(0)}));
      } else {
        e_.call(kHelperIcc, {e_.c64(uint64_t(icc->reg) | kIccWrite), get_x(t, true)});
        // Acknowledge/EOI/PMR writes can change what is deliverable.
        end_exit(ExitReason::Lookup, pc_ + 4);
      }
      return true;
    }
  }
  if (const unsigned access = debug_register_access(key)) {  // self-hosted debug (debug.h)
    const bool el0_ok = f.op1 == 3;  // MDCCSR_EL0, DBGDTR_EL0, DBGDTRRX/TX_EL0
    if ((el_ == 0 && !el0_ok) || !(access & (read ? 1 : 2))) return unallocated();
    const uint64_t op = key | uint64_t(t) << kDebugRegRtShift;
    if (read) {
      set_x(t, e_.call(kHelperDebugReg, {e_.c64(op), e_.c64(0), e_.pc_rel(pc_)}));
    } else {
      e_.call(kHelperDebugReg, {e_.c64(op | kDebugRegWrite), get_x(t, true), e_.pc_rel(pc_)});
      end_exit(ExitReason::Lookup, pc_ + 4);  // the debug events of this mode may change
    }
    return true;
  }
  if (is_implemented_pmu_register(key)) {  // PMUv3 (pmu.h); PMUSERENR_EL0 gates EL0
    const bool read_only = key == sysreg_key(3, 3, 9, 12, 6) || key == sysreg_key(3, 3, 9, 12, 7) ||
                           (key == sysreg_key(3, 3, 9, 14, 0) && el_ == 0);
    const bool write_only = key == sysreg_key(3, 3, 9, 12, 4);  // PMSWINC_EL0
    if ((el_ == 0 && f.op1 != 3) || (read ? write_only : read_only)) return unallocated();
    const uint64_t op = key | (read ? 0 : kPmuRegWrite) | uint64_t(t) << kPmuRegRtShift;
    if (read) {
      set_x(t, e_.call(kHelperPmuReg, {e_.c64(op), e_.c64(0), e_.pc_rel(pc_)}));
    } else {
      e_.call(kHelperPmuReg, {e_.c64(op), get_x(t, true), e_.pc_rel(pc_)});
      end_exit(ExitReason::Lookup, pc_ + 4);  // whether the PMU counts may change
    }
    return true;
  }
  if (el_ != 0) {
    if (read && is_raz_id_register(key)) {
      set_x(t, e_.c64(0));
      return true;
    }
    if (is_debug_register(key) || is_pmu_register(key)) {  // RAZ/WI: not modelled
      e_.call(kHelperUnimpSysreg, {e_.c64(key | (read ? 0 : kDebugRegWrite))});
      if (read) set_x(t, e_.c64(0));
      return true;
    }
  }
  return undefined_logged(std::string(read ? "MRS of " : "MSR to ") + "unknown system register " +
                          sysreg_name(key) + " (op0=" + std::to_string(f.op0) +
                          " op1=" + std::to_string(f.op1) + " CRn=" + std::to_string(f.crn) +
                          " CRm=" + std::to_string(f.crm) + " op2=" + std::to_string(f.op2) + ")");
}

bool Translator::sysreg_el0_check(const SysReg& r, uint32_t key, u32 t, bool read, bool& handled) {
  handled = false;
  if (el_ != 0) return true;
  if (!(r.access & (read ? kEl0Read : kEl0Write))) {
    handled = true;
    return unallocated();
  }
  if (r.el0_needs && !(flags_ & r.el0_needs)) {
    handled = true;
    const SysRegFields f = fields_of(key);
    return trap_sysreg(f.op0, f.op1, f.crn, f.crm, f.op2, t, read);
  }
  return true;
}

bool Translator::MRS(u32 sysreg, u32 t) {
  const uint32_t key = sysreg_key_from_field(sysreg);
  bool mte_handled = false;
  const bool mte_res = mte_sysreg(key, t, true, mte_handled);
  if (mte_handled) return mte_res;
  const SysReg* r = find_sysreg(key);
  if (!r) return sysreg_unlisted(key, t, true);
  bool handled = false;
  bool res = sysreg_el0_check(*r, key, t, true, handled);
  if (handled) return res;
  if (!(r->access & (el_ == 0 ? kEl0Read : kEl1Read))) return unallocated();
  Value v;
  switch (r->kind) {
    case SysRegKind::Field:
      v = e_.get_reg(Type::I64, r->offset);
      break;
    case SysRegKind::Const:
      v = e_.c64(r->value);
      break;
    case SysRegKind::RazWi:
      v = e_.c64(0);
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
        case SysRegSpecial::Ttbr:
        case SysRegSpecial::Tcr:
        case SysRegSpecial::TimerCval:
          v = e_.get_reg(Type::I64, r->offset);
          break;
        case SysRegSpecial::Dczid:  // 64-byte blocks; DZP at EL0 when SCTLR_EL1.DZE is clear
          v = e_.c64(4 | (el_ == 0 && !(flags_ & tb_flags::kEl0Dze) ? 0x10 : 0));
          break;
        case SysRegSpecial::Ccsidr:
          v = e_.call(kHelperCcsidr);
          break;
        case SysRegSpecial::TimerCtl:
        case SysRegSpecial::TimerTval: {
          uint64_t op = (r->value ? kTimerVirtual : 0) |
                        (r->special == SysRegSpecial::TimerTval ? kTimerTval : 0);
          v = e_.call(kHelperTimer, {e_.c64(op), e_.c64(0), e_.pc_rel(pc_)});
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
  bool mte_handled = false;
  const bool mte_res = mte_sysreg(key, t, false, mte_handled);
  if (mte_handled) return mte_res;
  const SysReg* r = find_sysreg(key);
  if (!r) {
    if (is_raz_id_register(key)) return unallocated();  // read-only
    return sysreg_unlisted(key, t, false);
  }
  bool handled = false;
  bool res = sysreg_el0_check(*r, key, t, false, handled);
  if (handled) return res;
  if (!(r->access & (el_ == 0 ? kEl0Write : kEl1Write))) return unallocated();
  Value v = get_x(t, true);
  switch (r->kind) {
    case SysRegKind::Field: {
      uint64_t mask = r->write_mask;
      if (r->offset == offsetof(Arm64State, fpcr) && !half_ok(fp::kH))
        mask &= ~fp::kFpcrFz16;  // FPCR.FZ16 is RES0 without FEAT_FP16
      if (mask != ~0ull) v = e_.and_(v, e_.c64(mask));
      e_.set_reg(r->offset, v);
      break;
    }
    case SysRegKind::Const:
      return unallocated();
    case SysRegKind::RazWi:
      return true;
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
        case SysRegSpecial::Daif: {
          Value old = e_.zext(Type::I64, e_.get_reg(Type::I8, kOffDaif));
          e_.set_reg(kOffDaif, e_.trunc(Type::I8, e_.and_(e_.lshr(v, e_.c64(6)), e_.c64(0xf))));
          e_.call(kHelperCheckIrq, {old});
          end_at_next();
          return true;
        }
        case SysRegSpecial::SpSel:
          e_.set_reg(kOffSpSel, e_.trunc(Type::I8, e_.and_(v, e_.c64(1))));
          break;
        case SysRegSpecial::SpEl0:
          if (!spsel_) return unallocated();
          e_.set_reg(kOffSpEl0, v);
          break;
        case SysRegSpecial::Sctlr:
          e_.call(kHelperWriteRegime, {e_.c64(kRegimeSctlr), v});
          break;
        case SysRegSpecial::Ttbr:
          e_.call(kHelperWriteRegime, {e_.c64(r->value ? kRegimeTtbr1 : kRegimeTtbr0), v});
          break;
        case SysRegSpecial::Tcr:
          e_.call(kHelperWriteRegime, {e_.c64(kRegimeTcr), v});
          break;
        case SysRegSpecial::TimerCtl:
        case SysRegSpecial::TimerTval:
        case SysRegSpecial::TimerCval: {
          uint64_t op = kTimerWrite | (r->value ? kTimerVirtual : 0) |
                        (r->special == SysRegSpecial::TimerTval   ? kTimerTval
                         : r->special == SysRegSpecial::TimerCval ? kTimerCval
                                                                  : 0);
          e_.call(kHelperTimer, {e_.c64(op), v, e_.pc_rel(pc_)});
          break;
        }
        case SysRegSpecial::CurrentEl:
        case SysRegSpecial::Counter:
        case SysRegSpecial::Dczid:
        case SysRegSpecial::Ccsidr:
        case SysRegSpecial::None:
          return unallocated();
      }
      break;
  }
  if (r->ends_block) end_exit(ExitReason::Lookup, pc_ + 4);
  return true;
}

// ---- SYS: cache and TLB maintenance, address translation ----

bool Translator::SYS(u32 op1, u32 crn, u32 crm, u32 op2, u32 t) {
  return sys_dc_ic_tlbi(op1, crn, crm, op2, t);
}

bool Translator::sys_dc_ic_tlbi(u32 op1, u32 crn, u32 crm, u32 op2, u32 t) {
  if (crn == 7) {
    if (op1 == 3 && crm == 4 && op2 == 1) {  // DC ZVA: zero the naturally aligned 64-byte block
      if (el_ == 0 && !(flags_ & tb_flags::kEl0Dze))
        return trap_sysreg(1, op1, crn, crm, op2, t, false);
      mte_check(get_x(t, true), 64, true, true);
      Value base = e_.and_(get_x(t, true), e_.c64(~63ull));
      for (unsigned i = 0; i < 64; i += 8)
        e_.store(i ? e_.add(base, e_.c64(i)) : base, e_.c64(0), memop(3));
      return true;
    }
    bool mte_handled = false;
    const bool mte_res = mte_dc(op1, crm, op2, t, mte_handled);
    if (mte_handled) return mte_res;
    // EL0 may use DC CVAC/CVAU/CIVAC and IC IVAU when SCTLR_EL1.UCI allows (else EC 0x18).
    const bool el0_cmo = op1 == 3 && op2 == 1 && (crm == 10 || crm == 11 || crm == 14 || crm == 5);
    if (el0_cmo) {
      if (el_ == 0 && !(flags_ & tb_flags::kEl0Uci))
        return trap_sysreg(1, op1, crn, crm, op2, t, false);
      return true;  // caches are not modelled; the translation cache tracks code writes itself
    }
    if (el_ == 0) return unallocated();
    const bool dc_ivac = op1 == 0 && crm == 6 && op2 == 1;
    const bool dc_by_set_way = op1 == 0 && op2 == 2 && (crm == 6 || crm == 10 || crm == 14);
    const bool ic_all = op1 == 0 && (crm == 1 || crm == 5) && op2 == 0;  // IALLUIS, IALLU
    if (dc_ivac || dc_by_set_way || ic_all) return true;
    if (op1 == 0 && crm == 8 && op2 <= 3) {  // AT S1E1R, S1E1W, S1E0R, S1E0W
      e_.call(kHelperAt, {e_.c64(op2), get_x(t, true), e_.pc_rel(pc_)});
      return true;
    }
  }
  if (crn == 8 && op1 == 0 && el_ != 0 && (crm == 3 || crm == 7) &&
      (op2 <= 3 || op2 == 5 || op2 == 7)) {
    // TLBI VMALLE1, VAE1, ASIDE1, VAAE1, VALE1, VAALE1 (CRm 3: Inner Shareable broadcast).
    e_.call(kHelperTlbi, {e_.c64(tlbi_op(crm, op2)), get_x(t, true)});
    return true;
  }
  if (el_ == 0) return unallocated();
  return undefined_logged("unknown SYS #" + std::to_string(op1) + ", C" + std::to_string(crn) +
                          ", C" + std::to_string(crm) + ", #" + std::to_string(op2) + " (op0=1)");
}

}  // namespace orrery::cpu::arm64
