#include "tcg/exec/engine.h"

#include <algorithm>
#include <cinttypes>

#include "tcg/baseline/baseline.h"
#include "tcg/interp/interp.h"
#include "tcg/llvm/compiler.h"
#include "tcg/opt/passes.h"

namespace orrery::tcg::exec {

using softmmu::kPageMask;
using softmmu::kPageSize;

TranslationBlock::~TranslationBlock() = default;

Engine::Engine(EngineOptions opt, hw::Log& log) : opt_(opt), log_(log) {}

Engine::~Engine() {
  if (compiler_ && log_.enabled(hw::kLogTier)) {
    const auto s = compiler_->stats();
    log_.log(hw::kLogTier,
             "llvm: %" PRIu64 " blocks compiled in %.1f ms, %" PRIu64 " failed, %" PRIu64
             " skipped; %" PRIu64 " blocks translated, %" PRIu64 " invalidated\n",
             s.compiled, s.compile_us / 1000.0, s.failed, s.skipped, stats_.blocks_translated,
             stats_.invalidations);
    log_.log(hw::kLogTier, "baseline: %" PRIu64 " blocks, %.1f MiB of code\n",
             baseline_blocks_.load(), code_cache_ ? code_cache_->used() / 1048576.0 : 0.0);
    const auto j = compiler_->jit().stats();
    log_.log(hw::kLogTier, "llvm: lowering %.1f ms, IR passes %.1f ms, codegen %.1f ms\n",
             j.lower_us / 1000.0, j.opt_us / 1000.0, j.codegen_us / 1000.0);
  }
  compiler_.reset();  // joins the compile thread before the blocks it may be reading go away
}

namespace {
// Baseline code reaches Engine::tier_up through this plain function.
void baseline_tier_up(Engine* engine, TranslationBlock* tb) {
  engine->tier_up(tb);
}
}  // namespace

std::string Engine::init() {
  if (opt_.tier == Tier::Interp) return {};
  std::string err;
  if (opt_.tier == Tier::Baseline || opt_.tier == Tier::Auto) {
    // Committed as code is written: a Linux boot to a shell writes ~45 MiB.
    code_cache_ = baseline::CodeCache::create(opt_.code_cache_bytes, err);
    if (!code_cache_) return err;
    if (opt_.tier == Tier::Auto) {  // baseline code counts executions and asks for LLVM
      baseline_opt_.hot_threshold = opt_.hot_threshold;
      baseline_opt_.tier_up = &baseline_tier_up;
      baseline_opt_.engine = this;
    }
  }
  if (opt_.tier == Tier::Baseline) return {};
  llvm::JitOptions jit_opt;
  jit_opt.code_limit = opt_.llvm_code_bytes;
  compiler_ = llvm::BackgroundCompiler::create(err, &log_, jit_opt);
  if (!compiler_) return "cannot start the LLVM tier: " + err;
  // Code already linked to a block's baseline code must move on to its LLVM code.
  compiler_->set_publish_hook([this](TranslationBlock* tb) { relink_published(tb); });
  compiler_->set_full_hook([this] { code_full(); });
  return {};
}

void Engine::code_full() {
  if (code_full_hook_ && !code_full_signalled_.exchange(true)) code_full_hook_();
}

size_t Engine::llvm_code_bytes() const {
  return compiler_ ? compiler_->jit().code_bytes() : 0;
}

NativeFn Engine::compile_baseline(TranslationBlock* tb, baseline::Workspace& ws) {
  if (!code_cache_) return nullptr;
  std::string err;
  size_t size = 0;
  NativeFn fn = baseline::compile(*tb, *code_cache_, baseline_opt_, &err, &size, &ws);
  if (fn) {
    baseline_blocks_.fetch_add(1, std::memory_order_relaxed);
    if (log_.enabled(hw::kLogOutAsm)) {
      char head[64];
      std::snprintf(head, sizeof head, "OUT: [guest 0x%" PRIx64 "]\n", tb->key.pc);
      log_.write(head + baseline::disassemble(reinterpret_cast<const uint8_t*>(fn), size) + "\n");
    }
  } else {
    const bool full = code_cache_->used() >= code_cache_->capacity();
    if (log_.enabled(hw::kLogTier) && (!full || !code_cache_full_logged_.exchange(true)))
      log_.log(hw::kLogTier, "baseline: block at 0x%" PRIx64 " stays interpreted: %s\n", tb->key.pc,
               err.c_str());
    if (full) code_full();
  }
  return fn;
}

void Engine::drain_compiles() {
  if (compiler_) compiler_->drain();
}

bool Engine::is_baseline_code(NativeFn fn) const {
  return code_cache_ && code_cache_->contains(reinterpret_cast<const uint8_t*>(fn));
}

void Engine::relink_published(TranslationBlock* tb) {
  std::lock_guard<std::mutex> g(mu_);
  if (!tb->valid.load()) return;
  NativeFn fn = tb->native.load(std::memory_order_acquire);
  for (auto [src, slot] : tb->incoming) src->link[slot].store(fn, std::memory_order_release);
  for (VcpuExec* v : vcpus_) v->invalidate_jump_cache(tb);
}

bool Engine::is_code_page(uint64_t phys_page) const {
  if (CodePages::covers(phys_page)) return code_pages_.contains(phys_page);
  std::lock_guard<std::mutex> g(mu_);
  return pages_.count(phys_page & kPageMask) != 0;
}

void Engine::invalidate_phys(uint64_t phys, uint64_t len) {
  std::lock_guard<std::mutex> g(mu_);
  for (uint64_t page = phys & kPageMask; page < phys + len; page += kPageSize) {
    auto it = pages_.find(page);
    if (it == pages_.end()) continue;
    std::vector<TranslationBlock*> victims;
    for (TranslationBlock* tb : it->second) {
      uint64_t start = tb->key.phys_pc, end = start + std::max<uint32_t>(tb->ir.guest_size, 1);
      if (start < phys + len && phys < end) victims.push_back(tb);
    }
    for (TranslationBlock* tb : victims) invalidate_locked(tb);
  }
}

void Engine::guest_memory_written(uint64_t addr, uint64_t len) {
  // Most DMA touches no code: ask the lock-free page table before taking the engine lock.
  const uint64_t end = addr + len;
  for (uint64_t page = addr & kPageMask; page < end && page >= (addr & kPageMask);
       page += kPageSize) {
    if (!is_code_page(page)) continue;
    const uint64_t lo = std::max(page, addr), hi = std::min(page + kPageSize, end);
    invalidate_phys(lo, hi - lo);
  }
}

void Engine::invalidate_locked(TranslationBlock* tb) {
  if (!tb->valid.exchange(false)) return;
  ++stats_.invalidations;
  map_.erase(tb->key, tb);
  for (auto [src, slot] : tb->incoming) {
    src->link[slot].store(nullptr, std::memory_order_release);
    src->link_tb[slot] = nullptr;
  }
  tb->incoming.clear();
  for (unsigned slot = 0; slot < 2; ++slot) {
    TranslationBlock* to = tb->link_tb[slot];
    if (!to) continue;
    std::erase_if(to->incoming, [&](auto& p) { return p.first == tb && p.second == slot; });
    tb->link[slot].store(nullptr, std::memory_order_release);
    tb->link_tb[slot] = nullptr;
  }
  uint64_t page = tb->key.phys_pc & kPageMask;
  auto p = pages_.find(page);
  if (p != pages_.end()) {
    std::erase(p->second, tb);
    if (p->second.empty()) {
      pages_.erase(p);
      code_pages_.set(page, false);
    }
  }
  for (VcpuExec* v : vcpus_) v->invalidate_jump_cache(tb);
  // Regions whose code includes this block must not run it any more.
  std::vector<TranslationBlock*> heads = std::move(tb->region_heads);
  for (TranslationBlock* head : heads) invalidate_locked(head);
}

void Engine::flush() {
  std::vector<std::unique_ptr<TranslationBlock>> old;
  {
    std::lock_guard<std::mutex> g(mu_);
    ++stats_.flushes;
    map_.clear();
    pages_.clear();
    code_pages_.clear();
    for (VcpuExec* v : vcpus_) v->flush_jump_cache();
    old = std::move(all_);
    all_.clear();
    // Like the blocks themselves, their code is only dropped when no vCPU runs (reset).
    if (code_cache_) code_cache_->reset();
    code_cache_full_logged_ = false;
    code_full_signalled_ = false;
  }
  // The LLVM tier frees the old blocks with their code, at once or, if its compile thread is
  // lowering one of them, when that compile ends (a flush never waits for a compile).
  if (compiler_) compiler_->flush(std::move(old));
}

TranslationBlock* Engine::lookup(const TbKey& key) {
  std::lock_guard<std::mutex> g(mu_);
  return map_.find(key);
}

TranslationBlock* Engine::insert(std::unique_ptr<TranslationBlock> tb) {
  TranslationBlock* raw = tb.get();
  bool new_code_page = false;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (TranslationBlock* first = map_.insert(raw->key, raw); first != raw)
      return first;  // another vCPU translated it first; ours is dropped
    auto& list = pages_[raw->key.phys_pc & kPageMask];
    new_code_page = list.empty();
    list.push_back(raw);
    if (new_code_page) code_pages_.set(raw->key.phys_pc, true);
    all_.push_back(std::move(tb));
    ++stats_.blocks_translated;
  }
  if (new_code_page) {
    // Writes to this page must now take the slow path to invalidate its blocks.
    std::vector<VcpuExec*> vs;
    {
      std::lock_guard<std::mutex> g(mu_);
      vs = vcpus_;
    }
    for (VcpuExec* v : vs) v->mmu().protect_code_page(raw->key.phys_pc & kPageMask);
  }
  return raw;
}

