// The system instructions' semantics, as plain C++ on an X86Cpu: control and debug registers,
// MSRs, CPUID, TLB maintenance, descriptor-table registers, segment loads, far transfers, IRET,
// SYSCALL/SYSENTER and their returns, and I/O permission. Each throws GuestFault for the
// guest's exception; translate_system.cpp wraps them as IR helpers that catch it and deliver.
// RIP arguments are offsets in CS; next_rip is the address of the next instruction.
#pragma once

#include <cstdint>

#include "cpu/x86/exception.h"

namespace orrery::cpu::x86 {

class X86Cpu;

// ---- msr.cpp ----
/// RDMSR / WRMSR (#GP(0) for MSRs the model lacks, logged under -d unimp, and bad values).
uint64_t read_msr(X86Cpu& cpu, uint32_t index);
void write_msr(X86Cpu& cpu, uint32_t index, uint64_t value);

// ---- control.cpp ----
/// MOV from/to CRn (n = 0, 2, 3, 4, 8) with the #GP checks; writes flush the TLB as the SDM
/// requires and recompute the mode.
uint64_t read_cr(X86Cpu& cpu, unsigned n);
void write_cr(X86Cpu& cpu, unsigned n, uint64_t value);
/// MOV from/to DRn (CR4.DE makes DR4/DR5 #UD).
uint64_t read_dr(X86Cpu& cpu, unsigned n);
void write_dr(X86Cpu& cpu, unsigned n, uint64_t value);
void lmsw(X86Cpu& cpu, uint16_t value);
void clts(X86Cpu& cpu);
/// XGETBV / XSETBV.
uint64_t read_xcr(X86Cpu& cpu, uint32_t index);
void write_xcr(X86Cpu& cpu, uint32_t index, uint64_t value);
/// CPUID: reads EAX and ECX, writes EAX..EDX.
void cpuid_insn(X86Cpu& cpu);
/// RDTSC / RDTSCP (CR4.TSD at CPL > 0: #GP) into EDX:EAX (and ECX = TSC_AUX); RDPID.
void rdtsc_insn(X86Cpu& cpu, bool rdtscp);
uint64_t rdpid_insn(X86Cpu& cpu);
void invlpg(X86Cpu& cpu, uint64_t la);
/// INVPCID type with the 16-byte descriptor at linear address desc.
void invpcid(X86Cpu& cpu, uint64_t type, uint64_t desc);
/// Privileged instructions: #GP(0) unless CPL 0 (HLT, INVD, WBINVD, LGDT, ...).
void require_cpl0(X86Cpu& cpu);

// ---- tables.cpp ----
void lgdt(X86Cpu& cpu, uint64_t base, uint32_t limit);
void lidt(X86Cpu& cpu, uint64_t base, uint32_t limit);
/// SGDT/SIDT/SLDT/STR/SMSW: UMIP check (CR4.UMIP at CPL > 0: #GP).
void check_umip(X86Cpu& cpu);
void lldt(X86Cpu& cpu, uint16_t sel);
void ltr(X86Cpu& cpu, uint16_t sel);
/// LAR / LSL: ok (ZF) and the value. VERR / VERW: ZF.
bool lar(X86Cpu& cpu, uint16_t sel, uint32_t& value);
bool lsl(X86Cpu& cpu, uint16_t sel, uint32_t& value);
bool verr(X86Cpu& cpu, uint16_t sel);
bool verw(X86Cpu& cpu, uint16_t sel);
/// MOV/POP Sreg, LDS..LSS (seg.h load_segment) for generated code.
void load_sreg(X86Cpu& cpu, unsigned r, uint16_t sel);

// ---- transfer.cpp ----
/// Far JMP / CALL to sel:offset (direct or through a call gate), opsize 2/4/8.
void far_jmp(X86Cpu& cpu, uint16_t sel, uint64_t offset, unsigned opsize, uint64_t next_rip);
void far_call(X86Cpu& cpu, uint16_t sel, uint64_t offset, unsigned opsize, uint64_t next_rip);
/// Far RET (imm bytes released after the return address).
void far_ret(X86Cpu& cpu, unsigned opsize, uint16_t imm);
/// IRET / IRETD / IRETQ (next_rip: saved in the TSS when EFLAGS.NT returns to another task).
void iret(X86Cpu& cpu, unsigned opsize, uint64_t next_rip);
/// INT n / INT3 / INTO / INT1 (kind says which); next_rip follows the instruction.
void software_interrupt(X86Cpu& cpu, uint8_t vector, EventKind kind, uint64_t next_rip);
void syscall_insn(X86Cpu& cpu, uint64_t next_rip);
void sysret_insn(X86Cpu& cpu, unsigned opsize);
void sysenter_insn(X86Cpu& cpu);
void sysexit_insn(X86Cpu& cpu, unsigned opsize);
void swapgs_insn(X86Cpu& cpu);
/// RDFSBASE/RDGSBASE/WRFSBASE/WRGSBASE (CR4.FSGSBASE or #UD).
uint64_t read_seg_base(X86Cpu& cpu, unsigned r);
void write_seg_base(X86Cpu& cpu, unsigned r, uint64_t value);
/// CLI / STI with IOPL (STI sets the interrupt shadow); with CR4.VME in virtual-8086 mode or
/// CR4.PVI at CPL 3, and IOPL too low, they clear/set VIF instead.
void cli_insn(X86Cpu& cpu);
void sti_insn(X86Cpu& cpu);
/// Whether CLI/STI at cpl would work on VIF (CR4.VME/PVI and CPL > IOPL).
bool virtual_interrupts(const X86State& s, unsigned cpl);
/// A 16-bit POPF in virtual-8086 mode at IOPL < 3 with CR4.VME: the popped IF goes to VIF.
void popf_virtual(X86Cpu& cpu);
/// IN/OUT/INS/OUTS permission: IOPL, then the TSS I/O bitmap (#GP(0)).
void check_io(X86Cpu& cpu, uint16_t port, unsigned size);

}  // namespace orrery::cpu::x86
