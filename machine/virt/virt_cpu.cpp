#include "machine/virt/virt_cpu.h"

#include <atomic>
#include <cinttypes>
#include <vector>

#include "cpu/arm64/cpu.h"
#include "cpu/arm64/cpu_models.h"
#include "cpu/arm64/mte.h"
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
  Arm64VirtCpu(const cpu::arm64::CpuModel& model, unsigned index, hw::AddressSpace& as,
               MachineContext& ctx, PsciCpus& cpus)
      : log_(ctx.log), cpus_(cpus), cpu_(model, index, as, ctx.engine, *this, ctx.loop) {}

  cpu::arm64::Arm64Cpu& arm64() { return cpu_; }

  void reset(uint64_t entry, const std::array<uint64_t, 4>& regs,
             int64_t counter_epoch_ns) override {
    cpu_.reset(entry);
    for (unsigned i = 0; i < 4; ++i) cpu_.state().x[i] = regs[i];
    if (counter_epoch_ns >= 0) {
      // Arm64Cpu::reset restarts its counter; all CPUs must read the same CNTPCT.
      cpu_.state().counter_epoch_ns = counter_epoch_ns;
      cpu_.timer().reset(counter_epoch_ns);
    }
  }
  int64_t counter_epoch() const override { return cpu_.state().counter_epoch_ns; }

  CpuRunResult run() override {
    for (;;) {
      if (stop_.load()) return {CpuStop::Requested, {}};
      cpu::ExitKind k = cpu_.run();
      switch (k) {
        case cpu::ExitKind::Shutdown:
          if (off_requested_) {
            off_requested_ = false;
            return {CpuStop::CpuOff, {}};
          }
          return {CpuStop::PowerOff, {}};
        case cpu::ExitKind::Reset:
          return {CpuStop::Reset, {}};
        case cpu::ExitKind::Kicked:
          if (stop_.load()) return {CpuStop::Requested, {}};
          continue;  // a wake-up meant for something else (interrupt, TLB broadcast)
        case cpu::ExitKind::Step:
        case cpu::ExitKind::Halted:
          continue;  // no debugger attached; WFI sleeps inside Arm64Cpu::run
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

  void request_stop() override {
    stop_.store(true);
    cpu_.kick();
  }
  void resume() override { stop_.store(false); }
  bool wait_until_asleep_in_wfi(std::chrono::milliseconds timeout) override {
    return cpu_.wait_until_asleep_in_wfi(timeout);
  }
  uint64_t wfi_wakeups() override { return cpu_.wfi_wakeups(); }

  uint64_t mpidr() const override { return cpu_.state().mpidr_el1; }
  hw::IrqLine& timer_irq(CpuTimer t) override {
    return cpu_.timer_irq(t == CpuTimer::Phys ? cpu::arm64::TimerId::Phys
                                              : cpu::arm64::TimerId::Virt);
  }
  hw::IrqLine* pmu_irq() override { return &cpu_.pmu_irq(); }
  void set_gic_cpu_interface(hw::intc::Gicv3CpuInterface* gic) override {
    cpu_.set_gic_cpu_interface(gic);
  }
  bool set_tag_storage(cpu::arm64::TagStorage* tags) override {
    if (((cpu_.model().id_aa64pfr1 >> cpu::arm64::kPfr1MteShift) & 0xf) < 2) return false;
    cpu_.set_tag_storage(tags);
    return true;
  }

  // hw::IrqSink: the GIC's outputs.
  void set_irq(unsigned line, bool level) override {
    if (line == kIrqInput)
      cpu_.set_irq(level);
    else
      cpu_.set_fiq(level);
  }

  // Arm64Platform: PSCI over HVC #0, the SMC Calling Convention's register use.
  cpu::arm64::HvcResult hvc(cpu::arm64::Arm64Cpu& vcpu, uint16_t imm) override {
    using cpu::arm64::HvcResult;
    uint64_t* x = vcpu.state().x;
    if (imm != 0) {
      log_.log(hw::kLogUnimp, "virt: HVC #0x%x (only HVC #0 PSCI calls are implemented)\n", imm);
      x[0] = uint64_t(int64_t(psci::NOT_SUPPORTED));
      return {};
    }
    PsciResult r = psci_call(x[0], x[1], x[2], x[3], vcpu.state().mpidr_el1, &cpus_);
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
        // Leave run(); the board parks this CPU until a CPU_ON.
        off_requested_ = true;
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
  PsciCpus& cpus_;
  cpu::arm64::Arm64Cpu cpu_;
  std::atomic<bool> stop_{false};
  bool off_requested_ = false;  // vCPU thread only
};

}  // namespace

void link_virt_cpus(std::span<const std::unique_ptr<VirtCpu>> cpus) {
  // Every VirtCpu is an Arm64VirtCpu: create_virt_cpu is the only factory.
  std::vector<cpu::arm64::Arm64Cpu*> list;
  for (const auto& c : cpus) list.push_back(&static_cast<Arm64VirtCpu&>(*c).arm64());
  for (auto* c : list) c->set_siblings(list);  // copies the list
}

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

std::unique_ptr<VirtCpu> create_virt_cpu(const std::string& model, unsigned index,
                                         hw::AddressSpace& as, MachineContext& ctx, PsciCpus& cpus,
                                         std::string& error) {
  const cpu::arm64::CpuModel* m = cpu::arm64::find_cpu_model(model);
  if (!m) {
    error = "unknown CPU model '" + model + "'";
    return nullptr;
  }
  error.clear();
  return std::make_unique<Arm64VirtCpu>(*m, index, as, ctx, cpus);
}

}  // namespace orrery::machine::virt
