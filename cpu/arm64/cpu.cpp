#include "cpu/arm64/cpu.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cinttypes>
#include <climits>
#include <cstdarg>
#include <cstdio>

#include "cpu/arm64/decoder.h"
#include "cpu/arm64/extension_names.h"
#include "cpu/arm64/mmu.h"
#include "cpu/arm64/mte.h"
#include "hw/core/address_space.h"
#include "hw/intc/gicv3_cpu_if.h"

namespace orrery::cpu::arm64 {

using tcg::exec::RunResult;
using tcg::ir::ExitReason;
using tcg::softmmu::Access;

namespace {

// How often WFE re-reads the location an armed exclusive monitor watches. Other vCPUs' plain
// stores (Linux releases its locks with STLR) go straight to RAM and cannot wake the sleeper,
// so this bounds the wake-up latency of ldaxr + wfe loops.
constexpr int64_t kMonitorPollNs = 50'000;

// TLB broadcasts queued for a sleeping vCPU before they collapse into one flush of everything.
constexpr size_t kMaxQueuedFlushes = 64;

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

}  // namespace

Arm64Cpu::Arm64Cpu(const CpuModel& model, unsigned index, hw::AddressSpace& as,
                   tcg::exec::Engine& engine, Arm64Platform& platform, hw::EventLoop& loop)
    : model_(model),
      index_(index),
      engine_(engine),
      platform_(platform),
      frontend_(engine.log()),
      mmu_(state_.common, as, *this),
      exec_(engine, frontend_, state_.common, mmu_),
      stop_on_unimplemented_(engine.options().stop_on_unimplemented),
      timer_(kCounterFrequency, loop, loop.clock().virtual_ns()) {
  state_.clock = &loop.clock();
  mmu_.set_code_tracker(&engine);
  mmu_.set_attrs(hw::MemAttrs::cpu(index_));  // devices see which vCPU accesses them
  mmu_.set_arch_watchpoints(&arch_watch_);
  state_.owner = this;
  exec_.set_debug_park_listener(this);
  reset(0);
}

Arm64Cpu::~Arm64Cpu() = default;

void Arm64Cpu::reset(uint64_t entry) {
  Arm64State& s = state_;
  for (uint64_t& r : s.x) r = 0;
  s.sp_el0 = s.sp_el1 = 0;
  s.nzcv = Nzcv{};
  s.el = 1;
  s.spsel = 1;
  s.daif = 0xf;
  for (VReg& v : s.v) v = VReg{};
  s.fpcr = s.fpsr = 0;
  // RES1 bits of SCTLR_EL1 in ARMv8.0 (EOS, EIS, SPAN, TSCXT, ITD-style RES1s); M, C, I clear.
  s.sctlr_el1 = 0x30d00800;
  s.actlr_el1 = s.cpacr_el1 = s.vbar_el1 = 0;
  s.elr_el1 = s.spsr_el1 = s.esr_el1 = s.far_el1 = 0;
  s.afsr0_el1 = s.afsr1_el1 = s.par_el1 = 0;
  s.mair_el1 = s.amair_el1 = s.tcr_el1 = s.ttbr0_el1 = s.ttbr1_el1 = 0;
  s.contextidr_el1 = s.tpidr_el0 = s.tpidr_el1 = s.tpidrro_el0 = 0;
  s.csselr_el1 = s.cntkctl_el1 = 0;
  s.cntp_ctl_el0 = s.cntp_cval_el0 = s.cntv_ctl_el0 = s.cntv_cval_el0 = 0;
  s.cntfrq_el0 = kCounterFrequency;
  s.il = 0;
  s.ss = 0;
  s.dbg = DebugRegs{};
  arch_watch_.update();
  s.pmu = PmuState{};
  if (pmu_irq_.level()) pmu_irq_.set(false);
  s.midr_el1 = model_.midr;
  s.mpidr_el1 = (1ull << 31) | (index_ & 0xff);  // RES1 bit 31; uniprocessor bit clear
  s.revidr_el1 = model_.revidr;
  s.ctr_el0 = model_.ctr;
  s.clidr_el1 = model_.clidr;
  s.id_aa64pfr0_el1 = compute_id_aa64pfr0();
  s.id_aa64pfr1_el1 = compute_id_aa64pfr1();
  s.gcr_el1 = s.rgsr_el1 = s.tfsr_el1 = s.tfsre0_el1 = 0;
  s.tco = 0;
  s.id_aa64dfr0_el1 = model_.id_aa64dfr0;
  s.id_aa64isar0_el1 = model_.id_aa64isar0;
  s.id_aa64isar1_el1 = model_.id_aa64isar1;
  s.id_aa64mmfr0_el1 = model_.id_aa64mmfr0;
  s.id_aa64mmfr1_el1 = model_.id_aa64mmfr1;
  s.id_aa64mmfr2_el1 = model_.id_aa64mmfr2;
  s.monitor = ExclusiveMonitor{};
  event_.store(false);
  s.counter_epoch_ns = timer_.clock().virtual_ns();
  timer_.reset(s.counter_epoch_ns);
  large_[0] = large_[1] = LargeRange{};
  tagged_fills_ = false;
  parked_ = false;
  s.common.pc = entry;
  s.common.pending_exit = 0;
  s.common.stop_message = nullptr;
  mmu_.flush_all();
  exec_.mode_changed();
}

uint64_t Arm64Cpu::compute_id_aa64pfr0() const {
  uint64_t v = model_.id_aa64pfr0 & ~(0xfull << 24);
  if (gic_) v |= 1ull << 24;  // GIC: system register interface implemented
  return v;
}

uint64_t Arm64Cpu::compute_id_aa64pfr1() const {
  uint64_t v = model_.id_aa64pfr1;
  // Without tag storage (no -M virt,mte=on) there is no MTE at all: qemu-system-aarch64 7.2
  // reports ID_AA64PFR1_EL1.MTE = 0 for `max` then, and IRG is UNDEFINED.
  if (!state_.tags) v &= ~(0xfull << kPfr1MteShift);
  return v;
}

void Arm64Cpu::set_tag_storage(TagStorage* tags) {
  state_.tags = tags;
  state_.id_aa64pfr1_el1 = compute_id_aa64pfr1();
  mmu_.flush_all();
  exec_.mode_changed();
}

void Arm64Cpu::set_gic_cpu_interface(hw::intc::Gicv3CpuInterface* gic) {
  gic_ = gic;
  state_.id_aa64pfr0_el1 = compute_id_aa64pfr0();
  exec_.mode_changed();
}

ExitKind Arm64Cpu::run() {
  tcg::CpuCommon& c = state_.common;
  exit_message_.clear();
  set_running(true);
  struct Leave {
    Arm64Cpu& cpu;
    ~Leave() { cpu.set_running(false); }
  } leave{*this};
  for (;;) {
    c.exit_request.store(0);
    if (kicked_.exchange(false)) return ExitKind::Kicked;
    process_flush_requests();
    if (parked_) {
      wait_parked();
      continue;
    }
    deliver_interrupt();
    RunResult r = exec_.run();
    switch (r.kind) {
      case RunResult::Kind::Stop:
        if (parked_) {
          c.pending_exit = 0;
          continue;
        }
        exit_message_ =
            std::string("orrery: ") + (c.stop_message ? c.stop_message : "vCPU stopped");
        c.pending_exit = 0;
        return ExitKind::Error;
      case RunResult::Kind::ExitRequest:
        continue;  // kicks, interrupts and flushes are handled at the top of the loop
      case RunResult::Kind::Exit:
        break;
    }
    switch (r.reason) {
      case ExitReason::Lookup:
      case ExitReason::Exception:
        exec_.mode_changed();
        continue;
      case ExitReason::Hypercall: {
        HvcResult h = platform_.hvc(*this, uint16_t(r.arg));
        if (h.action == HvcResult::Action::Continue) continue;
        exit_status_ = h.exit_status;
        return h.action == HvcResult::Action::PowerOff ? ExitKind::Shutdown : ExitKind::Reset;
      }
      case ExitReason::Halt:  // the PC is already past the WFI or WFE
        if (r.arg == kHaltWfe) {
          wait_for_event();
        } else {
          wait_for_interrupt();
        }
        continue;
      case ExitReason::Undefined:
        // Encodings allocated by the architecture that this CPU does not implement (unallocated
        // ones raise UNDEFINED from the block itself). The model does not advertise them, so
        // the guest sees what such a CPU does: an Undefined Instruction exception.
        report_unimplemented(uint32_t(r.arg), c.pc, stop_on_unimplemented_);
        if (stop_on_unimplemented_) {
          exit_message_ = format("orrery: unimplemented A64 instruction 0x%08" PRIx32
                                 " at PC 0x%016" PRIx64 " (-accel tcg,unimp=stop)",
                                 uint32_t(r.arg), c.pc);
          return ExitKind::Error;
        }
        raise_sync(make_esr(ec::kUnknown), c.pc);
        c.pending_exit = 0;  // taken (or parked by an exception loop)
        exec_.mode_changed();
        continue;
      case ExitReason::Supervisor:
        exit_message_ = format("orrery: unexpected SVC exit at PC 0x%016" PRIx64, c.pc);
        return ExitKind::Error;
      case ExitReason::Breakpoint:
        return ExitKind::Breakpoint;  // a debugger breakpoint (guest BRK is an exception)
      case ExitReason::Step:
        return ExitKind::Step;
      case ExitReason::FetchFault:  // the engine handles it; A64 instructions never cross pages
        exit_message_ = "orrery: internal error: unexpected fetch-fault exit";
        return ExitKind::Error;
    }
  }
}

void Arm64Cpu::report_unimplemented(uint32_t insn, uint64_t pc, bool stopping) {
  if (!log().enabled(hw::kLogUnimp)) return;
  // Bounded: a guest generating code could otherwise grow the set without limit.
  constexpr size_t kMaxReported = 4096;
  if (unimp_reported_.size() >= kMaxReported || !unimp_reported_.insert({pc, insn}).second) return;
  // The extension table first (Capstone does not know every extension), then Capstone.
  const char* ext = extension_encoding_name(insn);
  std::string name = ext ? ext : "";
  if (name.empty()) {
    name = frontend_.disassemble(pc, reinterpret_cast<const uint8_t*>(&insn), 4);
    name = name.substr(0, name.find(' '));
    for (char& ch : name) ch = char(std::toupper(static_cast<unsigned char>(ch)));
  }
  if (name.empty() || name == "(BAD)") {
    std::optional<InsnId> id = decode(insn);
    name = id ? decode_row(*id).desc : "no decode row";
  }
  log().log(hw::kLogUnimp,
            "unimp: A64 instruction 0x%08" PRIx32 " at pc 0x%016" PRIx64 " (%s): %s\n", insn, pc,
            name.c_str(), stopping ? "stopping the vCPU" : "raising UNDEF");
}

void Arm64Cpu::kick() {
  {
    std::lock_guard lk(mu_);
    kicked_.store(true);
  }
  state_.common.exit_request.store(1);
  cv_.notify_all();
}

void Arm64Cpu::set_irq(bool level) {
  {
    std::lock_guard lk(mu_);
    irq_level_.store(level);
  }
  if (level) {
    state_.common.exit_request.store(1);
    cv_.notify_all();
  }
}

void Arm64Cpu::set_fiq(bool level) {
  {
    std::lock_guard lk(mu_);
    fiq_level_.store(level);
  }
  if (level) {
    state_.common.exit_request.store(1);
    cv_.notify_all();
  }
}

bool Arm64Cpu::deliver_interrupt() {
  // PSTATE.DAIF is bits D, A, I, F (3..0). FIQ has priority over IRQ.
  if (fiq_level_.load() && !(state_.daif & 1)) {
    take_interrupt(ExceptionKind::Fiq);
    return true;
  }
  if (irq_level_.load() && !(state_.daif & 2)) {
    take_interrupt(ExceptionKind::Irq);
    return true;
  }
  return false;
}

void Arm64Cpu::check_interrupts() {
  if ((fiq_level_.load() && !(state_.daif & 1)) || (irq_level_.load() && !(state_.daif & 2)))
    state_.common.exit_request.store(1);
}

void Arm64Cpu::wait_for_interrupt() {
  std::unique_lock lk(mu_);
  // WFI wakes on any pending interrupt, masked or not (Arm ARM D1.16.2), and on a kick or a
  // TLB broadcast queued before it slept that needs this vCPU's acknowledgement.
  auto awake = [&] {
    return irq_level_.load() || fiq_level_.load() || kicked_.load() || acks_queued_ > 0;
  };
  if (awake()) return;
  wfi_asleep_ = true;
  tlb_idle_ = true;
  cv_.notify_all();  // for wait_until_asleep_in_wfi; the other waiters recheck and wait on
  // The usual wake-up is this vCPU's own timer. Sleeping until its deadline and raising the
  // line here, rather than waiting for the event loop's thread to do it, saves a thread
  // hand-off on a busy host (the loop's timer still serves a vCPU that is running).
  const hw::Clock& clock = timer_.clock();
  while (!awake()) {
    const int64_t deadline = timer_.next_deadline();
    const int64_t wait =
        deadline == INT64_MAX ? -1 : clock.host_wait_ns(hw::ClockType::kVirtual, deadline);
    if (wait < 0) {  // no deadline, or a paused clock: the loop's timer covers it
      cv_.wait(lk, awake);
      break;
    }
    if (wait > 0) {
      cv_.wait_for(lk, std::chrono::nanoseconds(wait), awake);
      continue;
    }
    lk.unlock();  // the line goes through the GIC back to this vCPU's lock
    timer_.poll();
    lk.lock();
  }
  wfi_asleep_ = false;
  tlb_idle_ = false;
  ++wfi_wakeups_;
}

bool Arm64Cpu::wait_until_asleep_in_wfi(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] { return wfi_asleep_; });
}

