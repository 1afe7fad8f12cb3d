// One AArch64 vCPU under TCG: its architectural state, its softmmu and stage-1 MMU, its dispatch
// loop, the exception model, interrupt inputs, WFI, the generic timer outputs and TLB
// maintenance broadcast to sibling vCPUs. The board supplies an Arm64Platform for what the CPU
// hands off (HVC: PSCI).
//
// Threading: run() and everything it calls execute on the vCPU's own thread. set_irq, set_fiq,
// send_event and kick may be called from any thread. TLBI ...IS from one vCPU is queued to each
// sibling, which performs it at its next block boundary (or in WFI); the initiator waits until
// every running sibling acknowledged, so the broadcast is complete when the TLBI instruction
// retires (which gives DSB ISH its meaning). A sibling not inside run() performs it before it runs
// again.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "cpu/arm64/cpu_models.h"
#include "cpu/arm64/debug.h"
#include "cpu/arm64/exception.h"
#include "cpu/arm64/frontend.h"
#include "cpu/arm64/helpers.h"
#include "cpu/arm64/state.h"
#include "cpu/arm64/timer.h"
#include "cpu/common/vcpu.h"
#include "tcg/exec/engine.h"
#include "tcg/softmmu/softmmu.h"

namespace orrery::hw {
class AddressSpace;
namespace intc {
class Gicv3CpuInterface;
}
}  // namespace orrery::hw