void Engine::link(TranslationBlock* from, unsigned slot, TranslationBlock* to) {
  std::lock_guard<std::mutex> g(mu_);
  if (!from->valid.load() || !to->valid.load()) return;
  if (from->link_tb[slot] != to) {
    if (from->link_tb[slot]) {
      TranslationBlock* old = from->link_tb[slot];
      std::erase_if(old->incoming, [&](auto& p) { return p.first == from && p.second == slot; });
    }
    from->link_tb[slot] = to;
    to->incoming.push_back({from, slot});
  }
  from->link[slot].store(to->native.load(std::memory_order_acquire), std::memory_order_release);
}

void Engine::form_region(TranslationBlock* head) {
  // Hot blocks reachable through direct links (so in the same page and mode), breadth first.
  // Only warm members are taken, so a rarely taken side exit stays outside and the region
  // keeps to the loop that made the head hot. A block already inside another region is
  // compiled alone: it only runs outside that region when entered from elsewhere.
  std::lock_guard<std::mutex> g(mu_);
  if (!opt_.regions || head->region.size() || !head->region_heads.empty() || !head->valid.load())
    return;
  const uint32_t warm = std::max<uint32_t>(1, opt_.hot_threshold / 8);
  std::vector<TranslationBlock*> members{head};
  for (size_t i = 0; i < members.size() && members.size() < kMaxRegionBlocks; ++i) {
    for (TranslationBlock* next : members[i]->link_tb) {
      if (!next || !next->valid.load() || next->key.flags != head->key.flags) continue;
      if (std::find(members.begin(), members.end(), next) != members.end()) continue;
      if (next->exec_count.load(std::memory_order_relaxed) < warm) continue;
      members.push_back(next);
      if (members.size() == kMaxRegionBlocks) break;
    }
  }
  if (members.size() == 1) return;
  for (TranslationBlock* m : members) m->region_heads.push_back(head);
  head->region = std::move(members);
}

