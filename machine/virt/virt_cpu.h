// The virt board's boot CPU: the one place that knows the AArch64 CPU's API (cpu/arm64). It
// owns the vCPU, answers its HVC calls with PSCI, and reports why it stopped in board terms.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "machine/machine.h"

namespace orrery::hw {
class AddressSpace;
}

namespace orrery::machine::virt {

/// Why VirtCpu::run returned.
enum class CpuStop : uint8_t {
  PowerOff,   // PSCI SYSTEM_OFF (or CPU_OFF of the last CPU)
  Reset,      // PSCI SYSTEM_RESET
  Requested,  // request_stop() from another thread
  Error,      // the CPU cannot continue; message says why
};

struct CpuRunResult {
  CpuStop stop = CpuStop::Error;
  std::string message;
};

class VirtCpu {
 public:
  virtual ~VirtCpu() = default;

  /// Architectural reset, then the boot register state: PC = entry, X0..X3 = regs, EL1h with
  /// interrupts masked and the MMU off (what -kernel boot protocols expect).
  virtual void reset(uint64_t entry, const std::array<uint64_t, 4>& regs) = 0;
  /// Runs guest code until the guest powers off or resets, a stop is requested, or an error.
  virtual CpuRunResult run() = 0;
  /// Makes run() return CpuStop::Requested soon. Thread-safe.
  virtual void request_stop() = 0;
};

/// The -cpu models the virt board offers (from cpu/arm64's model table) and the default.
std::span<const CpuModelInfo> virt_cpu_models();
std::string_view virt_default_cpu();

/// Creates the boot CPU of the given model over as; null and error set on failure.
std::unique_ptr<VirtCpu> create_virt_cpu(const std::string& model, hw::AddressSpace& as,
                                         MachineContext& ctx, std::string& error);

}  // namespace orrery::machine::virt
