#include "machine/pc/pc_intc.h"

#include "hw/core/clock.h"
#include "machine/pc/pc.h"
#include "machine/pc/pc_map.h"

namespace orrery::machine::pc {

/// One vCPU's side of its local APIC: the APIC's output pins drive the vCPU, and the vCPU's
/// APIC MSRs, CR8 and acknowledge cycle reach the APIC (and the PIC behind LINT0).
class PcInterrupts::CpuPort final : public hw::LapicOutputs, public cpu::x86::X86LocalApic {
 public:
  CpuPort(PcInterrupts& pc, hw::EventLoop& loop, unsigned index)
      : pc_(pc), lapic_(pc.log_, pc.bus_, loop, index, *this) {}
  ~CpuPort() override = default;

  hw::LocalApic& lapic() { return lapic_; }
  void attach(cpu::x86::X86Vcpu& cpu, const hw::Clock& clock) {
    clock_ = &clock;
    cpu_ = &cpu;
    cpu.set_intr(lapic_.intr());
  }

  // LapicOutputs (with the APIC's lock held; the vCPU's methods only latch and wake).
  void set_intr(bool level) override {
    if (cpu_) cpu_->set_intr(level);
  }
  void nmi() override {
    if (cpu_) cpu_->raise_nmi();
  }
  void smi() override {
    pc_.log_.log(hw::kLogUnimp, "unimp: pc: SMI to cpu%u ignored (no SMM)\n", lapic_.index());
  }
  void init() override {
    if (cpu_) cpu_->init_ipi();
  }
  void startup(uint8_t vector) override {
    if (cpu_) cpu_->startup_ipi(vector);
  }

  // cpu::x86::X86LocalApic (vCPU thread).
  uint64_t apic_base() override { return lapic_.apic_base(); }
  bool set_apic_base(uint64_t value) override { return lapic_.set_apic_base(value); }
  uint8_t read_cr8() override { return lapic_.read_cr8(); }
  void write_cr8(uint8_t value) override { lapic_.write_cr8(value); }
  bool read_x2apic_msr(uint32_t index, uint64_t& value) override {
    return lapic_.read_msr(index, value);
  }
  bool write_x2apic_msr(uint32_t index, uint64_t value) override {
    return lapic_.write_msr(index, value);
  }
  uint64_t tsc_deadline() override { return lapic_.tsc_deadline(); }
  void set_tsc_deadline(uint64_t value, uint64_t now_tsc) override {
    // The TSC counts virtual nanoseconds: the deadline is as far ahead on the clock.
    const int64_t at = clock_->virtual_ns() + int64_t(value - now_tsc);
    lapic_.set_tsc_deadline(value, at);
  }
  int acknowledge_interrupt() override {
    const int v = lapic_.acknowledge();
    return v == hw::LocalApic::kAckExtInt ? pc_.pic_.acknowledge() : v;
  }

 private:
  PcInterrupts& pc_;
  // Before lapic_: its constructor already drives the outputs.
  cpu::x86::X86Vcpu* cpu_ = nullptr;  // set before the vCPUs run
  const hw::Clock* clock_ = nullptr;
  hw::LocalApic lapic_;
};

PcInterrupts::PcInterrupts(hw::Log& log, hw::EventLoop& loop, hw::AddressSpace& memory,
                           unsigned cpus)
    : log_(log), memory_(memory), bus_(log), pic_(log), ioapic_(log, bus_) {
  for (unsigned i = 0; i < cpus; ++i) {
    ports_.push_back(std::make_unique<CpuPort>(*this, loop, i));
    bus_.add_lapic(ports_.back()->lapic());
    // The PIC's INT reaches every local APIC's LINT0 (only the BSP's is ExtINT after reset).
    pic_.intr().connect(ports_.back()->lapic(), hw::LocalApic::kLint0);
  }
}

PcInterrupts::~PcInterrupts() = default;

hw::LocalApic& PcInterrupts::lapic(unsigned i) {
  return ports_.at(i)->lapic();
}

std::string PcInterrupts::map(hw::AddressSpace& io) {
  std::string err = io.add_mmio("pic-master", kPicMasterPort, 2, pic_.master_ports());
  if (err.empty()) err = io.add_mmio("pic-slave", kPicSlavePort, 2, pic_.slave_ports());
  if (err.empty()) err = io.add_mmio("elcr", kElcrPort, 2, pic_.elcr_ports());
  if (err.empty()) err = memory_.add_mmio("ioapic", kIoApicBase, hw::IoApic::kMmioSize, ioapic_);
  if (err.empty()) err = memory_.add_mmio("apic", kLapicBase, 0x1000, bus_.mmio());
  return err;
}

void PcInterrupts::attach_cpu(cpu::x86::X86Vcpu& cpu, const hw::Clock& clock) {
  CpuPort& port = *ports_.at(cpu.index());
  port.attach(cpu, clock);
  cpu.set_local_apic(&port);
  cpu.set_clock(&clock);
}

void PcInterrupts::detach_cpus() {
  for (auto& p : ports_) p->lapic().disconnect();
}

std::vector<hw::Resettable*> PcInterrupts::resettables() {
  std::vector<hw::Resettable*> v{&pic_, &ioapic_};
  for (auto& p : ports_) v.push_back(&p->lapic());
  return v;
}

void PcInterrupts::Gsi::set_irq(unsigned gsi, bool level) {
  if (gsi >= kGsiCount) return;
  if (gsi < kIsaIrqCount) pc_.pic_.set_irq(gsi, level);
  // ISA IRQ 0 (the PIT) is IOAPIC pin 2, as the MADT's interrupt source override says.
  pc_.ioapic_.set_irq(gsi == kPitIrq ? 2 : gsi, level);
}

bool PcInterrupts::Msi::deliver_msi(const hw::MsiMessage& msg) {
  if (pc_.bus_.deliver_msi(msg)) return true;
  // Elsewhere a message is an ordinary DWORD write.
  return pc_.memory_.write(msg.address, 4, msg.data) == hw::MemResult::Ok;
}

}  // namespace orrery::machine::pc