void Engine::tier_up(TranslationBlock* tb) {
  if (!compiler_ || tb->compile_queued.exchange(true)) return;
  if (opt_.tier == Tier::Auto) form_region(tb);
  if (opt_.tier == Tier::Llvm) {
    compiler_->compile_now(tb);
  } else {
    compiler_->enqueue(tb);
  }
}

void Engine::register_vcpu(VcpuExec* v) {
  std::lock_guard<std::mutex> g(mu_);
  vcpus_.push_back(v);
}

void Engine::unregister_vcpu(VcpuExec* v) {
  std::lock_guard<std::mutex> g(mu_);
  std::erase(vcpus_, v);
}

Engine::Stats Engine::stats() const {
  std::lock_guard<std::mutex> g(mu_);
  Stats s = stats_;
  if (compiler_) s.blocks_compiled = compiler_->stats().compiled;
  s.baseline_blocks = baseline_blocks_.load(std::memory_order_relaxed);
  return s;
}

// ---------------------------------------------------------------------------------------------

VcpuExec::VcpuExec(Engine& engine, Frontend& frontend, CpuCommon& cpu, softmmu::Softmmu& mmu)
    : engine_(engine),
      frontend_(frontend),
      cpu_(cpu),
      mmu_(mmu),
      jump_cache_(new JumpCacheEntry[kJumpCacheEntries]),
      baseline_ws_(std::make_unique<baseline::Workspace>()) {
  cpu_.jump_cache = jump_cache_.get();
  mmu_.set_code_tracker(&engine_);
  mmu_.set_watchpoints(&engine_.debug());
  engine_.register_vcpu(this);
  debug_slot_ = engine_.debug().add_vcpu(this);
}

