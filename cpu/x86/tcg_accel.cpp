#include "cpu/x86/tcg_accel.h"

#include "cpu/x86/cpu.h"
#include "tcg/exec/engine.h"

namespace orrery::cpu::x86 {

std::unique_ptr<X86Vcpu> TcgX86Accelerator::create_vcpu(const X86VcpuSpec& spec,
                                                        std::string& error) {
  (void)error;
  return std::make_unique<X86Cpu>(spec.model, spec.index, spec.memory, spec.io_ports, engine_,
                                  spec.platform);
}

hw::GuestWriteObserver* TcgX86Accelerator::write_observer() {
  return &engine_;
}

hw::MemoryListener* TcgX86Accelerator::memory_listener() {
  return &engine_;
}

void TcgX86Accelerator::set_code_full_hook(std::function<void()> hook) {
  engine_.set_code_full_hook(std::move(hook));
}

void TcgX86Accelerator::flush_code() {
  engine_.flush();
}

}  // namespace orrery::cpu::x86
