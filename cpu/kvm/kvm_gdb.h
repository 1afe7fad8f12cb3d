// The gdbstub's target for a KVM VM: all-stop run control over the VM's vCPU threads, which
// park in KvmVcpu::run() between KVM_RUNs while the debugger holds the machine; registers
// through KVM_GET/SET_REGS, SREGS, FPU and MSRS in gdb's amd64 layout (cpu/x86/gdb.h); memory
// at linear addresses through KVM_TRANSLATE and the board's RAM (no MMIO side effects); and
// breakpoints, watchpoints and single-step through KVM_SET_GUEST_DEBUG.
//
// Software breakpoints (Z0) are INT3 bytes written into guest RAM (KVM_GUESTDBG_USE_SW_BP makes
// KVM report the #BP instead of delivering it); memory reads show the original bytes. Hardware
// breakpoints (Z1) and watchpoints (Z2-Z4) take the four debug registers (USE_HW_BP). This
// machine's software hypervisor (PVM) accepts the debug registers but never reports a hit, and
// its single-step works; INT3 breakpoints at CPL3 work there (CPL0 INT3 does not).
#pragma once

#include <linux/kvm.h>

#include <array>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cpu/common/gdb_target.h"

namespace orrery::cpu::kvm {

class KvmVm;
class KvmVcpu;

class KvmDebug final : public GdbTarget {
 public:
  explicit KvmDebug(KvmVm& vm);
  ~KvmDebug() override;
  KvmDebug(const KvmDebug&) = delete;
  KvmDebug& operator=(const KvmDebug&) = delete;

  /// A debugger serves from now on; start_stopped (-S): the vCPUs wait for it before running.
  void activate(bool start_stopped);
  /// The debugger is gone for good: the vCPUs run freely.
  void deactivate();
  /// The debugger killed the machine (or a quit came while it held it): as deactivate, but a
  /// parked vCPU stays parked until the board's stop request kicks it, so no guest code runs.
  void kill();
  /// A vCPU was kicked by the board (KvmVcpu::kick): a vCPU held by kill() looks again.
  void wake();
  /// Told true when every vCPU has stopped for the debugger and false when they run again
  /// (the board's virtual clock stands still meanwhile, as under TCG).
  void set_stop_listener(std::function<void(bool)> listener);

  // GdbTarget.
  unsigned register_count() const override;
  unsigned g_register_count() const override;
  unsigned pc_register() const override;
  unsigned register_bytes(unsigned regno) const override;
  std::optional<std::string_view> feature_xml(std::string_view annex) const override;
  unsigned thread_count() const override;
  bool thread_alive(unsigned thread) const override;
  bool read_register(unsigned thread, unsigned regno, std::span<uint8_t> out) override;
  bool write_register(unsigned thread, unsigned regno, std::span<const uint8_t> in) override;
  bool read_memory(unsigned thread, uint64_t addr, std::span<uint8_t> out, bool phys) override;
  bool write_memory(unsigned thread, uint64_t addr, std::span<const uint8_t> in,
                    bool phys) override;
  bool insert_break(GdbBreak type, uint64_t addr, uint64_t len) override;
  bool remove_break(GdbBreak type, uint64_t addr, uint64_t len) override;
  void request_stop() override;
  std::optional<GdbStopEvent> wait_stop(std::chrono::milliseconds timeout) override;
  void resume(std::span<const GdbResume> per_thread) override;
  void detach() override;

  // ---- for KvmVcpu, on its own thread ----
  /// Before each KVM_RUN: parks while the debugger holds the machine, then sets the vCPU's
  /// guest debug state (breakpoints, single-step) if it changed.
  void checkpoint(KvmVcpu& v);
  /// A KVM_EXIT_DEBUG: the machine stops with this vCPU's event.
  void debug_exit(KvmVcpu& v, const kvm_debug_exit_arch& arch);

 private:
  struct Slot {
    bool used = false;
    GdbBreak type = GdbBreak::Hardware;
    uint64_t addr = 0, len = 1;
  };
  struct SwBreak {
    uint64_t phys = 0;
    uint8_t saved = 0;
  };
  KvmVcpu* vcpu(unsigned thread) const;
  /// A linear address's guest-physical one, through thread's page tables.
  std::optional<uint64_t> translate(KvmVcpu& v, uint64_t linear);
  bool access_memory(unsigned thread, uint64_t addr, uint8_t* buf, size_t len, bool phys,
                     bool write);
  void stop_all_locked(const GdbStopEvent& e);
  void remove_sw_locked(uint64_t addr);
  void clear_breaks_locked();
  /// Tells the listener the machine runs again (if it was told it stopped).
  void notify_running();
  kvm_guest_debug guest_debug_locked(bool step) const;

  KvmVm& vm_;
  const std::string xml_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool active_ = false;
  bool stopping_ = false;  // the debugger holds (or is taking) the machine
  bool killed_ = false;
  std::optional<GdbStopEvent> event_;
  std::vector<GdbResume> actions_;  // by vCPU index, from the last resume
  std::vector<bool> parked_;        // by vCPU index
  std::vector<uint64_t> applied_;   // by vCPU index: the debug generation it runs with
  uint64_t generation_ = 1;         // bumped when breakpoints or actions change
  std::array<Slot, 4> slots_{};
  std::map<uint64_t, SwBreak> sw_;  // by linear address
  std::mutex listener_mu_;          // taken without mu_
  std::function<void(bool)> listener_;
  bool told_stopped_ = false;  // under listener_mu_
};

}  // namespace orrery::cpu::kvm