VcpuExec::~VcpuExec() {
  engine_.debug().remove_vcpu(this);
  engine_.unregister_vcpu(this);
  if (cpu_.jump_cache == jump_cache_.get()) cpu_.jump_cache = nullptr;
}

void VcpuExec::flush_jump_cache() {
  for (unsigned i = 0; i < kJumpCacheEntries; ++i)
    jump_cache_[i].pc.store(JumpCacheEntry::kInvalidPc, std::memory_order_relaxed);
}

void VcpuExec::invalidate_jump_cache(const TranslationBlock* tb) {
  JumpCacheEntry& e = jump_cache_[jump_cache_index(tb->key.pc)];
  if (e.tb == tb) e.pc.store(JumpCacheEntry::kInvalidPc, std::memory_order_release);
}

TranslationBlock* VcpuExec::find_or_translate() {
  const uint64_t pc = cpu_.pc;
  JumpCacheEntry& e = jump_cache_[jump_cache_index(pc)];
  if (!stepping() && e.pc.load(std::memory_order_acquire) == pc && e.flags == cpu_.tb_flags &&
      e.tb->valid.load(std::memory_order_relaxed)) {
    return e.tb;
  }

  uint64_t phys = 0;
  const uint8_t* host = mmu_.fetch_page(pc, frontend_.fetch_mmu_idx(cpu_), phys);
  if (!host) return nullptr;  // instruction fetch fault raised; pending_exit is set

  TbKey key{pc, phys, cpu_.tb_flags};
  TranslationBlock* tb = stepping() ? nullptr : engine_.lookup(key);
  if (!tb) {
    auto fresh = std::make_unique<TranslationBlock>();
    fresh->key = key;
    // Translate into a reused buffer, so the instruction vector does not regrow for every block;
    // the block keeps an exactly sized copy.
    ir::Block& work = scratch_;
    work.insts.clear();
    work.term = ir::Terminal{};
    work.guest_pc = pc;
    work.guest_size = 0;
    work.num_insns = 0;
    uint64_t in_page = kPageSize - (pc & ~kPageMask);
    CodeReader reader(pc, host, in_page);
    TranslateOptions topt;
    if (stepping()) {
      topt.max_insns = 1;
    } else if (engine_.debug().has_breakpoints()) {
      topt.stop_before = [this](uint64_t at) { return engine_.debug().is_breakpoint(at); };
    }
    frontend_.translate(cpu_, reader, topt, work);
    hw::Log& log = engine_.log();
    if (log.enabled(hw::kLogInAsm)) log_in_asm(work, host, pc, in_page);
    if (std::string err = ir::verify(work); !err.empty()) {
      log.write("orrery: internal error: invalid IR for block at 0x" + std::to_string(pc) + ": " +
                err + "\n" + ir::print(work));
      cpu_.pending_exit = uint32_t(PendingExit::Stop);
      cpu_.stop_message = "internal error: the translator produced invalid IR";
      return nullptr;
    }
    if (engine_.options().optimize) opt::optimize(work);
    fresh->ir = work;
    if (log.enabled(hw::kLogOp)) log.write(ir::print(fresh->ir));
    if (NativeFn base = stepping() ? nullptr : engine_.compile_baseline(fresh.get(), *baseline_ws_))
      fresh->native.store(base, std::memory_order_relaxed);
    else
      fresh->prog = interp::build(fresh->ir, fresh.get());
    if (stepping()) {
      step_tb_ = std::move(fresh);
      return step_tb_.get();
    }
    tb = engine_.insert(std::move(fresh));
    if (engine_.options().tier == Tier::Llvm) engine_.tier_up(tb);
  }
  NativeFn native = tb->native.load(std::memory_order_acquire);
  e.tb = tb;
  e.flags = cpu_.tb_flags;
  e.native = native;
  e.pc.store(pc, std::memory_order_release);
  return tb;
}

