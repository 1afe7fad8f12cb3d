#include "cpu/arm64/tcg_accel.h"

#include "cpu/arm64/mte.h"

#include <cinttypes>
#include <cstdio>
#include <vector>

namespace orrery::cpu::arm64 {

TcgArm64Vcpu::TcgArm64Vcpu(const Arm64VcpuSpec& spec, tcg::exec::Engine& engine)
    : hypercalls_(spec.hypercalls),
      cpu_(spec.model, spec.index, spec.memory, engine, *this, spec.loop) {}

ExitKind TcgArm64Vcpu::run() {
  for (;;) {
    bool start = false;
    uint64_t entry = 0, context = 0;
    int64_t epoch = -1;
    {
      // An Off vCPU sleeps here until PSCI CPU_ON or a kick.
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return kicked_ || power_ != PowerState::Off; });
      const bool kicked = kicked_;
      kicked_ = false;  // a kick while On is seen (sticky) by Arm64Cpu::run as well
      if (power_ == PowerState::Off && kicked) return ExitKind::Kicked;
      if (power_ == PowerState::OnPending) {
        start = true;
        entry = start_entry_;
        context = start_context_;
        epoch = start_epoch_;
      }
    }
    if (start) reset(entry, {context, 0, 0, 0}, epoch);
    const ExitKind k = cpu_.run();
    switch (k) {
      case ExitKind::Shutdown:
        if (off_requested_) {
          off_requested_ = false;  // CPU_OFF: power_off() was called; sleep above
          continue;
        }
        exit_status_ = cpu_.exit_status();
        return k;
      case ExitKind::Breakpoint:
      case ExitKind::Watchpoint:
      case ExitKind::Error:
        exit_message_ = cpu_.exit_message();
        if (exit_message_.empty()) {
          char buf[40];
          std::snprintf(buf, sizeof buf, " at PC 0x%016" PRIx64, cpu_.pc());
          exit_message_ = "vCPU stopped: " + std::string(exit_kind_name(k)) + buf;
        }
        return k;
      default:
        return k;
    }
  }
}

void TcgArm64Vcpu::kick() {
  {
    std::lock_guard<std::mutex> g(mu_);
    kicked_ = true;
  }
  cv_.notify_all();
  cpu_.kick();
}

void TcgArm64Vcpu::reset(uint64_t entry, const std::array<uint64_t, 4>& regs,
                         int64_t counter_epoch_ns) {
  cpu_.reset(entry);
  for (unsigned i = 0; i < 4; ++i) cpu_.state().x[i] = regs[i];
  if (counter_epoch_ns >= 0) {
    // Arm64Cpu::reset restarts its counter; all CPUs must read the same CNTPCT.
    cpu_.state().counter_epoch_ns = counter_epoch_ns;
    cpu_.timer().reset(counter_epoch_ns);
  }
  std::lock_guard<std::mutex> g(mu_);
  power_ = PowerState::On;
}

PowerState TcgArm64Vcpu::power_state() const {
  std::lock_guard<std::mutex> g(mu_);
  return power_;
}

void TcgArm64Vcpu::power_off() {
  std::lock_guard<std::mutex> g(mu_);
  power_ = PowerState::Off;
}

PowerState TcgArm64Vcpu::power_on(uint64_t entry, uint64_t context_id, int64_t counter_epoch_ns) {
  PowerState was;
  {
    std::lock_guard<std::mutex> g(mu_);
    was = power_;
    if (was != PowerState::Off) return was;
    power_ = PowerState::OnPending;
    start_entry_ = entry;
    start_context_ = context_id;
    start_epoch_ = counter_epoch_ns;
  }
  cv_.notify_all();
  return was;
}

hw::IrqLine& TcgArm64Vcpu::timer_irq(TimerOutput t) {
  return cpu_.timer_irq(t == TimerOutput::Phys ? TimerId::Phys : TimerId::Virt);
}

void TcgArm64Vcpu::set_gic_cpu_interface(hw::intc::Gicv3CpuInterface* gic) {
  cpu_.set_gic_cpu_interface(gic);
}

bool TcgArm64Vcpu::set_tag_storage(TagStorage* tags) {
  if (((cpu_.model().id_aa64pfr1 >> kPfr1MteShift) & 0xf) < 2) return false;
  cpu_.set_tag_storage(tags);
  return true;
}

void TcgArm64Vcpu::set_irq(unsigned line, bool level) {
  if (line == kIrqInput)
    cpu_.set_irq(level);
  else
    cpu_.set_fiq(level);
}

HvcResult TcgArm64Vcpu::hvc(Arm64Cpu& cpu, uint16_t imm) {
  uint64_t* x = cpu.state().x;
  std::array<uint64_t, 4> regs = {x[0], x[1], x[2], x[3]};
  const Arm64Hypercalls::Action a = hypercalls_.hvc(*this, imm, regs);
  for (unsigned i = 0; i < 4; ++i) x[i] = regs[i];
  switch (a) {
    case Arm64Hypercalls::Action::Continue:
      return {};
    case Arm64Hypercalls::Action::PowerOff:
      return {HvcResult::Action::PowerOff, 0};
    case Arm64Hypercalls::Action::Reset:
      return {HvcResult::Action::Reset, 0};
    case Arm64Hypercalls::Action::CpuOff:
      // Leave Arm64Cpu::run; run() above then sleeps until a CPU_ON.
      off_requested_ = true;
      return {HvcResult::Action::PowerOff, 0};
  }
  return {};
}

std::unique_ptr<Arm64Vcpu> TcgArm64Accelerator::create_vcpu(const Arm64VcpuSpec& spec,
                                                            std::string& error) {
  (void)error;
  return std::make_unique<TcgArm64Vcpu>(spec, engine_);
}

void TcgArm64Accelerator::link_vcpus(std::span<Arm64Vcpu* const> vcpus) {
  // Every vCPU of a TCG machine is a TcgArm64Vcpu: create_vcpu is the only factory.
  std::vector<Arm64Cpu*> list;
  for (Arm64Vcpu* v : vcpus) list.push_back(&static_cast<TcgArm64Vcpu&>(*v).arm64());
  for (Arm64Cpu* c : list) c->set_siblings(list);  // copies the list
}

}  // namespace orrery::cpu::arm64
