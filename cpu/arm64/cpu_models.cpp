#include "cpu/arm64/cpu_models.h"

namespace orrery::cpu::arm64 {

namespace {
constexpr CpuModel kModels[] = {
    // Arm, variant 1, architecture 0xf, part 0xd07, revision 0: Cortex-A57 r1p0 (as QEMU).
    // Both models: ID_AA64DFR0_EL1 with PMUv3 (PMUVer 1), 6 breakpoints and 4 watchpoints.
    {"cortex-a57", 0x411fd070, "ARM Cortex-A57 (ARMv8.0-A)", 0, 0x8444c004, 0x0a200023, 0x11,
     0x10305106},
    // Implementer 0, architecture 0xf, part 'Q' as QEMU's "max"; also the 16K granule.
    {"max", 0x000f0510, "all features Orrery implements", 0, 0x8444c004, 0x0a200023, 0x11,
     0x10305106, 0x10000, 0, 0x100025, 0, 0},
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
