// -accel verify: lockstep verification of a compiled TCG tier against the interpreter on the PC
// board. Each vCPU is a pair of X86Cpus on two private engines: the test engine (baseline, LLVM
// or auto; the one whose effects are real) and the reference engine (the interpreter). Both run
// one block at a time (VcpuExec::set_block_step). A step:
//   1. the reference CPU takes the test CPU's architectural state;
//   2. the test CPU runs one block; its stores (softmmu and system helpers) are recorded with
//      the bytes they overwrote;
//   3. a step that took anything from outside the CPU (interrupts, HLT, I/O ports, MMIO, the TSC,
//      the local APIC) is left unchecked: the reference could not be given the same inputs;
//   4. otherwise the test's stores are undone, the reference runs the same block from the same
//      state and memory, and the two final states (state_compare.h) and the bytes both stored
//      must agree.
// At the first difference the block is re-run both ways one instruction at a time to name the
// instruction (a bug only in compiled code may show only at block level: then the block is
// named), both states are printed with the differences marked, and Orrery exits with
// kVerifyDivergenceExit.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "cpu/x86/injected_bug.h"
#include "cpu/x86/vcpu.h"
#include "tcg/exec/engine.h"

namespace orrery::hw {
class Log;
}

namespace orrery::cpu::x86 {

/// The exit status of a run that found a divergence.
constexpr int kVerifyDivergenceExit = 3;

struct VerifyOptions {
  bool ref_kvm = false;  // -accel verify,ref=kvm (cpu/kvm/kvm_verify.h); else the interpreter
  tcg::exec::Tier test = tcg::exec::Tier::Baseline;  // -accel verify,test=interp|baseline|llvm|auto
  InjectedBug inject = InjectedBug::kNone;           // -accel verify,inject=adc-carry
};

/// One -accel verify property (KEY=VALUE): test=baseline|llvm|auto, inject=adc-carry. An
/// error message, or empty.
std::string parse_verify_property(std::string_view key, std::string_view value,
                                  VerifyOptions& options);
/// The -accel help lines for verify.
std::string verify_help_text();

/// The accelerator; null with a reason in error (the LLVM tier could not start). base gives the
/// engine options the user chose (-accel has none for verify: the defaults).
std::unique_ptr<X86Accelerator> make_verify_accelerator(const VerifyOptions& options,
                                                        const tcg::exec::EngineOptions& base,
                                                        hw::Log& log, std::string& error);

}  // namespace orrery::cpu::x86
