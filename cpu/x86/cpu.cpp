#include "cpu/x86/cpu.h"

#include <cinttypes>
#include <cstdarg>
#include <cstdio>

#include "hw/core/address_space.h"
#include "hw/core/clock.h"
#include "hw/core/log.h"

namespace orrery::cpu::x86 {

using tcg::exec::RunResult;
using tcg::ir::ExitReason;
using tcg::softmmu::Access;

namespace {

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

int64_t host_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

X86Cpu::X86Cpu(const CpuModel& model, unsigned index, hw::AddressSpace& memory,
               hw::AddressSpace& io_ports, tcg::exec::Engine& engine, X86Platform& platform)
    : model_(model),
      index_(index),
      memory_(memory),
      io_(io_ports),
      engine_(engine),
      platform_(platform),
      frontend_(engine.log()),
      mmu_(state_.common, memory, *this),
      exec_(engine, frontend_, state_.common, mmu_),
      stop_on_unimplemented_(engine.options().stop_on_unimplemented) {
  mmu_.set_code_tracker(&engine);
  mmu_.set_attrs(hw::MemAttrs::cpu(index_));  // devices see which vCPU accesses them
  state_.owner = this;
  exec_.set_debug_park_listener(this);
  reset_power_on();
}

X86Cpu::~X86Cpu() = default;

hw::Log& X86Cpu::log() {
  return engine_.log();
}

void X86Cpu::reset_common() {
  X86State& s = state_;
  X86Cpu* owner = s.owner;
  // Everything but the engine's links in CpuCommon (TLB, jump cache, softmmu).
  s.common.pc = 0;
  s.common.pending_exit = 0;
  s.common.stop_message = nullptr;
  s.common.last_tb = nullptr;
  s.common.last_exit_slot = 0;
  for (uint64_t& r : s.gpr) r = 0;
  s.cc_dst = s.cc_src = s.cc_src2 = 0;
  s.cc_op = uint32_t(CcOp::Eflags);
  s.eflags = eflags::kFixed1;
  for (SegmentCache& sc : s.seg) sc = SegmentCache{};
  s.gdtr = s.idtr = DescriptorTableReg{};
  s.cr0 = cr0::kEt | cr0::kCd | cr0::kNw;
  s.cr2 = s.cr3 = s.cr4 = s.cr8 = 0;
  s.efer = 0;
  s.xcr0 = 1;
  for (unsigned i = 0; i < 6; ++i) s.dr[i] = 0;
  s.dr[6] = 0xffff0ff0;
  s.dr[7] = 0x400;
  s.x87 = X87State{};
  s.mxcsr = 0x1f80;
  for (YmmReg& y : s.ymm) y = YmmReg{};
  s.msr = Msrs{};
  s.msr.apic_base = 0xfee00800 | (index_ == 0 ? 0x100 : 0);
  s.msr.mtrr_cap = 0x508;  // 8 variable ranges, fixed ranges, write-combining
  s.inhibit_irq = s.nmi_blocked = s.halted = 0;
  s.pending_exception = -1;
  s.owner = owner;
  reset_pending_ = false;
  waiting_for_sipi_.store(false);
  init_pending_.store(false);  // a machine reset voids an INIT not yet taken
  sipi_vector_.store(-1);
  intr_spurious_.store(false);
  nmi_pending_.store(false);
  mmu_.flush_all();
}

void X86Cpu::reset_power_on() {
  reset_common();
  X86State& s = state_;
  // Real mode: data segments base 0 limit 64K, read/write accessed; CS a code segment.
  for (unsigned r = 0; r < kNumSegRegs; ++r) {
    s.seg[r].selector = 0;
    s.seg[r].base = 0;
    s.seg[r].limit = 0xffff;
    s.seg[r].attr = seg_attr::kP | seg_attr::kS | 0x3;  // data, read/write, accessed
  }
  s.seg[kCs].selector = 0xf000;
  s.seg[kCs].base = 0xffff0000;
  s.seg[kCs].attr = seg_attr::kP | seg_attr::kS | 0xb;  // code, execute/read, accessed
  s.seg[kLdtr].attr = seg_attr::kP | 0x2;
  s.seg[kTr].attr = seg_attr::kP | 0xb;  // busy 32-bit TSS
  s.gpr[kRdx] = cpuid(model_, 1, 0, index_, false, 1).eax;
  s.common.pc = 0xfffffff0;
  exec_.mode_changed();
}

void X86Cpu::reset_multiboot(uint32_t entry, uint32_t eax, uint32_t ebx) {
  reset_common();
  X86State& s = state_;
  s.cr0 = (s.cr0 | cr0::kPe) & ~(cr0::kCd | cr0::kNw);
  for (unsigned r = 0; r < kNumSegRegs; ++r) {
    SegmentCache& sc = s.seg[r];
    sc.base = 0;
    sc.limit = 0xffffffff;
    sc.selector = r == kCs ? 0x08 : 0x10;
    sc.attr = seg_attr::kP | seg_attr::kS | seg_attr::kDb | seg_attr::kG | (r == kCs ? 0xb : 0x3);
  }
  s.seg[kLdtr].attr = seg_attr::kP | 0x2;
  s.seg[kTr].attr = seg_attr::kP | 0xb;
  s.gpr[kRax] = eax;
  s.gpr[kRbx] = ebx;
  s.common.pc = entry;
  exec_.mode_changed();
}

void X86Cpu::reset_long_mode(const LongModeEntry& e) {
  reset_common();
  X86State& s = state_;
  s.cr0 = (s.cr0 | cr0::kPe | cr0::kPg) & ~(cr0::kCd | cr0::kNw);
  s.cr4 = cr4::kPae;
  s.cr3 = e.cr3;
  s.efer = efer::kLme | efer::kLma;
  s.gdtr.base = e.gdt_base;
  s.gdtr.limit = e.gdt_limit;
  for (unsigned r = 0; r < kNumSegRegs; ++r) {
    SegmentCache& sc = s.seg[r];
    sc.base = 0;
    sc.limit = 0xffffffff;
    sc.selector = r == kCs ? e.code_sel : e.data_sel;
    // Accessed, as the loader's descriptors are (the CPU would set the bit on load).
    sc.attr = r == kCs ? seg_attr::kP | seg_attr::kS | seg_attr::kL | seg_attr::kG | 0xb
                       : seg_attr::kP | seg_attr::kS | seg_attr::kDb | seg_attr::kG | 0x3;
  }
  s.seg[kLdtr].attr = seg_attr::kP | 0x2;
  s.seg[kTr].attr = seg_attr::kP | 0xb;  // busy 64-bit TSS
  s.gpr[kRsi] = e.rsi;
  s.gpr[kRsp] = e.rsp;
  s.common.pc = e.rip;
  mmu_.flush_all();
  exec_.mode_changed();
}

// ---- The dispatch loop ----

ExitKind X86Cpu::run() {
  tcg::CpuCommon& c = state_.common;
  exit_message_.clear();
  set_running(true);
  struct Leave {
    X86Cpu& cpu;
    ~Leave() { cpu.set_running(false); }
  } leave{*this};
  for (;;) {
    c.exit_request.store(0);
    if (kicked_.exchange(false)) return ExitKind::Kicked;
    if (reset_requested_.exchange(false) || reset_pending_) {
      reset_pending_ = false;
      return ExitKind::Reset;
    }
    if (init_pending_.load()) {
      // INIT: the power-on state (a STARTUP sent after this INIT stays pending); the BSP runs
      // from the reset vector, application processors wait for STARTUP. Under mu_ so that
      // startup_ipi sees either the pending INIT or the wait.
      // (The APIC is asked before taking mu_: it calls set_intr under its own lock.)
      const uint64_t base = apic_ ? apic_->apic_base() : state_.msr.apic_base;
      const bool bsp = base & (1u << 8);
      std::lock_guard lk(mu_);
      const int sipi = sipi_vector_.load();
      reset_power_on();
      state_.msr.apic_base = base;
      if (!bsp) {
        waiting_for_sipi_.store(true);
        sipi_vector_.store(sipi);
      }
      init_pending_.store(false);
      ++async_events_;
    }
    if (waiting_for_sipi_.load()) {
      ++async_events_;
      const int v = sipi_vector_.exchange(-1);
      if (v < 0) {
        wait_for_interrupt();
        continue;
      }
      // STARTUP: real mode at vector << 8 : 0000.
      waiting_for_sipi_.store(false);
      state_.halted = 0;
      state_.seg[kCs].selector = uint16_t(v << 8);
      state_.seg[kCs].base = uint64_t(v) << 12;
      state_.common.pc = uint64_t(v) << 12;
      exec_.mode_changed();
    }
    if (state_.halted) {
      ++async_events_;
      if (!deliver_interrupt()) wait_for_interrupt();
      continue;
    }
    if (deliver_interrupt()) ++async_events_;
    if (reset_pending_) continue;
    // In an interrupt shadow (STI, MOV SS): one instruction runs before anything is taken.
    // With EFLAGS.TF set as an instruction starts, a #DB trap follows it (unless it took an
    // exception or interrupt, whose delivery clears TF).
    const bool shadow = state_.inhibit_irq != 0;
    const bool trap_flag = (state_.eflags & eflags::kTf) != 0;  // not lazy: eflags holds TF
    const uint64_t events_before = events_delivered_;
    const uint64_t pc_before = c.pc;
    // A shadow alone needs no stepping: the frontend makes the block under the shadow one
    // instruction that returns here.
    if (trap_flag) exec_.set_single_step(true);
    RunResult r = exec_.run();
    if (shadow || trap_flag) {
      exec_.set_single_step(false);
      // An exit request before the shadowed instruction ran keeps the shadow.
      if (trap_flag || r.kind != RunResult::Kind::ExitRequest || c.pc != pc_before)
        state_.inhibit_irq = 0;
      exec_.mode_changed();
      if (r.kind == RunResult::Kind::Exit && r.reason == ExitReason::Step) {
        if (trap_flag && events_delivered_ == events_before && !reset_pending_) {
          state_.dr[6] |= 1u << 14;  // BS: single step
          Event ev;
          ev.vector = vec::kDb;
          ev.kind = EventKind::Trap;
          ev.next_rip = rip();
          deliver_event(*this, ev);
          c.pending_exit = 0;
          exec_.mode_changed();
        }
        continue;
      }
    }
    switch (r.kind) {
      case RunResult::Kind::Stop:
        if (reset_pending_) {
          c.pending_exit = 0;
          continue;  // returns ExitKind::Reset at the top of the loop
        }
        exit_message_ =
            std::string("orrery: ") + (c.stop_message ? c.stop_message : "vCPU stopped");
        c.pending_exit = 0;
        return ExitKind::Error;
      case RunResult::Kind::ExitRequest:
        continue;
      case RunResult::Kind::Exit:
        break;
    }
    switch (r.reason) {
      case ExitReason::Lookup:
      case ExitReason::Exception:
        exec_.mode_changed();
        if (exec_.block_step()) return ExitKind::Step;  // the block ended in "look again"
        continue;
      case ExitReason::Halt:  // RIP is past the HLT
        state_.halted = 1;
        continue;
      case ExitReason::Undefined:
        report_unimplemented(c.pc, r.arg);
        if (stop_on_unimplemented_) {
          exit_message_ = format("orrery: unimplemented x86 instruction at linear PC 0x%016" PRIx64
                                 " (-accel tcg,unimp=stop)",
                                 c.pc);
          return ExitKind::Error;
        }
        raise_exception(*this, vec::kUd);
        c.pending_exit = 0;
        exec_.mode_changed();
        if (exec_.block_step()) return ExitKind::Step;
        continue;
      case ExitReason::Hypercall:
      case ExitReason::Supervisor:
        exit_message_ = format("orrery: unexpected %s exit at linear PC 0x%016" PRIx64,
                               std::string(tcg::ir::exit_reason_name(r.reason)).c_str(), c.pc);
        return ExitKind::Error;
      case ExitReason::Breakpoint:
        return ExitKind::Breakpoint;
      case ExitReason::Step:
        return ExitKind::Step;
      case ExitReason::FetchFault:  // the engine raises the fault itself (VcpuExec::run)
        exit_message_ = "orrery: internal error: unexpected fetch-fault exit";
        return ExitKind::Error;
    }
  }
}

void X86Cpu::report_unimplemented(uint64_t pc, uint64_t arg) {
  if (!log().enabled(hw::kLogUnimp)) return;
  constexpr size_t kMaxReported = 4096;
  if (unimp_reported_.size() >= kMaxReported || !unimp_reported_.insert(pc).second) return;
  log().log(hw::kLogUnimp,
            "unimp: x86 instruction at linear pc 0x%016" PRIx64 " (0x%" PRIx64 "): %s\n", pc, arg,
            stop_on_unimplemented_ ? "stopping the vCPU" : "raising #UD");
}

void X86Cpu::kick() {
  {
    std::lock_guard lk(mu_);
    kicked_.store(true);
  }
  state_.common.exit_request.store(1);
  cv_.notify_all();
}

void X86Cpu::set_intr(bool level) {
  {
    std::lock_guard lk(mu_);
    intr_.store(level);
    intr_spurious_.store(false);  // a new level: worth another acknowledge cycle
    intr_changes_.fetch_add(1);
  }
  if (level) {
    state_.common.exit_request.store(1);
    cv_.notify_all();
  }
}

void X86Cpu::raise_nmi() {
  {
    std::lock_guard lk(mu_);
    nmi_pending_.store(true);
  }
  state_.common.exit_request.store(1);
  cv_.notify_all();
}

void X86Cpu::init_wait_for_sipi() {
  reset_power_on();
  waiting_for_sipi_.store(true);
  sipi_vector_.store(-1);
}

void X86Cpu::init_ipi() {
  {
    std::lock_guard lk(mu_);
    init_pending_.store(true);
    sipi_vector_.store(-1);  // a STARTUP before this INIT is void
  }
  state_.common.exit_request.store(1);
  cv_.notify_all();
}

void X86Cpu::startup_ipi(uint8_t vector) {
  {
    std::lock_guard lk(mu_);
    // Only a processor in (or about to enter) wait-for-SIPI takes it.
    if (!waiting_for_sipi_.load() && !init_pending_.load()) return;
    sipi_vector_.store(vector);
  }
  state_.common.exit_request.store(1);
  cv_.notify_all();
}

void X86Cpu::request_reset() {
  {
    std::lock_guard lk(mu_);
    reset_requested_.store(true);
  }
  state_.common.exit_request.store(1);
  cv_.notify_all();
}

bool X86Cpu::deliver_interrupt() {
  X86State& s = state_;
  // An interrupt shadow (MOV SS, STI) holds back NMI and INTR for one instruction.
  if (s.inhibit_irq) return false;
  if (!s.nmi_blocked && nmi_pending_.load()) {
    nmi_pending_.store(false);
    s.halted = 0;
    Event ev;
    ev.vector = vec::kNmi;
    ev.kind = EventKind::Nmi;
    ev.next_rip = rip();
    s.nmi_blocked = 1;
    deliver_event(*this, ev);
    state_.common.pending_exit = 0;
    exec_.mode_changed();
    return true;
  }
  if (intr_.load() && (s.eflags & eflags::kIf)) {
    if (intr_spurious_.load()) return false;
    // The controller is asked without mu_ (it calls set_intr under its own lock), so another
    // thread may raise INTR while it answers "nothing": that change must not be lost.
    const uint64_t changes = intr_changes_.load();
    const int v = apic_ ? apic_->acknowledge_interrupt() : platform_.acknowledge_interrupt();
    if (v < 0) {
      // Nothing to acknowledge although INTR is high: wait for the controller to change the
      // line rather than spin asking, unless it already did during the cycle.
      std::lock_guard lk(mu_);
      if (intr_changes_.load() == changes) intr_spurious_.store(true);
      return false;
    }
    s.halted = 0;
    Event ev;
    ev.vector = uint8_t(v);
    ev.kind = EventKind::External;
    ev.next_rip = rip();
    deliver_event(*this, ev);
    state_.common.pending_exit = 0;
    exec_.mode_changed();
    return true;
  }
  return false;
}

void X86Cpu::check_interrupts() {
  if ((intr_.load() && (state_.eflags & eflags::kIf)) ||
      (nmi_pending_.load() && !state_.nmi_blocked))
    state_.common.exit_request.store(1);
}

void X86Cpu::wait_for_interrupt() {
  std::unique_lock lk(mu_);
  // HLT ends on an interrupt the CPU takes (INTR with IF set, NMI), on RESET/INIT and here
  // on a kick.
  auto awake = [&] {
    return (intr_.load() && !intr_spurious_.load() && (state_.eflags & eflags::kIf)) ||
           (nmi_pending_.load() && !state_.nmi_blocked) || kicked_.load() ||
           reset_requested_.load() || sipi_vector_.load() >= 0 || init_pending_.load();
  };
  if (awake()) return;
  halted_ = true;
  cv_.notify_all();
  cv_.wait(lk, awake);
  halted_ = false;
}

bool X86Cpu::wait_until_halted(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] { return halted_; });
}

