// Exception entry and return (Arm ARM D1.10, D1.11), and the exception-raising entry points of
// Arm64Cpu (synchronous exceptions from helpers and the softmmu, interrupts from the run loop).
#include "cpu/arm64/exception.h"

#include <cinttypes>
#include <cstdio>

#include "cpu/arm64/cpu.h"
#include "cpu/arm64/debug.h"
#include "cpu/arm64/mte.h"

namespace orrery::cpu::arm64 {

namespace {
constexpr uint64_t kSpsrPan = 1ull << 22;
constexpr uint64_t kSpsrIl = 1ull << 20;
constexpr uint64_t kSpsrSs = 1ull << 21;
constexpr uint64_t kSpsrTco = 1ull << 25;
}  // namespace

uint64_t pstate_to_spsr(const Arm64State& s) {
  uint64_t v = uint64_t(s.nzcv.n) << 31 | uint64_t(s.nzcv.z) << 30 | uint64_t(s.nzcv.c) << 29 |
               uint64_t(s.nzcv.v) << 28;
  if (s.il) v |= kSpsrIl;
  v |= uint64_t(s.daif & 0xf) << 6;
  v |= uint64_t(s.el & 3) << 2;
  if (s.spsel) v |= 1;
  if (s.tco) v |= kSpsrTco;
  return v;
}

uint64_t take_exception(Arm64State& s, ExceptionKind kind, uint32_t esr, uint64_t far,
                        bool far_valid, uint64_t return_pc) {
  uint64_t offset;
  if (s.el == 0) {
    offset = 0x400;  // lower EL using AArch64
  } else {
    offset = s.spsel ? 0x200 : 0x000;  // current EL with SP_ELx / SP_EL0
  }
  offset += 0x80 * uint64_t(kind);
  s.spsr_el1 = pstate_to_spsr(s);
  // Software step: an exception-generating instruction that was stepped has completed
  // (SPSR.SS = 0: the step exception follows the return); anything else has not.
  const uint32_t ec_value = esr >> 26;
  const bool generated = kind == ExceptionKind::Sync &&
                         (ec_value == ec::kSvc64 || ec_value == ec::kHvc64 || ec_value == ec::kBrk);
  if (s.ss && !generated) s.spsr_el1 |= kSpsrSs;
  s.ss = 0;
  s.elr_el1 = return_pc;
  if (kind == ExceptionKind::Sync) {
    s.esr_el1 = esr;
    if (far_valid) s.far_el1 = far;
  }
  s.el = 1;
  s.spsel = 1;
  s.daif = 0xf;
  s.il = 0;
  if (mte_level(s) >= 2) s.tco = 1;  // no tag checks until the handler clears TCO
  s.monitor.valid = 0;  // ClearExclusiveLocal on exception entry
  s.common.pc = s.vbar_el1 + offset;
  return s.common.pc;
}

bool exception_return(Arm64State& s) {
  const uint64_t spsr = s.spsr_el1;
  const unsigned m = unsigned(spsr & 0x1f);
  const unsigned target_el = (m >> 2) & 3;
  const bool illegal = (m & 0x10) != 0 || target_el > 1 || (target_el == 0 && (m & 1)) ||
                       (m & 2) != 0;
  s.nzcv.n = (spsr >> 31) & 1;
  s.nzcv.z = (spsr >> 30) & 1;
  s.nzcv.c = (spsr >> 29) & 1;
  s.nzcv.v = (spsr >> 28) & 1;
  s.daif = uint8_t((spsr >> 6) & 0xf);
  if (mte_level(s) >= 2) s.tco = (spsr & kSpsrTco) ? 1 : 0;
  s.monitor.valid = 0;
  s.common.pc = s.elr_el1;
  if (illegal) {
    s.il = 1;  // EL and SP unchanged
    return false;
  }
  s.il = (spsr & kSpsrIl) ? 1 : 0;
  s.el = uint8_t(target_el);
  s.spsel = uint8_t(m & 1);
  s.ss = step_state_after_eret(s, spsr);
  (void)kSpsrPan;  // PAN is not implemented: SPSR.PAN is ignored
  return true;
}

const char* exception_kind_name(ExceptionKind k) {
  switch (k) {
    case ExceptionKind::Sync:
      return "sync";
    case ExceptionKind::Irq:
      return "IRQ";
    case ExceptionKind::Fiq:
      return "FIQ";
    case ExceptionKind::SError:
      return "SError";
  }
  return "?";
}

const char* ec_name(uint32_t e) {
  switch (e) {
    case ec::kUnknown:
      return "undefined instruction";
    case ec::kFpAccess:
      return "FP/SIMD access trap";
    case ec::kIllegalState:
      return "illegal execution state";
    case ec::kSvc64:
      return "SVC";
    case ec::kHvc64:
      return "HVC";
    case ec::kSysRegTrap:
      return "system register trap";
    case ec::kInsnAbortLower:
    case ec::kInsnAbortSame:
      return "instruction abort";
    case ec::kPcAlignment:
      return "PC alignment fault";
    case ec::kDataAbortLower:
    case ec::kDataAbortSame:
      return "data abort";
    case ec::kSpAlignment:
      return "SP alignment fault";
    case ec::kBrk:
      return "BRK";
    case ec::kBreakpointLower:
    case ec::kBreakpointSame:
      return "breakpoint";
    case ec::kSoftStepLower:
    case ec::kSoftStepSame:
      return "software step";
    case ec::kWatchpointLower:
    case ec::kWatchpointSame:
      return "watchpoint";
    default:
      return "exception";
  }
}

// ---- Arm64Cpu entry points ----

std::string Arm64Cpu::format_exception_loop(uint32_t esr, uint64_t pc) const {
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "guest exception loop: %s (ESR 0x%08x) at its own vector 0x%016" PRIx64
                " (VBAR_EL1 0x%016" PRIx64 ")",
                ec_name(esr >> 26), esr, pc, state_.vbar_el1);
  return buf;
}