void VcpuExec::log_in_asm(const ir::Block& b, const uint8_t* host, uint64_t pc, uint64_t avail) {
  std::string out = "IN:\n";
  std::vector<uint64_t> starts;
  for (const ir::Inst& i : b.insts)
    if (i.op == ir::Opcode::InsnStart) starts.push_back(i.imm);
  for (size_t k = 0; k < starts.size(); ++k) {
    uint64_t at = starts[k];
    uint64_t end = k + 1 < starts.size() ? starts[k + 1] : b.guest_pc + b.guest_size;
    if (at < pc || at - pc >= avail || end <= at) continue;
    size_t len = size_t(std::min<uint64_t>(end - at, avail - (at - pc)));
    char head[32];
    std::snprintf(head, sizeof head, "0x%016" PRIx64 ":  ", at);
    out += head;
    out += frontend_.disassemble(at, host + (at - pc), len);
    out += "\n";
  }
  engine_.log().write(out + "\n");
}

uint64_t VcpuExec::execute(TranslationBlock* tb) {
  if (NativeFn fn = tb->native.load(std::memory_order_acquire)) return fn(&cpu_);
  if (engine_.options().tier == Tier::Auto &&
      tb->exec_count.fetch_add(1, std::memory_order_relaxed) + 1 == engine_.options().hot_threshold)
    engine_.tier_up(tb);
  return interp::run(*tb->prog, &cpu_);
}

