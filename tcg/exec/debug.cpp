#include "tcg/exec/debug.h"

#include <algorithm>
#include <thread>

#include "tcg/exec/engine.h"

namespace orrery::tcg::exec {

// ---- Engine and VcpuExec parts that exist only for the debugger ----

void Engine::invalidate_vpc(uint64_t pc) {
  std::lock_guard g(mu_);
  std::vector<TranslationBlock*> victims;
  map_.for_each([&](const TbKey& key, TranslationBlock* tb) {
    // An empty block (a bare breakpoint exit) still covers its own PC.
    const uint64_t end = key.pc + std::max<uint32_t>(tb->ir.guest_size, 1);
    if (pc >= key.pc && pc < end) victims.push_back(tb);
  });
  for (TranslationBlock* tb : victims) invalidate_locked(tb);
}

void VcpuExec::debug_park(DebugStopKind why) {
  DebugState& d = engine_.debug();
  debug_step_done_ = false;
  if (!d.active()) {
    debug_step_ = false;
    update_stepping();
    // A breakpoint block left over from a detached debugger: drop it and run the instruction.
    if (why == DebugStopKind::SwBreakpoint || why == DebugStopKind::HwBreakpoint)
      engine_.invalidate_vpc(cpu_.pc);
    return;
  }
  DebugStop stop;
  stop.kind = why;
  stop.vcpu = debug_slot_;
  if (why == DebugStopKind::Watchpoint) {
    stop.watch_addr = mmu_.watch_hit().addr;
    stop.watch_kind = static_cast<WatchKind>(mmu_.watch_hit().kind);
  }
  if (park_listener_) park_listener_->debug_parking();
  engine_.set_vcpu_running(this, false);  // memory-map changes do not wait for a parked vCPU
  const ResumeMode m = d.park(stop);
  engine_.set_vcpu_running(this, true);
  if (park_listener_) park_listener_->debug_unparked();
  debug_step_ = m == ResumeMode::Step;
  update_stepping();
  mode_changed();  // the debugger may have written mode registers
}

RunResult VcpuExec::debug_wait_quit() {
  // The board's stop request may arrive after the debugger released this vCPU; running guest
  // code meanwhile would let a killed guest carry on.
  while (!cpu_.exit_request.load(std::memory_order_acquire))
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return RunResult{RunResult::Kind::ExitRequest};
}

// ---- DebugState ----

unsigned DebugState::add_vcpu(VcpuExec* v) {
  std::lock_guard g(mu_);
  Slot s;
  s.exec = v;
  s.stop_req = start_stopped_;
  if (s.stop_req) stop_flags_.store(1, std::memory_order_release);
  slots_.push_back(s);
  return unsigned(slots_.size() - 1);
}

void DebugState::remove_vcpu(VcpuExec* v) {
  std::lock_guard g(mu_);
  for (Slot& s : slots_)
    if (s.exec == v) s = Slot{};  // the slot number stays reserved (gdb thread ids are stable)
  cv_.notify_all();
}

bool DebugState::stop_pending(unsigned slot) const {
  if (!stop_flags_.load(std::memory_order_acquire)) return false;
  std::lock_guard g(mu_);
  return slot < slots_.size() && slots_[slot].stop_req;
}

void DebugState::set_in_run(unsigned slot, bool in_run) {
  std::lock_guard g(mu_);
  if (slot < slots_.size()) slots_[slot].in_run = in_run;
  cv_.notify_all();
}

ResumeMode DebugState::park(const DebugStop& why) {
  std::unique_lock<std::mutex> l(mu_);
  if (!active_.load() || why.vcpu >= slots_.size()) return ResumeMode::Continue;
  Slot& s = slots_[why.vcpu];
  // All-stop: a vCPU that stops by itself stops the others. One that was asked to stop must not
  // ask again: it may come late (from WFI) after the debugger resumed some vCPUs on purpose.
  if (why.kind != DebugStopKind::Requested) {
    if (!event_) event_ = why;
    request_stop_locked();
  }
  s.parked = true;
  cv_.notify_all();
  cv_.wait(l, [&] { return !s.stop_req || !active_.load(); });
  s.parked = false;
  s.step_unclaimed = false;  // the returned mode carries it
  return active_.load() ? s.mode : ResumeMode::Continue;
}

bool DebugState::take_step(unsigned slot) {
  if (!step_flags_.load(std::memory_order_acquire)) return false;
  std::lock_guard g(mu_);
  if (slot >= slots_.size() || !slots_[slot].step_unclaimed) return false;
  slots_[slot].step_unclaimed = false;
  return true;
}

bool DebugState::is_breakpoint(uint64_t pc) const {
  std::lock_guard g(mu_);
  return bps_.count(pc) != 0;
}

bool DebugState::is_hw_breakpoint(uint64_t pc) const {
  std::lock_guard g(mu_);
  auto it = bps_.find(pc);
  return it != bps_.end() && it->second.hw && !it->second.sw;
}

namespace {

bool kind_matches(WatchKind k, bool write) {
  return k == WatchKind::Access || (k == WatchKind::Write) == write;
}

}  // namespace

bool DebugState::page_watched(uint64_t vpage) const {
  std::lock_guard g(mu_);
  for (const Watchpoint& w : wps_)
    if (w.addr < vpage + softmmu::kPageSize && vpage < w.addr + w.len) return true;
  return false;
}

bool DebugState::watch_hit(uint64_t vaddr, unsigned size, bool write,
                           softmmu::WatchHit& hit) const {
  std::lock_guard g(mu_);
  for (const Watchpoint& w : wps_) {
    if (!kind_matches(w.kind, write)) continue;
    if (w.addr < vaddr + size && vaddr < w.addr + w.len) {
      hit.addr = std::max(vaddr, w.addr);
      hit.kind = uint8_t(w.kind);
      return true;
    }
  }
  return false;
}

void DebugState::activate(bool start_stopped) {
  std::lock_guard g(mu_);
  active_.store(true, std::memory_order_release);
  start_stopped_ = start_stopped;
  if (start_stopped) request_stop_locked();
}

void DebugState::deactivate() {
  quitting_.store(true, std::memory_order_release);
  release_all();
  std::lock_guard g(mu_);
  active_.store(false, std::memory_order_release);
  cv_.notify_all();
}

unsigned DebugState::vcpu_count() const {
  std::lock_guard g(mu_);
  return unsigned(slots_.size());
}

VcpuExec* DebugState::vcpu(unsigned slot) const {
  std::lock_guard g(mu_);
  return slot < slots_.size() ? slots_[slot].exec : nullptr;
}

void DebugState::request_stop_locked() {
  for (Slot& s : slots_) {
    if (!s.exec) continue;
    s.stop_req = true;
    s.exec->cpu().exit_request.store(1, std::memory_order_release);  // the kick
  }
  stop_flags_.store(1, std::memory_order_release);
}

void DebugState::request_stop_all() {
  std::lock_guard g(mu_);
  interrupt_ = true;
  request_stop_locked();
}

bool DebugState::all_stopped_locked() const {
  for (const Slot& s : slots_)
    if (s.exec && s.in_run && !s.parked) return false;
  return true;
}

bool DebugState::all_stopped() const {
  std::lock_guard g(mu_);
  return all_stopped_locked();
}

void DebugState::set_stop_listener(std::function<void(bool stopped)> fn) {
  std::lock_guard g(mu_);
  stop_listener_ = std::move(fn);
}

std::optional<DebugStop> DebugState::take_stop(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> l(mu_);
  auto ready = [&] { return (event_ || interrupt_) && all_stopped_locked(); };
  if (!cv_.wait_for(l, timeout, ready)) return std::nullopt;
  if (stop_listener_) {
    // Every vCPU is parked and stays so until resume(), which only this thread calls.
    std::function<void(bool)> listener = stop_listener_;
    l.unlock();
    listener(true);
    l.lock();
  }
  DebugStop ev;
  if (event_) {
    ev = *event_;
  } else {
    for (unsigned i = 0; i < slots_.size(); ++i)
      if (slots_[i].exec) {
        ev.vcpu = i;
        break;
      }
  }
  event_.reset();
  interrupt_ = false;
  return ev;
}

void DebugState::resume(std::span<const ResumeMode> modes) {
  notify_running();
  std::lock_guard g(mu_);
  bool any_stopped = false, any_step = false;
  for (unsigned i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    const ResumeMode m = i < modes.size() ? modes[i] : ResumeMode::Stay;
    if (m == ResumeMode::Stay) {
      any_stopped |= s.stop_req;
      continue;
    }
    s.mode = m;
    s.stop_req = false;
    s.step_unclaimed = m == ResumeMode::Step;
  }
  for (const Slot& s : slots_) any_step |= s.step_unclaimed;
  stop_flags_.store(any_stopped ? 1 : 0, std::memory_order_release);
  step_flags_.store(any_step ? 1 : 0, std::memory_order_release);
  start_stopped_ = false;
  event_.reset();
  interrupt_ = false;
  cv_.notify_all();
}

void DebugState::notify_running() {
  std::function<void(bool)> listener;
  {
    std::lock_guard g(mu_);
    listener = stop_listener_;
  }
  if (listener) listener(false);
}

void DebugState::release_all() {
  notify_running();
  std::vector<uint64_t> pcs;
  bool had_wps;
  {
    std::lock_guard g(mu_);
    for (const auto& [pc, b] : bps_) pcs.push_back(pc);
    bps_.clear();
    had_wps = !wps_.empty();
    wps_.clear();
    bp_count_.store(0, std::memory_order_release);
    wp_count_.store(0, std::memory_order_release);
    for (Slot& s : slots_) {
      s.stop_req = false;
      s.mode = ResumeMode::Continue;
      s.step_unclaimed = false;
    }
    stop_flags_.store(0, std::memory_order_release);
    step_flags_.store(0, std::memory_order_release);
    start_stopped_ = false;
    event_.reset();
    interrupt_ = false;
  }
  for (uint64_t pc : pcs) engine_.invalidate_vpc(pc);
  if (had_wps) flush_tlbs();
  std::lock_guard g(mu_);
  cv_.notify_all();
}

bool DebugState::insert_breakpoint(uint64_t pc, bool hw) {
  bool fresh;
  {
    std::lock_guard g(mu_);
    auto [it, added] = bps_.try_emplace(pc);
    fresh = added;
    (hw ? it->second.hw : it->second.sw) = true;  // idempotent, as gdb's protocol asks
    bp_count_.store(uint32_t(bps_.size()), std::memory_order_release);
  }
  if (fresh) engine_.invalidate_vpc(pc);
  return true;
}

bool DebugState::remove_breakpoint(uint64_t pc, bool hw) {
  bool gone = false;
  {
    std::lock_guard g(mu_);
    auto it = bps_.find(pc);
    if (it == bps_.end()) return true;
    (hw ? it->second.hw : it->second.sw) = false;
    if (!it->second.hw && !it->second.sw) {
      bps_.erase(it);
      gone = true;
    }
    bp_count_.store(uint32_t(bps_.size()), std::memory_order_release);
  }
  if (gone) engine_.invalidate_vpc(pc);
  return true;
}

bool DebugState::insert_watchpoint(uint64_t addr, uint64_t len, WatchKind kind) {
  if (len == 0 || addr + len < addr) return false;
  {
    std::lock_guard g(mu_);
    for (const Watchpoint& w : wps_)
      if (w.addr == addr && w.len == len && w.kind == kind) return true;
    wps_.push_back({addr, len, kind});
    wp_count_.store(uint32_t(wps_.size()), std::memory_order_release);
  }
  flush_tlbs();  // refill so the watched pages get kTlbWatch
  return true;
}

bool DebugState::remove_watchpoint(uint64_t addr, uint64_t len, WatchKind kind) {
  {
    std::lock_guard g(mu_);
    std::erase_if(wps_, [&](const Watchpoint& w) {
      return w.addr == addr && w.len == len && w.kind == kind;
    });
    wp_count_.store(uint32_t(wps_.size()), std::memory_order_release);
  }
  flush_tlbs();
  return true;
}

void DebugState::flush_tlbs() {
  // The vCPUs are stopped while the debugger changes watchpoints (all-stop protocol).
  std::vector<VcpuExec*> vs;
  {
    std::lock_guard g(mu_);
    for (const Slot& s : slots_)
      if (s.exec) vs.push_back(s.exec);
  }
  for (VcpuExec* v : vs) v->mmu().flush_all();
}

}  // namespace orrery::tcg::exec
