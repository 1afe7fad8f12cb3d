// One x86 vCPU under TCG: its architectural state, softmmu and page-table walk (mmu.cpp), its
// dispatch loop, the INTR and NMI inputs, HLT, the I/O-port space and the two resets a PC board
// needs (power-on, multiboot and Linux's 64-bit entry). The board implements X86Platform: the
// interrupt acknowledge cycle (the PIC's or the APIC's vector) and what a triple fault does.
//
// Threading: run() and everything it calls execute on the vCPU's own thread. set_intr,
// raise_nmi, request_reset and kick may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "cpu/common/vcpu.h"
#include "cpu/x86/cpu_models.h"
#include "cpu/x86/exception.h"
#include "cpu/x86/frontend.h"
#include "cpu/x86/local_apic.h"
#include "cpu/x86/state.h"
#include "cpu/x86/vcpu.h"
#include "tcg/exec/engine.h"
#include "tcg/softmmu/softmmu.h"

namespace orrery::hw {
class AddressSpace;
class Clock;
class Log;
}  // namespace orrery::hw

namespace orrery::cpu::x86 {

class X86Cpu;

/// Implemented by the board.
class X86Platform {
 public:
  virtual ~X86Platform() = default;
  /// The interrupt acknowledge cycle: the vector of the highest-priority pending external
  /// interrupt (which the controller then considers in service), or -1 when there is none
  /// (a spurious INTR). Called on the vCPU thread when the CPU accepts INTR.
  virtual int acknowledge_interrupt() = 0;
  /// The guest reset the machine by a triple fault: run() returns ExitKind::Reset right after
  /// this (the board resets, or exits with -no-reboot). Called on the vCPU thread.
  virtual void request_reset() {}
};

/// The result of a page-table walk (mmu.cpp), for one access.
struct X86Walk {
  bool ok = false;
  uint64_t phys = 0;
  uint64_t page_size = 4096;
  bool writable = false, executable = false, user = false, global = false;
  uint32_t error_code = 0;  // #PF error code when !ok
};

/// What an access is, for the walk's permission checks.
struct AccessKind {
  tcg::softmmu::Access access = tcg::softmmu::Access::Read;
  bool user = false;        // CPL 3 (and not an implicit supervisor access)
  bool smap_exempt = true;  // supervisor data access with EFLAGS.AC or implicit: no SMAP check
  uint8_t phys_bits = 40;   // MAXPHYADDR: higher address bits in entries are reserved
  bool gb_pages = true;     // 1 GiB pages (CPUID PDPE1GB); else PDPTE.PS is reserved
};

/// The 4-level / PAE / 32-bit / no-paging translation of linear address la. With set_ad,
/// accessed and dirty bits are set (with a locked compare-exchange on RAM) as the hardware
/// does; without it nothing in guest memory changes (debugger).
X86Walk walk_page_tables(const X86State& s, const hw::AddressSpace& memory, uint64_t la,
                         const AccessKind& k, bool set_ad);

class X86Cpu final : public X86Vcpu,
                     public tcg::softmmu::PageTranslator,
                     public tcg::exec::DebugParkListener {
 public:
  /// index is the vCPU number (initial APIC ID). io_ports is the 64 KiB I/O-port space whose
  /// MMIO regions are port devices. The CPU starts in the power-on reset state.
  X86Cpu(const CpuModel& model, unsigned index, hw::AddressSpace& memory,
         hw::AddressSpace& io_ports, tcg::exec::Engine& engine, X86Platform& platform);
  ~X86Cpu() override;
  X86Cpu(const X86Cpu&) = delete;
  X86Cpu& operator=(const X86Cpu&) = delete;

  // Vcpu. run() returns on a kick, a reset request (triple fault, request_reset()), a debugger
  // stop or an error. HLT sleeps inside run() until INTR (when it can be taken: EFLAGS.IF), an
  // NMI or a kick.
  ExitKind run() override;
  void kick() override;

  /// The INTR pin level (from the PIC or the local APIC); callable from any thread. While it is
  /// high and EFLAGS.IF is set outside an interrupt shadow, the CPU runs the acknowledge cycle
  /// at the next instruction boundary it checks (block boundaries).
  void set_intr(bool level) override;
  bool intr_level() const { return intr_.load(); }
  /// Latches an NMI (edge); callable from any thread.
  void raise_nmi() override;
  /// Makes run() return ExitKind::Reset soon (reset devices: port 0xcf9, the 8042); any thread.
  void request_reset() override;

  /// INIT (application processors): the power-on state, then no instruction runs until a
  /// STARTUP IPI. Call while the vCPU is not running (before run(), or from its board after a
  /// kick).
  void init_wait_for_sipi() override;
  /// STARTUP IPI: a vCPU waiting after INIT starts in real mode at vector:0000 (physical
  /// vector << 12). Ignored otherwise. Callable from any thread.
  void startup_ipi(uint8_t vector) override;
  /// An INIT IPI from any thread: at its next check the vCPU resets and, unless it is the
  /// bootstrap processor (IA32_APIC_BASE.BSP), waits for a STARTUP IPI.
  void init_ipi() override;

  /// The vCPU's local APIC (IA32_APIC_BASE, CR8, x2APIC and TSC-deadline MSRs, the
  /// acknowledge cycle); null: none (the board's acknowledge_interrupt). Set before run().
  void set_local_apic(X86LocalApic* apic) override { apic_ = apic; }
  /// Counts as an external input (below): whatever the caller does with the APIC.
  X86LocalApic* local_apic() const {
    if (apic_) ++external_inputs_;
    return apic_;
  }
  /// The machine's clock: the TSC counts its virtual nanoseconds (1 GHz), so it stops with the
  /// machine and agrees with device timers. Null: host time. Set before run().
  void set_clock(const hw::Clock* clock) override { clock_ = clock; }

  /// The power-on (RESET) state: real mode at F000:FFF0 (CS base FFFF0000), EDX = CPUID(1).EAX.
  void reset_power_on() override;
  /// The machine state multiboot 1 (section 3.2) promises the kernel: 32-bit protected mode with
  /// flat 4 GiB code (CS) and data (DS ES FS GS SS) segments, paging off, IF = 0, EAX = magic,
  /// EBX = the information structure's physical address, EIP = entry.
  void reset_multiboot(uint32_t entry, uint32_t eax, uint32_t ebx) override;
  using LongModeEntry = x86::LongModeEntry;
  void reset_long_mode(const LongModeEntry& e) override;

  /// Waits until a thread is inside run(); false on timeout. Thread-safe.
  bool wait_until_running(std::chrono::milliseconds timeout);
  /// Waits until this vCPU sleeps in HLT (tests order a wake-up after it); thread-safe.
  bool wait_until_halted(std::chrono::milliseconds timeout);

  X86State& state() { return state_; }
  const X86State& state() const { return state_; }
  /// The linear PC (CS.base + RIP) and RIP.
  uint64_t pc() const { return state_.common.pc; }
  uint64_t rip() const { return state_.common.pc - state_.seg[kCs].base; }
  void set_rip(uint64_t rip) { state_.common.pc = state_.seg[kCs].base + rip; }
  /// Call after changing a mode register (CR0, CR4, EFER, EFLAGS.VM/IOPL/TF/AC, a segment's
  /// cache) from outside generated code: recomputes tb_flags.
  void mode_changed() { exec_.mode_changed(); }
  void set_stop_on_unimplemented(bool stop) { stop_on_unimplemented_ = stop; }

  const CpuModel& model() const { return model_; }
  unsigned index() const override { return index_; }
  tcg::exec::VcpuExec& exec() { return exec_; }
  tcg::exec::Engine& engine() { return engine_; }
  tcg::softmmu::Softmmu& mmu() { return mmu_; }
  X86Frontend& frontend() { return frontend_; }
  hw::AddressSpace& memory() { return memory_; }
  hw::AddressSpace& io_ports() { return io_; }
  hw::Log& log();

  // softmmu::PageTranslator (mmu.cpp): faults become #PF (CR2 = vaddr).
  bool translate(uint64_t vaddr, tcg::softmmu::Access access, unsigned mmu_idx,
                 tcg::softmmu::Translation& out) override;
  void raise_bus_error(uint64_t vaddr, uint64_t phys, tcg::softmmu::Access access) override;
  void raise_alignment_fault(uint64_t vaddr, tcg::softmmu::Access access) override;
  void raise_required_alignment_fault(uint64_t vaddr, tcg::softmmu::Access access) override;
  bool debug_translate(uint64_t vaddr, unsigned mmu_idx, uint64_t& phys) override;

  // tcg::exec::DebugParkListener
  void debug_parking() override;
  void debug_unparked() override;

  // ---- For system helpers (vCPU thread only). These throw GuestFault on a guest fault. ----
  /// Linear-address accesses with the privilege of mmu_idx (kMmuIdxKernelNoSmap for implicit
  /// supervisor accesses: descriptor tables, the TSS, stacks during privilege changes).
  uint64_t read_linear(uint64_t la, unsigned size, unsigned mmu_idx);
  void write_linear(uint64_t la, unsigned size, uint64_t value, unsigned mmu_idx);
  /// The MMU index of a data access at the current CPL and EFLAGS.AC.
  unsigned data_mmu_idx() const;
  /// CPL as the frontend's tb_flags see it: 0 in real mode, 3 in virtual-8086 mode, else the
  /// RPL of CS (every CS load sets it to the new CPL).
  unsigned cpl() const {
    if (!(state_.cr0 & cr0::kPe)) return 0;
    if (state_.eflags & eflags::kVm) return 3;
    return state_.seg[kCs].selector & 3u;
  }

  /// I/O ports: unassigned ports read all ones and ignore writes (-d guest_errors).
  uint64_t port_in(uint16_t port, unsigned size);
  void port_out(uint16_t port, unsigned size, uint64_t value);

  /// TLB maintenance: everything; non-global entries (MOV CR3 without PCID); one page.
  void flush_tlb_all();
  void flush_tlb_nonglobal();
  void flush_tlb_page(uint64_t la);

  /// Counts what instructions took from outside the CPU (I/O ports, the TSC, the local APIC):
  /// lockstep verification cannot give its reference engine the same and leaves such steps
  /// unchecked. vCPU thread.
  uint64_t external_inputs() const { return external_inputs_; }
  /// Told of the stores system helpers make without the softmmu (write_linear: exception
  /// frames, descriptor bits), before each; null: nobody (lockstep verification records them).
  class StoreObserver {
   public:
    virtual ~StoreObserver() = default;
    virtual void before_store(uint64_t phys, unsigned len) = 0;
  };
  void set_store_observer(StoreObserver* o) { store_observer_ = o; }
  /// Asked before the port accesses of IN, OUT, INS and OUTS (after their permission checks);
  /// true stops the instruction before it touches the port, as a watchpoint does (the PC stays
  /// at it; the gate kicks the CPU to leave run()). Lockstep verification against KVM
  /// (cpu/kvm/kvm_verify.h) stops here to meet KVM's port-I/O exit. Null: none.
  class IoGate {
   public:
    virtual ~IoGate() = default;
    virtual bool stop_before_io(uint16_t port, unsigned size, bool in, bool string) = 0;
  };
  void set_io_gate(IoGate* g) { io_gate_ = g; }
  IoGate* io_gate() const { return io_gate_; }
  /// Counts what happened in run() that no instruction caused: interrupts taken, HLT sleeps,
  /// INIT and SIPI (lockstep verification compares only steps without one). vCPU thread.
  uint64_t async_events() const { return async_events_; }
  /// Counts delivered events (deliver_event calls it), so the run loop can tell whether a
  /// single-stepped instruction ended in an exception.
  void count_event() { ++events_delivered_; }
  /// A fault while delivering #DF: logs it, asks the board to reset and leaves the block.
  void triple_fault();
  /// After EFLAGS.IF may have been set or NMIs unblocked: leaves chained execution if an
  /// interrupt is now deliverable.
  void check_interrupts();
  /// Counter behind RDTSC (the clock's virtual nanoseconds plus IA32_TSC's offset).
  uint64_t read_tsc() const;

 private:
  /// Takes a pending NMI or INTR if the state allows; true if one was delivered.
  bool deliver_interrupt();
  void wait_for_interrupt();
  void wait_parked();
  void set_running(bool running);
  void reset_common();
  uint64_t translate_linear(uint64_t la, tcg::softmmu::Access access, unsigned mmu_idx);
  void report_unimplemented(uint64_t pc, uint64_t arg);
  void note_large_fill(uint64_t la, uint64_t size);

  const CpuModel& model_;
  const unsigned index_;
  hw::AddressSpace& memory_;
  hw::AddressSpace& io_;
  tcg::exec::Engine& engine_;
  X86Platform& platform_;
  X86State state_;
  X86Frontend frontend_;
  tcg::softmmu::Softmmu mmu_;
  tcg::exec::VcpuExec exec_;
  std::string stop_message_;
  bool stop_on_unimplemented_ = false;
  bool reset_pending_ = false;  // triple fault: run() returns ExitKind::Reset (vCPU thread)
  // The aligned region holding every large page filled since the last full flush (vCPU
  // thread), and the largest such page's size.
  bool large_fills_ = false;
  uint64_t large_addr_ = 0, large_mask_ = 0, large_size_ = 0;
  uint64_t events_delivered_ =
      0;  // vCPU thread    // a 2M/4M/1G page was filled since the last full flush
  uint64_t async_events_ = 0;             // vCPU thread
  mutable uint64_t external_inputs_ = 0;  // vCPU thread
  StoreObserver* store_observer_ = nullptr;
  IoGate* io_gate_ = nullptr;
  std::set<uint64_t> unimp_reported_;
  std::atomic<bool> kicked_{false};
  std::atomic<bool> intr_{false};
  std::atomic<bool> intr_spurious_{false};     // acknowledged with no vector at this level
  std::atomic<uint64_t> intr_changes_{0};      // set_intr calls, to see one during a cycle
  std::atomic<int> sipi_vector_{-1};           // a STARTUP IPI not yet taken
  std::atomic<bool> waiting_for_sipi_{false};  // after INIT (written on the vCPU thread)
  std::atomic<bool> init_pending_{false};      // an INIT IPI not yet taken
  X86LocalApic* apic_ = nullptr;
  const hw::Clock* clock_ = nullptr;
  std::atomic<bool> nmi_pending_{false};
  std::atomic<bool> reset_requested_{false};

  std::mutex mu_;
  std::condition_variable cv_;
  bool running_ = false;  // guarded by mu_
  bool halted_ = false;   // asleep in HLT; guarded by mu_
};

}  // namespace orrery::cpu::x86
