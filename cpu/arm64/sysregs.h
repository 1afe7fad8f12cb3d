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
};

enum class SysRegSpecial : uint8_t {
  None,
  Nzcv,       // PSTATE.NZCV in bits 31:28
  Daif,       // PSTATE.DAIF in bits 9:6
  CurrentEl,  // PSTATE.EL in bits 3:2
  SpSel,      // PSTATE.SP in bit 0
  SpEl0,      // SP_EL0: only while SPSel selects SP_EL1
  Counter,    // CNTVCT_EL0/CNTPCT_EL0 (no CNTVOFF yet)
  Sctlr,      // SCTLR_EL1: writes go through a helper (MMU enable is not implemented yet)
  TimerCtl,   // CNTP_CTL_EL0/CNTV_CTL_EL0: ISTATUS depends on the counter (`value`: 1 = virtual)
  TimerTval,  // CNTP_TVAL_EL0/CNTV_TVAL_EL0: CVAL relative to the counter (`value` as above)
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
};

/// The table entry for key, or null. Unlisted registers in the ID space read as zero
/// (see is_raz_id_register).
const SysReg* find_sysreg(uint32_t key);
/// op0=3, op1=0, CRn=0, CRm=1..7: the ID register space, reserved encodings read as zero.
constexpr bool is_raz_id_register(uint32_t key) {
  unsigned crm = (key >> 3) & 0xf;
  return (key >> 7) == (sysreg_key(3, 0, 0, 0, 0) >> 7) && crm >= 1 && crm <= 7;
}
/// "SCTLR_EL1", or the generic "S3_0_C1_C0_0" for unknown encodings.
std::string sysreg_name(uint32_t key);
std::span<const SysReg> sysreg_table();

}  // namespace orrery::cpu::arm64
