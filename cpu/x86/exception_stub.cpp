// Placeholder exception delivery until x86-sys replaces this file: records the vector in
// pending_exception, leaves the PC at the faulting instruction (after it for a software
// interrupt) and stops the vCPU (PendingExit::Stop), so frontend tests can see what was raised.
#include "cpu/x86/exception.h"

namespace orrery::cpu::x86 {

void raise_exception(X86State& s, unsigned vector, int32_t error_code, uint64_t insn_pc) {
  (void)error_code;
  s.pending_exception = int32_t(vector);
  s.common.pc = insn_pc;
  s.common.pending_exit = uint32_t(tcg::PendingExit::Stop);
  s.common.stop_message = "x86: exception delivery is not implemented yet";
}

void raise_software_interrupt(X86State& s, unsigned vector, unsigned kind, uint64_t insn_pc,
                              uint64_t next_pc) {
  (void)kind, (void)insn_pc;
  s.pending_exception = int32_t(vector);
  s.common.pc = next_pc;
  s.common.pending_exit = uint32_t(tcg::PendingExit::Stop);
  s.common.stop_message = "x86: exception delivery is not implemented yet";
}

}  // namespace orrery::cpu::x86