uint64_t Arm64Cpu::wfi_wakeups() {
  std::lock_guard lk(mu_);
  return wfi_wakeups_;
}

void Arm64Cpu::send_event() {
  auto signal = [](Arm64Cpu& o) {
    {
      std::lock_guard lk(o.mu_);
      o.event_.store(true);
    }
    o.cv_.notify_all();
  };
  if (siblings_.empty()) signal(*this);  // a lone vCPU (tests) has no sibling list
  for (Arm64Cpu* o : siblings_)
    if (o) signal(*o);
}

int64_t Arm64Cpu::next_stream_event_ns(int64_t now_ns) const {
  const uint64_t k = state_.cntkctl_el1;
  if (!(k & (1u << 2))) return INT64_MAX;  // EVNTEN
  // An event each time bit EVNTI of CNTVCT (the physical count: no CNTVOFF) rises (EVNTDIR
  // 0) or falls (EVNTDIR 1): where the count modulo 2^(EVNTI+1) reaches `phase`.
  const unsigned bit = unsigned(k >> 4) & 0xf;
  const uint64_t period = 2ull << bit;
  const uint64_t phase = (k & (1u << 3)) ? 0 : period / 2;
  const uint64_t now = timer_.counter_at(now_ns);
  uint64_t next = now - now % period + phase;
  if (next <= now) next += period;
  const unsigned __int128 ns =
      ((unsigned __int128)next * 1'000'000'000u + kCounterFrequency - 1) / kCounterFrequency;
  return state_.counter_epoch_ns + int64_t(ns);
}

const uint8_t* Arm64Cpu::monitored_host() {
  const ExclusiveMonitor& m = state_.monitor;
  if (!m.valid) return nullptr;
  uint64_t phys = 0;
  // Exclusives are naturally aligned, so the watched bytes lie in one page.
  if (!debug_translate(m.addr, state_.el == 0 ? kMmuIdxEl0 : kMmuIdxEl1, phys)) return nullptr;
  return mmu_.address_space().host_ptr(phys, m.size);
}

bool Arm64Cpu::monitor_changed(const uint8_t* host) const {
  const ExclusiveMonitor& m = state_.monitor;
  auto load = [&](unsigned offset, unsigned size) -> uint64_t {
    switch (size) {
      case 1:
        return __atomic_load_n(host + offset, __ATOMIC_ACQUIRE);
      case 2:
        return __atomic_load_n(reinterpret_cast<const uint16_t*>(host + offset), __ATOMIC_ACQUIRE);
      case 4:
        return __atomic_load_n(reinterpret_cast<const uint32_t*>(host + offset), __ATOMIC_ACQUIRE);
      default:
        return __atomic_load_n(reinterpret_cast<const uint64_t*>(host + offset), __ATOMIC_ACQUIRE);
    }
  };
  // As helper_load_exclusive keeps them: an LDXP of two words has its halves in value and
  // value2, a doubleword has value2 = 0, so value | value2 << 32 is the doubleword either way.
  switch (m.size) {
    case 16:
      return load(0, 8) != m.value || load(8, 8) != m.value2;
    case 8:
      return load(0, 8) != (m.value | m.value2 << 32);
    default:
      return load(0, m.size) != m.value;
  }
}

void Arm64Cpu::wait_for_event() {
  if (event_.exchange(false)) return;  // WFE with the event register set clears it, no sleep
  // The event stream follows the counter, so its deadline is virtual time; the monitor poll
  // is host time.
  const hw::Clock& clock = timer_.clock();
  const int64_t stream_ns = next_stream_event_ns(clock.virtual_ns());
  const bool armed = state_.monitor.valid;
  const uint8_t* watched = monitored_host();
  const int64_t first_poll_ns = host_monotonic_ns() + kMonitorPollNs;
  std::unique_lock lk(mu_);
  for (;;) {
    // The wake-up events (Arm ARM D1.16.2): SEV, an interrupt (whatever PSTATE masks), the
    // event stream and the clearing of the global monitor; plus what WFI also answers.
    if (event_.exchange(false) || irq_level_.load() || fiq_level_.load() || kicked_.load() ||
        acks_queued_ > 0)
      return;
    if (watched && monitor_changed(watched)) return;
    const int64_t now = host_monotonic_ns();
    int64_t until = INT64_MAX;
    if (stream_ns != INT64_MAX) {
      const int64_t wait = clock.host_wait_ns(hw::ClockType::kVirtual, stream_ns);
      if (wait == 0) return;
      // A paused or manual clock: look again after a poll interval.
      until = now + (wait < 0 ? kMonitorPollNs : wait);
    }
    // A monitor on memory that cannot be read here (not RAM): wake once after a poll interval.
    if (armed && !watched && now >= first_poll_ns) return;
    if (armed) until = std::min(until, now + kMonitorPollNs);
    tlb_idle_ = true;
    if (until == INT64_MAX) {
      cv_.wait(lk);
    } else {
      cv_.wait_until(lk, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(until)));
    }
    tlb_idle_ = false;
  }
}

