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
  PcAlignment = 1,  // arg: the misaligned PC
  MmuEnable = 2,    // arg: the SCTLR_EL1 value written
};

/// Host monotonic time in nanoseconds: the system counter's time base.
int64_t host_monotonic_ns();

uint64_t helper_load_exclusive(tcg::CpuCommon* cpu, uint64_t vaddr, uint64_t desc, uint64_t pc);
uint64_t helper_store_exclusive(tcg::CpuCommon* cpu, uint64_t vaddr, uint64_t desc, uint64_t pc);
uint64_t helper_read_counter(tcg::CpuCommon* cpu, uint64_t, uint64_t, uint64_t);
uint64_t helper_write_sctlr(tcg::CpuCommon* cpu, uint64_t value, uint64_t pc, uint64_t);
uint64_t helper_tlb_flush(tcg::CpuCommon* cpu, uint64_t, uint64_t, uint64_t);
/// op for helper_timer: bit 0 virtual (else physical), bit 1 TVAL (else CTL), bit 2 write.
constexpr uint64_t kTimerVirtual = 1, kTimerTval = 2, kTimerWrite = 4;
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
/// MSR SCTLR_EL1: stores the value; enabling the MMU stops the vCPU until the MMU exists.
inline constexpr tcg::ir::Helper kHelperWriteSctlr{"arm64_write_sctlr", &helper_write_sctlr};
/// TLBI (any form): drops the whole softmmu TLB.
inline constexpr tcg::ir::Helper kHelperTlbFlush{"arm64_tlb_flush", &helper_tlb_flush};
/// CNT[PV]_CTL_EL0 and CNT[PV]_TVAL_EL0 reads and writes (see TimerOp); returns the read value.
inline constexpr tcg::ir::Helper kHelperTimer{"arm64_timer", &helper_timer};
/// CRC32*/CRC32C*: the reflected CRC of the low desc bytes of data, without inversions.
inline constexpr tcg::ir::Helper kHelperCrc32{"arm64_crc32", &helper_crc32, /*pure=*/true};
/// Stops the vCPU with a StopCode (a condition the exception model will later raise).
inline constexpr tcg::ir::Helper kHelperStop{"arm64_stop", &helper_stop};

}  // namespace orrery::cpu::arm64
