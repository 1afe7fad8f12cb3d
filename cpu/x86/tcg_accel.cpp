#include "cpu/x86/tcg_accel.h"

#include "cpu/x86/cpu.h"

namespace orrery::cpu::x86 {

std::unique_ptr<X86Vcpu> TcgX86Accelerator::create_vcpu(const X86VcpuSpec& spec,
                                                        std::string& error) {
  (void)error;
  return std::make_unique<X86Cpu>(spec.model, spec.index, spec.memory, spec.io_ports, engine_,
                                  spec.platform);
}

}  // namespace orrery::cpu::x86