void Arm64Cpu::wait_parked() {
  // Like a powered-off CPU: interrupts do not wake it (they are masked at the loop's vector);
  // a kick (stop, reset, debugger) returns from run(). TLB broadcasts queue for it meanwhile,
  // except one sent just before it parked, which it wakes to acknowledge.
  std::unique_lock lk(mu_);
  tlb_idle_ = true;
  cv_.wait(lk, [&] { return kicked_.load() || acks_queued_ > 0; });
  tlb_idle_ = false;
}

void Arm64Cpu::set_running(bool running) {
  {
    std::lock_guard lk(mu_);
    running_ = running;
  }
  cv_.notify_all();  // for wait_until_running; the other waiters recheck and wait on
  if (!running) process_flush_requests();  // acknowledge what arrived while we ran
}

bool Arm64Cpu::wait_until_running(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] { return running_; });
}

void Arm64Cpu::debug_parking() {
  set_running(false);  // acknowledges what is already queued
}

void Arm64Cpu::debug_unparked() {
  set_running(true);
  // What arrived while parked was not waited for; apply it before any guest code runs.
  process_flush_requests();
}

// ---- TLB maintenance ----

void Arm64Cpu::apply_flush(const TlbFlush& f) {
  switch (f.kind) {
    case TlbFlush::Kind::All:
      mmu_.flush_all();
      large_[0] = large_[1] = LargeRange{};
      tagged_fills_ = false;
      return;
    case TlbFlush::Kind::Asid:
      // Each TLB context holds the non-global entries of one ASID (Softmmu::switch_asid), so
      // this drops exactly what the guest asked for.
      mmu_.flush_asid(f.asid);
      return;
    case TlbFlush::Kind::Va: {
      bool all = tagged_fills_ && top_byte_ignored(state_, f.va);
      for (const LargeRange& r : large_)
        if (f.va >= r.lo && f.va <= r.hi) all = true;
      if (all) {
        apply_flush(TlbFlush{});
        return;
      }
      // Every 4K TLB entry of the granule-sized page.
      const uint64_t gsize = 1ull << granule_bits(state_, f.va);
      const uint64_t base = f.va & ~(gsize - 1);
      for (uint64_t a = base; a - base < gsize; a += tcg::softmmu::kPageSize) mmu_.flush_page(a);
      return;
    }
  }
}

