// The real-silicon oracle: runs snippets at CPL3 in a KVM guest that never executes guest
// kernel code on the normal path (kernel-mode code is very slow under this machine's
// hypervisor). Long mode, paging, GDT, TSS and IDT are built by the host and loaded with
// KVM_SET_SREGS. CPL3 stubs XRSTOR the initial FP/vector state, run the snippet, XSAVE the
// final state and end with an OUT to a port the TSS I/O bitmap opens (KVM_EXIT_IO), so a run
// is a single KVM_RUN with registers passed in kvm_run (KVM_CAP_SYNC_REGS). This machine's
// hypervisor ignores KVM_GUESTDBG_USE_SW_BP (INT3 goes through the guest IDT), so INT3 is not
// used. An exception inside the snippet enters a one-byte HLT handler at CPL0, one per vector,
// whose KVM_EXIT_HLT tells the vector by its RIP (measured: ~8 us more than a clean run).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "tests/fuzz/x86/x86_runner.h"

namespace orrery::tests::x86fuzz {

class KvmRunner final : public X86Runner {
 public:
  /// Opens /dev/kvm and builds the VM; nullptr (with a reason in `why`) if KVM is unusable.
  static std::unique_ptr<KvmRunner> create(std::string& why);
  ~KvmRunner() override;
  KvmRunner(const KvmRunner&) = delete;
  KvmRunner& operator=(const KvmRunner&) = delete;

  std::string name() const override { return "kvm"; }
  bool run(std::span<const uint8_t> code, X86UserState& state) override;
  std::string error() const override { return error_; }

  uint64_t runs() const { return runs_; }
  uint64_t faults() const { return faults_; }
  double ns_per_run() const { return runs_ ? double(run_ns_) / double(runs_) : 0.0; }
  double ns_per_fault_run() const { return faults_ ? double(fault_ns_) / double(faults_) : 0.0; }

 private:
  KvmRunner() = default;
  bool init(std::string& why);
  bool fail(const std::string& what);

  int kvm_fd_ = -1, vm_fd_ = -1, vcpu_fd_ = -1;
  struct Mapping;
  std::unique_ptr<Mapping> mem_, run_map_;
  std::string error_;
  bool need_sregs_ = false;  // the last run ended at CPL0 (an exception)
  uint64_t runs_ = 0, faults_ = 0, run_ns_ = 0, fault_ns_ = 0;
};

}  // namespace orrery::tests::x86fuzz
