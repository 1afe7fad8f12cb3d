// What an AArch64 board needs from one vCPU, whoever runs it (TCG's Arm64Cpu, or the kernel's
// KVM on an arm64 host): the -kernel boot state, PSCI power states, its IRQ/FIQ inputs (as an
// IrqSink) and generic-timer/PMU outputs for the GIC. The board answers HVC calls through
// Arm64Hypercalls. No TCG types here.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "cpu/common/accel.h"
#include "cpu/common/vcpu.h"
#include "hw/core/irq.h"

namespace orrery::hw {
class AddressSpace;
class EventLoop;
namespace intc {
class Gicv3CpuInterface;
}
}  // namespace orrery::hw

namespace orrery::cpu::arm64 {

struct CpuModel;
class Arm64Vcpu;
class TagStorage;

/// A vCPU's PSCI power state (AFFINITY_INFO's three answers).
enum class PowerState : uint8_t { Off, OnPending, On };

/// The generic timer outputs a board wires to GIC PPIs.
enum class TimerOutput : uint8_t { Phys, Virt };

/// Implemented by the board: HVC calls from EL1 (PSCI on virt).
class Arm64Hypercalls {
 public:
  enum class Action : uint8_t {
    Continue,  // back to the guest with x (the board may have written X0..X3)
    PowerOff,  // run() returns ExitKind::Shutdown
    Reset,     // run() returns ExitKind::Reset
    CpuOff,    // the board called cpu.power_off(): the vCPU sleeps until power_on()
  };
  virtual ~Arm64Hypercalls() = default;
  /// HVC #imm on cpu's thread; x is X0..X3. The PC is already past the HVC.
  virtual Action hvc(Arm64Vcpu& cpu, uint16_t imm, std::array<uint64_t, 4>& x) = 0;
};

/// As an IrqSink: input 0 is the vCPU's IRQ, input 1 its FIQ (any thread).
class Arm64Vcpu : public Vcpu, public hw::IrqSink {
 public:
  static constexpr unsigned kIrqInput = 0, kFiqInput = 1;

  virtual uint64_t mpidr() const = 0;
  /// Architectural reset, then the boot register state: PC = entry, X0..X3 = regs, EL1h with
  /// interrupts masked and the MMU off (what -kernel boot protocols expect); the vCPU is On.
  /// The system counter is one per machine, so a vCPU started later passes the boot vCPU's
  /// counter_epoch(); a negative value starts a new epoch. vCPU stopped.
  virtual void reset(uint64_t entry, const std::array<uint64_t, 4>& regs,
                     int64_t counter_epoch_ns = -1) = 0;
  /// Host time (ns) at which this vCPU's view of the system counter was 0.
  virtual int64_t counter_epoch() const = 0;

  /// PSCI: the power state (any thread); power_off() makes run() sleep until power_on() or a
  /// kick (then ExitKind::Kicked). power_on() (CPU_ON, any thread) starts an Off vCPU at entry
  /// with X0 = context_id, MMU off, DAIF masked, on the counter epoch given; it returns the
  /// state the vCPU was in (only Off starts it).
  virtual PowerState power_state() const = 0;
  virtual void power_off() = 0;
  virtual PowerState power_on(uint64_t entry, uint64_t context_id, int64_t counter_epoch_ns) = 0;

  virtual hw::IrqLine& timer_irq(TimerOutput t) = 0;
  /// The PMU's overflow interrupt, or null when this vCPU has no PMU for the board to wire.
  virtual hw::IrqLine* pmu_irq() { return nullptr; }
  /// Attaches a GICv3 CPU interface (system registers; before the first reset).
  virtual void set_gic_cpu_interface(hw::intc::Gicv3CpuInterface* gic) = 0;
  /// Gives the vCPU the board's MTE tag storage (before the first reset); false if its model
  /// lacks FEAT_MTE2 or its engine cannot check tags.
  virtual bool set_tag_storage(TagStorage* tags) {
    (void)tags;
    return false;
  }
};

/// What the board gives for each vCPU.
struct Arm64VcpuSpec {
  const CpuModel& model;
  unsigned index;  // MPIDR_EL1.Aff0
  hw::AddressSpace& memory;
  hw::EventLoop& loop;  // the generic timers' clock and deadlines
  Arm64Hypercalls& hypercalls;
};

/// An accelerator that can run AArch64 vCPUs.
class Arm64Accelerator : public Accelerator {
 public:
  /// A vCPU in the Off state; null with a reason in error.
  virtual std::unique_ptr<Arm64Vcpu> create_vcpu(const Arm64VcpuSpec& spec, std::string& error) = 0;
  /// Tells one machine's vCPUs about each other (TLB maintenance broadcast); once, before any
  /// runs.
  virtual void link_vcpus(std::span<Arm64Vcpu* const> vcpus) { (void)vcpus; }
};

}  // namespace orrery::cpu::arm64
