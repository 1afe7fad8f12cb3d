// Architectural state of one AArch64 vCPU, laid out for generated code: CpuCommon first, then
// plain fields reached by GetReg/SetReg byte offsets. Only EL0 and EL1 exist (no EL2/EL3), so
// banked state is the EL1 copy. Fields marked "later" are stored now so the exception model, the
// stage-1 MMU, the GIC CPU interface and the generic timer can be added without moving anything.
//
// How the next pieces plug in:
//  - Exceptions: a take_exception(state, syndrome, far) that saves PSTATE into SPSR_EL1 and the
//    return address into ELR_EL1, masks DAIF, switches to EL1h and jumps to VBAR_EL1 + offset;
//    helpers and PageTranslator::raise_* call it and set PendingExit::Exception instead of Stop;
//    SVC/BRK/Undefined exits become exceptions in Arm64Cpu::run; ERET gets a decode row.
//  - MMU: Arm64Cpu::translate walks TTBR0/1_EL1 per TCR_EL1 when SCTLR_EL1.M is set, keyed by
//    mmu_idx (EL0/EL1, later PAN); TLBI maps to Softmmu flush_page/flush_asid.
//  - GIC/timer: ICC_* system registers become Special entries in sysregs.cpp calling into the
//    interrupt controller; an asserted IRQ sets CpuCommon::exit_request, and the run loop takes
//    it when DAIF.I is clear (MSR DAIF already ends the block so unmasking is seen at once).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "tcg/exec/cpu_common.h"

namespace orrery::hw {
class Clock;
}