RunResult VcpuExec::run() {
  mode_changed();
  DebugState& dbg = engine_.debug();
  if (dbg.quitting()) return debug_wait_quit();
  DebugRunScope debug_scope(dbg, debug_slot_);
  if (debug_step_done_) {
    debug_step_done_ = false;
    debug_park(DebugStopKind::Step);
  } else if (dbg.active() && dbg.stop_pending(debug_slot_)) {
    debug_park(DebugStopKind::Requested);
  } else if (dbg.active() && dbg.take_step(debug_slot_)) {
    debug_step_ = true;  // resumed with a step while outside run() (WFI, powered off)
  }
  hw::Log& log = engine_.log();
  TranslationBlock* prev = nullptr;
  unsigned prev_slot = 0;
  for (;;) {
    if (cpu_.exit_request.load(std::memory_order_acquire)) {
      if (dbg.active() && dbg.stop_pending(debug_slot_)) {
        debug_park(DebugStopKind::Requested);
        prev = nullptr;
        continue;
      }
      if (!debug_step_) return RunResult{RunResult::Kind::ExitRequest};
    }

    TranslationBlock* tb = nullptr;
    if (prev && !stepping()) {
      // Follow a direct exit without hashing, and patch native chaining once both are native.
      TranslationBlock* next = prev->link_tb[prev_slot];
      if (next && next->valid.load(std::memory_order_relaxed) && next->key.pc == cpu_.pc &&
          next->key.flags == cpu_.tb_flags) {
        tb = next;
        if (!prev->link[prev_slot].load(std::memory_order_relaxed) &&
            next->native.load(std::memory_order_relaxed))
          engine_.link(prev, prev_slot, next);
      }
    }
    if (!tb) {
      tb = find_or_translate();
      if (!tb) {
        prev = nullptr;
        if (auto r = take_pending()) return *r;
        continue;
      }
      // Chain only within a guest page: a page's mapping can change under a cross-page link.
      if (prev && ((prev->key.pc ^ tb->key.pc) & kPageMask) == 0 && !stepping())
        engine_.link(prev, prev_slot, tb);
    }
    if (log.enabled(hw::kLogExec))
      log.log(hw::kLogExec, "Trace: 0x%016" PRIx64 " [%s]\n", tb->key.pc,
              tb->native.load() ? "native" : "interp");

    // A debugger step runs with interrupts masked: hold back exit_request for one instruction.
    const uint32_t held = debug_step_ ? cpu_.exit_request.exchange(0) : 0;
    const uint64_t r = execute(tb);
    if (held) cpu_.exit_request.fetch_or(held);
    const uint64_t code = r & 0xff;
    prev = nullptr;
    if (code == kRetNext) {
      prev = cpu_.last_tb;
      prev_slot = cpu_.last_exit_slot;
      cpu_.last_tb = nullptr;
      if (single_step_) return RunResult{RunResult::Kind::Exit, ir::ExitReason::Step, 0};
      if (debug_step_) {
        debug_park(DebugStopKind::Step);
        prev = nullptr;
      }
      continue;
    }
    if (code == kRetPending) {
      if (auto res = take_pending()) return *res;
      continue;
    }
    if (code == kRetExitRequest) {
      // A debugger stop parks here: outside run() this vCPU would already count as stopped while
      // the guest CPU still delivers interrupts on its way back in.
      if (dbg.active() && dbg.stop_pending(debug_slot_)) {
        debug_park(DebugStopKind::Requested);
        continue;
      }
      return RunResult{RunResult::Kind::ExitRequest};
    }
    const auto reason = static_cast<ir::ExitReason>(code);
    if (reason == ir::ExitReason::Lookup) {
      mode_changed();
      if (single_step_) return RunResult{RunResult::Kind::Exit, ir::ExitReason::Step, 0};
      if (debug_step_) debug_park(DebugStopKind::Step);
      continue;
    }
    if (reason == ir::ExitReason::Breakpoint && (r >> 32) == kDebugBreakpointArg) {
      debug_park(dbg.is_hw_breakpoint(cpu_.pc) ? DebugStopKind::HwBreakpoint
                                               : DebugStopKind::SwBreakpoint);
      continue;
    }
    debug_step_done_ = debug_step_;  // the guest CPU handles this exit; report the step after
    return RunResult{RunResult::Kind::Exit, reason, r >> 32};
  }
}

std::optional<RunResult> VcpuExec::take_pending() {
  const auto pe = static_cast<PendingExit>(cpu_.pending_exit);
  cpu_.pending_exit = 0;
  if (pe == PendingExit::Stop) return RunResult{RunResult::Kind::Stop};
  if (pe == PendingExit::Debug) {  // a watchpoint; the access has not happened
    debug_park(DebugStopKind::Watchpoint);
    return std::nullopt;
  }
  // A guest exception was taken: its entry changed the mode.
  mode_changed();
  if (single_step_) return RunResult{RunResult::Kind::Exit, ir::ExitReason::Step, 0};
  if (debug_step_) debug_park(DebugStopKind::Step);
  return std::nullopt;
}

}  // namespace orrery::tcg::exec
