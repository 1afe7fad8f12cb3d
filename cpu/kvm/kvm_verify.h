// -accel verify,ref=kvm: lockstep verification of a TCG tier against KVM on the PC board. Each
// vCPU is a TCG X86Cpu (the test engine, whose effects are the real ones: it runs on the board's
// RAM) and a KVM vCPU running the same code from the same initial state over a private copy of
// guest RAM (a VM with no irqchip, so every port and MMIO access exits to Orrery).
//
// They meet at every KVM exit (this host's KVM cannot single-step CPL3 code, so there is no
// finer sync point): KVM runs to its next port-I/O or MMIO exit; TCG runs to its next port or
// MMIO access and stops before it (X86Cpu::IoGate; an MMIO access through a softmmu watchpoint
// checker). Both must be about to make the same access from the same registers and the same
// memory (the pages either side wrote since the last sync point: KVM's dirty log, TCG's
// recorded stores). The access is then made once, on the real device, with KVM's data; KVM
// completes the instruction and TCG takes KVM's registers after it (the I/O instruction itself
// is compared only before it runs). External interrupts are injected only at sync points, into
// both: the vector is acknowledged once from the board's interrupt controller. Device DMA into
// guest RAM is copied into KVM's RAM at the next sync point. At the first difference both
// states are printed with the range of code since the last sync point and Orrery exits with
// x86::kVerifyDivergenceExit.
//
// A KVM HLT exit, string I/O and device DMA between sync points end the comparison (TCG runs on
// alone, said once on stderr); CPUID and RDTSC give host values under KVM and would differ. A
// divergence is narrowed to one instruction by re-running the range from the last sync point
// against the interpreter.
#pragma once

#include <memory>
#include <string>

#include "cpu/x86/verify.h"
#include "tcg/exec/engine.h"

namespace orrery::hw {
class Log;
}

namespace orrery::cpu::kvm {

/// The accelerator; null with one line in error (no usable /dev/kvm, the tier failed).
std::unique_ptr<x86::X86Accelerator> make_kvm_verify_accelerator(
    const x86::VerifyOptions& options, const tcg::exec::EngineOptions& base, hw::Log& log,
    std::string& error);

}  // namespace orrery::cpu::kvm