namespace orrery::cpu::arm64 {

class Arm64Cpu;
class TagStorage;

/// MMU indexes (one softmmu TLB each) of the EL1&0 stage-1 regime. PAN is not implemented
/// (cortex-a57 is ARMv8.0 and `max` advertises only what exists), so there is no EL1-PAN index.
constexpr unsigned kMmuIdxEl0 = 0;
constexpr unsigned kMmuIdxEl1 = 1;

/// The generic timer's counter frequency (CNTFRQ_EL0), as QEMU's virt board: 62.5 MHz.
constexpr uint64_t kCounterFrequency = 62'500'000;

/// Bits of CpuCommon::tb_flags: the mode a translation bakes in.
namespace tb_flags {
constexpr uint64_t kElShift = 0;  // PSTATE.EL (0 or 1)
constexpr uint64_t kElMask = 3;
constexpr uint64_t kSpSel = 1u << 2;  // PSTATE.SP: at EL1, SP is SP_EL1 rather than SP_EL0
constexpr uint64_t kFpEnabled = 1u << 3;  // CPACR_EL1.FPEN lets the current EL use FP/SIMD
constexpr uint64_t kIllegal = 1u << 5;    // PSTATE.IL: every instruction is an Illegal State trap
constexpr uint64_t kSpAlign = 1u << 6;    // SCTLR_EL1.SA (EL1) / SA0 (EL0): SP alignment checks
// EL0 permissions baked into EL0 translations (each clear bit makes the access trap, EC 0x18).
constexpr uint64_t kEl0Uct = 1u << 7;      // SCTLR_EL1.UCT: CTR_EL0
constexpr uint64_t kEl0Dze = 1u << 8;      // SCTLR_EL1.DZE: DC ZVA
constexpr uint64_t kEl0Uci = 1u << 9;      // SCTLR_EL1.UCI: DC CVAU/CVAC/CIVAC, IC IVAU
constexpr uint64_t kEl0Uma = 1u << 10;     // SCTLR_EL1.UMA: DAIF
constexpr uint64_t kEl0Pcten = 1u << 11;   // CNTKCTL_EL1.EL0PCTEN: CNTPCT_EL0
constexpr uint64_t kEl0Vcten = 1u << 12;   // CNTKCTL_EL1.EL0VCTEN: CNTVCT_EL0
constexpr uint64_t kEl0Vten = 1u << 13;    // CNTKCTL_EL1.EL0VTEN: CNTV_*
constexpr uint64_t kEl0Pten = 1u << 14;    // CNTKCTL_EL1.EL0PTEN: CNTP_*
constexpr uint64_t kGicSysregs = 1u << 15; // a GICv3 CPU interface is attached (ICC_* exist)
// Self-hosted debug (debug.h), only ever set while the guest enables it:
constexpr uint64_t kBkpt = 1u << 16;       // hardware breakpoints are checked in this mode
constexpr uint64_t kSs = 1u << 17;         // software step, active-not-pending: one insn
constexpr uint64_t kSsPending = 1u << 18;  // software step, active-pending: step exception now
constexpr uint64_t kPmu = 1u << 19;        // the PMU counts: translated code counts events
// FEAT_MTE2 (mte.h), only ever set with tag storage present:
constexpr uint64_t kMteAta = 1u << 20;     // SCTLR_EL1.ATA/ATA0: tag instructions reach tags
constexpr uint64_t kMteCheck = 1u << 21;   // TCF != 0, ATA, !PSTATE.TCO: accesses are checked
constexpr uint64_t kMteCheckEl0 = 1u << 22;  // at EL1: EL0's TCF0/ATA0 check LDTR/STTR
// The CPU has MTE2 and tag storage: MTE instructions exist. Part of every block's key, so a
// persistent translation cache (keyed by machine and CPU model only) never mixes mte=on/off.
constexpr uint64_t kMtePresent = 1u << 23;
}  // namespace tb_flags

// SCTLR_EL1 bits the CPU acts on.
namespace sctlr {
constexpr uint64_t kM = 1u << 0, kA = 1u << 1, kSa = 1u << 3, kSa0 = 1u << 4, kUma = 1u << 9;
constexpr uint64_t kDze = 1u << 14, kUct = 1u << 15, kWxn = 1u << 19, kUci = 1u << 26;
// FEAT_MTE2: ITFSB, TCF0 (39:38), TCF (41:40), ATA0, ATA; RES0 without it.
constexpr uint64_t kItfsb = 1ull << 37, kAta0 = 1ull << 42, kAta = 1ull << 43;
constexpr unsigned kTcf0Shift = 38, kTcfShift = 40;
constexpr uint64_t kMteBits = kItfsb | (0xfull << kTcf0Shift) | kAta0 | kAta;
}  // namespace sctlr

/// NZCV as four bytes holding 0/1 (read and written as I1), so the optimiser sees each flag as
/// its own register and can drop dead flag writes.
struct Nzcv {
  uint8_t n = 0, z = 0, c = 0, v = 0;
};

/// One FP/SIMD register, little-endian: d[0] is bits 63:0, d[1] bits 127:64.
struct alignas(16) VReg {
  uint64_t d[2] = {0, 0};
};

/// The local exclusive monitor (LDXR/STXR). Single vCPU today: a matching STXR compares memory
/// against `value`/`value2` and stores only if unchanged, which is exactly the cmpxchg an SMP
/// implementation needs (done then on the host pointer, atomically).
struct ExclusiveMonitor {
  uint64_t addr = 0;
  uint64_t value = 0;   // first (or only) element as loaded
  uint64_t value2 = 0;  // second element of an LDXP of 64-bit registers
  uint8_t size = 0;     // bytes covered (1..16)
  uint8_t valid = 0;
};

/// The self-hosted debug registers (Arm ARM D2): 6 breakpoints and 4 watchpoints, as
/// ID_AA64DFR0_EL1 advertises, the OS lock and the debug communication channel's storage.
constexpr unsigned kNumBreakpoints = 6, kNumWatchpoints = 4;
struct DebugRegs {
  uint64_t bvr[kNumBreakpoints] = {}, bcr[kNumBreakpoints] = {};
  uint64_t wvr[kNumWatchpoints] = {}, wcr[kNumWatchpoints] = {};
  uint64_t mdscr = 0;
  uint64_t mdccint = 0, osdtrrx = 0, osdtrtx = 0, oseccr = 0;
  uint64_t claim = 0;     // DBGCLAIMSET/CLR_EL1 tags
  uint8_t oslk = 1;       // OSLSR_EL1.OSLK: a cold reset locks the OS lock
  uint8_t dlk = 0;        // OSDLR_EL1.DLK (the OS double lock)
  uint8_t corenpdrq = 0;  // DBGPRCR_EL1.CORENPDRQ
  // Breakpoint translations are keyed (Frontend::cs_base) on this; it changes with the
  // breakpoint registers, so stale blocks are never found again.
  uint64_t bkpt_key = 0;
};

/// PMUv3 (pmu.h): 6 event counters and the cycle counter. Translated code adds up raw events
/// (per EL) only in blocks translated while the PMU counts; pmu_sync folds them into the
/// counters.
constexpr unsigned kNumPmuCounters = 6;
struct PmuState {
  uint64_t pmcr = 0;  // E, D, X, DP, LC as written (N reads as kNumPmuCounters)
  uint64_t cntenset = 0, intenset = 0, ovsset = 0;  // bit n: counter n; bit 31: cycles
  uint64_t selr = 0, userenr = 0, ccfiltr = 0;
  uint64_t evtyper[kNumPmuCounters] = {};
  uint64_t evcntr[kNumPmuCounters] = {};  // 32-bit counters
  uint64_t ccntr = 0;
  uint64_t ccdiv = 0;  // cycles toward the next PMCCNTR increment under PMCR_EL0.D (0..63)
  // Raw events by EL that translated code adds up, and how much of them pmu_sync folded in.
  uint64_t insns[2] = {}, mem[2] = {}, branches[2] = {};
  uint64_t insns_seen[2] = {}, mem_seen[2] = {}, branches_seen[2] = {};
};

struct Arm64State {
  tcg::CpuCommon common;

