// The AArch64 CPU models -cpu accepts. They differ only in identification today; the feature
// set is always what Orrery implements.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace orrery::cpu::arm64 {

struct CpuModel {
  const char* name;
  uint32_t midr;  // MIDR_EL1
  const char* description;
};

std::span<const CpuModel> cpu_models();
/// The model called name, or null.
const CpuModel* find_cpu_model(std::string_view name);
/// The model boards use when -cpu is not given.
const CpuModel& default_cpu_model();

}  // namespace orrery::cpu::arm64