namespace orrery::cpu::arm64 {

class Arm64Cpu;

/// What the board does with an HVC.
struct HvcResult {
  enum class Action : uint8_t {
    Continue,  // return to the guest (the board may have written X0..X3)
    PowerOff,  // ExitKind::Shutdown with exit_status
    Reset,     // ExitKind::Reset
  };
  Action action = Action::Continue;
  int exit_status = 0;
};

/// Implemented by the board.
class Arm64Platform {
 public:
  virtual ~Arm64Platform() = default;
  /// HVC #imm from EL1 (PSCI on the virt board). The CPU's PC is already past the HVC.
  virtual HvcResult hvc(Arm64Cpu& cpu, uint16_t imm) = 0;
};

/// A TLB maintenance operation as performed on one vCPU.
struct TlbFlush {
  enum class Kind : uint8_t { All, Va, Asid };
  Kind kind = Kind::All;
  uint64_t va = 0;  // Va: the (sign-extended) virtual address
  uint16_t asid = 0;
};

class Arm64Cpu final : public Vcpu,
                       public tcg::softmmu::PageTranslator,
                       public tcg::exec::DebugParkListener {
 public:
  /// index is the vCPU number (MPIDR_EL1.Aff0). The CPU starts reset at PC 0. The system
  /// counter runs on loop's virtual clock and the timer deadlines are loop timers.
  Arm64Cpu(const CpuModel& model, unsigned index, hw::AddressSpace& as, tcg::exec::Engine& engine,
           Arm64Platform& platform, hw::EventLoop& loop);
  ~Arm64Cpu() override;
  Arm64Cpu(const Arm64Cpu&) = delete;
  Arm64Cpu& operator=(const Arm64Cpu&) = delete;

  // Vcpu. run() is the vCPU thread's loop: it returns on a kick (ExitKind::Kicked), a PSCI
  // power-off/reset, a debugger stop or an error. WFI sleeps inside run() until an interrupt is
  // pending (even masked), a kick, or a TLB broadcast; WFE sleeps the same way and also wakes
  // on an event (see wait_for_event).
  ExitKind run() override;
  void kick() override;

  /// Waits until a thread is inside run(); false on timeout. Thread-safe.
  bool wait_until_running(std::chrono::milliseconds timeout);
  /// Waits until this vCPU is asleep in WFI (lets tests order a wake-up after the sleep);
  /// false on timeout. Thread-safe.
  bool wait_until_asleep_in_wfi(std::chrono::milliseconds timeout);
  /// How many WFI sleeps have ended (wake-ups). Thread-safe.
  uint64_t wfi_wakeups();

  /// The IRQ/FIQ input levels (from the interrupt controller); callable from any thread. A
  /// pending unmasked interrupt is taken at the next block boundary.
  void set_irq(bool level);
  void set_fiq(bool level);
  bool irq_level() const { return irq_level_.load(); }

  /// SEV: sets the event register of every vCPU of the machine (this one included) and wakes
  /// those sleeping in WFE. Callable from any thread.
  void send_event();
  /// SEVL and exception returns: sets this vCPU's event register. vCPU thread only.
  void set_local_event() { event_.store(true, std::memory_order_relaxed); }

  /// The generic timer outputs (connect to GIC PPI 30 and 27).
  hw::IrqLine& timer_irq(TimerId t) { return timer_.irq(t); }
  GenericTimer& timer() { return timer_; }
  /// The PMU's overflow interrupt (connect to GIC PPI 7, INTID 23, as QEMU's virt).
  hw::IrqLine& pmu_irq() { return pmu_irq_; }

  /// All vCPUs of the machine (may include this one), for TLBI ...IS broadcast. The span must
  /// outlive the CPUs' use of it; set before any vCPU runs.
  void set_siblings(std::span<Arm64Cpu* const> cpus) { siblings_.assign(cpus.begin(), cpus.end()); }
  /// Attaches the GICv3 CPU interface (ICC_* registers; ID_AA64PFR0_EL1.GIC = 1). Before reset.
  void set_gic_cpu_interface(hw::intc::Gicv3CpuInterface* gic);
  /// FEAT_MTE2 tag storage for RAM (-M virt,mte=on; shared by every vCPU, owned by the board).
  /// Without it the CPU has no MTE (ID_AA64PFR1_EL1.MTE reads 0), as on QEMU.
  void set_tag_storage(TagStorage* tags);
  hw::intc::Gicv3CpuInterface* gic_cpu_interface() const { return gic_; }

  /// Warm reset into AArch64 EL1h with DAIF masked, the MMU off, and the PC at entry.
  void reset(uint64_t entry);

  Arm64State& state() { return state_; }
  const Arm64State& state() const { return state_; }
  uint64_t pc() const { return state_.common.pc; }
  void set_pc(uint64_t pc) { state_.common.pc = pc; }
  /// Call after changing PSTATE (EL, SPSel) from outside generated code.
  void mode_changed() { exec_.mode_changed(); }
  /// An instruction the model does not implement: raise UNDEFINED in the guest (false, the
  /// default from EngineOptions::stop_on_unimplemented) or stop the vCPU (true, debugging).
  void set_stop_on_unimplemented(bool stop) { stop_on_unimplemented_ = stop; }

  /// True while stopped after an endless exception loop (until reset).
  bool parked() const { return parked_; }
  const CpuModel& model() const { return model_; }
  unsigned index() const { return index_; }
  tcg::exec::VcpuExec& exec() { return exec_; }
  tcg::softmmu::Softmmu& mmu() { return mmu_; }
  Arm64Frontend& frontend() { return frontend_; }
  hw::Log& log() { return engine_.log(); }

  // softmmu::PageTranslator: the stage-1 walk (mmu.cpp); faults become aborts to EL1.
  bool translate(uint64_t vaddr, tcg::softmmu::Access access, unsigned mmu_idx,
                 tcg::softmmu::Translation& out) override;
  void raise_bus_error(uint64_t vaddr, uint64_t phys, tcg::softmmu::Access access) override;
  void raise_alignment_fault(uint64_t vaddr, tcg::softmmu::Access access) override;
  /// A guest watchpoint (DBGWCR) matched: the watchpoint exception, FAR = hit.
  void raise_watchpoint(uint64_t vaddr, uint64_t hit, tcg::softmmu::Access access) override;

  /// Translates without side effects or faults (debugger, loaders); false if unmapped.
  bool debug_translate(uint64_t vaddr, unsigned mmu_idx, uint64_t& phys) override;

  // tcg::exec::DebugParkListener: while parked by the debugger the vCPU counts as not running,
  // so TLB broadcasts queue for it instead of waiting for its acknowledgement.
  void debug_parking() override;
  void debug_unparked() override;

  // ---- For helpers and the softmmu (vCPU thread only) ----
  /// Takes a synchronous exception to EL1 (ESR, FAR when far_valid, ELR = return_pc) and sets
  /// PendingExit::Exception. Logged by -d int.
  void raise_sync(uint32_t esr, uint64_t return_pc, uint64_t far = 0, bool far_valid = false);
  /// An instruction or data abort at the current PC (CpuCommon::pc) for vaddr.
  void raise_abort(uint64_t vaddr, tcg::softmmu::Access access, Fault fault, unsigned level,
                   bool cache_maintenance = false);
  /// After PSTATE.DAIF may have been cleared: leaves chained execution if an interrupt is
  /// now deliverable.
  void check_interrupts();
  /// TLBI: performs op locally and, when broadcast, on every sibling.
  void tlb_maintenance(const TlbFlush& f, bool broadcast);
  /// An SCTLR or TCR write that changes the translation regime: flushes this vCPU's TLB.
  void regime_changed() { apply_flush(TlbFlush{}); }
  /// A TTBR write switched the current ASID to asid (the TLB keeps the old one's entries).
  void asid_switched(uint16_t asid) { mmu_.switch_asid(asid); }
  void log_eret(uint64_t from_pc, bool legal);

  /// A debug register was written (debug.cpp): re-reads the watchpoints (flushing the TLB
  /// when the watched pages may change) and re-keys breakpoint translations.
  void debug_registers_changed();

  /// For helpers: stops the vCPU (PendingExit::Stop) for code; the PC must already be exact.
  void stop_from_helper(StopCode code, uint64_t arg);

 private:
  /// Makes the running block return with PendingExit::Stop and message.
  void stop(std::string message);
  void take_interrupt(ExceptionKind kind);
  /// Logs an unimplemented instruction under -d unimp, once per encoding and PC.
  void report_unimplemented(uint32_t insn, uint64_t pc, bool stopping);
  std::string format_exception_loop(uint32_t esr, uint64_t pc) const;
  /// Sleeps while parked until a kick or a TLB broadcast needs this thread.
  void wait_parked();
  /// Takes the highest-priority unmasked pending interrupt, if any.
  bool deliver_interrupt();
  void wait_for_interrupt();
  /// WFE: clears a set event register and returns, else sleeps like WFI until an event, an
  /// interrupt (even masked), a kick, a TLB broadcast, the event stream, or a change of the
  /// memory the armed exclusive monitor watches (polled: plain stores cannot notify).
  void wait_for_event();
  /// Host steady-clock time of the next event of the generic timer's event stream
  /// (CNTKCTL_EL1.EVNTEN/EVNTDIR/EVNTI), or INT64_MAX when it is disabled.
  int64_t next_stream_event_ns(int64_t now_ns) const;
  /// The host bytes the armed exclusive monitor covers, or null (not armed, or not RAM).
  const uint8_t* monitored_host();
  /// True when the memory at host no longer holds what the exclusive load saw.
  bool monitor_changed(const uint8_t* host) const;
  void apply_flush(const TlbFlush& f);
  void process_flush_requests();
  void ack_flush();
  void set_running(bool running);
  uint64_t compute_id_aa64pfr0() const;
  uint64_t compute_id_aa64pfr1() const;

  struct FlushRequest {
    TlbFlush flush;
    Arm64Cpu* initiator = nullptr;  // to acknowledge, or null
  };

  const CpuModel& model_;
  const unsigned index_;
  tcg::exec::Engine& engine_;
  Arm64Platform& platform_;
  Arm64State state_;
  Arm64Frontend frontend_;
  tcg::softmmu::Softmmu mmu_;
  ArchWatchpoints arch_watch_{state_};
  tcg::exec::VcpuExec exec_;
  std::string stop_message_;  // CpuCommon::stop_message points here
  bool stop_on_unimplemented_ = false;
  // Stuck in an exception loop (exception.cpp): runs no guest code until reset. vCPU thread.
  bool parked_ = false;
  std::set<std::pair<uint64_t, uint32_t>> unimp_reported_;  // (PC, encoding) already logged
  std::atomic<bool> kicked_{false};
  std::atomic<bool> irq_level_{false};
  std::atomic<bool> fiq_level_{false};
  std::atomic<bool> event_{false};  // the event register (WFE/SEV)
  GenericTimer timer_;
  hw::IrqLine pmu_irq_;
  hw::intc::Gicv3CpuInterface* gic_ = nullptr;
  std::vector<Arm64Cpu*> siblings_;

  // Wakeups of this vCPU (WFI, WFE, TLB broadcast acknowledgements) and its incoming flush queue.
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<FlushRequest> flush_queue_;  // guarded by mu_
  std::atomic<bool> flush_pending_{false};
  int outstanding_acks_ = 0;  // guarded by mu_
  bool running_ = false;      // inside run(); guarded by mu_
  bool wfi_asleep_ = false;   // guarded by mu_
  // Asleep in WFI, WFE or parked: its TLB is not in use until it wakes and runs the loop's top,
  // which applies the queue first, so broadcasts queue for it without waiting (or waking it).
  bool tlb_idle_ = false;     // guarded by mu_
  int acks_queued_ = 0;       // queued requests whose initiator waits; guarded by mu_
  uint64_t wfi_wakeups_ = 0;  // guarded by mu_

  // Softmmu fills 4K entries; a TLBI by VA must drop every entry of a larger page or block.
  // Each MMU index remembers the VA range covered by large leaves since its last flush.
  struct LargeRange {
    uint64_t lo = ~0ull, hi = 0;
  };
  LargeRange large_[2];
  bool tagged_fills_ = false;  // an entry was filled for a TBI-tagged address
  uint32_t bkpt_changes_ = 0;  // counts breakpoint register writes (DebugRegs::bkpt_key)
};

}  // namespace orrery::cpu::arm64
