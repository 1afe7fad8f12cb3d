// The system registers MRS/MSR reach, as one constexpr table keyed by their encoding
// (op0, op1, CRn, CRm, op2). Plain registers are a field of Arm64State; the few with side
// effects or computed values are "special" and handled by the translator.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace orrery::cpu::arm64 {

constexpr uint32_t sysreg_key(unsigned op0, unsigned op1, unsigned crn, unsigned crm,
                              unsigned op2) {
  return (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2;
}
/// The key of the 15-bit o0:op1:CRn:CRm:op2 field of MRS/MSR (register); op0 is 2 + o0.
constexpr uint32_t sysreg_key_from_field(uint32_t field) {
  return ((2 + (field >> 14)) << 14) | (field & 0x3fff);
}

enum class SysRegKind : uint8_t {
  Field,    // a uint64_t in Arm64State at `offset`
  Const,    // reads as `value`, read-only
  Special,  // see SysRegSpecial
  RazWi,    // reads as zero, writes ignored (debug/PMU registers Linux touches but Orrery
            // does not model)
};

enum class SysRegSpecial : uint8_t {
  None,
  Nzcv,       // PSTATE.NZCV in bits 31:28
  Daif,       // PSTATE.DAIF in bits 9:6
  CurrentEl,  // PSTATE.EL in bits 3:2
  SpSel,      // PSTATE.SP in bit 0
  SpEl0,      // SP_EL0: only while SPSel selects SP_EL1
  Counter,    // CNTVCT_EL0/CNTPCT_EL0 (no CNTVOFF yet)
  Sctlr,      // SCTLR_EL1: writes go through a helper (MMU on/off flushes the TLB)
  TimerCtl,   // CNTP_CTL_EL0/CNTV_CTL_EL0: ISTATUS depends on the counter (`value`: 1 = virtual)
  TimerTval,  // CNTP_TVAL_EL0/CNTV_TVAL_EL0: CVAL relative to the counter (`value` as above)
  TimerCval,  // CNTP_CVAL_EL0/CNTV_CVAL_EL0: writes re-arm the host timer (`value` as above)
  Ttbr,       // TTBR0_EL1/TTBR1_EL1 (`value`: 1 = TTBR1): an ASID change flushes the TLB
  Tcr,        // TCR_EL1: flushes the TLB
  Dczid,      // DCZID_EL0: DZP reads 1 at EL0 when SCTLR_EL1.DZE is clear
  Ccsidr,     // CCSIDR_EL1: the cache CSSELR_EL1 selects
};

enum SysRegAccess : uint8_t {
  kEl0Read = 1,
  kEl0Write = 2,
  kEl1Read = 4,
  kEl1Write = 8,
  kEl1Rw = kEl1Read | kEl1Write,
  kEl0Rw = kEl0Read | kEl0Write | kEl1Rw,
  kEl1Ro = kEl1Read,
  kAllRo = kEl0Read | kEl1Read,
};

struct SysReg {
  const char* name;
  uint32_t key;
  uint8_t access;  // SysRegAccess bits
  SysRegKind kind;
  SysRegSpecial special = SysRegSpecial::None;
  uint32_t offset = 0;          // Field
  uint64_t value = 0;           // Const
  uint64_t write_mask = ~0ull;  // Field: bits that exist (others read as zero)
  bool ends_block = false;      // a write changes the mode, the regime or interrupt masking
  uint16_t el0_needs = 0;       // EL0 access also needs one of these tb_flags bits, else it
                                // traps with EC 0x18 (CNTKCTL_EL1, SCTLR_EL1.UCT/UMA)
};

/// The table entry for key, or null. Unlisted registers in the ID space read as zero
/// (see is_raz_id_register).
const SysReg* find_sysreg(uint32_t key);
/// op0=3, op1=0, CRn=0, CRm=1..7: the ID register space, reserved encodings read as zero.
constexpr bool is_raz_id_register(uint32_t key) {
  unsigned crm = (key >> 3) & 0xf;
  return (key >> 7) == (sysreg_key(3, 0, 0, 0, 0) >> 7) && crm >= 1 && crm <= 7;
}
/// op0=2, op1=0: the debug registers (MDSCR_EL1, OSLAR_EL1, DBGB/W*); RAZ/WI at EL1.
constexpr bool is_debug_register(uint32_t key) {
  return (key >> 11) == (sysreg_key(2, 0, 0, 0, 0) >> 11);
}
/// op0=3, op1=0 or 3, CRn=9 (and 14, CRm>=8): the PMU registers; RAZ/WI at EL1 (no PMU).
constexpr bool is_pmu_register(uint32_t key) {
  const unsigned op0 = key >> 14, op1 = (key >> 11) & 7, crn = (key >> 7) & 15;
  const unsigned crm = (key >> 3) & 15;
  return op0 == 3 && ((op1 == 0 && crn == 9 && crm == 14) ||
                      (op1 == 3 && (crn == 9 || (crn == 14 && crm >= 8))));
}
/// "SCTLR_EL1", or the generic "S3_0_C1_C0_0" for unknown encodings.
std::string sysreg_name(uint32_t key);
std::span<const SysReg> sysreg_table();

}  // namespace orrery::cpu::arm64
