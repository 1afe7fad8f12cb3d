// Hardware task switching (Intel SDM vol. 3A chapter 7): JMP/CALL to a TSS descriptor or a task
// gate, interrupts and exceptions through a task gate in the IDT, and IRET with EFLAGS.NT (the
// previous-task link). Legacy protected mode only: in long mode every entry point is #GP.
// Internal to cpu/x86.
#pragma once

#include <cstdint>

#include "cpu/x86/seg.h"

namespace orrery::cpu::x86 {

/// JMP or CALL far to sel, whose descriptor d (already read) is a TSS descriptor or a task gate.
/// next_rip is saved in the old TSS. Throws GuestFault for the checks before the switch; faults
/// loading the new task's state are raised in the new task's context (also as a GuestFault,
/// after the state has been switched).
void far_task_switch(X86Cpu& cpu, uint16_t sel, const Descriptor& d, bool call, uint64_t next_rip);

/// IRET with EFLAGS.NT = 1 outside long mode: returns to the task named by the current TSS's
/// previous-task link.
void iret_task_switch(X86Cpu& cpu, uint64_t next_rip);

/// Event delivery through the task gate `gate` of the IDT: switches (nested) to its task, then
/// pushes the error code on the new task's stack. ext is the EXT bit of error codes; return_rip
/// is saved in the old TSS.
void event_task_switch(X86Cpu& cpu, const Descriptor& gate, uint32_t ext, uint64_t return_rip,
                       bool has_error, uint32_t error_code);

}  // namespace orrery::cpu::x86