namespace orrery::machine::pc {

std::string PcMachine::build_interrupts() {
  intc_ = std::make_unique<PcInterrupts>(ctx_.log, ctx_.loop, mem_, config_.cpus);
  // With a kernel irqchip the kernel answers the PIC, IOAPIC and local APIC accesses itself.
  if (!accel_->irqchip_in_kernel()) {
    std::string err = intc_->map(io_);
    if (!err.empty()) return err;
  }
  for (unsigned irq = 0; irq < kIsaIrqCount; ++irq) isa_irqs_[irq].out().connect(gsi_sink(), irq);
  return {};
}

hw::IrqSink& PcMachine::gsi_sink() {
  hw::IrqSink* k = accel_->kernel_gsi();
  return k ? *k : intc_->gsi();
}

hw::MsiSink& PcMachine::msi_sink() {
  hw::MsiSink* k = accel_->kernel_msi();
  return k ? *k : intc_->msi();
}

void PcMachine::init_pic_as_firmware() {
  if (accel_->irqchip_in_kernel()) {
    accel_->init_kernel_pic(0x08, 0x70, 0xfb, 0xff);
    return;
  }
  // ICW1 (edge, cascade, ICW4), ICW2 (vector base), ICW3 (cascade on IRQ 2), ICW4 (8086 mode),
  // then OCW1 (the mask).
  const std::pair<uint16_t, uint8_t> writes[] = {
      {kPicMasterPort, 0x11},     {kPicMasterPort + 1, 0x08}, {kPicMasterPort + 1, 0x04},
      {kPicMasterPort + 1, 0x01}, {kPicMasterPort + 1, 0xfb}, {kPicSlavePort, 0x11},
      {kPicSlavePort + 1, 0x70},  {kPicSlavePort + 1, 0x02},  {kPicSlavePort + 1, 0x01},
      {kPicSlavePort + 1, 0xff}};
  for (const auto& [port, value] : writes) io_.write(port, 1, value);
}

void PcMachine::connect_irqs() {
  // Each ISA IRQ is a wired-OR: every device line gets its own input of it.
  std::array<unsigned, kIsaIrqCount> inputs{};
  auto isa = [&](hw::IrqLine& line, unsigned irq) { line.connect(isa_irqs_[irq], inputs[irq]++); };
  isa(com1_.irq(), kCom1Irq);
  PcPlatformDevices& p = platform_;
  isa(p.pit->irq(), kPitIrq);
  isa(p.kbc->kbd_irq(), kKbdIrq);
  isa(p.kbc->aux_irq(), kMouseIrq);
  isa(p.rtc->irq(), kRtcIrq);
  isa(p.pm->sci(), kSciIrq);
  // HPET line n is GSI n (line 0 is ISA IRQ 0, which the router puts on IOAPIC pin 2).
  for (unsigned n = 0; n < kGsiCount; ++n) {
    if (n < kIsaIrqCount)
      isa(p.hpet->irq(n), n);
    else
      p.hpet->irq(n).connect(gsi_sink(), n);
  }
  if (p.testdev)
    for (unsigned n = 0; n < kIsaIrqCount; ++n) isa(p.testdev->irq(n), n);
  // PCI INTx through PIIX3's PIRQ routing, the IDE channels, and MSIs to the APIC bus.
  for (unsigned n = 0; n < kIsaIrqCount; ++n) isa(pci_->isa.isa_irq(n), n);
  isa(pci_->ide.channel(0).irq(), kIde0Irq);
  isa(pci_->ide.channel(1).irq(), kIde1Irq);
  pci_->bus.set_msi_sink(&msi_sink());
}

}  // namespace orrery::machine::pc
