// The TCG accelerator for AArch64 boards: each vCPU an Arm64Cpu on the translation engine,
// wrapped with its PSCI power state.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "cpu/arm64/cpu.h"
#include "cpu/arm64/vcpu.h"
#include "cpu/common/tcg_accel.h"

namespace orrery::cpu::arm64 {

class TcgArm64Vcpu final : public Arm64Vcpu, private Arm64Platform {
 public:
  TcgArm64Vcpu(const Arm64VcpuSpec& spec, tcg::exec::Engine& engine);

  ExitKind run() override;
  void kick() override;
  uint64_t mpidr() const override { return cpu_.state().mpidr_el1; }
  void reset(uint64_t entry, const std::array<uint64_t, 4>& regs,
             int64_t counter_epoch_ns) override;
  int64_t counter_epoch() const override { return cpu_.state().counter_epoch_ns; }
  PowerState power_state() const override;
  void power_off() override;
  PowerState power_on(uint64_t entry, uint64_t context_id, int64_t counter_epoch_ns) override;
  hw::IrqLine& timer_irq(TimerOutput t) override;
  hw::IrqLine* pmu_irq() override { return &cpu_.pmu_irq(); }
  void set_gic_cpu_interface(hw::intc::Gicv3CpuInterface* gic) override;
  bool set_tag_storage(TagStorage* tags) override;
  void set_irq(unsigned line, bool level) override;

  /// The CPU itself (tests look at its state; TLB broadcast links).
  Arm64Cpu& arm64() { return cpu_; }
  /// Waits until the CPU is asleep in WFI; false on timeout. With wfi_wakeups(), lets tests
  /// wake it only once it really sleeps. Thread-safe.
  bool wait_until_asleep_in_wfi(std::chrono::milliseconds timeout) {
    return cpu_.wait_until_asleep_in_wfi(timeout);
  }
  uint64_t wfi_wakeups() { return cpu_.wfi_wakeups(); }

 private:
  HvcResult hvc(Arm64Cpu& cpu, uint16_t imm) override;

  Arm64Hypercalls& hypercalls_;
  Arm64Cpu cpu_;
  bool off_requested_ = false;  // vCPU thread: the last HVC was CPU_OFF
  // The power state and a pending CPU_ON; kicked_ wakes an Off vCPU's run().
  mutable std::mutex mu_;
  std::condition_variable cv_;
  PowerState power_ = PowerState::Off;
  uint64_t start_entry_ = 0, start_context_ = 0;
  int64_t start_epoch_ = -1;
  bool kicked_ = false;
};

class TcgArm64Accelerator final : public TcgAccel<Arm64Accelerator> {
 public:
  using TcgAccel::TcgAccel;
  std::unique_ptr<Arm64Vcpu> create_vcpu(const Arm64VcpuSpec& spec, std::string& error) override;
  void link_vcpus(std::span<Arm64Vcpu* const> vcpus) override;
};

}  // namespace orrery::cpu::arm64
