#include "cpu/arm64/cpu_models.h"

namespace orrery::cpu::arm64 {

namespace {
// ID_AA64ISAR0_EL1: AES with PMULL (2), SHA1 (1), SHA256 (1), CRC32 (1): the ARMv8.0 Crypto
// extension as the Cortex-A53/A57/A72 have it.
constexpr uint64_t kIsar0V80Crypto = 0x11120;
// The Neoverse N1 adds RDM (SQRDMLAH/SQRDMLSH); its LSE atomics, FP16, DotProd, RCpc and the
// ARMv8.1/8.2 memory features are not implemented and so not advertised.
constexpr uint64_t kIsar0N1 = 0x10011120;
// max adds SHA512 (SHA2 = 2), RDM, SHA3, SM3, SM4 and DotProd (DP, bits 47:44).
constexpr uint64_t kIsar0Max = 0x111110012120;
// ID_AA64PFR0_EL1 of max: FP and AdvSIMD = 1 (with half-precision arithmetic, FEAT_FP16).
constexpr uint64_t kPfr0Fp16 = 0x110011;

// ID_AA64MMFR0_EL1: PARange (3:0), 16-bit ASIDs (2 << 4); TGran16 (23:20) = 1 where the core
// has the 16K granule.
constexpr uint64_t kMmfr0Pa40 = 0x22, kMmfr0Pa44 = 0x24, kMmfr0Pa48Tg16 = 0x100025;

constexpr CpuModel kModels[] = {
    // Arm, variant 1, architecture 0xf, part 0xd07, revision 0: Cortex-A57 r1p0 (as QEMU).
    {.name = "cortex-a57",
     .midr = 0x411fd070,
     .description = "ARM Cortex-A57 (ARMv8.0-A)",
     .id_aa64isar0 = kIsar0V80Crypto,
     .id_aa64mmfr0 = kMmfr0Pa44},
    // Cortex-A53 r0p4: 40-bit PA, 32-byte I-cache lines (VIPT) as in its TRM.
    {.name = "cortex-a53",
     .midr = 0x410fd034,
     .description = "ARM Cortex-A53 (ARMv8.0-A)",
     .ctr = 0x84448004,
     .id_aa64isar0 = kIsar0V80Crypto,
     .id_aa64mmfr0 = kMmfr0Pa40},
    // Cortex-A72 r0p3: 44-bit PA.
    {.name = "cortex-a72",
     .midr = 0x410fd083,
     .description = "ARM Cortex-A72 (ARMv8.0-A)",
     .id_aa64isar0 = kIsar0V80Crypto,
     .id_aa64mmfr0 = kMmfr0Pa44},
    // Neoverse N1 r4p1 (an ARMv8.2-A core): 48-bit PA, the 16K granule; L1 I+D, L2 and L3.
    {.name = "neoverse-n1",
     .midr = 0x414fd0c1,
     .description = "ARM Neoverse N1 (ARMv8.2-A)",
     .ctr = 0x84448004,
     .clidr = 0x82000023,
     .id_aa64isar0 = kIsar0N1,
     .id_aa64mmfr0 = kMmfr0Pa48Tg16},
    // Implementer 0, architecture 0xf, part 'Q' as QEMU's "max"; also the 16K granule.
    {.name = "max",
     .midr = 0x000f0510,
     .description = "all features Orrery implements",
     .id_aa64pfr0 = kPfr0Fp16,
     .id_aa64pfr1 = 0x300,  // FEAT_MTE3 with -M virt,mte=on (none without tag storage)
     .id_aa64isar0 = kIsar0Max,
     .id_aa64mmfr0 = kMmfr0Pa48Tg16},
};
}  // namespace

std::span<const CpuModel> cpu_models() {
  return kModels;
}

const CpuModel* find_cpu_model(std::string_view name) {
  for (const CpuModel& m : kModels)
    if (name == m.name) return &m;
  return nullptr;
}

const CpuModel& default_cpu_model() {
  return kModels[0];
}

}  // namespace orrery::cpu::arm64
