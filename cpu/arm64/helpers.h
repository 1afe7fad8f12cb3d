// Runtime helpers called from A64 IR (Opcode::Call): the exclusive monitor, the system counter,
// and the system-register writes that need more than a store. Each takes the vCPU's CpuCommon
// (the head of Arm64State) and up to three I64 arguments.
#pragma once

#include <cstdint>

#include "tcg/ir/helpers.h"

namespace orrery::cpu::arm64 {

/// What an exclusive load/store helper needs to know about the instruction, packed in one I64.
struct ExclusiveDesc {
  unsigned rt = 0, rt2 = 0, rs = 0;
  unsigned size_log2 = 0;  // of one element: 0..3
  bool pair = false;
  unsigned mmu_idx = 0;

  constexpr uint64_t encode() const {
    return uint64_t(rt) | uint64_t(rt2) << 5 | uint64_t(rs) << 10 | uint64_t(size_log2) << 15 |
           uint64_t(pair) << 17 | uint64_t(mmu_idx) << 24;
  }
  static constexpr ExclusiveDesc decode(uint64_t v) {
    ExclusiveDesc d;
    d.rt = unsigned(v & 31);
    d.rt2 = unsigned((v >> 5) & 31);
    d.rs = unsigned((v >> 10) & 31);
    d.size_log2 = unsigned((v >> 15) & 3);
    d.pair = (v >> 17) & 1;
    d.mmu_idx = unsigned((v >> 24) & 0xff);
    return d;
  }
};

/// Why helper_stop stops the vCPU (see Arm64Cpu::stop_from_helper).
enum class StopCode : uint64_t {
  Internal = 1,  // arg: a value for the message
};

/// helper_exception's first argument: ESR in bits 31:0, plus this flag when FAR is valid.
constexpr uint64_t kExceptionFarValid = 1ull << 32;

/// helper_tlbi's op: the TLBI's CRm:op2 (CRm 3 = Inner Shareable, 7 = local).
constexpr uint64_t tlbi_op(unsigned crm, unsigned op2) { return (crm << 3) | op2; }
/// helper_at's op: 0 S1E1R, 1 S1E1W, 2 S1E0R, 3 S1E0W (the AT op2 with CRm=8).
/// helper_write_regime's which.
constexpr uint64_t kRegimeSctlr = 0, kRegimeTtbr0 = 1, kRegimeTtbr1 = 2, kRegimeTcr = 3;
/// helper_icc's op: the hw::intc::IccReg, plus this flag for writes.
constexpr uint64_t kIccWrite = 0x100;

/// ExitReason::Halt's arg: which instruction waits.
constexpr uint64_t kHaltWfi = 0, kHaltWfe = 1;
/// helper_send_event's argument: 1 for SEV (every vCPU), 0 for SEVL (this one).
constexpr uint64_t kSendEventAll = 1;

/// Host monotonic time in nanoseconds: the system counter's time base.
int64_t host_monotonic_ns();

uint64_t helper_load_exclusive(tcg::CpuCommon* cpu, uint64_t vaddr, uint64_t desc, uint64_t pc);
uint64_t helper_store_exclusive(tcg::CpuCommon* cpu, uint64_t vaddr, uint64_t desc, uint64_t pc);
uint64_t helper_read_counter(tcg::CpuCommon* cpu, uint64_t, uint64_t, uint64_t);
uint64_t helper_write_regime(tcg::CpuCommon* cpu, uint64_t which, uint64_t value, uint64_t);
uint64_t helper_tlbi(tcg::CpuCommon* cpu, uint64_t op, uint64_t operand, uint64_t);
uint64_t helper_at(tcg::CpuCommon* cpu, uint64_t op, uint64_t vaddr, uint64_t pc);
uint64_t helper_exception(tcg::CpuCommon* cpu, uint64_t esr, uint64_t return_pc, uint64_t far);
uint64_t helper_eret(tcg::CpuCommon* cpu, uint64_t pc, uint64_t, uint64_t);
uint64_t helper_check_irq(tcg::CpuCommon* cpu, uint64_t, uint64_t, uint64_t);
uint64_t helper_send_event(tcg::CpuCommon* cpu, uint64_t all, uint64_t, uint64_t);
/// TrapIf target: SP was misaligned for an SP-based access (the check itself is inline IR).
uint64_t helper_sp_align_fault(tcg::CpuCommon* cpu, uint64_t, uint64_t pc, uint64_t);
uint64_t helper_icc(tcg::CpuCommon* cpu, uint64_t op, uint64_t value, uint64_t);
uint64_t helper_ccsidr(tcg::CpuCommon* cpu, uint64_t, uint64_t, uint64_t);
/// op for helper_timer: bit 0 virtual (else physical), bit 1 TVAL, bit 3 CVAL (neither: CTL),
/// bit 2 write.
constexpr uint64_t kTimerVirtual = 1, kTimerTval = 2, kTimerWrite = 4, kTimerCval = 8;
uint64_t helper_timer(tcg::CpuCommon* cpu, uint64_t op, uint64_t value, uint64_t pc);
/// desc for helper_crc32: the data size in bytes (1, 2, 4, 8), plus kCrc32Castagnoli for CRC32C.
constexpr uint64_t kCrc32Castagnoli = 0x100;
uint64_t helper_crc32(tcg::CpuCommon* cpu, uint64_t acc, uint64_t data, uint64_t desc);
uint64_t helper_stop(tcg::CpuCommon* cpu, uint64_t code, uint64_t pc, uint64_t arg);

/// LDXR/LDAXR/LDXP/LDAXP: loads through the softmmu, arms the monitor and writes Rt (and Rt2).
inline constexpr tcg::ir::Helper kHelperLoadExclusive{"arm64_load_exclusive",
                                                      &helper_load_exclusive};
/// STXR/STLXR/STXP/STLXP: stores if the monitor still holds, writes the status to Ws.
inline constexpr tcg::ir::Helper kHelperStoreExclusive{"arm64_store_exclusive",
                                                       &helper_store_exclusive};
/// CNTVCT_EL0/CNTPCT_EL0: the host monotonic clock scaled to CNTFRQ.
inline constexpr tcg::ir::Helper kHelperReadCounter{"arm64_read_counter", &helper_read_counter};
/// MSR SCTLR_EL1/TTBR0_EL1/TTBR1_EL1/TCR_EL1: stores and flushes what the change requires.
inline constexpr tcg::ir::Helper kHelperWriteRegime{"arm64_write_regime", &helper_write_regime};
/// TLBI VMALLE1(IS), VAE1(IS), ASIDE1(IS), VAAE1(IS), VALE1(IS), VAALE1(IS).
inline constexpr tcg::ir::Helper kHelperTlbi{"arm64_tlbi", &helper_tlbi};
/// AT S1E1R/S1E1W/S1E0R/S1E0W: walks and writes PAR_EL1.
inline constexpr tcg::ir::Helper kHelperAt{"arm64_at", &helper_at};
/// Takes a synchronous exception (ESR | kExceptionFarValid, preferred return, FAR).
inline constexpr tcg::ir::Helper kHelperException{"arm64_exception", &helper_exception};
/// ERET: restores PSTATE and the PC (written to the state), sets the event register, then
/// checks for interrupts.
inline constexpr tcg::ir::Helper kHelperEret{"arm64_eret", &helper_eret};
/// After a DAIF write (the old DAIF bits): leave chained execution if an interrupt became
/// deliverable or PSTATE.D changed (the tb flags are recomputed then).
inline constexpr tcg::ir::Helper kHelperCheckIrq{"arm64_check_irq", &helper_check_irq};
/// SEV (kSendEventAll) or SEVL: sets event registers.
inline constexpr tcg::ir::Helper kHelperSendEvent{"arm64_send_event", &helper_send_event};
/// SP alignment check (SCTLR_EL1.SA/SA0) of an SP-based access.
inline constexpr tcg::ir::Helper kHelperSpAlignFault{"arm64_sp_align_fault",
                                                    &helper_sp_align_fault};
/// MRS/MSR of an ICC_* register through the attached GICv3 CPU interface.
inline constexpr tcg::ir::Helper kHelperIcc{"arm64_icc", &helper_icc};
/// CCSIDR_EL1 for the cache CSSELR_EL1 selects.
inline constexpr tcg::ir::Helper kHelperCcsidr{"arm64_ccsidr", &helper_ccsidr};
/// CNT[PV]_CTL/TVAL/CVAL_EL0 reads and writes (see kTimer*); returns the read value.
inline constexpr tcg::ir::Helper kHelperTimer{"arm64_timer", &helper_timer};
/// CRC32*/CRC32C*: the reflected CRC of the low desc bytes of data, without inversions.
inline constexpr tcg::ir::Helper kHelperCrc32{"arm64_crc32", &helper_crc32, /*pure=*/true};
/// Stops the vCPU with a StopCode (an internal condition Orrery cannot continue from).
inline constexpr tcg::ir::Helper kHelperStop{"arm64_stop", &helper_stop};

}  // namespace orrery::cpu::arm64
