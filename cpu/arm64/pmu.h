// PMUv3 (Arm ARM D11): PMCR_EL0, the cycle counter and 6 event counters with SW_INCR,
// INST_RETIRED, CPU_CYCLES, MEM_ACCESS/L1D_CACHE, BR_RETIRED/BR_PRED and CHAIN, overflow
// interrupts (Arm64Cpu::pmu_irq), PMUSERENR_EL0's EL0 access control and the filters by EL.
//
// Cost: nothing while the PMU does not count. While PMCR_EL0.E is set with some counter
// enabled, tb_flags has kPmu and the translator adds each instruction's events to raw totals
// per EL (PmuState::insns/mem/branches: one add each, after the instruction, so a faulting
// instruction is not counted; SVC/HVC/BRK count before they take their exception), and each
// such block ends with helper_pmu_tick, which folds the totals into the counters (pmu_sync)
// and drives the overflow interrupt. Every PMU register access syncs first. INST_RETIRED and
// SW_INCR are exact; CPU_CYCLES counts one cycle per instruction; MEM_ACCESS counts the IR's
// memory operations (an LDP is two; exclusives and DC ZVA are not counted).
#pragma once

#include <cstdint>

#include "cpu/arm64/state.h"
#include "tcg/ir/emitter.h"
#include "tcg/ir/helpers.h"

namespace orrery::cpu::arm64 {

/// The architectural event numbers this PMU counts (PMCEID0/1_EL0 list them).
namespace pmu_event {
constexpr uint16_t kSwIncr = 0x00, kL1dCache = 0x04, kInstRetired = 0x08, kCpuCycles = 0x11,
                   kBrPred = 0x12, kMemAccess = 0x13, kChain = 0x1e, kBrRetired = 0x21;
}

/// tb_flags::kPmu when the PMU counts.
uint64_t pmu_tb_flags(const Arm64State& s);
/// The PMU registers (op0=3: op1=3 CRn=9/14, op1=0 CRn=9 CRm=14) this PMU implements.
bool is_implemented_pmu_register(uint32_t key);
/// Folds the raw event totals into the counters, sets overflow flags and drives the
/// interrupt line.
void pmu_sync(Arm64State& s);

/// Translation while kPmu: after (or, for exception-generating ones, before) each
/// instruction, adds its events at the current EL. insn is its encoding; mem_ops the memory
/// operations its IR performs.
void emit_pmu_count(tcg::ir::Emitter& e, unsigned el, uint32_t insn, unsigned mem_ops);
/// True for SVC/HVC/SMC/BRK/HLT: counted before they take their exception.
constexpr bool is_exception_generating(uint32_t insn) {
  return (insn & 0xff000000) == 0xd4000000;
}

/// helper_pmu_reg's op: key | write flag | Rt << 40; pc: the instruction (EL0 traps).
constexpr uint64_t kPmuRegWrite = 1ull << 32;
constexpr unsigned kPmuRegRtShift = 40;
uint64_t helper_pmu_reg(tcg::CpuCommon* cpu, uint64_t op, uint64_t value, uint64_t pc);
uint64_t helper_pmu_tick(tcg::CpuCommon* cpu, uint64_t, uint64_t, uint64_t);

inline constexpr tcg::ir::Helper kHelperPmuReg{"arm64_pmu_reg", &helper_pmu_reg};
inline constexpr tcg::ir::Helper kHelperPmuTick{"arm64_pmu_tick", &helper_pmu_tick};

}  // namespace orrery::cpu::arm64
