// The KVM accelerator for x86 boards. KvmVm owns the VM: its memory slots (the board's RAM and
// ROM, following every change of its address space as a RamListener), the in-kernel
// PIC/IOAPIC/LAPIC when kernel-irqchip=on, and the signal that kicks vCPU threads out of KVM_RUN.
// KvmVcpu (kvm_vcpu.h) is one vCPU. The board sees only cpu::x86::X86Accelerator.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "cpu/x86/vcpu.h"
#include "hw/core/io_event.h"
#include "hw/core/address_space.h"
#include "hw/core/irq.h"

namespace orrery::hw {
class Log;
}

namespace orrery::cpu::kvm {

struct KvmOptions {
  bool kernel_irqchip = true;
  /// Doorbells through KVM_IOEVENTFD and MSIs through KVM_IRQFD where KVM has them (tests turn
  /// them off to compare).
  bool ioeventfd = true;
  bool irqfd = true;
  std::string device = "/dev/kvm";
};

class KvmDebug;
class KvmVcpu;

class KvmVm final : public x86::X86Accelerator, public hw::RamListener {
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
  hw::RamListener* ram_listener() override { return this; }
  std::string ram_error() const override;
  bool irqchip_in_kernel() const override { return options_.kernel_irqchip; }
  hw::IrqSink* kernel_gsi() override { return options_.kernel_irqchip ? &gsi_ : nullptr; }
  hw::MsiSink* kernel_msi() override { return options_.kernel_irqchip ? &msi_ : nullptr; }
  void init_kernel_pic(uint8_t master_base, uint8_t slave_base, uint8_t master_mask,
                       uint8_t slave_mask) override;
  hw::IoEventHost* io_events() override { return ioeventfd_ ? &io_events_ : nullptr; }

  /// MSIs raised through an irqfd, and through KVM_SIGNAL_MSI (tests).
  uint64_t irqfd_msis() const { return irqfd_msis_.load(); }
  uint64_t signalled_msis() const { return signalled_msis_.load(); }

  /// RamListener: the slots become ranges (ROM read-only). Slots whose range is unchanged stay;
  /// the others are deleted first (KVM refuses overlapping slots and cannot move or resize
  /// one), then the new ranges are added. A vCPU touching a range meanwhile exits to MMIO,
  /// which reads the old view (still published) through the address space.
  void ram_changed(const hw::AddressSpace& as, const std::vector<hw::RamRange>& ranges) override;
  /// The slot table, indexed by slot number (size 0: free); tests.
  std::vector<hw::RamRange> slots() const;

  int kvm_fd() const { return kvm_fd_; }
  int vm_fd() const { return vm_fd_; }
  size_t run_size() const { return run_size_; }
  hw::Log& log() { return log_; }
  /// The signal that interrupts KVM_RUN (its handler does nothing).
  static int kick_signal();

  /// The vCPUs by index (null: none or gone); they register themselves.
  KvmVcpu* vcpu(unsigned index) const;
  unsigned vcpu_count() const;
  void set_vcpu(unsigned index, KvmVcpu* v);
  /// The debugger's target while one is attached (kvm_gdb.h), or null.
  KvmDebug* debug() const { return debug_.load(std::memory_order_acquire); }
  void set_debug(KvmDebug* d) { debug_.store(d, std::memory_order_release); }

 private:
  KvmVm(const KvmOptions& options, hw::Log& log) : options_(options), log_(log) {}
  std::string init();
  /// The GSI table: the irqchip pins, then one MSI route per message in msi_routes_.
  std::string set_gsi_routing();
  /// The irqfd raising msg (a new GSI route the first time), or -1 when the routes ran out.
  int msi_irqfd(uint64_t address, uint32_t data);

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

  class IoEvents final : public hw::IoEventHost {
   public:
    explicit IoEvents(KvmVm& vm) : vm_(vm) {}
    bool add_io_event(int eventfd, const hw::IoEventMatch& m) override;
    void remove_io_event(int eventfd, const hw::IoEventMatch& m) override;

   private:
    KvmVm& vm_;
  };

  KvmOptions options_;
  hw::Log& log_;
  int kvm_fd_ = -1, vm_fd_ = -1;
  size_t run_size_ = 0;
  bool readonly_mem_ = false;
  mutable std::mutex vcpus_mu_;
  std::vector<KvmVcpu*> vcpus_;
  std::atomic<KvmDebug*> debug_{nullptr};
  unsigned max_slots_ = 32;  // KVM_CAP_NR_MEMSLOTS
  mutable std::mutex slots_mu_;
  std::vector<hw::RamRange> slots_;  // by slot number; size 0: free
  std::string ram_error_;            // the last ram_changed's failure
  bool rom_writable_noted_ = false;
  Gsi gsi_{*this};
  Msi msi_{*this};
  IoEvents io_events_{*this};
  bool ioeventfd_ = false, irqfd_ = false;
  // MSI routes behind irqfds: message (address, data) -> eventfd, GSIs from kFirstMsiGsi in
  // the order made. A guest that rewrites its MSI-X tables often ends up on KVM_SIGNAL_MSI.
  std::mutex msi_mu_;
  std::map<std::pair<uint64_t, uint32_t>, int> msi_routes_;
  std::vector<std::pair<uint64_t, uint32_t>> msi_order_;
  std::atomic<uint64_t> irqfd_msis_{0}, signalled_msis_{0};
};

}  // namespace orrery::cpu::kvm