void Arm64Cpu::process_flush_requests() {
  if (!flush_pending_.load()) return;
  std::vector<FlushRequest> q;
  {
    std::lock_guard lk(mu_);
    q.swap(flush_queue_);
    acks_queued_ = 0;
    flush_pending_.store(false);
  }
  for (const FlushRequest& r : q) {
    apply_flush(r.flush);
    if (r.initiator) r.initiator->ack_flush();
  }
}

void Arm64Cpu::ack_flush() {
  {
    std::lock_guard lk(mu_);
    --outstanding_acks_;
  }
  cv_.notify_all();
}

void Arm64Cpu::tlb_maintenance(const TlbFlush& f, bool broadcast) {
  apply_flush(f);
  if (!broadcast) return;
  int waiting = 0;
  for (Arm64Cpu* o : siblings_) {
    if (!o || o == this) continue;
    bool ack;
    {
      std::lock_guard lk(o->mu_);
      // Outside run() or asleep, it applies the queue before it next uses its TLB.
      ack = o->running_ && !o->tlb_idle_;
      if (!ack && o->acks_queued_ == 0 && o->flush_queue_.size() >= kMaxQueuedFlushes) {
        // A vCPU asleep through a burst (the kernel patching its text page by page): one
        // flush of everything instead of an unbounded queue.
        o->flush_queue_.clear();
        o->flush_queue_.push_back(FlushRequest{TlbFlush{}, nullptr});
      } else {
        o->flush_queue_.push_back(FlushRequest{f, ack ? this : nullptr});
      }
      o->flush_pending_.store(true);
      if (ack) {
        ++o->acks_queued_;
        ++waiting;
      }
    }
    if (!ack) continue;  // no wake-up: a sleeper's WFI/WFE is not an event for it
    o->state_.common.exit_request.store(1);
    o->cv_.notify_all();
  }
  if (!waiting) return;
  std::unique_lock lk(mu_);
  outstanding_acks_ += waiting;
  while (outstanding_acks_ > 0) {
    if (!flush_queue_.empty()) {
      // Another vCPU broadcasts to us while we wait for it: serve it first (no deadlock).
      lk.unlock();
      process_flush_requests();
      lk.lock();
      continue;
    }
    cv_.wait(lk);
  }
}

