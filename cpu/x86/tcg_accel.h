// The TCG accelerator for x86 boards: X86Cpu vCPUs on the translation engine.
#pragma once

#include "cpu/common/tcg_accel.h"
#include "cpu/x86/vcpu.h"

namespace orrery::cpu::x86 {

class TcgX86Accelerator final : public TcgAccel<X86Accelerator> {
 public:
  using TcgAccel::TcgAccel;
  std::unique_ptr<X86Vcpu> create_vcpu(const X86VcpuSpec& spec, std::string& error) override;
};

}  // namespace orrery::cpu::x86
