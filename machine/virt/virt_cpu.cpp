#include "machine/virt/virt_cpu.h"

#include <cinttypes>
#include <vector>

#include "cpu/arm64/cpu.h"
#include "cpu/arm64/cpu_models.h"
#include "hw/core/log.h"
#include "machine/virt/psci.h"

namespace orrery::machine::virt {

namespace {

/// The CPU reports messages already prefixed for the terminal; the board's caller adds its own.
std::string strip_prefix(std::string msg) {
  constexpr std::string_view kPrefix = "orrery: ";
  if (msg.compare(0, kPrefix.size(), kPrefix) == 0) msg.erase(0, kPrefix.size());
  return msg;
}

class Arm64VirtCpu final : public VirtCpu, public cpu::arm64::Arm64Platform {
 public:
  Arm64VirtCpu(const cpu::arm64::CpuModel& model, hw::AddressSpace& as, MachineContext& ctx)
      : log_(ctx.log), cpu_(model, 0, as, ctx.engine, *this) {}

  void reset(uint64_t entry, const std::array<uint64_t, 4>& regs) override {
    cpu_.reset(entry);
    for (unsigned i = 0; i < 4; ++i) cpu_.state().x[i] = regs[i];
  }

  CpuRunResult run() override {
    for (;;) {
      cpu::ExitKind k = cpu_.run();
      switch (k) {
        case cpu::ExitKind::Shutdown:
          return {CpuStop::PowerOff, {}};
        case cpu::ExitKind::Reset:
          return {CpuStop::Reset, {}};
        case cpu::ExitKind::Kicked:
          return {CpuStop::Requested, {}};
        case cpu::ExitKind::Step:
          continue;  // no debugger attached yet
        case cpu::ExitKind::Halted:
          // Without an interrupt controller nothing can end a WFI; waiting would hang forever.
          return {CpuStop::Error, pc_message("the guest waits for an interrupt (WFI) that "
                                             "nothing can deliver")};
        case cpu::ExitKind::Breakpoint:
        case cpu::ExitKind::Watchpoint:
        case cpu::ExitKind::Error: {
          std::string msg = strip_prefix(cpu_.exit_message());
          if (msg.empty())
            msg = pc_message(std::string("vCPU stopped: ") + std::string(cpu::exit_kind_name(k)));
          return {CpuStop::Error, msg};
        }
      }
    }
  }

  void request_stop() override { cpu_.kick(); }

  // Arm64Platform: PSCI over HVC #0, the SMC Calling Convention's register use.
  cpu::arm64::HvcResult hvc(cpu::arm64::Arm64Cpu& vcpu, uint16_t imm) override {
    using cpu::arm64::HvcResult;
    uint64_t* x = vcpu.state().x;
    if (imm != 0) {
      log_.log(hw::kLogUnimp, "virt: HVC #0x%x (only HVC #0 PSCI calls are implemented)\n", imm);
      x[0] = uint64_t(int64_t(psci::NOT_SUPPORTED));
      return {};
    }
    PsciResult r = psci_call(x[0], x[1], x[2], x[3], vcpu.state().mpidr_el1);
    if (!r.known)
      log_.log(hw::kLogUnimp, "virt: unknown PSCI/SMCCC function 0x%08" PRIx32 "\n",
               uint32_t(x[0]));
    switch (r.action) {
      case PsciAction::Return:
        x[0] = r.x0;
        return {};
      case PsciAction::PowerOff:
        return {HvcResult::Action::PowerOff, 0};
      case PsciAction::Reset:
        return {HvcResult::Action::Reset, 0};
      case PsciAction::CpuOff:
        // The only CPU switched itself off: nothing can ever run again, so power off.
        log_.log(hw::kLogGuestErrors, "virt: PSCI CPU_OFF on the last running CPU; powering off\n");
        return {HvcResult::Action::PowerOff, 0};
    }
    return {};
  }

 private:
  std::string pc_message(const std::string& what) {
    char buf[40];
    std::snprintf(buf, sizeof buf, " at PC 0x%016" PRIx64, cpu_.pc());
    return what + buf;
  }

  hw::Log& log_;
  cpu::arm64::Arm64Cpu cpu_;
};

}  // namespace

std::span<const CpuModelInfo> virt_cpu_models() {
  // Every AArch64 model cpu/arm64 defines runs on this board.
  static const std::vector<CpuModelInfo> kModels = [] {
    std::vector<CpuModelInfo> v;
    for (const cpu::arm64::CpuModel& m : cpu::arm64::cpu_models())
      v.push_back({m.name, m.description});
    return v;
  }();
  return kModels;
}

std::string_view virt_default_cpu() {
  return cpu::arm64::default_cpu_model().name;
}

std::unique_ptr<VirtCpu> create_virt_cpu(const std::string& model, hw::AddressSpace& as,
                                         MachineContext& ctx, std::string& error) {
  const cpu::arm64::CpuModel* m = cpu::arm64::find_cpu_model(model);
  if (!m) {
    error = "unknown CPU model '" + model + "'";
    return nullptr;
  }
  error.clear();
  return std::make_unique<Arm64VirtCpu>(*m, as, ctx);
}

}  // namespace orrery::machine::virt
