// The KVM accelerator for x86 boards. KvmVm owns the VM: its memory slots (the board's RAM and
// ROM regions), the in-kernel PIC/IOAPIC/LAPIC when kernel-irqchip=on, and the signal that
// kicks vCPU threads out of KVM_RUN. KvmVcpu (kvm_vcpu.h) is one vCPU. The board sees only
// cpu::x86::X86Accelerator.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cpu/x86/vcpu.h"
#include "hw/core/irq.h"

namespace orrery::hw {
class Log;
}

namespace orrery::cpu::kvm {

struct KvmOptions {
  bool kernel_irqchip = true;
  std::string device = "/dev/kvm";
};

class KvmVm final : public x86::X86Accelerator {
 public:
  /// Opens /dev/kvm and creates the VM (and the irqchip); null with one line in error.
  static std::unique_ptr<KvmVm> create(const KvmOptions& options, hw::Log& log, std::string& error);
  ~KvmVm() override;
  KvmVm(const KvmVm&) = delete;
  KvmVm& operator=(const KvmVm&) = delete;

  // X86Accelerator.
  std::string_view name() const override { return "kvm"; }
  std::unique_ptr<x86::X86Vcpu> create_vcpu(const x86::X86VcpuSpec& spec,
                                            std::string& error) override;
  std::string set_ram(std::span<const RamSlot> slots) override;
  bool irqchip_in_kernel() const override { return options_.kernel_irqchip; }
  hw::IrqSink* kernel_gsi() override { return options_.kernel_irqchip ? &gsi_ : nullptr; }
  hw::MsiSink* kernel_msi() override { return options_.kernel_irqchip ? &msi_ : nullptr; }
  void init_kernel_pic(uint8_t master_base, uint8_t slave_base, uint8_t master_mask,
                       uint8_t slave_mask) override;

  int kvm_fd() const { return kvm_fd_; }
  int vm_fd() const { return vm_fd_; }
  size_t run_size() const { return run_size_; }
  hw::Log& log() { return log_; }
  /// The signal that interrupts KVM_RUN (its handler does nothing).
  static int kick_signal();

 private:
  KvmVm(const KvmOptions& options, hw::Log& log) : options_(options), log_(log) {}
  std::string init();
  std::string set_gsi_routing();

  class Gsi final : public hw::IrqSink {
   public:
    explicit Gsi(KvmVm& vm) : vm_(vm) {}
    void set_irq(unsigned gsi, bool level) override;

   private:
    KvmVm& vm_;
  };
  class Msi final : public hw::MsiSink {
   public:
    explicit Msi(KvmVm& vm) : vm_(vm) {}
    bool deliver_msi(const hw::MsiMessage& msg) override;

   private:
    KvmVm& vm_;
  };

  KvmOptions options_;
  hw::Log& log_;
  int kvm_fd_ = -1, vm_fd_ = -1;
  size_t run_size_ = 0;
  bool readonly_mem_ = false;
  std::mutex slots_mu_;
  unsigned slots_used_ = 0;  // slots 0..slots_used_-1 hold memory
  Gsi gsi_{*this};
  Msi msi_{*this};
};

}  // namespace orrery::cpu::kvm
