// The engine's side of the persistent baseline translations (tcg/exec/translation_cache.h):
// installing a stored block, and installing them ahead of need on a thread of its own.
#include "tcg/exec/engine.h"

#include <chrono>
#include <cinttypes>
#include <cstring>
#include <memory>
#include <span>
#include <system_error>
#include <thread>

#include "hw/core/thread_name.h"
#include "tcg/interp/interp.h"  // TranslationBlock::prog

namespace orrery::tcg::exec {

std::unique_ptr<TranslationBlock> Engine::cached_block(const TbKey& key,
                                                       const TranslationCache::Found& found) const {
  auto tb = std::make_unique<TranslationBlock>();
  tb->key = key;
  tb->phys_page2 = found.phys_page2;
  tb->ir.guest_pc = key.pc;
  tb->ir.guest_size = found.guest_size;
  tb->ir.num_insns = found.num_insns;
  tb->ir.term = found.term;
  tb->ir_size = found.ir_size;
  tb->ir_dropped = true;  // Engine::tier_up translates it again if it gets hot
  if (opt_.tier == Tier::Auto) tb->arm(opt_.hot_threshold);
  tb->cache_hit.store(found.hit, std::memory_order_relaxed);
  return tb;
}

void Engine::start_install_ahead(hw::AddressSpace& as) {
  if (ahead_started_.load(std::memory_order_relaxed) || ahead_started_.exchange(true)) return;
  const auto logs = hw::LogMask(hw::kLogInAsm | hw::kLogOp | hw::kLogOutAsm);
  if (!tcache_ || !code_cache_ || (opt_.tier != Tier::Auto && opt_.tier != Tier::Baseline) ||
      debug_.active() || log_.enabled(logs))
    return;
  try {
    ahead_thread_ = std::thread([this, &as] {
      hw::name_this_thread("tcache install");
      install_ahead(as);
    });
  } catch (const std::system_error&) {
    // No thread: the vCPUs install each block when they first meet it, as without this.
  }
}

void Engine::stop_install_ahead() {
  {
    std::lock_guard<std::mutex> g(ahead_mu_);
    ahead_stop_.store(true, std::memory_order_relaxed);
  }
  ahead_cv_.notify_all();
  if (ahead_thread_.joinable()) ahead_thread_.join();
}

void Engine::wait_install_ahead() {
  if (ahead_thread_.joinable()) ahead_first_pass_.wait(false, std::memory_order_acquire);
}

void Engine::install_ahead(hw::AddressSpace& as) {
  // The vCPUs would otherwise spend ~2.5 us per block on a warm boot's ~65k blocks looking each
  // up, comparing, copying and inserting it, most of it on the boot's one busy vCPU.
  auto bytes_at = [&as](uint64_t phys, uint64_t len) -> const uint8_t* {
    return as.host_ptr(phys, len);
  };
  bool done = false;  // no further passes: the code cache is full, or the stored code unused
  // Chaining ahead saves a boot's vCPUs ~45k exits to the dispatcher, each a lookup and a link
  // (an arm64 warm boot).
  const bool chain = installed_count_runs();
  constexpr size_t kLinkChunk = 4096;
  std::vector<TranslationBlock*> installed;
  size_t linked_upto = 0;
  uint64_t visits = 0;
  // Stored code that keeps missing while what was installed does not run serves a different
  // run: a kernel that moved (KASLR: the same bytes at the same physical addresses, under new
  // virtual ones, so every block installed under its old key is work and memory for nothing).
  auto unused = [&] {
    const uint64_t misses = tcache_->misses();
    if (misses < opt_.ahead_give_up_misses ||
        misses <= 2 * stored_ran_.load(std::memory_order_relaxed))
      return false;
    log_.log(hw::kLogTier,
             "tcg cache: %" PRIu64 " lookups missed and %" PRIu64
             " stored blocks ran: stopped installing ahead after %" PRIu64
             " blocks (the guest's code is not where it was: a kernel with KASLR?)\n",
             misses, stored_ran_.load(std::memory_order_relaxed),
             ahead_installed_.load(std::memory_order_relaxed));
    return true;
  };
  auto visit = [&](const TbKey& key, const TranslationCache::Found& found) {
    if (ahead_stop_.load(std::memory_order_relaxed)) return false;
    if (visits++ % 64 == 0 && unused()) {
      done = true;
      return false;
    }
    if (profile_names(key) || lookup(key)) return true;  // translated (see translate_cached)
    std::unique_ptr<TranslationBlock> tb = cached_block(key, found);
    NativeFn fn = install_cached(tb.get(), found);
    if (!fn) {
      done = true;  // full: leave the rest to the vCPUs
      return false;
    }
    tb->native.store(fn, std::memory_order_relaxed);
    TranslationBlock* raw = tb.get();
    if (insert(std::move(tb)) != raw) return true;  // a vCPU was first
    // insert() made writes to the block's page take the slow path, which invalidates it; one
    // that landed between the comparison and that is caught here.
    const uint8_t* now = as.host_ptr(key.phys_pc, found.bytes.size());
    if (!now || std::memcmp(now, found.bytes.data(), found.bytes.size()) != 0) {
      invalidate(raw);
      return true;
    }
    ahead_installed_.fetch_add(1, std::memory_order_relaxed);
    if (chain) {
      installed.push_back(raw);
      if (installed.size() - linked_upto >= kLinkChunk) {
        link_installed(std::span(installed).subspan(linked_upto));
        linked_upto = installed.size();
      }
    }
    return true;
  };
  // After a pass, exits to blocks later in it are linked too.
  auto pass = [&](TranslationCache::AheadList& list) {
    tcache_->install_pass(list, bytes_at, visit);
    link_installed(installed);
    installed.clear();
    linked_upto = 0;
  };
  TranslationCache::AheadList list;
  uint64_t placed = tcache_->mappings_placed();  // before the pass: a placement meanwhile counts
  pass(list);
  ahead_first_pass_.store(true, std::memory_order_release);
  ahead_first_pass_.notify_all();
  // Code the guest loads or patches after its start (the kernel's alternatives, modules, user
  // programs) matches later: a few more passes over what is left, further and further apart,
  // so a guest whose code never matches again costs little (an arm64 boot: ~14k entries, a
  // few ms a pass). A mapping a lookup placed (install_pass) brings a pass at once.
  for (int delay_ms = 10; delay_ms <= 1280 && !list.left.empty() && !done;) {
    {
      std::unique_lock<std::mutex> g(ahead_mu_);
      ahead_cv_.wait_for(g, std::chrono::milliseconds(delay_ms), [&] {
        return ahead_stop_.load(std::memory_order_relaxed) || tcache_->mappings_placed() != placed;
      });
      if (ahead_stop_.load(std::memory_order_relaxed)) return;
    }
    if (const uint64_t now = tcache_->mappings_placed(); now != placed)
      placed = now;
    else
      delay_ms *= 2;
    pass(list);
  }
}

void Engine::link_installed(std::span<TranslationBlock* const> blocks) {
  constexpr size_t kPerLock = 256;  // blocks per hold of the engine's lock, which lookups wait for
  for (size_t at = 0; at < blocks.size(); at += kPerLock) {
    std::lock_guard g(mu_);
    for (TranslationBlock* from : blocks.subspan(at, std::min(kPerLock, blocks.size() - at))) {
      if (!from->valid.load(std::memory_order_relaxed)) continue;
      const ir::Terminal& t = from->ir.term;
      const unsigned slots = t.kind == ir::Terminal::Kind::Jump     ? 1
                             : t.kind == ir::Terminal::Kind::Branch ? 2
                                                                    : 0;
      for (unsigned slot = 0; slot < slots; ++slot) {
        const uint64_t pc = slot ? t.target2 : t.target;
        // What VcpuExec::run chains (may_chain), in the same mode; within the page, the
        // target's physical page is this block's.
        if (from->link_tb[slot] || ((pc ^ from->key.pc) & softmmu::kPageMask) != 0) continue;
        TranslationBlock* to = map_.find(key_in_page(from->key, pc));
        if (!to || !to->native.load(std::memory_order_relaxed) || !may_chain(*from, *to)) continue;
        link_locked(from, slot, to);
      }
    }
  }
}

void Engine::mark_installed_ran() {
  if (!installed_count_runs()) return;
  std::lock_guard g(mu_);
  for (const auto& tb : all_)
    if (std::atomic<bool>* hit = tb->cache_hit.load(std::memory_order_relaxed))
      if (tb->executions() > 0) hit->store(true, std::memory_order_relaxed);
}

NativeFn Engine::install_cached(TranslationBlock* tb, const TranslationCache::Found& found) {
  if (!code_cache_) return nullptr;
  uint8_t* at = baseline::place(*tb, *code_cache_, found.code, found.relocs);
  if (!at) return nullptr;  // full: translated as usual, which asks for room
  baseline::apply_relocs(at, found.relocs, *tb, baseline_opt_);
  baseline::find_jump_sites(at, found.relocs, tb->jump_site);
  baseline_blocks_.fetch_add(1, std::memory_order_relaxed);
  perf_map_.add(at, found.code.size(), tb->key.pc);
  return reinterpret_cast<NativeFn>(at);
}

}  // namespace orrery::tcg::exec
