// The AArch64 exception model for EL0/EL1 (Arm ARM D1): syndrome (ESR_EL1) encodings, exception
// entry to EL1 and exception return. There is no EL2/EL3: every exception is taken to EL1, and
// HVC from EL1 stays a board call (PSCI).
#pragma once

#include <cstdint>

#include "cpu/arm64/state.h"

namespace orrery::cpu::arm64 {

/// ESR_ELx.EC values (Arm ARM D17.2.37).
namespace ec {
constexpr uint32_t kUnknown = 0x00;
constexpr uint32_t kFpAccess = 0x07;
constexpr uint32_t kIllegalState = 0x0e;
constexpr uint32_t kSvc64 = 0x15;
constexpr uint32_t kHvc64 = 0x16;
constexpr uint32_t kSysRegTrap = 0x18;
constexpr uint32_t kInsnAbortLower = 0x20;
constexpr uint32_t kInsnAbortSame = 0x21;
constexpr uint32_t kPcAlignment = 0x22;
constexpr uint32_t kDataAbortLower = 0x24;
constexpr uint32_t kDataAbortSame = 0x25;
constexpr uint32_t kSpAlignment = 0x26;
constexpr uint32_t kBreakpointLower = 0x30;
constexpr uint32_t kBreakpointSame = 0x31;
constexpr uint32_t kSoftStepLower = 0x32;
constexpr uint32_t kSoftStepSame = 0x33;
constexpr uint32_t kWatchpointLower = 0x34;
constexpr uint32_t kWatchpointSame = 0x35;
constexpr uint32_t kBrk = 0x3c;
}  // namespace ec

constexpr uint32_t kEsrIl = 1u << 25;  // 32-bit instruction (always, for A64)

constexpr uint32_t make_esr(uint32_t ec_value, uint32_t iss = 0) {
  return (ec_value << 26) | kEsrIl | (iss & 0x1ffffff);
}

/// ISS of a trapped MSR/MRS/SYS (EC 0x18): Op0, Op2, Op1, CRn, Rt, CRm, Direction (1 = read).
constexpr uint32_t sysreg_trap_iss(unsigned op0, unsigned op1, unsigned crn, unsigned crm,
                                   unsigned op2, unsigned rt, bool read) {
  return (op0 << 20) | (op2 << 17) | (op1 << 14) | (crn << 10) | (rt << 5) | (crm << 1) |
         (read ? 1 : 0);
}

/// FP/SIMD access trap syndrome (EC 0x07): CV=1, COND=0xE as for a trap from AArch64.
constexpr uint32_t kFpAccessEsr = make_esr(ec::kFpAccess, (1u << 24) | (0xeu << 20));

/// Fault status codes (DFSC/IFSC) of VMSAv8-64 (Arm ARM D17.2.37, ISS encoding for aborts).
enum class Fault : uint8_t {
  None,
  AddressSize,  // 0b0000LL
  Translation,  // 0b0001LL
  AccessFlag,   // 0b0010LL
  Permission,   // 0b0011LL
  ExternalWalk, // 0b0101LL: synchronous external abort on a translation table walk
  External,     // 0b010000: synchronous external abort
  Alignment,    // 0b100001
};

constexpr uint32_t fault_status(Fault f, unsigned level) {
  switch (f) {
    case Fault::AddressSize:
      return 0x00 | level;
    case Fault::Translation:
      return 0x04 | level;
    case Fault::AccessFlag:
      return 0x08 | level;
    case Fault::Permission:
      return 0x0c | level;
    case Fault::ExternalWalk:
      return 0x14 | level;
    case Fault::External:
      return 0x10;
    case Fault::Alignment:
      return 0x21;
    case Fault::None:
      break;
  }
  return 0;
}

/// The fault status of debug exceptions (IFSC/DFSC "debug exception").
constexpr uint32_t kDebugFaultStatus = 0x22;

enum class ExceptionKind : uint8_t { Sync = 0, Irq = 1, Fiq = 2, SError = 3 };

/// PSTATE as SPSR_EL1 holds it (AArch64 format).
uint64_t pstate_to_spsr(const Arm64State& s);

/// Exception entry to EL1 (AArch64.TakeException): saves PSTATE in SPSR_EL1 and return_pc in
/// ELR_EL1, writes ESR_EL1 (synchronous exceptions) and FAR_EL1 (when far_valid), masks DAIF,
/// switches to EL1h, clears the local exclusive monitor and jumps to VBAR_EL1 + the offset for
/// the source (current EL with SP0/SPx, lower EL AArch64) and kind. Returns the vector address.
uint64_t take_exception(Arm64State& s, ExceptionKind kind, uint32_t esr, uint64_t far,
                        bool far_valid, uint64_t return_pc);

/// ERET from EL1: PSTATE from SPSR_EL1, PC from ELR_EL1. A return to EL2/EL3, to AArch32 or to
/// EL0 with SP_ELx is an illegal return: PSTATE.IL is set and EL/SP stay (Arm ARM D1.11.5).
/// Returns false for an illegal return.
bool exception_return(Arm64State& s);

const char* exception_kind_name(ExceptionKind k);
/// A short name for an EC value, for -d int.
const char* ec_name(uint32_t ec_value);

}  // namespace orrery::cpu::arm64