  uint64_t x[31] = {};  // X0..X30; register 31 is SP or XZR depending on the encoding
  uint64_t sp_el0 = 0;
  uint64_t sp_el1 = 0;

  // PSTATE.
  Nzcv nzcv;
  uint8_t el = 1;      // PSTATE.EL
  uint8_t spsel = 1;   // PSTATE.SP
  uint8_t daif = 0xf;  // PSTATE.{D,A,I,F} as bits 3..0 (the DAIF register's bits 9..6)
  uint8_t il = 0;      // PSTATE.IL (set by an illegal exception return)
  uint8_t ss = 0;      // PSTATE.SS: software step, active-not-pending (debug.h)
  uint8_t tco = 0;     // PSTATE.TCO: tag checks override (FEAT_MTE)

  // FP/SIMD.
  VReg v[32];
  uint64_t fpcr = 0;
  uint64_t fpsr = 0;

  // System registers (EL1 and EL0 views). Names as in the Arm ARM.
  uint64_t sctlr_el1 = 0;
  uint64_t actlr_el1 = 0;
  uint64_t cpacr_el1 = 0;
  uint64_t vbar_el1 = 0;
  uint64_t elr_el1 = 0;
  uint64_t spsr_el1 = 0;
  uint64_t esr_el1 = 0;
  uint64_t far_el1 = 0;
  uint64_t afsr0_el1 = 0;
  uint64_t afsr1_el1 = 0;
  uint64_t par_el1 = 0;
  uint64_t mair_el1 = 0;
  uint64_t amair_el1 = 0;
  uint64_t tcr_el1 = 0;
  uint64_t ttbr0_el1 = 0;
  uint64_t ttbr1_el1 = 0;
  uint64_t contextidr_el1 = 0;
  uint64_t tpidr_el0 = 0;
  uint64_t tpidr_el1 = 0;
  uint64_t tpidrro_el0 = 0;
  uint64_t csselr_el1 = 0;
  uint64_t cntkctl_el1 = 0;  // EL0 access to the counter and timers (baked into tb_flags)
  uint64_t cntfrq_el0 = kCounterFrequency;
  // Generic timers. The vCPU thread owns these; writes also go to the GenericTimer (timer.h),
  // which drives the timer interrupt lines from its own thread.
  uint64_t cntp_ctl_el0 = 0;  // ENABLE (bit 0) and IMASK (bit 1); ISTATUS is computed
  uint64_t cntp_cval_el0 = 0;
  uint64_t cntv_ctl_el0 = 0;
  uint64_t cntv_cval_el0 = 0;

  // FEAT_MTE2 (mte.h).
  uint64_t gcr_el1 = 0;     // RRND (16), Exclude (15:0)
  uint64_t rgsr_el1 = 0;    // SEED (23:8), TAG (3:0)
  uint64_t tfsr_el1 = 0;    // TF1 (1), TF0 (0): asynchronous tag check faults at EL1
  uint64_t tfsre0_el1 = 0;  // the same for EL0

