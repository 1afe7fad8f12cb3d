// What an x86 core asks of its local APIC: IA32_APIC_BASE, CR8 (the TPR), the x2APIC MSRs,
// IA32_TSC_DEADLINE and the interrupt acknowledge cycle. The board implements it per vCPU
// over its interrupt controllers (hw/intc), which know nothing of TCG; the same devices serve
// a KVM accelerator. No TCG types here.
#pragma once

#include <cstdint>

namespace orrery::cpu::x86 {

class X86LocalApic {
 public:
  virtual ~X86LocalApic() = default;
  virtual uint64_t apic_base() = 0;
  /// A WRMSR with no reserved bit set; false: an invalid mode transition (#GP).
  virtual bool set_apic_base(uint64_t value) = 0;
  /// CR8 reads and writes TPR[7:4].
  virtual uint8_t read_cr8() = 0;
  virtual void write_cr8(uint8_t value) = 0;
  /// MSRs 0x800-0x8ff; false: #GP.
  virtual bool read_x2apic_msr(uint32_t index, uint64_t& value) = 0;
  virtual bool write_x2apic_msr(uint32_t index, uint64_t value) = 0;
  /// IA32_TSC_DEADLINE (0x6e0); now_tsc is the TSC at the write, to place the deadline on the
  /// machine's clock.
  virtual uint64_t tsc_deadline() = 0;
  virtual void set_tsc_deadline(uint64_t value, uint64_t now_tsc) = 0;
  /// The interrupt acknowledge cycle: the vector, or -1 with nothing to take.
  virtual int acknowledge_interrupt() = 0;
};

}  // namespace orrery::cpu::x86
