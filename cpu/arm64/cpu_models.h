// The AArch64 CPU models -cpu accepts: identification and the ID register values the guest
// sees. Each advertises what both the real core has and Orrery implements (AArch64 EL0/EL1
// only, no EL2/EL3, FP and AdvSIMD, CRC32, the Crypto extension, 4K and 64K granules, 16-bit
// ASIDs) with the core's own physical address range; `max` advertises everything Orrery
// implements (also SHA512, SHA3, RDM, 48-bit PA and the 16K granule).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace orrery::cpu::arm64 {

struct CpuModel {
  const char* name;
  uint32_t midr;  // MIDR_EL1
  const char* description;
  uint64_t revidr = 0;
  uint64_t ctr = 0x8444c004;         // CTR_EL0: 64-byte lines, PIPT I-cache
  uint64_t clidr = 0x0a200023;       // CLIDR_EL1: L1 I+D, L2 unified
  uint64_t id_aa64pfr0 = 0x11;       // EL0 and EL1 AArch64 only; FP, AdvSIMD; GIC set if attached
  uint64_t id_aa64pfr1 = 0;          // MTE (11:8): 3 on max (0 without tag storage)
  uint64_t id_aa64dfr0 = 0x10305106; // Debug v8, PMUv3 (PMUVer 1), 6 BRPs, 4 WRPs, 2 CTX_CMPs
  uint64_t id_aa64isar0 = 0x10000;   // CRC32
  uint64_t id_aa64isar1 = 0;
  uint64_t id_aa64mmfr0 = 0x24;      // 44-bit PA, 16-bit ASID, 4K and 64K (not 16K), no BigEnd
  uint64_t id_aa64mmfr1 = 0;         // no PAN, no HAFDBS, no VHE
  uint64_t id_aa64mmfr2 = 0;         // no UAO
};

std::span<const CpuModel> cpu_models();
/// The model called name, or null.
const CpuModel* find_cpu_model(std::string_view name);
/// The model boards use when -cpu is not given.
const CpuModel& default_cpu_model();

}  // namespace orrery::cpu::arm64
