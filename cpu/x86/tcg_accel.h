// The TCG accelerator for x86 boards: X86Cpu vCPUs on the translation engine.
#pragma once

#include "cpu/x86/vcpu.h"

namespace orrery::tcg::exec {
class Engine;
}

namespace orrery::cpu::x86 {

class TcgX86Accelerator final : public X86Accelerator {
 public:
  explicit TcgX86Accelerator(tcg::exec::Engine& engine) : engine_(engine) {}
  std::string_view name() const override { return "tcg"; }
  std::unique_ptr<X86Vcpu> create_vcpu(const X86VcpuSpec& spec, std::string& error) override;
  hw::GuestWriteObserver* write_observer() override;
  hw::MemoryListener* memory_listener() override;
  void set_code_full_hook(std::function<void()> hook) override;
  void flush_code() override;

 private:
  tcg::exec::Engine& engine_;
};

}  // namespace orrery::cpu::x86
