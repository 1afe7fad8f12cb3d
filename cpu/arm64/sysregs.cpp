// The system register table. Identification values describe what Orrery implements: AArch64
// only at EL0/EL1, no EL2/EL3, FP and AdvSIMD present, 48-bit physical addresses, 16-bit ASIDs,
// 4K and 64K granules, CRC32, no other optional extensions.
#include "cpu/arm64/sysregs.h"

#include <cstddef>
#include <cstdio>

#include "cpu/arm64/state.h"

namespace orrery::cpu::arm64 {

namespace {

constexpr SysReg field(const char* name, uint32_t key, uint8_t access, uint32_t offset,
                       uint64_t write_mask = ~0ull, bool ends_block = false) {
  SysReg r{name, key, access, SysRegKind::Field};
  r.offset = offset;
  r.write_mask = write_mask;
  r.ends_block = ends_block;
  return r;
}

constexpr SysReg constant(const char* name, uint32_t key, uint8_t access, uint64_t value) {
  SysReg r{name, key, access, SysRegKind::Const};
  r.value = value;
  return r;
}

constexpr SysReg special(const char* name, uint32_t key, uint8_t access, SysRegSpecial s,
                         bool ends_block = false) {
  SysReg r{name, key, access, SysRegKind::Special, s};
  r.ends_block = ends_block;
  return r;
}

/// A timer register; which: 0 physical, 1 virtual. EL0 access needs CNTKCTL_EL1.EL0PTEN or
/// EL0VTEN.
constexpr SysReg timer(const char* name, uint32_t key, SysRegSpecial s, uint64_t which) {
  SysReg r{name, key, kEl0Rw, SysRegKind::Special, s};
  r.value = which;
  r.el0_needs = uint16_t(which ? tb_flags::kEl0Vten : tb_flags::kEl0Pten);
  return r;
}

constexpr SysReg el0_gated(SysReg r, uint64_t needs) {
  r.el0_needs = uint16_t(needs);
  return r;
}

constexpr SysReg raz_wi(const char* name, uint32_t key) {
  return SysReg{name, key, kEl1Rw, SysRegKind::RazWi};
}

#define OFF(f) uint32_t(offsetof(Arm64State, f))

constexpr SysReg kSysRegs[] = {
    // Identification (values from the CPU model, set at reset).
    field("MIDR_EL1", sysreg_key(3, 0, 0, 0, 0), kEl1Ro, OFF(midr_el1)),
    field("MPIDR_EL1", sysreg_key(3, 0, 0, 0, 5), kEl1Ro, OFF(mpidr_el1)),
    field("REVIDR_EL1", sysreg_key(3, 0, 0, 0, 6), kEl1Ro, OFF(revidr_el1)),
    field("ID_AA64PFR0_EL1", sysreg_key(3, 0, 0, 4, 0), kEl1Ro, OFF(id_aa64pfr0_el1)),
    field("ID_AA64PFR1_EL1", sysreg_key(3, 0, 0, 4, 1), kEl1Ro, OFF(id_aa64pfr1_el1)),
    constant("ID_AA64ZFR0_EL1", sysreg_key(3, 0, 0, 4, 4), kEl1Ro, 0),
    field("ID_AA64DFR0_EL1", sysreg_key(3, 0, 0, 5, 0), kEl1Ro, OFF(id_aa64dfr0_el1)),
    constant("ID_AA64DFR1_EL1", sysreg_key(3, 0, 0, 5, 1), kEl1Ro, 0),
    constant("ID_AA64AFR0_EL1", sysreg_key(3, 0, 0, 5, 4), kEl1Ro, 0),
    constant("ID_AA64AFR1_EL1", sysreg_key(3, 0, 0, 5, 5), kEl1Ro, 0),
    field("ID_AA64ISAR0_EL1", sysreg_key(3, 0, 0, 6, 0), kEl1Ro, OFF(id_aa64isar0_el1)),
    field("ID_AA64ISAR1_EL1", sysreg_key(3, 0, 0, 6, 1), kEl1Ro, OFF(id_aa64isar1_el1)),
    field("ID_AA64MMFR0_EL1", sysreg_key(3, 0, 0, 7, 0), kEl1Ro, OFF(id_aa64mmfr0_el1)),
    field("ID_AA64MMFR1_EL1", sysreg_key(3, 0, 0, 7, 1), kEl1Ro, OFF(id_aa64mmfr1_el1)),
    field("ID_AA64MMFR2_EL1", sysreg_key(3, 0, 0, 7, 2), kEl1Ro, OFF(id_aa64mmfr2_el1)),
    special("CCSIDR_EL1", sysreg_key(3, 1, 0, 0, 0), kEl1Ro, SysRegSpecial::Ccsidr),
    field("CLIDR_EL1", sysreg_key(3, 1, 0, 0, 1), kEl1Ro, OFF(clidr_el1)),
    constant("AIDR_EL1", sysreg_key(3, 1, 0, 0, 7), kEl1Ro, 0),
    field("CSSELR_EL1", sysreg_key(3, 2, 0, 0, 0), kEl1Rw, OFF(csselr_el1), 0xf),
    el0_gated(field("CTR_EL0", sysreg_key(3, 3, 0, 0, 1), kAllRo, OFF(ctr_el0)), tb_flags::kEl0Uct),
    special("DCZID_EL0", sysreg_key(3, 3, 0, 0, 7), kAllRo, SysRegSpecial::Dczid),

    // System control.
    special("SCTLR_EL1", sysreg_key(3, 0, 1, 0, 0), kEl1Rw, SysRegSpecial::Sctlr, true),
    field("ACTLR_EL1", sysreg_key(3, 0, 1, 0, 1), kEl1Rw, OFF(actlr_el1)),
    // EE/E0E (big-endian) are RES0: ID_AA64MMFR0_EL1.BigEnd is 0.
    field("CPACR_EL1", sysreg_key(3, 0, 1, 0, 2), kEl1Rw, OFF(cpacr_el1), 0x10300000, true),

    // Translation.
    [] {
      SysReg r = special("TTBR0_EL1", sysreg_key(3, 0, 2, 0, 0), kEl1Rw, SysRegSpecial::Ttbr, true);
      r.offset = OFF(ttbr0_el1);
      return r;
    }(),
    [] {
      SysReg r = special("TTBR1_EL1", sysreg_key(3, 0, 2, 0, 1), kEl1Rw, SysRegSpecial::Ttbr, true);
      r.offset = OFF(ttbr1_el1);
      r.value = 1;
      return r;
    }(),
    [] {
      SysReg r = special("TCR_EL1", sysreg_key(3, 0, 2, 0, 2), kEl1Rw, SysRegSpecial::Tcr, true);
      r.offset = OFF(tcr_el1);
      return r;
    }(),
    field("MAIR_EL1", sysreg_key(3, 0, 10, 2, 0), kEl1Rw, OFF(mair_el1)),
    field("AMAIR_EL1", sysreg_key(3, 0, 10, 3, 0), kEl1Rw, OFF(amair_el1)),
    field("CONTEXTIDR_EL1", sysreg_key(3, 0, 13, 0, 1), kEl1Rw, OFF(contextidr_el1), 0xffffffff),

    // Exception state.
    field("SPSR_EL1", sysreg_key(3, 0, 4, 0, 0), kEl1Rw, OFF(spsr_el1), 0xffffffff),
    field("ELR_EL1", sysreg_key(3, 0, 4, 0, 1), kEl1Rw, OFF(elr_el1)),
    field("ESR_EL1", sysreg_key(3, 0, 5, 2, 0), kEl1Rw, OFF(esr_el1), 0xffffffff),
    field("AFSR0_EL1", sysreg_key(3, 0, 5, 1, 0), kEl1Rw, OFF(afsr0_el1)),
    field("AFSR1_EL1", sysreg_key(3, 0, 5, 1, 1), kEl1Rw, OFF(afsr1_el1)),
    field("FAR_EL1", sysreg_key(3, 0, 6, 0, 0), kEl1Rw, OFF(far_el1)),
    field("PAR_EL1", sysreg_key(3, 0, 7, 4, 0), kEl1Rw, OFF(par_el1)),
    field("VBAR_EL1", sysreg_key(3, 0, 12, 0, 0), kEl1Rw, OFF(vbar_el1), ~0x7ffull),

    // PSTATE.
    special("SP_EL0", sysreg_key(3, 0, 4, 1, 0), kEl1Rw, SysRegSpecial::SpEl0),
    special("SPSel", sysreg_key(3, 0, 4, 2, 0), kEl1Rw, SysRegSpecial::SpSel, true),
    special("CurrentEL", sysreg_key(3, 0, 4, 2, 2), kEl1Ro, SysRegSpecial::CurrentEl),
    special("NZCV", sysreg_key(3, 3, 4, 2, 0), kEl0Rw, SysRegSpecial::Nzcv),
    el0_gated(special("DAIF", sysreg_key(3, 3, 4, 2, 1), kEl0Rw, SysRegSpecial::Daif),
              tb_flags::kEl0Uma),
    // AHP, DN, FZ, RMode, Stride, FZ16 (RES0 without FEAT_FP16: the translator clears it), Len
    // and the exception trap enables.
    field("FPCR", sysreg_key(3, 3, 4, 4, 0), kEl0Rw, OFF(fpcr), 0x07ff9f00),
    field("FPSR", sysreg_key(3, 3, 4, 4, 1), kEl0Rw, OFF(fpsr), 0xf800009f),

    // Thread pointers.
    field("TPIDR_EL0", sysreg_key(3, 3, 13, 0, 2), kEl0Rw, OFF(tpidr_el0)),
    field("TPIDRRO_EL0", sysreg_key(3, 3, 13, 0, 3), kEl0Read | kEl1Rw, OFF(tpidrro_el0)),
    field("TPIDR_EL1", sysreg_key(3, 0, 13, 0, 4), kEl1Rw, OFF(tpidr_el1)),

    // Generic timer. CNTKCTL_EL1 controls EL0 access, which translations bake in.
    field("CNTKCTL_EL1", sysreg_key(3, 0, 14, 1, 0), kEl1Rw, OFF(cntkctl_el1), 0x3ff, true),
    // CNTFRQ_EL0 is writable at the highest implemented EL, which is EL1 here.
    el0_gated(field("CNTFRQ_EL0", sysreg_key(3, 3, 14, 0, 0), kEl0Read | kEl1Rw, OFF(cntfrq_el0),
                    0xffffffff),
              tb_flags::kEl0Pcten | tb_flags::kEl0Vcten),
    el0_gated(special("CNTPCT_EL0", sysreg_key(3, 3, 14, 0, 1), kAllRo, SysRegSpecial::Counter),
              tb_flags::kEl0Pcten),
    el0_gated(special("CNTVCT_EL0", sysreg_key(3, 3, 14, 0, 2), kAllRo, SysRegSpecial::Counter),
              tb_flags::kEl0Vcten),
    timer("CNTP_TVAL_EL0", sysreg_key(3, 3, 14, 2, 0), SysRegSpecial::TimerTval, 0),
    timer("CNTP_CTL_EL0", sysreg_key(3, 3, 14, 2, 1), SysRegSpecial::TimerCtl, 0),
    [] {
      SysReg r = timer("CNTP_CVAL_EL0", sysreg_key(3, 3, 14, 2, 2), SysRegSpecial::TimerCval, 0);
      r.offset = OFF(cntp_cval_el0);
      return r;
    }(),
    timer("CNTV_TVAL_EL0", sysreg_key(3, 3, 14, 3, 0), SysRegSpecial::TimerTval, 1),
    timer("CNTV_CTL_EL0", sysreg_key(3, 3, 14, 3, 1), SysRegSpecial::TimerCtl, 1),
    [] {
      SysReg r = timer("CNTV_CVAL_EL0", sysreg_key(3, 3, 14, 3, 2), SysRegSpecial::TimerCval, 1);
      r.offset = OFF(cntv_cval_el0);
      return r;
    }(),

    // Registers Linux touches at boot that Orrery does not model: RAZ/WI.
    raz_wi("AMUSERENR_EL0", sysreg_key(3, 3, 13, 2, 3)),
    raz_wi("DISR_EL1", sysreg_key(3, 0, 12, 1, 1)),
    raz_wi("ERRIDR_EL1", sysreg_key(3, 0, 5, 3, 0)),
    raz_wi("ERRSELR_EL1", sysreg_key(3, 0, 5, 3, 1)),
};

#undef OFF

}  // namespace

const SysReg* find_sysreg(uint32_t key) {
  for (const SysReg& r : kSysRegs)
    if (r.key == key) return &r;
  return nullptr;
}

std::span<const SysReg> sysreg_table() {
  return kSysRegs;
}

std::string sysreg_name(uint32_t key) {
  if (const SysReg* r = find_sysreg(key)) return r->name;
  char buf[32];
  std::snprintf(buf, sizeof buf, "S%u_%u_C%u_C%u_%u", key >> 14, (key >> 11) & 7, (key >> 7) & 15,
                (key >> 3) & 15, key & 7);
  return buf;
}

}  // namespace orrery::cpu::arm64
