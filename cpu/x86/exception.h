// The x86 event model (Intel SDM vol. 3A, chapter 6): exception and interrupt vectors, their
// classes for double-fault detection, and delivery through the IVT (real mode, virtual-8086
// via the IDT), 16/32-bit interrupt and trap gates (protected mode) and 64-bit gates with IST
// (long mode).
//
// System helpers report a guest fault by throwing GuestFault; the helper's entry point (see
// guarded() in helpers.h) catches it before returning to generated code and delivers it, so no
// C++ exception ever unwinds through translated code.
#pragma once

#include <cstdint>

#include "cpu/x86/state.h"

namespace orrery::cpu::x86 {

class X86Cpu;

/// Exception vectors.
namespace vec {
constexpr unsigned kDe = 0, kDb = 1, kNmi = 2, kBp = 3, kOf = 4, kBr = 5, kUd = 6, kNm = 7;
constexpr unsigned kDf = 8, kTs = 10, kNp = 11, kSs = 12, kGp = 13, kPf = 14, kMf = 16;
constexpr unsigned kAc = 17, kMc = 18, kXm = 19, kCp = 21;
}  // namespace vec

/// True for the vectors that push an error code.
constexpr bool has_error_code(unsigned v) {
  return v == vec::kDf || (v >= vec::kTs && v <= vec::kPf) || v == vec::kAc || v == vec::kCp;
}

/// Selector error code bits: EXT (raised during delivery of an external event), IDT (the index
/// is an IDT vector), TI (LDT).
namespace errc {
constexpr uint32_t kExt = 1, kIdt = 2, kTi = 4;
}  // namespace errc

/// #PF error code bits.
namespace pfec {
constexpr uint32_t kP = 1, kW = 2, kU = 4, kRsvd = 8, kI = 16, kPk = 32;
}  // namespace pfec

/// A guest fault raised inside a system helper. cr2 is meaningful for #PF only.
struct GuestFault {
  uint8_t vector = vec::kGp;
  uint32_t error_code = 0;
  uint64_t cr2 = 0;
};

enum class EventKind : uint8_t {
  Fault,        // an exception; RIP of the faulting instruction is pushed (traps: next_rip)
  Trap,         // an exception reported after the instruction (#DB traps, #OF): next_rip
  SoftwareInt,  // INT n: gate DPL checked against CPL, VM86 IOPL rules; next_rip
  SoftwareExc,  // INT3/INTO: gate DPL checked, no IOPL redirection; next_rip
  Icebp,        // INT1: like a hardware #DB, no DPL check; next_rip
  External,     // INTR from the interrupt controller
  Nmi,
};

struct Event {
  uint8_t vector = 0;
  EventKind kind = EventKind::Fault;
  bool has_error = false;
  uint32_t error_code = 0;
  uint64_t next_rip = 0;  // RIP after the instruction (traps and software interrupts)
  uint64_t cr2 = 0;       // #PF: the faulting linear address
};

/// Makes an Event for an exception vector raised by the current instruction.
Event fault_event(const GuestFault& f);

/// Delivers ev on cpu: pushes the frame, switches stacks and privilege as needed, loads the
/// handler's CS:RIP and updates CpuCommon::pc and tb_flags. For faults, the state's RIP must be
/// the faulting instruction's. A fault during delivery becomes a double fault where the SDM
/// says so (table 6-5), and a fault delivering #DF is a triple fault: then the vCPU asks the
/// board for a reset (X86Cpu::triple_fault). Logged under -d int.
void deliver_event(X86Cpu& cpu, const Event& ev);

/// For helpers and the softmmu: raises exception vector (with its error code where the vector
/// has one) at the current instruction (CpuCommon::pc is its linear address) and sets
/// PendingExit::Exception.
void raise_exception(X86Cpu& cpu, uint8_t vector, uint32_t error_code = 0);
/// Delivers a GuestFault caught at a helper entry (the current instruction faulted).
void raise_fault(X86Cpu& cpu, const GuestFault& f);

// ---- The frontend's entry points (translators reach them through TranslateContext) ----

/// Delivers exception `vector` (error_code -1: none) for the instruction whose first byte is at
/// the linear address insn_pc (CS base + EIP): a fault, so the saved return address is that
/// instruction. Sets common.pc to where execution continues and common.pending_exit to
/// PendingExit::Exception.
void raise_exception(X86State& s, unsigned vector, int32_t error_code /* -1: none */,
                     uint64_t insn_pc);

/// INT n (kind 0), INT3 (kind 1), INTO (kind 2), INT1/ICEBP (kind 3): a trap whose saved return
/// address is next_pc (linear); INT n, INT3 and INTO check the gate's DPL against CPL. Sets
/// common.pc and common.pending_exit like raise_exception.
void raise_software_interrupt(X86State& s, unsigned vector, unsigned kind, uint64_t insn_pc,
                              uint64_t next_pc);

}  // namespace orrery::cpu::x86