  // Self-hosted debug (debug.h) and the PMU (pmu.h).
  DebugRegs dbg;
  PmuState pmu;

  // Identification, fixed by the CPU model at reset.
  uint64_t midr_el1 = 0;
  uint64_t mpidr_el1 = 0;
  uint64_t revidr_el1 = 0;
  uint64_t ctr_el0 = 0;
  uint64_t clidr_el1 = 0;
  uint64_t id_aa64pfr0_el1 = 0;
  uint64_t id_aa64pfr1_el1 = 0;
  uint64_t id_aa64dfr0_el1 = 0;
  uint64_t id_aa64isar0_el1 = 0;
  uint64_t id_aa64isar1_el1 = 0;
  uint64_t id_aa64mmfr0_el1 = 0;
  uint64_t id_aa64mmfr1_el1 = 0;
  uint64_t id_aa64mmfr2_el1 = 0;

  ExclusiveMonitor monitor;

  // The machine's virtual clock, and its time (ns) at which the system counter read 0.
  const hw::Clock* clock = nullptr;
  int64_t counter_epoch_ns = 0;

  // Allocation tag storage for RAM (-M virt,mte=on), or null: tags read as 0, writes are ignored.
  TagStorage* tags = nullptr;

  // The vCPU object, for helpers that must reach the softmmu, the log or the stop message.
  Arm64Cpu* owner = nullptr;
};

static_assert(std::is_standard_layout_v<Arm64State>, "generated code addresses fields by offset");
static_assert(offsetof(Arm64State, common) == 0, "CpuCommon must be at offset 0");

/// The Arm64State that owns a CpuCommon (which is always its first member).
inline Arm64State& state_of(tcg::CpuCommon& c) {
  return reinterpret_cast<Arm64State&>(c);
}
inline const Arm64State& state_of(const tcg::CpuCommon& c) {
  return reinterpret_cast<const Arm64State&>(c);
}

// Byte offsets used by the translator.
constexpr uint32_t off_x(unsigned r) {
  return uint32_t(offsetof(Arm64State, x) + 8 * r);
}
constexpr uint32_t off_vlo(unsigned r) {
  return uint32_t(offsetof(Arm64State, v) + 16 * r);
}
constexpr uint32_t off_vhi(unsigned r) {
  return off_vlo(r) + 8;
}
constexpr uint32_t kOffPc = offsetof(Arm64State, common) + offsetof(tcg::CpuCommon, pc);
constexpr uint32_t kOffSpEl0 = offsetof(Arm64State, sp_el0);
constexpr uint32_t kOffSpEl1 = offsetof(Arm64State, sp_el1);
constexpr uint32_t kOffN = offsetof(Arm64State, nzcv) + offsetof(Nzcv, n);
constexpr uint32_t kOffZ = offsetof(Arm64State, nzcv) + offsetof(Nzcv, z);
constexpr uint32_t kOffC = offsetof(Arm64State, nzcv) + offsetof(Nzcv, c);
constexpr uint32_t kOffV = offsetof(Arm64State, nzcv) + offsetof(Nzcv, v);
constexpr uint32_t kOffDaif = offsetof(Arm64State, daif);
constexpr uint32_t kOffSpSel = offsetof(Arm64State, spsel);
constexpr uint32_t kOffMonitorValid =
    offsetof(Arm64State, monitor) + offsetof(ExclusiveMonitor, valid);
constexpr uint32_t kOffMonitorAddr =
    offsetof(Arm64State, monitor) + offsetof(ExclusiveMonitor, addr);
constexpr uint32_t kOffMonitorValue =
    offsetof(Arm64State, monitor) + offsetof(ExclusiveMonitor, value);
constexpr uint32_t kOffMonitorValue2 =
    offsetof(Arm64State, monitor) + offsetof(ExclusiveMonitor, value2);
constexpr uint32_t kOffMonitorSize =
    offsetof(Arm64State, monitor) + offsetof(ExclusiveMonitor, size);

}  // namespace orrery::cpu::arm64