// ---- Translation ----

bool Arm64Cpu::translate(uint64_t vaddr, Access access, unsigned mmu_idx,
                         tcg::softmmu::Translation& out) {
  const WalkResult r =
      stage1_translate(state_, mmu_.address_space(), vaddr, access, mmu_idx == kMmuIdxEl0);
  if (r.fault != Fault::None) {
    raise_abort(vaddr, access, r.fault, r.level);
    return false;
  }
  out = tcg::softmmu::Translation{};
  out.phys = r.phys;
  out.page_size = r.page_size;
  out.readable = r.readable;
  out.writable = r.writable;
  out.executable = r.executable;
  out.asid = r.asid;
  out.global = r.global;
  if (r.page_size > tcg::softmmu::kPageSize && mmu_idx < 2) {
    LargeRange& lr = large_[mmu_idx];
    const uint64_t lo = vaddr & ~(r.page_size - 1);
    if (lo < lr.lo) lr.lo = lo;
    if (lo + r.page_size - 1 > lr.hi) lr.hi = lo + r.page_size - 1;
  }
  if (access != Access::Fetch && top_byte_ignored(state_, vaddr)) {
    const uint64_t top = vaddr >> 56;
    if (top != (((vaddr >> 55) & 1) ? 0xffu : 0u)) tagged_fills_ = true;
  }
  return true;
}

