// The PC's interrupt fabric: the 8259 pair, the IOAPIC, one local APIC per vCPU on an APIC
// bus, the GSI router (ISA IRQ n to PIC input n and IOAPIC pin n, IRQ 0 to pin 2 as QEMU's pc;
// GSIs 16-23 to the IOAPIC only) and the MSI sink (0xfeexxxxx to the local APICs). Each vCPU
// reaches its local APIC through a CpuPort (cpu::x86::X86LocalApic), which also takes the
// PIC's vector in the acknowledge cycle when the interrupt comes through LINT0 (ExtINT) or
// the APIC is globally disabled.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cpu/x86/cpu.h"
#include "hw/core/address_space.h"
#include "hw/core/event_loop.h"
#include "hw/core/irq.h"
#include "hw/intc/apic_bus.h"
#include "hw/intc/i8259.h"
#include "hw/intc/ioapic.h"
#include "hw/intc/lapic.h"

namespace orrery::machine::pc {

class PcInterrupts {
 public:
  PcInterrupts(hw::Log& log, hw::EventLoop& loop, hw::AddressSpace& memory, unsigned cpus);
  ~PcInterrupts();
  PcInterrupts(const PcInterrupts&) = delete;
  PcInterrupts& operator=(const PcInterrupts&) = delete;

  /// Maps the PIC and ELCR ports, the IOAPIC and the local APIC page; error or empty.
  std::string map(hw::AddressSpace& io_ports);
  /// Connects vCPU cpu.index() to its local APIC (after the vCPUs exist).
  void attach_cpu(cpu::x86::X86Vcpu& cpu, const hw::Clock& clock);
  /// Before the vCPUs are destroyed: no timer or message reaches them any more.
  void detach_cpus();

  /// The 24 GSIs.
  hw::IrqSink& gsi() { return gsi_; }
  /// Where PCI MSI/MSI-X messages go.
  hw::MsiSink& msi() { return msi_; }

  hw::I8259& pic() { return pic_; }
  hw::IoApic& ioapic() { return ioapic_; }
  hw::ApicBus& apic_bus() { return bus_; }
  hw::LocalApic& lapic(unsigned i);
  /// Every device here, for the board's reset list.
  std::vector<hw::Resettable*> resettables();

 private:
  class CpuPort;
  class Gsi final : public hw::IrqSink {
   public:
    explicit Gsi(PcInterrupts& pc) : pc_(pc) {}
    void set_irq(unsigned gsi, bool level) override;

   private:
    PcInterrupts& pc_;
  };
  class Msi final : public hw::MsiSink {
   public:
    explicit Msi(PcInterrupts& pc) : pc_(pc) {}
    bool deliver_msi(const hw::MsiMessage& msg) override;

   private:
    PcInterrupts& pc_;
  };

  hw::Log& log_;
  hw::AddressSpace& memory_;
  hw::ApicBus bus_;
  hw::I8259 pic_;
  hw::IoApic ioapic_;
  std::vector<std::unique_ptr<CpuPort>> ports_;
  Gsi gsi_{*this};
  Msi msi_{*this};
};

}  // namespace orrery::machine::pc
