// The virt board's vCPUs: the one place that knows the AArch64 CPU's API (cpu/arm64). A VirtCpu
// owns one Arm64Cpu, answers its HVC calls with PSCI, takes its IRQ/FIQ inputs from the GIC,
// exposes its generic-timer outputs, and reports why it stopped in board terms.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "hw/core/irq.h"
#include "machine/machine.h"

namespace orrery::hw {
class AddressSpace;
namespace intc {
class Gicv3CpuInterface;
}
}  // namespace orrery::hw
namespace orrery::cpu::arm64 {
class TagStorage;
}

namespace orrery::machine::virt {

class PsciCpus;

/// Why VirtCpu::run returned.
enum class CpuStop : uint8_t {
  PowerOff,   // PSCI SYSTEM_OFF
  Reset,      // PSCI SYSTEM_RESET
  CpuOff,     // PSCI CPU_OFF: this CPU is now off
  Requested,  // request_stop() from another thread
  Error,      // the CPU cannot continue; message says why
};

struct CpuRunResult {
  CpuStop stop = CpuStop::Error;
  std::string message;
};

/// The generic timer outputs the board wires to GIC PPIs.
enum class CpuTimer : uint8_t { Phys, Virt };

/// As an IrqSink: input 0 is the CPU's IRQ, input 1 its FIQ.
class VirtCpu : public hw::IrqSink {
 public:
  static constexpr unsigned kIrqInput = 0, kFiqInput = 1;

  /// Architectural reset, then the boot register state: PC = entry, X0..X3 = regs, EL1h with
  /// interrupts masked and the MMU off (what -kernel boot protocols expect). The system counter
  /// is one per machine, so a CPU started later (PSCI CPU_ON) passes the boot CPU's
  /// counter_epoch(); a negative value starts a new epoch.
  virtual void reset(uint64_t entry, const std::array<uint64_t, 4>& regs,
                     int64_t counter_epoch_ns = -1) = 0;
  /// Host time (ns) at which this CPU's view of the system counter was 0.
  virtual int64_t counter_epoch() const = 0;
  /// Runs guest code until the guest powers off, resets or turns this CPU off, a stop is
  /// requested, or an error.
  virtual CpuRunResult run() = 0;
  /// Makes run() return CpuStop::Requested soon, and keep doing so until resume(). Thread-safe.
  virtual void request_stop() = 0;
  virtual void resume() = 0;
  /// Waits until the CPU is asleep in WFI; false on timeout. With wfi_wakeups(), lets tests
  /// wake it only once it really sleeps. Thread-safe.
  virtual bool wait_until_asleep_in_wfi(std::chrono::milliseconds timeout) = 0;
  virtual uint64_t wfi_wakeups() = 0;

  virtual uint64_t mpidr() const = 0;
  virtual hw::IrqLine& timer_irq(CpuTimer t) = 0;
  /// The PMU's overflow interrupt, or null when this CPU has no PMU for the board to wire.
  virtual hw::IrqLine* pmu_irq() { return nullptr; }
  /// Attaches a GICv3 CPU interface (before the first reset).
  virtual void set_gic_cpu_interface(hw::intc::Gicv3CpuInterface* gic) = 0;
  /// Gives the vCPU the board's MTE tag storage; false if its model lacks FEAT_MTE2.
  virtual bool set_tag_storage(cpu::arm64::TagStorage* tags) {
    (void)tags;
    return false;
  }
};

/// Tells each CPU about the others (TLB maintenance broadcast). Call once, before running.
void link_virt_cpus(std::span<const std::unique_ptr<VirtCpu>> cpus);

/// The -cpu models the virt board offers (from cpu/arm64's model table) and the default.
std::span<const CpuModelInfo> virt_cpu_models();
std::string_view virt_default_cpu();

/// Creates vCPU index (MPIDR Aff0 = index) of the given model over as; PSCI calls that concern
/// other CPUs go to cpus. Null and error set on failure.
std::unique_ptr<VirtCpu> create_virt_cpu(const std::string& model, unsigned index,
                                         hw::AddressSpace& as, MachineContext& ctx, PsciCpus& cpus,
                                         std::string& error);

}  // namespace orrery::machine::virt