bool Arm64Cpu::debug_translate(uint64_t vaddr, unsigned mmu_idx, uint64_t& phys) {
  WalkResult r =
      stage1_translate(state_, mmu_.address_space(), vaddr, Access::Read, mmu_idx == kMmuIdxEl0);
  if (r.fault == Fault::Permission) r.fault = Fault::None;  // the debugger may read anything
  if (r.fault != Fault::None) return false;
  phys = r.phys;
  return true;
}

void Arm64Cpu::raise_bus_error(uint64_t vaddr, uint64_t phys, Access access) {
  log().log(hw::kLogGuestErrors,
            "arm64: external abort %s 0x%016" PRIx64 " (physical 0x%" PRIx64 ") at PC 0x%016" PRIx64
            "\n",
            access == Access::Fetch   ? "fetching"
            : access == Access::Write ? "writing"
                                      : "reading",
            vaddr, phys, state_.common.pc);
  raise_abort(vaddr, access, Fault::External, 0);
}

void Arm64Cpu::raise_watchpoint(uint64_t vaddr, uint64_t hit, Access access) {
  (void)vaddr;
  const uint32_t ec_value = state_.el == 0 ? ec::kWatchpointLower : ec::kWatchpointSame;
  const uint32_t wnr = access == Access::Write ? 1u << 6 : 0;
  raise_sync(make_esr(ec_value, wnr | kDebugFaultStatus), state_.common.pc, hit, true);
}

