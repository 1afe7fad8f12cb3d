// One AArch64 vCPU under TCG: its architectural state, its softmmu, its dispatch loop, and the
// (for now trivial) page-table walk. The board supplies an Arm64Platform for what the CPU hands
// off (HVC: PSCI).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "cpu/arm64/cpu_models.h"
#include "cpu/arm64/frontend.h"
#include "cpu/arm64/helpers.h"
#include "cpu/arm64/state.h"
#include "cpu/common/vcpu.h"
#include "tcg/exec/engine.h"
#include "tcg/softmmu/softmmu.h"

namespace orrery::hw {
class AddressSpace;
}

namespace orrery::cpu::arm64 {

class Arm64Cpu;

/// What the board does with an HVC.
struct HvcResult {
  enum class Action : uint8_t {
    Continue,  // return to the guest (the board may have written X0..X3)
    PowerOff,  // ExitKind::Shutdown with exit_status
    Reset,     // ExitKind::Reset
  };
  Action action = Action::Continue;
  int exit_status = 0;
};

/// Implemented by the board.
class Arm64Platform {
 public:
  virtual ~Arm64Platform() = default;
  /// HVC #imm from EL1 (PSCI on the virt board). The CPU's PC is already past the HVC.
  virtual HvcResult hvc(Arm64Cpu& cpu, uint16_t imm) = 0;
};

class Arm64Cpu final : public Vcpu, public tcg::softmmu::PageTranslator {
 public:
  /// index is the vCPU number (MPIDR_EL1.Aff0). The CPU starts reset at PC 0.
  Arm64Cpu(const CpuModel& model, unsigned index, hw::AddressSpace& as, tcg::exec::Engine& engine,
           Arm64Platform& platform);
  ~Arm64Cpu() override;
  Arm64Cpu(const Arm64Cpu&) = delete;
  Arm64Cpu& operator=(const Arm64Cpu&) = delete;

  // Vcpu
  ExitKind run() override;
  void kick() override;

  /// Warm reset into AArch64 EL1h with DAIF masked, the MMU off, and the PC at entry.
  void reset(uint64_t entry);

  Arm64State& state() { return state_; }
  const Arm64State& state() const { return state_; }
  uint64_t pc() const { return state_.common.pc; }
  void set_pc(uint64_t pc) { state_.common.pc = pc; }
  /// Call after changing PSTATE (EL, SPSel) from outside generated code.
  void mode_changed() { exec_.mode_changed(); }

  const CpuModel& model() const { return model_; }
  unsigned index() const { return index_; }
  tcg::exec::VcpuExec& exec() { return exec_; }
  tcg::softmmu::Softmmu& mmu() { return mmu_; }
  Arm64Frontend& frontend() { return frontend_; }
  hw::Log& log() { return engine_.log(); }

  // softmmu::PageTranslator: the MMU is off (SCTLR_EL1.M == 0), so translation is flat with a
  // 48-bit physical address space. Faults stop the vCPU until the exception model exists.
  bool translate(uint64_t vaddr, tcg::softmmu::Access access, unsigned mmu_idx,
                 tcg::softmmu::Translation& out) override;
  void raise_bus_error(uint64_t vaddr, uint64_t phys, tcg::softmmu::Access access) override;
  void raise_alignment_fault(uint64_t vaddr, tcg::softmmu::Access access) override;

  /// For helpers: stops the vCPU (PendingExit::Stop) for code; the PC must already be exact.
  void stop_from_helper(StopCode code, uint64_t arg);

 private:
  /// Makes the running block return with PendingExit::Stop and message.
  void stop(std::string message);

  const CpuModel& model_;
  const unsigned index_;
  tcg::exec::Engine& engine_;
  Arm64Platform& platform_;
  Arm64State state_;
  Arm64Frontend frontend_;
  tcg::softmmu::Softmmu mmu_;
  tcg::exec::VcpuExec exec_;
  std::string stop_message_;  // CpuCommon::stop_message points here
  std::atomic<bool> kicked_{false};
};

}  // namespace orrery::cpu::arm64