void X86Cpu::wait_parked() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return kicked_.load(); });
}

void X86Cpu::set_running(bool running) {
  {
    std::lock_guard lk(mu_);
    running_ = running;
  }
  cv_.notify_all();
}

bool X86Cpu::wait_until_running(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] { return running_; });
}

void X86Cpu::debug_parking() {
  set_running(false);
}
void X86Cpu::debug_unparked() {
  set_running(true);
}

void X86Cpu::triple_fault() {
  log().log(hw::kLogInt,
            "x86: cpu%u: triple fault at linear PC 0x%016" PRIx64 ": resetting the machine\n",
            index_, state_.common.pc);
  reset_pending_ = true;
  platform_.request_reset();
  // Stop (not Exception): the engine returns to run() instead of running on.
  stop_message_ = "triple fault";
  state_.common.stop_message = stop_message_.c_str();
  state_.common.pending_exit = uint32_t(tcg::PendingExit::Stop);
}

uint64_t X86Cpu::read_tsc() const {
  ++external_inputs_;
  const int64_t ns = clock_ ? clock_->virtual_ns() : host_ns();
  return uint64_t(ns) + state_.msr.tsc_offset;
}

// ---- I/O ports ----

uint64_t X86Cpu::port_in(uint16_t port, unsigned size) {
  ++external_inputs_;
  uint64_t v = 0;
  if (uint32_t(port) + size > 0x10000 ||
      io_.read(port, size, v, mmu_.attrs()) != hw::MemResult::Ok) {
    log().log(hw::kLogGuestErrors, "x86: IN from unassigned port 0x%04x (size %u)\n", port, size);
    return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
  }
  return v;
}

void X86Cpu::port_out(uint16_t port, unsigned size, uint64_t value) {
  ++external_inputs_;
  if (uint32_t(port) + size > 0x10000 ||
      io_.write(port, size, value, mmu_.attrs()) != hw::MemResult::Ok)
    log().log(hw::kLogGuestErrors,
              "x86: OUT of 0x%" PRIx64 " to unassigned port 0x%04x (size %u)\n", value, port, size);
}

}  // namespace orrery::cpu::x86