void Arm64Cpu::debug_registers_changed() {
  const bool watched_before = arch_watch_.any_watchpoints();
  arch_watch_.update();
  // TLB entries carry kTlbWatch for watched pages: refill them for the new set.
  if (watched_before || arch_watch_.any_watchpoints()) mmu_.flush_all();
  // Blocks translated with breakpoints are keyed on bkpt_key (Arm64Frontend::cs_base): a
  // fresh key per change, unique to this vCPU since the cache is shared.
  state_.dbg.bkpt_key = uint64_t(index_ + 1) << 24 | (++bkpt_changes_ & 0xffffff);
}

void Arm64Cpu::raise_alignment_fault(uint64_t vaddr, Access access) {
  raise_abort(vaddr, access, Fault::Alignment, 0);
}

void Arm64Cpu::log_eret(uint64_t from_pc, bool legal) {
  if (!log().enabled(hw::kLogInt)) return;
  log().log(hw::kLogInt,
            "arm64: cpu%u: ERET from PC 0x%016" PRIx64 " to EL%u PC 0x%016" PRIx64 "%s\n", index_,
            from_pc, state_.el, state_.common.pc, legal ? "" : " (illegal return: PSTATE.IL set)");
}

void Arm64Cpu::stop_from_helper(StopCode code, uint64_t arg) {
  (void)code;
  stop(format("vCPU stopped by a helper (code %u, argument 0x%" PRIx64 ")", unsigned(code), arg));
}

void Arm64Cpu::stop(std::string message) {
  stop_message_ = std::move(message);
  state_.common.stop_message = stop_message_.c_str();
  state_.common.pending_exit = uint32_t(tcg::PendingExit::Stop);
}

}  // namespace orrery::cpu::arm64
