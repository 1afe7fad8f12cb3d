// One KVM vCPU: KVM_RUN on the board's vCPU thread, port-I/O and MMIO exits dispatched to the
// board's address spaces, HLT and INTR injection when Orrery's own interrupt controllers are
// used (kernel-irqchip=off), a triple fault as ExitKind::Reset, and every other exit a clear
// error. kick() interrupts KVM_RUN with a signal and kvm_run.immediate_exit.
#pragma once

#include <linux/kvm.h>
#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "cpu/kvm/kvm.h"

namespace orrery::cpu::kvm {

class KvmVcpu final : public x86::X86Vcpu {
 public:
  /// Creates vCPU spec.index in vm; check error() afterwards.
  KvmVcpu(KvmVm& vm, const x86::X86VcpuSpec& spec);
  ~KvmVcpu() override;
  KvmVcpu(const KvmVcpu&) = delete;
  KvmVcpu& operator=(const KvmVcpu&) = delete;
  const std::string& error() const { return error_; }

  // Vcpu.
  ExitKind run() override;
  void kick() override;

  // X86Vcpu.
  unsigned index() const override { return index_; }
  void reset_power_on() override;
  void reset_multiboot(uint32_t entry, uint32_t eax, uint32_t ebx) override;
  void reset_long_mode(const x86::LongModeEntry& e) override;
  void init_wait_for_sipi() override;
  void request_reset() override;
  void set_intr(bool level) override;
  void raise_nmi() override;
  void init_ipi() override;
  void startup_ipi(uint8_t vector) override;
  void set_local_apic(x86::X86LocalApic* apic) override { apic_ = apic; }
  void set_clock(const hw::Clock* clock) override { (void)clock; }

  /// KVM_GET_REGS / KVM_SET_REGS (tests, gdb); vCPU stopped.
  bool get_regs(kvm_regs& r);
  bool set_regs(const kvm_regs& r);
  bool get_sregs(kvm_sregs& s);
  bool set_sregs(const kvm_sregs& s);
  /// For the debugger (kvm_gdb.h): the vCPU's fd and memory, and a kick that only makes the
  /// vCPU look at the debugger's state (run() does not return).
  int fd() const { return fd_; }
  /// The shared kvm_run of this vCPU (lockstep verification runs KVM_RUN itself).
  kvm_run* run_struct() { return run_; }
  hw::AddressSpace& memory() { return memory_; }
  void debug_kick();
  /// The board asked this vCPU to leave run() (kick or reset).
  bool stop_requested() const { return kick_pending_.load() || reset_pending_.load(); }
  /// MMIO and port-I/O exits so far (tests: what ioeventfd saves).
  uint64_t mmio_exits() const { return mmio_exits_.load(std::memory_order_relaxed); }
  uint64_t io_exits() const { return io_exits_.load(std::memory_order_relaxed); }

 private:
  std::string init(const x86::CpuModel& model);
  std::string setup_cpuid(const x86::CpuModel& model);
  /// The architectural state every reset shares: FPU/SSE, XCR0, MSRs, TSC.
  bool reset_common(uint64_t apic_base_flags);
  bool handle_io();
  bool handle_mmio();
  /// kernel-irqchip=off: KVM_INTERRUPT when the guest can take INTR, else ask for a window.
  void inject_interrupt();
  void wait_in_hlt();
  ExitKind fail(const std::string& message);
  bool ioctl_ok(unsigned long req, const void* arg, const char* what);

  KvmVm& vm_;
  unsigned index_;
  hw::AddressSpace& memory_;
  hw::AddressSpace& io_;
  x86::X86Platform& platform_;
  x86::X86LocalApic* apic_ = nullptr;
  int fd_ = -1;
  kvm_run* run_ = nullptr;
  std::string error_;

  std::atomic<uint64_t> mmio_exits_{0}, io_exits_{0};
  std::atomic<bool> kick_pending_{false};
  std::atomic<bool> debug_kick_{false};
  std::atomic<bool> reset_pending_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool in_run_ = false;  // guarded by mu_
  pthread_t thread_{};   // guarded by mu_
  // kernel-irqchip=off inputs (guarded by mu_).
  bool intr_ = false, nmi_ = false;
  bool wait_sipi_ = false;  // an AP after INIT, until a STARTUP IPI
  int sipi_vector_ = -1;
};

}  // namespace orrery::cpu::kvm