void Arm64Cpu::raise_sync(uint32_t esr, uint64_t return_pc, uint64_t far, bool far_valid) {
  Arm64State& s = state_;
  const uint64_t from_pc = s.common.pc;
  const unsigned from_el = s.el;
  // A fixed point: the same exception raised by the vector it enters, from the state that entry
  // produces (EL1h, all masked, same ESR). The guest can never leave it (e.g. VBAR_EL1 points at
  // unmapped or zeroed memory) and no interrupt can break in, so this vCPU parks until reset
  // instead of spinning forever; the others run on, as on QEMU.
  if (s.el == 1 && s.spsel && s.daif == 0xf && esr == s.esr_el1 && return_pc == from_pc &&
      from_pc == s.vbar_el1 + 0x200 && s.elr_el1 == from_pc) {
    log().log(hw::kLogGuestErrors, "arm64: cpu%u: %s: this vCPU stops until reset\n", index_,
              format_exception_loop(esr, from_pc).c_str());
    parked_ = true;
    s.common.pending_exit = uint32_t(tcg::PendingExit::Stop);  // leave the block; run() parks
    return;
  }
  const uint64_t vector = take_exception(s, ExceptionKind::Sync, esr, far, far_valid, return_pc);
  if (log().enabled(hw::kLogInt)) {
    log().log(hw::kLogInt,
              "arm64: cpu%u: %s (EC 0x%02x) from EL%u PC 0x%016" PRIx64 ": ESR 0x%08" PRIx32
              " FAR 0x%016" PRIx64 " ELR 0x%016" PRIx64 " -> vector 0x%016" PRIx64 "\n",
              index_, ec_name(esr >> 26), esr >> 26, from_el, from_pc, esr,
              far_valid ? far : s.far_el1, return_pc, vector);
  }
  s.common.pending_exit = uint32_t(tcg::PendingExit::Exception);
}

void Arm64Cpu::take_interrupt(ExceptionKind kind) {
  Arm64State& s = state_;
  const uint64_t from_pc = s.common.pc;
  const unsigned from_el = s.el;
  const uint64_t vector = take_exception(s, kind, 0, 0, false, from_pc);
  if (log().enabled(hw::kLogInt))
    log().log(hw::kLogInt,
              "arm64: cpu%u: %s from EL%u PC 0x%016" PRIx64 " -> vector 0x%016" PRIx64 "\n",
              index_, exception_kind_name(kind), from_el, from_pc, vector);
  exec_.mode_changed();
}

void Arm64Cpu::raise_abort(uint64_t vaddr, tcg::softmmu::Access access, Fault fault,
                           unsigned level, bool cache_maintenance) {
  const bool fetch = access == tcg::softmmu::Access::Fetch;
  const bool lower = state_.el == 0;
  uint32_t iss = fault_status(fault, level);
  uint32_t ec_value;
  if (fetch) {
    ec_value = lower ? ec::kInsnAbortLower : ec::kInsnAbortSame;
  } else {
    ec_value = lower ? ec::kDataAbortLower : ec::kDataAbortSame;
    if (access == tcg::softmmu::Access::Write || cache_maintenance) iss |= 1u << 6;  // WnR
    if (cache_maintenance) iss |= 1u << 8;                                          // CM
  }
  if (fault == Fault::External || fault == Fault::ExternalWalk) iss |= 0;  // EA: IMPDEF, 0
  raise_sync(make_esr(ec_value, iss), state_.common.pc, vaddr, true);
}

}  // namespace orrery::cpu::arm64
