#include "tcg/exec/engine.h"

#include <algorithm>
#include <cinttypes>
#include <cstring>

#include "tcg/baseline/baseline.h"
#include "tcg/interp/interp.h"
#include "tcg/llvm/code_cache.h"
#include "tcg/llvm/compiler.h"
#include "tcg/opt/passes.h"

namespace orrery::tcg::exec {

using softmmu::kPageMask;
using softmmu::kPageSize;

TranslationBlock::~TranslationBlock() = default;

namespace {
TierPolicyOptions policy_options(const EngineOptions& opt) {
  TierPolicyOptions p = opt.policy;
  p.hot_threshold = opt.hot_threshold;
  return p;
}
}  // namespace

Engine::Engine(EngineOptions opt, hw::Log& log)
    : opt_(opt), log_(log), policy_(policy_options(opt)) {}

Engine::~Engine() {
  stop_install_ahead();
  if (compiler_ && tcg_cache_ && opt_.tier == Tier::Auto) save_profile();
  if (tcache_) {
    mark_installed_ran();
    const uint64_t bytes = tcache_->save();
    if (tcg_cache_ && bytes) tcg_cache_->note_stored(bytes);  // the directory's size bound
    if (log_.enabled(hw::kLogTier)) {
      const TranslationCache::Stats c = tcache_->stats();
      log_.log(hw::kLogTier,
               "tcg cache: baseline: %" PRIu64 " entries loaded from %" PRIu64
               " packs (%.1f MiB, %.1f ms; %" PRIu64 " packs ignored, %" PRIu64
               " corrupt entries), %" PRIu64 " hits (%" PRIu64 " at another PC), %" PRIu64
               " misses (%" PRIu64 " before the packs were indexed), %" PRIu64
               " rejected (guest bytes changed), %" PRIu64 " waiting for a helper, %" PRIu64
               " installed ahead, %" PRIu64 " ran; %" PRIu64 " recorded, %" PRIu64
               " stored (%.1f MiB, %.1f ms), %" PRIu64 " aged out\n",
               c.loaded, c.packs, double(c.bytes_loaded) / (1 << 20), c.load_us / 1000.0,
               c.packs_bad, c.entries_bad, c.hits, c.moved, c.misses, c.early, c.rejected,
               c.no_helper, ahead_installed_.load(std::memory_order_relaxed), c.ran, c.recorded,
               c.stored, double(c.bytes_stored) / (1 << 20), c.save_us / 1000.0, c.dropped);
    }
  }
  if (compiler_ && log_.enabled(hw::kLogTier)) log_tier_stats();
  compiler_.reset();  // joins the compile thread before the blocks it may be reading go away
}

void Engine::count_native_locked(const std::vector<std::unique_ptr<TranslationBlock>>& blocks) {
  for (const auto& tb : blocks) {
    const uint64_t n = tb->native_execs.load(std::memory_order_relaxed);
    stats_.native_execs += n;
    stats_.native_insns += n * tb->ir.num_insns;
  }
}

void Engine::log_tier_stats() {
  Stats t;
  uint64_t wasted = 0, compiled_now = 0, baseline_insns = 0;
  std::string top_shares;
  {
    std::lock_guard g(mu_);
    count_native_locked(all_);
    // Blocks whose LLVM code ran fewer times than their baseline code had before it was
    // compiled: the compile was most likely wasted.
    for (const auto& tb : all_) {
      NativeFn fn = tb->native.load(std::memory_order_relaxed);
      if (!fn || is_baseline_code(fn)) continue;
      ++compiled_now;
      if (tb->native_execs.load(std::memory_order_relaxed) < tb->executions()) ++wasted;
    }
    // Guest instructions run by baseline code (its counts go on past tier-up), and how much of
    // that the hottest blocks hold: what compiling more blocks could move to LLVM code.
    std::vector<uint64_t> work;
    work.reserve(all_.size());
    for (const auto& tb : all_) work.push_back(uint64_t(tb->executions()) * tb->ir.num_insns);
    std::sort(work.begin(), work.end(), std::greater<>());
    uint64_t total = 0;
    for (uint64_t w : work) total += w;
    baseline_insns = total;
    uint64_t sum = 0;
    size_t i = 0;
    for (size_t top : {100, 300, 1000, 3000, 10000}) {
      for (; i < std::min(top, work.size()); ++i) sum += work[i];
      top_shares += " top " + std::to_string(top) + ": " +
                    std::to_string(total ? sum * 100 / total : 0) + "%";
    }
    t = stats_;
    stats_.native_execs = stats_.native_insns = 0;  // counted again by the next call
  }
  const auto s = compiler_->stats();
  const auto j = compiler_->jit().stats();
  log_.log(hw::kLogTier,
           "tier: %" PRIu64 " blocks translated, %" PRIu64 " invalidated, %" PRIu64
           " flushes; baseline: %" PRIu64 " blocks, %.1f MiB of code\n",
           t.blocks_translated, t.invalidations, t.flushes, baseline_blocks_.load(),
           code_cache_ ? code_cache_->used() / 1048576.0 : 0.0);
  log_.log(hw::kLogTier, "tier: baseline/interpreted code ran %" PRIu64 " guest insns;%s\n",
           baseline_insns, top_shares.c_str());
  log_.log(hw::kLogTier,
           "tier: policy: %" PRIu64 " checks, %" PRIu64 " compile (%" PRIu64
           " found in the tcg cache), %" PRIu64 " deferred, %" PRIu64
           " never; invalidated after compile %" PRIu64 ", while queued %" PRIu64 "\n",
           t.tier_checks, t.tier_compiles, t.tier_cached, t.tier_deferred, t.tier_never,
           t.invalidated_compiled, t.invalidated_queued);
  log_.log(hw::kLogTier, "tier: IR translated again for %" PRIu64 " blocks (%" PRIu64 " failed)\n",
           t.ir_rebuilt, t.ir_rebuild_failed);
  if (!profile_.empty())
    log_.log(hw::kLogTier,
             "tier: profile: at first translation %" PRIu64 " linked from the tcg cache (%" PRIu64
             " at a later check, %" PRIu64 " queued from it), %" PRIu64
             " queued to compile, %" PRIu64 " to fill the cache, %" PRIu64
             " past the fill budget, %" PRIu64
             " with changed code; regions at their first check: %" PRIu64 " linked, %" PRIu64
             " queued from the cache, %" PRIu64 " queued to compile\n",
             t.ahead_linked, t.ahead_linked_later, t.ahead_cached, t.ahead_compiles, t.ahead_fill,
             t.ahead_over_budget, t.ahead_changed, t.ahead_regions_linked, t.ahead_regions_queued,
             t.ahead_regions_compiles);
  log_.log(hw::kLogTier,
           "llvm: %" PRIu64 " queued, %" PRIu64 " compiled, %" PRIu64 " failed, %" PRIu64
           " skipped (invalidated), %" PRIu64 " dropped cold\n",
           s.enqueued, s.compiled, s.failed, s.skipped, s.dropped_cold);
  log_.log(hw::kLogTier,
           "llvm: compile CPU %.1f ms (%.1f ms wall; compile thread CPU %.1f ms), %" PRIu64
           " IR insns, now estimated %.1f us CPU per compile + %.1f us per 100 IR insns\n",
           s.compile_cpu_us / 1000.0, s.compile_us / 1000.0, s.thread_cpu_us / 1000.0, s.ir_insts,
           policy_.fixed_cost_ns() / 1000.0, policy_.cost_ns_per_ir() / 10.0);
  log_.log(hw::kLogTier,
           "llvm: CPU in lowering %.1f ms, IR passes %.1f ms, codegen %.1f ms (linking %.1f ms)\n",
           j.lower_us / 1000.0, j.opt_us / 1000.0, j.codegen_us / 1000.0, j.link_us / 1000.0);
  if (tcg_cache_) {
    const auto c = tcg_cache_->stats();
    log_.log(hw::kLogTier,
             "tcg cache: %" PRIu64 " linked from cache (%.1f ms), %" PRIu64 " stored, %" PRIu64
             " objects compiled, %" PRIu64 " misses, %" PRIu64 " rejected, %" PRIu64
             " unlinkable, %" PRIu64 " store failures, %" PRIu64 " evicted\n",
             j.cache_hits, j.cache_us / 1000.0, j.cache_stores, j.modules, c.misses, c.rejected,
             j.cache_bad_links, c.store_failures, c.evicted);
  }
  if (compiler_->jit().counts_executions())
    log_.log(hw::kLogTier,
             "llvm: compiled code ran %" PRIu64 " times (%" PRIu64
             " guest insns), estimated saving %.1f ms against %.1f ms compile CPU; %" PRIu64
             " of %" PRIu64 " blocks with LLVM code now ran it fewer times than before it\n",
             t.native_execs, t.native_insns, policy_.saving_ns(t.native_insns) / 1e6,
             s.compile_cpu_us / 1000.0, wasted, compiled_now);
}

namespace {
// Baseline code reaches Engine::tier_up through this plain function.
void baseline_tier_up(Engine* engine, TranslationBlock* tb, CpuCommon* cpu) {
  engine->tier_up(tb, cpu);
}
}  // namespace

std::string Engine::init() {
  if (opt_.tier == Tier::Interp) return {};
  std::string err;
  if (opt_.tier == Tier::Baseline || opt_.tier == Tier::Auto) {
    // Committed as code is written: a Linux boot to a shell writes ~45 MiB.
    code_cache_ = baseline::CodeCache::create(opt_.code_cache_bytes, err);
    if (!code_cache_) return err;
    if (log_.enabled(hw::kLogPerfMap) && !perf_map_.open(err)) return err;
    if (opt_.tier == Tier::Auto) {  // baseline code counts executions and asks for LLVM
      baseline_opt_.hot_threshold = opt_.hot_threshold;
      baseline_opt_.tier_up = &baseline_tier_up;
      baseline_opt_.engine = this;
    }
    if (!opt_.tcg_cache_dir.empty()) {
      tcg_cache_ = llvm::CodeCache::open({opt_.tcg_cache_dir, opt_.tcg_cache_bytes}, &log_, err);
      if (!tcg_cache_) return err;
      // Everything a block's baseline code depends on besides its guest bytes, PC and mode.
      std::string config = "orrery-tbp-1\n" + llvm::CodeCache::build_id() + "\n" + opt_.guest_id +
                           "\n" + baseline::code_config(baseline_opt_);
      config += opt_.optimize ? " opt" : " noopt";
      config += opt_.stop_on_unimplemented ? " unimp-stop" : "";
      if (opt_.tcg_cache_baseline) {
        // Indexed beside the guest's start; then the code cache commits room for the stored
        // code (~43 MiB for an arm64 boot, ~3 ms of page zeroing per 2 MiB on a VM host).
        TranslationCacheOptions tc;
        tc.dir = opt_.tcg_cache_dir;
        tc.config = std::move(config);
        tc.max_bytes = opt_.tcg_cache_bytes;
        tc.background = true;
        tc.mapping_min_entries = opt_.ahead_mapping_min_entries;
        tc.loaded = [this](uint64_t code_bytes, uint64_t entries) {
          reserve_blocks(entries);
          code_cache_->populate_ahead(code_bytes);
        };
        tcache_ = TranslationCache::open(std::move(tc), &log_);
        // A lookup that places a large mapping (install_pass) wakes the install-ahead thread.
        tcache_->set_on_placed([this] {
          { std::lock_guard<std::mutex> g(ahead_mu_); }
          ahead_cv_.notify_all();
        });
      }
    }
  }
  if (opt_.tier == Tier::Baseline) return {};
  llvm::JitOptions jit_opt;
  jit_opt.code_limit = opt_.llvm_code_bytes;
  jit_opt.count_executions = log_.enabled(hw::kLogTier);
  if (!opt_.tcg_cache_dir.empty()) {
    if (!tcg_cache_)
      tcg_cache_ = llvm::CodeCache::open({opt_.tcg_cache_dir, opt_.tcg_cache_bytes}, &log_, err);
    if (!tcg_cache_) return err;
    jit_opt.cache = tcg_cache_.get();
    jit_opt.guest_id = opt_.guest_id;
  }
  compiler_ = llvm::BackgroundCompiler::create(err, &log_, jit_opt);
  if (!compiler_) return "cannot start the LLVM tier: " + err;
  // Code already linked to a block's baseline code must move on to its LLVM code.
  compiler_->set_publish_hook([this](TranslationBlock* tb) { relink_published(tb); });
  compiler_->set_full_hook([this] { code_full(); });
  compiler_->set_cost_hook(
      [this](uint64_t ir, uint64_t cpu_ns) { policy_.note_compile(ir, cpu_ns); });
  // A block that went cold in the queue asks again once it has run as often again.
  compiler_->set_cold_hook([this](TranslationBlock* tb) {
    std::lock_guard g(mu_);
    const uint32_t n = tb->executions();
    tb->arm(n + std::max(n, opt_.hot_threshold));
  });
  if (tcg_cache_ && opt_.tier == Tier::Auto) load_profile();
  return {};
}

void Engine::load_profile() {
  for (llvm::ProfileEntry& e : tcg_cache_->load_profile(compiler_->jit().cache_config()))
    profile_.emplace(ProfileKey{e.pc, e.flags, e.cs_base},
                     Profiled{e.key_hash, e.weight, e.compiled, std::move(e.members)});
  if (log_.enabled(hw::kLogTier)) {
    size_t regions = 0;
    for (const auto& [k, p] : profile_) regions += !p.members.empty();
    log_.log(hw::kLogTier, "tier: profile of earlier runs names %zu blocks (%zu regions)\n",
             profile_.size(), regions);
  }
}

void Engine::save_profile() {
  // Blocks and regions with LLVM code now (the policy found them worth a compile: a region is
  // named by its head, with its members' PCs, and its key is the region's), and blocks whose
  // baseline code ran long enough to pay back a compile over kProfileRuns runs. A region's
  // members are not named alone (unless they have LLVM code of their own): linked alone at
  // translation they would run outside the region. A block translated several times
  // (invalidated, flushed) counts once. Entries for blocks this run never translated carry
  // over (a shorter run, another path through the boot), so one run does not erase what
  // earlier runs found.
  std::unordered_map<ProfileKey, llvm::ProfileEntry, ProfileKeyHash> keep;
  size_t without_ir = 0;
  {
    std::lock_guard g(mu_);
    std::unordered_set<ProfileKey, ProfileKeyHash> seen;
    if (!profile_.empty())
      for (const auto& tb : all_) {
        const ProfileKey pk{tb->key.pc, tb->key.flags, tb->key.cs_base};
        if (profile_.count(pk)) seen.insert(pk);
      }
    for (const auto& [pk, p] : profile_)
      if (!seen.count(pk))
        keep[pk] = llvm::ProfileEntry{pk.pc,    pk.cs_base, pk.flags, p.key_hash,
                                      p.weight, p.compiled, p.members};
    auto runs = [](const TranslationBlock* m) {
      return (uint64_t(m->executions()) + m->native_execs.load(std::memory_order_relaxed)) *
             m->ir.num_insns;
    };
    auto llvm_code = [this](const TranslationBlock* m) {
      NativeFn fn = m->native.load(std::memory_order_relaxed);
      return fn && !is_baseline_code(fn);
    };
    std::unordered_set<const TranslationBlock*> in_region;
    for (const auto& tb : all_)
      if (tb->valid.load(std::memory_order_relaxed) && tb->region.size() > 1 && llvm_code(tb.get()))
        for (size_t i = 1; i < tb->region.size(); ++i) in_region.insert(tb->region[i]);
    for (const auto& tb : all_) {
      if (!tb->valid.load(std::memory_order_relaxed)) continue;
      const bool region = tb->region.size() > 1;
      const bool compiled = llvm_code(tb.get());
      if (region && !compiled) continue;  // its region's code never arrived
      if (in_region.contains(tb.get()) && !compiled) continue;
      const std::vector<TranslationBlock*> group = region ? tb->region : std::vector{tb.get()};
      uint64_t weight = 0;
      for (const TranslationBlock* m : group) weight += runs(m);
      const ProfileKey pk{tb->key.pc, tb->key.flags, tb->key.cs_base};
      // A block that ran native from the start (unless -d tier counts it) keeps its weight.
      if (tb->ahead)
        if (auto it = profile_.find(pk); it != profile_.end())
          weight = std::max(weight, it->second.weight);
      if (!policy_.pays_ahead(weight, tb->ir_insts(), compiled, kProfileRuns)) continue;
      // No IR, no key: tier_up translates a block again once it could be heavy enough for the
      // profile, and every member of a region it compiles.
      if (std::any_of(group.begin(), group.end(),
                      [](const TranslationBlock* m) { return m->ir_dropped; })) {
        ++without_ir;
        continue;
      }
      std::string key = compiler_->jit().cache_key(*tb);  // empty: not cacheable code
      if (key.empty()) continue;
      std::vector<uint64_t> members;
      if (region) {
        for (size_t i = 1; i < tb->region.size(); ++i) members.push_back(tb->region[i]->key.pc);
        const std::vector<const TranslationBlock*> all(tb->region.begin(), tb->region.end());
        key = llvm::CodeCache::key_material(all, compiler_->jit().cache_config());
        if (key.empty()) continue;
      }
      llvm::ProfileEntry& e = keep[pk];
      // The same block translated again adds up; a region replaces a lone entry for its head.
      if (e.members.size() != members.size()) e = llvm::ProfileEntry{};
      e = llvm::ProfileEntry{pk.pc,
                             pk.cs_base,
                             pk.flags,
                             llvm::CodeCache::key_hash(key),
                             e.weight + weight,
                             e.compiled || compiled,
                             std::move(members)};
    }
  }
  std::vector<llvm::ProfileEntry> entries;
  entries.reserve(keep.size());
  for (auto& [k, e] : keep) entries.push_back(std::move(e));
  const bool ok = tcg_cache_->store_profile(compiler_->jit().cache_config(), entries);
  if (log_.enabled(hw::kLogTier))
    log_.log(hw::kLogTier, "tier: profile for later runs: %zu blocks%s (%zu left out without IR)\n",
             entries.size(), ok ? "" : " (not written)", without_ir);
}

bool Engine::ahead_pays(const Profiled& p, uint64_t ir_insts) const {
  return policy_.pays_ahead(p.weight, ir_insts, p.compiled);
}

void Engine::earn_fill_budget(uint64_t weight) {
  fill_budget_ns_.fetch_add(int64_t(policy_.saving_ns(weight) * kAheadFillShare),
                            std::memory_order_relaxed);
}

bool Engine::take_fill_budget(uint64_t ir_insts) {
  const auto cost = int64_t(policy_.cost_ns(ir_insts));
  int64_t have = fill_budget_ns_.load(std::memory_order_relaxed);
  do {
    if (have < cost) return false;
  } while (!fill_budget_ns_.compare_exchange_weak(have, have - cost, std::memory_order_relaxed));
  return true;
}

Engine::AheadPlan Engine::plan_ahead(const TranslationBlock& tb) {
  using Kind = AheadPlan::Kind;
  AheadPlan plan;
  if (profile_.empty()) return plan;
  auto it = profile_.find(ProfileKey{tb.key.pc, tb.key.flags, tb.key.cs_base});
  if (it == profile_.end()) return plan;
  {
    // A key whose compiled code keeps being thrown away goes through the policy's back-off.
    std::lock_guard g(mu_);
    if (policy_.backoffs(tb.key)) return plan;
  }
  // Its members are not translated yet: tier_up forms the region at the first check.
  if (!it->second.members.empty()) {
    plan.kind = Kind::Region;
    return plan;
  }
  // The same guest code (and code generator) as in the profiled run, or it is not that block.
  plan.key = compiler_->jit().cache_key(tb);
  if (plan.key.empty() || llvm::CodeCache::key_hash(plan.key) != it->second.key_hash) {
    std::lock_guard g(mu_);
    ++stats_.ahead_changed;
    plan.kind = Kind::Changed;
    return plan;
  }
  plan.kind = tcg_cache_->contains(plan.key) ? Kind::Cached : Kind::Miss;
  return plan;
}

NativeFn Engine::link_ahead(TranslationBlock& tb, const AheadPlan& plan) {
  if (plan.kind != AheadPlan::Kind::Cached) return nullptr;
  NativeFn fn = compiler_->jit().try_link_cached(tb, plan.key);
  if (!fn) return nullptr;
  // Not published yet: no link or jump-cache entry can point at the block.
  tb.native.store(fn, std::memory_order_relaxed);
  tb.ahead = true;
  tb.compile_queued.store(true, std::memory_order_relaxed);
  if (auto it = profile_.find(ProfileKey{tb.key.pc, tb.key.flags, tb.key.cs_base});
      it != profile_.end())
    earn_fill_budget(it->second.weight);
  std::lock_guard g(mu_);
  ++stats_.ahead_linked;
  return fn;
}

void Engine::tier_ahead(TranslationBlock* tb, const AheadPlan& plan) {
  using Kind = AheadPlan::Kind;
  if (plan.kind != Kind::Cached && plan.kind != Kind::Miss) return;
  // A miss is compiled now when that pays back in this run; else, to fill the cache for later
  // runs, only from the fill budget.
  bool fill = false;
  if (plan.kind == Kind::Miss) {
    auto it = profile_.find(ProfileKey{tb->key.pc, tb->key.flags, tb->key.cs_base});
    if (it == profile_.end()) return;
    if (!ahead_pays(it->second, tb->ir_insts())) {
      if (!take_fill_budget(tb->ir_insts())) {
        std::lock_guard g(mu_);
        ++stats_.ahead_over_budget;
        return;
      }
      fill = true;
    }
  } else {
    // Not linked at translation (the JIT was busy): tier_up tries again at the next checks.
    std::lock_guard g(mu_);
    if (!tb->valid.load() || tb->compile_queued.load(std::memory_order_relaxed)) return;
    tb->ahead = true;
    pending_links_[tb] = PendingLink{plan.key, 0};
    return;
  }
  {
    std::lock_guard g(mu_);
    if (!tb->valid.load() || tb->compile_queued.load(std::memory_order_relaxed)) return;
    ++(plan.kind == Kind::Cached ? stats_.ahead_cached
       : fill                    ? stats_.ahead_fill
                                 : stats_.ahead_compiles);
    tb->ahead = true;
    tb->compile_queued.store(true, std::memory_order_relaxed);
  }
  // A cached object costs only its linking: ahead of the compiles.
  compiler_->enqueue(tb, plan.kind == Kind::Cached);
}

std::vector<TranslationBlock*> Engine::profiled_region_locked(TranslationBlock* tb, VcpuExec* v,
                                                              const Profiled& p, std::string& key) {
  std::vector<TranslationBlock*> members{tb};
  if (region_probed_.contains(tb) || !tb->region.empty() || !tb->region_heads.empty() ||
      policy_.backoffs(tb->key))
    return {};
  for (uint64_t pc : p.members) {
    // A region keeps to one page (links are made only within one), so the members share the
    // head's physical page.
    if ((pc & kPageMask) != (tb->key.pc & kPageMask)) return {};
    TranslationBlock* m = map_.find(key_in_page(tb->key, pc));
    if (!m) return {};  // not translated yet: try again at the next check
    if (!m->valid.load() || m->phys_page2 != TranslationBlock::kNoPage ||
        std::find(members.begin(), members.end(), m) != members.end()) {
      region_probed_.insert(tb);
      return {};
    }
    members.push_back(m);
  }
  // The key, the link and the compile read every member's IR.
  for (TranslationBlock* m : members)
    if (!ensure_ir_locked(m, v)) {
      region_probed_.insert(tb);
      return {};
    }
  const std::vector<const TranslationBlock*> all(members.begin(), members.end());
  key = llvm::CodeCache::key_material(all, compiler_->jit().cache_config());
  region_probed_.insert(tb);  // formed once: found, or other code for good
  if (key.empty() || llvm::CodeCache::key_hash(key) != p.key_hash) {
    ++stats_.ahead_changed;
    return {};
  }
  return members;
}

void Engine::code_full() {
  if (code_full_hook_ && !code_full_signalled_.exchange(true)) code_full_hook_();
}

size_t Engine::llvm_code_bytes() const {
  return compiler_ ? compiler_->jit().code_bytes() : 0;
}

NativeFn Engine::compile_baseline(TranslationBlock* tb, baseline::Workspace& ws,
                                  size_t* code_size) {
  if (!code_cache_) return nullptr;
  std::string err;
  size_t size = 0;
  NativeFn fn = baseline::compile(*tb, *code_cache_, baseline_opt_, &err, &size, &ws);
  if (code_size) *code_size = fn ? size : 0;
  if (fn) {
    baseline::find_jump_sites(reinterpret_cast<uint8_t*>(fn), ws.relocs, tb->jump_site);
    baseline_blocks_.fetch_add(1, std::memory_order_relaxed);
    perf_map_.add(reinterpret_cast<const void*>(fn), size, tb->key.pc);
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

void Engine::set_link(TranslationBlock* from, unsigned slot, NativeFn fn) const {
  if (uint8_t* site = from->jump_site[slot])
    baseline::patch_jump(site, fn && is_baseline_code(fn) ? baseline::fast_entry(fn) : nullptr);
  from->link[slot].store(fn, std::memory_order_release);
}

void Engine::relink_published(TranslationBlock* tb) {
  std::lock_guard g(mu_);
  if (!tb->valid.load()) return;
  NativeFn fn = tb->native.load(std::memory_order_acquire);
  for (auto [src, slot] : tb->incoming) set_link(src, slot, fn);
  for (VcpuExec* v : vcpus_) v->invalidate_jump_cache(tb);
}

bool Engine::is_code_page(uint64_t phys_page) const {
  if (CodePages::covers(phys_page)) return code_pages_.contains(phys_page);
  std::lock_guard g(mu_);
  return pages_.count(phys_page & kPageMask) != 0;
}

namespace {

uint64_t code_bytes(const TranslationBlock* tb) {
  return std::max<uint32_t>(tb->ir.guest_size, 1);
}

// Whether tb's guest code, or the region compiled from it, contains the virtual PC.
bool runs_pc(const TranslationBlock* tb, uint64_t pc) {
  if (pc - tb->key.pc < code_bytes(tb)) return true;
  for (const TranslationBlock* m : tb->region)
    if (pc - m->key.pc < code_bytes(m)) return true;
  return false;
}

// Whether [phys, phys+len) overlaps tb's code on the physical page `page` (either of its two).
bool overlaps(const TranslationBlock* tb, uint64_t page, uint64_t phys, uint64_t len) {
  const uint64_t size = code_bytes(tb);
  const uint64_t first = std::min(size, kPageSize - (tb->key.phys_pc & ~kPageMask));
  auto hit = [&](uint64_t start, uint64_t n) { return start < phys + len && phys < start + n; };
  if ((tb->key.phys_pc & kPageMask) == page && hit(tb->key.phys_pc, first)) return true;
  return tb->phys_page2 == page && size > first && hit(page, size - first);
}

}  // namespace

bool Engine::invalidate_range_locked(uint64_t phys, uint64_t len, const uint64_t* running_pc) {
  bool running = false;
  for (uint64_t page = phys & kPageMask; page < phys + len; page += kPageSize) {
    auto it = pages_.find(page);
    if (it == pages_.end()) continue;
    std::vector<TranslationBlock*> victims;
    for (TranslationBlock* tb : it->second)
      if (overlaps(tb, page, phys, len)) victims.push_back(tb);
    for (TranslationBlock* tb : victims) {
      if (running_pc && !running) {
        running = runs_pc(tb, *running_pc);
        for (const TranslationBlock* head : tb->region_heads)
          running = running || runs_pc(head, *running_pc);
      }
      invalidate_locked(tb);
    }
  }
  return running;
}

void Engine::invalidate_phys(uint64_t phys, uint64_t len) {
  std::lock_guard g(mu_);
  invalidate_range_locked(phys, len, nullptr);
}

bool Engine::invalidate_phys_from(uint64_t phys, uint64_t len, uint64_t running_pc) {
  std::lock_guard g(mu_);
  return invalidate_range_locked(phys, len, &running_pc);
}

void Engine::invalidate(TranslationBlock* tb) {
  std::lock_guard g(mu_);
  invalidate_locked(tb);
}

void Engine::guest_memory_written(uint64_t addr, uint64_t len) {
  if (len == 0) return;
  // The last byte written, saturating: a memory-map notice may run to the end of the space.
  const uint64_t last = addr + (len - 1) < addr ? ~uint64_t(0) : addr + (len - 1);
  auto invalidate_page = [&](uint64_t page, auto&& invalidate) {
    const uint64_t lo = std::max(page, addr), hi = std::min(page + (kPageSize - 1), last);
    invalidate(lo, hi - lo + 1);
  };
  // Most DMA touches no code: ask the lock-free page table before taking the engine lock. It
  // skips unallocated GiBs, so mapping a TiB-sized PCI window does not visit every page.
  for (auto page = code_pages_.next(addr, last); page;
       page = code_pages_.next(*page + kPageSize, last))
    invalidate_page(*page, [&](uint64_t lo, uint64_t n) { invalidate_phys(lo, n); });
  if (last < CodePages::kLimit) return;
  // Beyond the table's space the engine's map is the only record: look its pages up.
  std::lock_guard g(mu_);
  const uint64_t from = std::max(addr, CodePages::kLimit) & kPageMask;
  std::vector<uint64_t> hit;
  for (const auto& entry : pages_)
    if (entry.first >= from && entry.first <= last) hit.push_back(entry.first);
  for (uint64_t page : hit)
    invalidate_page(page,
                    [&](uint64_t lo, uint64_t n) { invalidate_range_locked(lo, n, nullptr); });
}

void Engine::invalidate_locked(TranslationBlock* tb) {
  if (!tb->valid.exchange(false)) return;
  ++stats_.invalidations;
  if (tb->compile_queued.load(std::memory_order_relaxed)) {
    // Hot code thrown away: the next block with this key must show more benefit first.
    policy_.note_invalidated(tb->key);
    NativeFn fn = tb->native.load(std::memory_order_relaxed);
    if (fn && !is_baseline_code(fn))
      ++stats_.invalidated_compiled;
    else
      ++stats_.invalidated_queued;
  }
  map_.erase(tb);
  for (auto [src, slot] : tb->incoming) {
    set_link(src, slot, nullptr);
    src->link_tb[slot] = nullptr;
  }
  tb->incoming.clear();
  for (unsigned slot = 0; slot < 2; ++slot) {
    TranslationBlock* to = tb->link_tb[slot];
    if (!to) continue;
    std::erase_if(to->incoming, [&](auto& p) { return p.first == tb && p.second == slot; });
    set_link(tb, slot, nullptr);
    tb->link_tb[slot] = nullptr;
  }
  unregister_page_locked(tb->key.phys_pc & kPageMask, tb);
  if (tb->phys_page2 != TranslationBlock::kNoPage) unregister_page_locked(tb->phys_page2, tb);
  for (VcpuExec* v : vcpus_) v->invalidate_jump_cache(tb);
  // Regions whose code includes this block must not run it any more.
  std::vector<TranslationBlock*> heads = std::move(tb->region_heads);
  for (TranslationBlock* head : heads) invalidate_locked(head);
}

void Engine::unregister_page_locked(uint64_t page, TranslationBlock* tb) {
  auto p = pages_.find(page);
  if (p == pages_.end()) return;
  std::erase(p->second, tb);
  if (p->second.empty()) {
    pages_.erase(p);
    code_pages_.set(page, false);
  }
}

void Engine::forget_tier_history() {
  std::lock_guard g(mu_);
  policy_.clear();
}

void Engine::flush() {
  stop_install_ahead();  // it holds blocks it inserted
  std::vector<std::unique_ptr<TranslationBlock>> old;
  {
    std::lock_guard g(mu_);
    ++stats_.flushes;
    if (compiler_ && compiler_->jit().counts_executions()) count_native_locked(all_);
    map_.clear();
    pages_.clear();
    code_pages_.clear();
    for (VcpuExec* v : vcpus_) v->flush_jump_cache();
    old = std::move(all_);
    all_.clear();
    cache_probed_.clear();
    region_probed_.clear();
    pending_links_.clear();
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
  std::lock_guard g(mu_);
  return map_.find(key);
}

TranslationBlock* Engine::insert(std::unique_ptr<TranslationBlock> tb) {
  TranslationBlock* raw = tb.get();
  uint64_t new_code_pages[2];
  unsigned num_new = 0;
  // The index and the block list grow with memory allocated before the lock is taken: zeroing
  // fresh memory costs ~4 ms/MiB on a VM host, and the index reaches ~10 MiB in a boot, so
  // growing it under the lock stalled every vCPU's lookups meanwhile.
  TbMap::Slots slots;
  std::vector<std::unique_ptr<TranslationBlock>> blocks;
  for (;;) {
    size_t want_slots = 0, want_blocks = 0;
    {
      std::lock_guard g(mu_);
      if (!slots.empty()) map_.adopt(std::move(slots));
      if (all_.size() == all_.capacity() && blocks.capacity() > all_.size()) {
        for (auto& b : all_) blocks.push_back(std::move(b));
        all_.swap(blocks);
      }
      want_slots = map_.growth_needed();
      want_blocks = all_.size() == all_.capacity() ? std::max<size_t>(1024, 2 * all_.size()) : 0;
      if (!want_slots && !want_blocks) {
        if (TranslationBlock* first = map_.insert(raw); first != raw)
          return first;  // another vCPU translated it first; ours is dropped
        for (uint64_t page : {raw->key.phys_pc & kPageMask, raw->phys_page2}) {
          if (page == TranslationBlock::kNoPage) continue;
          auto& list = pages_[page];
          if (list.empty()) {
            code_pages_.set(page, true);
            new_code_pages[num_new++] = page;
          }
          list.push_back(raw);
        }
        all_.push_back(std::move(tb));
        ++stats_.blocks_translated;
        break;
      }
    }
    // Outside the lock (the old block list's storage, left in `blocks`, is freed here too).
    slots = want_slots ? TbMap::make_slots(want_slots) : TbMap::Slots{};
    std::vector<std::unique_ptr<TranslationBlock>>().swap(blocks);
    if (want_blocks) blocks.reserve(want_blocks);
  }
  if (num_new) {
    // Writes to these pages must now take the slow path to invalidate their blocks.
    std::vector<VcpuExec*> vs;
    {
      std::lock_guard g(mu_);
      vs = vcpus_;
    }
    for (VcpuExec* v : vs)
      for (unsigned i = 0; i < num_new; ++i) v->mmu().protect_code_page(new_code_pages[i]);
  }
  return raw;
}

void Engine::reserve_blocks(size_t n) {
  size_t have = 0;
  {
    std::lock_guard g(mu_);
    have = all_.size();
  }
  TbMap::Slots slots = TbMap::make_slots(TbMap::slots_for(have + n));
  std::vector<std::unique_ptr<TranslationBlock>> blocks;
  blocks.reserve(have + n + 1024);
  std::lock_guard g(mu_);
  map_.adopt(std::move(slots));
  if (blocks.capacity() > all_.capacity()) {
    for (auto& b : all_) blocks.push_back(std::move(b));
    all_.swap(blocks);
  }
}

void Engine::link(TranslationBlock* from, unsigned slot, TranslationBlock* to) {
  std::lock_guard g(mu_);
  link_locked(from, slot, to);
}

void Engine::link_locked(TranslationBlock* from, unsigned slot, TranslationBlock* to) {
  if (!from->valid.load() || !to->valid.load()) return;
  if (from->link_tb[slot] != to) {
    if (from->link_tb[slot]) {
      TranslationBlock* old = from->link_tb[slot];
      std::erase_if(old->incoming, [&](auto& p) { return p.first == from && p.second == slot; });
    }
    from->link_tb[slot] = to;
    to->incoming.push_back({from, slot});
  }
  set_link(from, slot, to->native.load(std::memory_order_acquire));
}

std::vector<TranslationBlock*> Engine::region_candidates_locked(TranslationBlock* head) const {
  // Hot blocks reachable through direct links (so in the same page and mode), breadth first.
  // Only warm members are taken (an eighth of the head's count), so a rarely taken side exit
  // stays outside and the region keeps to the loop that made the head hot. A block already
  // inside another region is compiled alone: it only runs outside that region when entered
  // from elsewhere.
  std::vector<TranslationBlock*> members{head};
  if (!opt_.regions || head->region.size() || !head->region_heads.empty()) return members;
  const uint32_t warm = std::max<uint32_t>(1, head->executions() / 8);
  for (size_t i = 0; i < members.size() && members.size() < kMaxRegionBlocks; ++i) {
    for (TranslationBlock* next : members[i]->link_tb) {
      if (!next || !next->valid.load() || next->key.flags != head->key.flags ||
          next->key.cs_base != head->key.cs_base)
        continue;
      if (std::find(members.begin(), members.end(), next) != members.end()) continue;
      if (next->executions() < warm) continue;
      members.push_back(next);
      if (members.size() == kMaxRegionBlocks) break;
    }
  }
  return members;
}

VcpuExec* Engine::vcpu_of_locked(const CpuCommon* cpu) const {
  for (VcpuExec* v : vcpus_)
    if (&v->cpu() == cpu) return v;
  return nullptr;
}

bool Engine::ensure_ir_locked(TranslationBlock* tb, VcpuExec* v) {
  if (!tb->ir_dropped) return true;
  if (v && v->rebuild_ir(*tb)) {
    ++stats_.ir_rebuilt;
    return true;
  }
  ++stats_.ir_rebuild_failed;
  if (log_.enabled(hw::kLogTier))
    log_.log(hw::kLogTier, "tier: block at 0x%" PRIx64 " could not be translated again\n",
             tb->key.pc);
  return false;
}

bool Engine::take_profiled_region_locked(TranslationBlock* tb, VcpuExec* v, std::string& key,
                                         bool& cached) {
  if (opt_.tier != Tier::Auto || profile_.empty()) return false;
  auto it = profile_.find(ProfileKey{tb->key.pc, tb->key.flags, tb->key.cs_base});
  if (it == profile_.end() || it->second.members.empty()) return false;
  std::vector<TranslationBlock*> members = profiled_region_locked(tb, v, it->second, key);
  if (members.empty()) return false;
  uint64_t ir = 0;
  for (const TranslationBlock* m : members) ir += m->ir_insts();
  cached = tcg_cache_->contains(key);
  if (!cached && !ahead_pays(it->second, ir)) return false;
  earn_fill_budget(it->second.weight);
  if (!cached) ++stats_.ahead_regions_compiles;
  ++stats_.tier_compiles;
  // The region an earlier run compiled, without waiting for its benefit to show again.
  tb->ahead = true;
  tb->compile_queued.store(true, std::memory_order_relaxed);
  for (TranslationBlock* m : members) m->region_heads.push_back(tb);
  tb->region = std::move(members);
  return true;
}

void Engine::tier_up(TranslationBlock* tb, CpuCommon* cpu) {
  if (!compiler_) return;
  using Kind = TierPolicy::Decision::Kind;
  std::string region_key;
  bool profiled = false, region_cached = false;
  unsigned tries = 0;
  {
    std::lock_guard g(mu_);
    // A check uses up the block's count-down; what is decided below arms the next one. A block
    // queued or compiled (its old baseline code may still run), invalidated or kept out of
    // LLVM counts on without checks (a parked count still checks in now and then).
    tb->arm(0);
    if (!tb->valid.load() || tb->compile_queued.load(std::memory_order_relaxed) || tb->tier_never)
      return;
    ++stats_.tier_checks;
    VcpuExec* const vcpu = cpu ? vcpu_of_locked(cpu) : nullptr;
    if (auto it = pending_links_.find(tb); it != pending_links_.end()) {
      region_key = std::move(it->second.key);
      tries = it->second.tries;
      pending_links_.erase(it);
      profiled = region_cached = true;
      tb->compile_queued.store(true, std::memory_order_relaxed);
    } else {
      profiled = take_profiled_region_locked(tb, vcpu, region_key, region_cached);
    }
    if (!profiled) {
      const uint32_t count = tb->executions();
      const unsigned backoffs = policy_.backoffs(tb->key);
      TierPolicy::Decision d;
      std::vector<TranslationBlock*> members;
      uint64_t insns = 0, ir = 0;
      if (opt_.tier == Tier::Llvm) {
        d = policy_.decide_forced(count, backoffs);
      } else {
        // The benefit so far: every member's executions times its guest instructions (a
        // region's members run in its code); the cost: all of its IR.
        // A region formed earlier (then dropped cold from the queue) keeps its members.
        members = region_candidates_locked(tb);
        for (const TranslationBlock* m : tb->region.empty() ? members : tb->region) {
          insns += uint64_t(m == tb ? count : m->executions()) * m->ir.num_insns;
          ir += m->ir_insts();
        }
        d = policy_.decide(count, insns, ir, backoffs);
      }
      // Code in the persistent cache costs only its linking, about a tenth of compiling it
      // (tcg/llvm/README.md): once the benefit pays for that, look it up (once per block).
      if (d.kind == Kind::Defer && tcg_cache_ && !cache_probed_.contains(tb) &&
          policy_.decide(count, insns, std::max<uint64_t>(1, ir / kLinkCostDivisor), backoffs)
                  .kind == Kind::Compile) {
        cache_probed_.insert(tb);
        const std::vector<TranslationBlock*> group = !tb->region.empty()  ? tb->region
                                                     : members.size() > 1 ? members
                                                                          : std::vector{tb};
        std::vector<const TranslationBlock*> would_be;
        bool have_ir = true;  // the cache key is made from the IR
        for (TranslationBlock* m : group) {
          have_ir = have_ir && ensure_ir_locked(m, vcpu);
          would_be.push_back(m);
        }
        if (have_ir && compiler_->jit().in_cache(would_be)) {
          ++stats_.tier_cached;
          d.kind = Kind::Compile;
        }
      }
      if (d.kind == Kind::Compile) {
        // The compile reads every member's IR; a member that cannot have it stays outside.
        if (!ensure_ir_locked(tb, vcpu)) {
          d.kind = Kind::Never;
        } else if (tb->region.empty()) {
          std::erase_if(members, [&](TranslationBlock* m) { return !ensure_ir_locked(m, vcpu); });
        } else {
          for (TranslationBlock* m : tb->region)
            if (!ensure_ir_locked(m, vcpu)) d.kind = Kind::Never;
        }
      } else if (d.kind == Kind::Defer && tcg_cache_ && tb->ir_dropped &&
                 policy_.saving_ns(uint64_t(d.next_check) * tb->ir.num_insns) * kProfileRuns >=
                     policy_.cost_ns(tb->ir_insts())) {
        // save_profile keys the blocks heavy enough for the profile. Running on to the next
        // check could make this one so (short of it, it has fewer executions than that at
        // exit), and only here is there a vCPU to translate it again.
        ensure_ir_locked(tb, vcpu);
      }
      switch (d.kind) {
        case Kind::Defer:
          ++stats_.tier_deferred;
          tb->arm(d.next_check);
          return;
        case Kind::Never:
          ++stats_.tier_never;
          tb->tier_never = true;
          tb->arm(0);
          if (log_.enabled(hw::kLogTier))
            log_.log(hw::kLogTier,
                     "tier: block at 0x%" PRIx64 " stays out of LLVM (invalidated %u times)\n",
                     tb->key.pc, backoffs);
          return;
        case Kind::Compile:
          break;
      }
      ++stats_.tier_compiles;
      tb->compile_queued.store(true, std::memory_order_relaxed);
      if (members.size() > 1) {
        for (TranslationBlock* m : members) m->region_heads.push_back(tb);
        tb->region = std::move(members);
      }
    }
  }
  if (profiled) {
    // Outside the engine's lock: linking takes the JIT's.
    if (region_cached) {
      // Only a try: waiting for the compile thread's current compile stalled the vCPU for up
      // to 25 ms a boot. After the last try the compile thread links it, ahead of compiles.
      if (NativeFn fn = compiler_->jit().try_link_cached(*tb, region_key, /*wait=*/false)) {
        tb->native.store(fn, std::memory_order_release);
        relink_published(tb);
        std::lock_guard g(mu_);
        ++(tb->region.size() > 1 ? stats_.ahead_regions_linked : stats_.ahead_linked_later);
        return;
      }
      std::lock_guard g(mu_);
      if (!tb->valid.load()) return;
      if (++tries < kLinkTries) {
        tb->compile_queued.store(false, std::memory_order_relaxed);
        pending_links_[tb] = PendingLink{std::move(region_key), tries};
        tb->arm(tb->executions() + opt_.hot_threshold);
        return;
      }
      ++(tb->region.size() > 1 ? stats_.ahead_regions_queued : stats_.ahead_cached);
    }
    compiler_->enqueue(tb, region_cached);
    return;
  }
  if (opt_.tier == Tier::Llvm) {
    compiler_->compile_now(tb);
  } else {
    compiler_->enqueue(tb);
  }
}

void Engine::register_vcpu(VcpuExec* v) {
  {
    std::lock_guard g(mu_);
    vcpus_.push_back(v);
  }
  std::lock_guard<std::mutex> g(map_mu_);
  map_vcpus_.push_back(v);
  v->map_gen_ = &map_gen_;
}

void Engine::unregister_vcpu(VcpuExec* v) {
  stop_install_ahead();  // it reads the vCPUs' address space and protects pages in their TLBs
  {
    std::lock_guard g(mu_);
    std::erase(vcpus_, v);
  }
  std::lock_guard<std::mutex> g(map_mu_);
  std::erase(map_vcpus_, v);
  map_cv_.notify_all();
}

// ---- Memory-map changes ----

void Engine::memory_map_changed(const hw::AddressSpace& as,
                                const std::vector<hw::AddrRange>& changed) {
  (void)as;
  // Blocks translated from bytes that now come from elsewhere (shadow RAM over a ROM) are
  // stale, even though no write touched them.
  for (const hw::AddrRange& r : changed) {
    if (r.len == 0) {
      flush();
    } else {
      guest_memory_written(r.addr, r.len);
    }
  }
  const auto me = std::this_thread::get_id();
  std::unique_lock<std::mutex> lk(map_mu_);
  const uint64_t gen = map_gen_.fetch_add(1, std::memory_order_acq_rel) + 1;
  VcpuExec* self = nullptr;
  for (VcpuExec* v : map_vcpus_) {
    if (!v->map_running_) continue;  // flushes when it enters run()
    if (v->map_thread_ == me) self = v;
    v->cpu_.exit_request.store(1, std::memory_order_release);
  }
  if (self) {
    // Inside this vCPU's device access: its TLB goes now, so its next access sees the new view;
    // it waits for the others at its block boundary (sync_memory_map), outside device locks.
    ack_map_locked(self);
    self->map_wait_ = gen;
    return;
  }
  map_cv_.wait(lk, [&] { return map_acked_locked(gen, nullptr); });
}

bool Engine::map_acked_locked(uint64_t gen, const VcpuExec* self) const {
  for (const VcpuExec* v : map_vcpus_)
    if (v != self && v->map_running_ && v->map_seen_ < gen) return false;
  return true;
}

void Engine::ack_map_locked(VcpuExec* v) {
  v->mmu_.flush_all();
  v->map_seen_ = map_gen_.load(std::memory_order_acquire);
  map_cv_.notify_all();
}

void Engine::set_vcpu_running(VcpuExec* v, bool running) {
  {
    std::lock_guard<std::mutex> g(map_mu_);
    v->map_running_ = running;
    v->map_thread_ = std::this_thread::get_id();
    if (!running) map_cv_.notify_all();  // nobody waits for a vCPU outside run()
  }
  if (running) sync_memory_map(v);
}

void Engine::sync_memory_map(VcpuExec* v) {
  std::unique_lock<std::mutex> lk(map_mu_);
  if (v->map_seen_ < map_gen_.load(std::memory_order_acquire)) ack_map_locked(v);
  if (!v->map_wait_) return;
  const uint64_t gen = v->map_wait_;
  v->map_wait_ = 0;
  // Another vCPU may publish while we wait for it: keep acknowledging (no deadlock).
  for (;;) {
    if (v->map_seen_ < map_gen_.load(std::memory_order_acquire)) ack_map_locked(v);
    if (map_acked_locked(gen, v)) return;
    map_cv_.wait(lk);
  }
}

Engine::Stats Engine::stats() const {
  std::lock_guard g(mu_);
  Stats s = stats_;
  if (compiler_) {
    const auto c = compiler_->stats();
    s.blocks_compiled = c.compiled;
    s.dropped_cold = c.dropped_cold;
  }
  s.baseline_blocks = baseline_blocks_.load(std::memory_order_relaxed);
  s.installed_ahead = ahead_installed_.load(std::memory_order_relaxed);
  return s;
}

// ---------------------------------------------------------------------------------------------

VcpuExec::VcpuExec(Engine& engine, Frontend& frontend, CpuCommon& cpu, softmmu::Softmmu& mmu)
    : engine_(engine),
      frontend_(frontend),
      cpu_(cpu),
      mmu_(mmu),
      baseline_ws_(std::make_unique<baseline::Workspace>()) {
  mmu_.enable_jump_cache();
  mmu_.set_code_tracker(&engine_);
  mmu_.set_watchpoints(&engine_.debug());
  engine_.register_vcpu(this);
  debug_slot_ = engine_.debug().add_vcpu(this);
}

VcpuExec::~VcpuExec() {
  engine_.debug().remove_vcpu(this);
  engine_.unregister_vcpu(this);
}

void VcpuExec::flush_jump_cache() {
  mmu_.flush_jump_caches();
}

void VcpuExec::invalidate_jump_cache(const TranslationBlock* tb) {
  mmu_.invalidate_jump_cache(tb->key.pc, tb);
}

TranslationBlock* VcpuExec::find_or_translate() {
  const uint64_t pc = cpu_.pc;
  JumpCacheEntry& e = cpu_.jump_cache[jump_cache_index(pc)];
  if (!stepping() && e.pc.load(std::memory_order_acquire) == pc && e.flags == cpu_.jc_tag &&
      e.tb->valid.load(std::memory_order_relaxed)) {
    return e.tb;
  }

  const unsigned mmu_idx = frontend_.fetch_mmu_idx(cpu_);
  uint64_t phys = 0;
  const uint8_t* host = mmu_.fetch_page(pc, mmu_idx, phys);
  if (!host) return nullptr;  // instruction fetch fault raised; pending_exit is set

  TbKey key{pc, phys, cpu_.tb_flags, cpu_.cs_base};
  TranslationBlock* tb = stepping() ? nullptr : engine_.lookup(key);
  if (tb && tb->cache_hit.load(std::memory_order_relaxed))
    if (std::atomic<bool>* hit = tb->cache_hit.exchange(nullptr, std::memory_order_relaxed)) {
      hit->store(true, std::memory_order_relaxed);
      engine_.note_stored_block_ran();
    }
  if (tb && tb->phys_page2 != TranslationBlock::kNoPage) {
    // The block runs on into the next page: it is only this block while that page still maps
    // to the same physical page (and is in the TLB; else translate afresh, which fetches it).
    uint64_t phys2 = 0;
    if (!mmu_.probe_fetch((pc & kPageMask) + kPageSize, mmu_idx, phys2) ||
        (phys2 & kPageMask) != tb->phys_page2) {
      engine_.invalidate(tb);
      tb = nullptr;
    }
  }
  if (!tb) {
    tb = translate(key, host);
    if (!tb) return nullptr;
  }
  if (stepping() || block_step_ || cpu_.jc_tag == kNoJumpCacheTag) return tb;
  if (tb->phys_page2 != TranslationBlock::kNoPage) mmu_.note_two_page_block();
  mmu_.note_jump_cache_fill(pc, mmu_idx, tb->phys_page2 != TranslationBlock::kNoPage);
  NativeFn native = tb->native.load(std::memory_order_acquire);
  e.tb = tb;
  e.flags = cpu_.jc_tag;
  e.code = JumpCacheEntry::code_for(
      native, native && engine_.is_baseline_code(native) ? baseline::fast_entry(native) : nullptr);
  e.pc.store(pc, std::memory_order_release);
  return tb;
}

namespace {
// The page after a block's first, from the TLB (nothing raised).
class NextPageProbe final : public TranslationCache::NextPage {
 public:
  NextPageProbe(softmmu::Softmmu& mmu, uint64_t vaddr, unsigned mmu_idx)
      : mmu_(mmu), vaddr_(vaddr), mmu_idx_(mmu_idx) {}
  const uint8_t* get(uint64_t& phys) override { return mmu_.probe_fetch(vaddr_, mmu_idx_, phys); }

 private:
  softmmu::Softmmu& mmu_;
  uint64_t vaddr_;
  unsigned mmu_idx_;
};

// Guest bytes copied before a translation that may be stored: a block is stored only when
// memory still holds them afterwards, so its bytes are the ones the frontend read even when
// another vCPU writes the page meanwhile (it is not write-protected before insert()).
constexpr size_t kSnapshotBytes = 512;
}  // namespace

bool VcpuExec::tcache_usable() const {
  const Tier tier = engine_.options().tier;
  return engine_.translation_cache() && !stepping() && !engine_.debug().has_breakpoints() &&
         (tier == Tier::Auto || tier == Tier::Baseline) &&
         !engine_.log().enabled(hw::LogMask(hw::kLogInAsm | hw::kLogOp | hw::kLogOutAsm));
}

TranslationBlock* VcpuExec::translate_cached(const TbKey& key, const uint8_t* host) {
  if (engine_.profile_names(key)) return nullptr;
  const uint64_t in_page = kPageSize - (key.pc & ~kPageMask);
  NextPageProbe next(mmu_, (key.pc & kPageMask) + kPageSize, frontend_.fetch_mmu_idx(cpu_));
  if (!engine_.translation_cache()->find(key, host, in_page, next, found_)) return nullptr;
  std::unique_ptr<TranslationBlock> fresh = engine_.cached_block(key, found_);
  NativeFn fn = engine_.install_cached(fresh.get(), found_);
  if (!fn) return nullptr;
  fresh->native.store(fn, std::memory_order_relaxed);
  return engine_.insert(std::move(fresh));
}

TranslationBlock* VcpuExec::translate(const TbKey& key, const uint8_t* host) {
  const uint64_t pc = key.pc;
  const unsigned mmu_idx = frontend_.fetch_mmu_idx(cpu_);
  const bool cacheable = tcache_usable();
  if (cacheable)
    if (TranslationBlock* tb = translate_cached(key, host)) return tb;
  const uint64_t page_left = kPageSize - (pc & ~kPageMask);
  NextPageProbe next_probe(mmu_, (pc & kPageMask) + kPageSize, mmu_idx);
  uint8_t snapshot[kSnapshotBytes];
  size_t snapshot_len = 0;
  auto take_snapshot = [&] {
    snapshot_len = std::min<uint64_t>(page_left, kSnapshotBytes);
    std::memcpy(snapshot, host, snapshot_len);
    uint64_t phys2 = 0;
    if (snapshot_len < kSnapshotBytes)
      if (const uint8_t* host2 = next_probe.get(phys2)) {
        std::memcpy(snapshot + snapshot_len, host2, kSnapshotBytes - snapshot_len);
        snapshot_len = kSnapshotBytes;
      }
  };
  auto fresh = std::make_unique<TranslationBlock>();
  fresh->key = key;
  // Translate into a reused buffer, so the instruction vector does not regrow for every block;
  // the block keeps an exactly sized copy.
  ir::Block& work = scratch_;
  const uint64_t in_page = kPageSize - (pc & ~kPageMask);
  CodeReader::PageFetcher next_page = [this, mmu_idx](uint64_t vaddr, uint64_t& phys) {
    return mmu_.probe_fetch(vaddr, mmu_idx, phys);
  };
  TranslateOptions topt;
  if (stepping()) {
    topt.max_insns = 1;
  } else if (engine_.debug().has_breakpoints()) {
    topt.stop_before = [this](uint64_t at) { return engine_.debug().is_breakpoint(at); };
  }
  hw::Log& log = engine_.log();
  for (unsigned attempt = 0;; ++attempt) {
    if (cacheable) take_snapshot();  // again after a fetch put the second page in the TLB
    work.insts.clear();
    work.term = ir::Terminal{};
    work.guest_pc = pc;
    work.guest_size = 0;
    work.num_insns = 0;
    work.pc_relative = false;  // a frontend that makes PC-relative IR says so
    CodeReader reader(pc, host, in_page, next_page);
    frontend_.translate(cpu_, reader, topt, work);
    if (work.term.kind == ir::Terminal::Kind::Exit &&
        work.term.reason == ir::ExitReason::FetchFault) {
      // The first instruction crosses onto a page not in the TLB or not executable: fetch it
      // for real, faulting at the instruction's start; if that works, the TLB now has the page.
      uint64_t phys2 = 0;
      if (attempt == 0 &&
          mmu_.fetch_page(reader.page_end(), mmu_idx, phys2, work.term.target) == nullptr)
        return nullptr;  // the fetch fault is raised; pending_exit is set
      if (attempt == 0) continue;
      cpu_.pending_exit = uint32_t(PendingExit::Stop);
      cpu_.stop_message = "internal error: a fetchable second code page could not be read";
      return nullptr;
    }
    if (log.enabled(hw::kLogInAsm)) log_in_asm(work, reader, pc);
    if (reader.extended()) fresh->phys_page2 = reader.second_page_phys() & kPageMask;
    break;
  }
  if (std::string err = ir::verify(work); !err.empty()) {
    log.write("orrery: internal error: invalid IR for block at 0x" + std::to_string(pc) + ": " +
              err + "\n" + ir::print(work));
    cpu_.pending_exit = uint32_t(PendingExit::Stop);
    cpu_.stop_message = "internal error: the translator produced invalid IR";
    return nullptr;
  }
  if (engine_.options().optimize) opt::optimize(work);
  // The block borrows the scratch buffer's IR while its code is made from it.
  std::swap(fresh->ir, work);
  if (engine_.options().tier == Tier::Auto && !stepping())
    fresh->arm(engine_.options().hot_threshold);
  if (log.enabled(hw::kLogOp)) log.write(ir::print(fresh->ir));
  // A block an earlier run found hot whose code is in the persistent cache starts native.
  Engine::AheadPlan ahead;
  if (engine_.options().tier == Tier::Auto && !stepping()) ahead = engine_.plan_ahead(*fresh);
  size_t base_size = 0;
  if (engine_.link_ahead(*fresh, ahead)) {
    ahead.kind = Engine::AheadPlan::Kind::None;
  } else if (NativeFn base =
                 stepping() ? nullptr
                            : engine_.compile_baseline(fresh.get(), *baseline_ws_, &base_size)) {
    fresh->native.store(base, std::memory_order_relaxed);
  } else {
    fresh->prog = interp::build(fresh->ir, fresh.get());
  }
  std::swap(fresh->ir, work);
  // Keep the instructions only where they will be read: blocks queued for LLVM now, with LLVM
  // code (save_profile keys them), translated under breakpoints or stepping (rebuild_ir
  // translates without them), or in the LLVM-only tier. The rest keep the scalars.
  using AheadKind = Engine::AheadPlan::Kind;
  if (stepping() || topt.stop_before || engine_.options().tier == Tier::Llvm || fresh->ahead ||
      ahead.kind == AheadKind::Cached || ahead.kind == AheadKind::Miss) {
    fresh->ir = work;  // an exactly sized copy
  } else {
    fresh->ir.guest_pc = work.guest_pc;
    fresh->ir.guest_size = work.guest_size;
    fresh->ir.num_insns = work.num_insns;
    fresh->ir.term = work.term;
    fresh->ir.pc_relative = work.pc_relative;
    fresh->ir_size = uint32_t(work.insts.size());
    fresh->ir_dropped = true;
  }
  if (stepping()) {
    step_tb_ = std::move(fresh);
    return step_tb_.get();
  }
  // Blocks ending at an undefined instruction are left out, so -d unimp names it every run.
  const ir::Terminal& term = fresh->ir.term;
  if (cacheable && base_size &&
      !(term.kind == ir::Terminal::Kind::Exit && term.reason == ir::ExitReason::Undefined)) {
    const bool two = fresh->phys_page2 != TranslationBlock::kNoPage;
    const uint64_t len = std::min<uint64_t>(fresh->ir.guest_size + TranslationCache::kLookahead,
                                            page_left + (two ? kPageSize : 0));
    const uint64_t n1 = std::min(len, page_left);
    uint64_t phys2 = 0;
    const uint8_t* host2 = len > n1 ? next_probe.get(phys2) : nullptr;
    if (len <= snapshot_len && std::memcmp(host, snapshot, n1) == 0 &&
        (len == n1 || (host2 && std::memcmp(host2, snapshot + n1, len - n1) == 0)))
      engine_.translation_cache()->record(
          *fresh, {snapshot, len},
          {reinterpret_cast<const uint8_t*>(fresh->native.load(std::memory_order_relaxed)),
           base_size},
          baseline_ws_->relocs);
  }
  TranslationBlock* raw = fresh.get();
  TranslationBlock* tb = engine_.insert(std::move(fresh));
  if (engine_.options().tier == Tier::Llvm) engine_.tier_up(tb);
  if (tb == raw) engine_.tier_ahead(tb, ahead);
  return tb;
}

bool VcpuExec::rebuild_ir(TranslationBlock& tb) {
  if (!tb.ir_dropped) return true;
  if (tb.key.flags != cpu_.tb_flags || tb.key.cs_base != cpu_.cs_base) return false;
  // The bytes by physical address: the block is valid, so the code-page tracking has seen no
  // write to them since it was translated; a write racing with this one invalidates it (and
  // with it the compile that follows).
  const uint64_t in_page = kPageSize - (tb.key.pc & ~kPageMask);
  const bool two_pages = tb.phys_page2 != TranslationBlock::kNoPage;
  if (!rebuild_bytes_) rebuild_bytes_ = std::make_unique<uint8_t[]>(2 * kPageSize);
  uint8_t* const bytes = rebuild_bytes_.get();
  hw::AddressSpace& as = mmu_.address_space();
  if (!as.read_bytes(tb.key.phys_pc, bytes, in_page) ||
      (two_pages && !as.read_bytes(tb.phys_page2, bytes + in_page, kPageSize)))
    return false;
  CodeReader::PageFetcher next_page;
  if (two_pages)
    next_page = [&tb, bytes, in_page](uint64_t, uint64_t& phys) {
      phys = tb.phys_page2;
      return static_cast<const uint8_t*>(bytes + in_page);
    };
  ir::Block& work = scratch_;
  work.insts.clear();
  work.term = ir::Terminal{};
  work.guest_pc = tb.key.pc;
  work.guest_size = 0;
  work.num_insns = 0;
  work.pc_relative = false;
  CodeReader reader(tb.key.pc, bytes, in_page, next_page);
  frontend_.translate(cpu_, reader, TranslateOptions{}, work);
  if (!ir::verify(work).empty()) return false;
  if (engine_.options().optimize) opt::optimize(work);
  // The same guest code in the same mode translates to the same IR: anything else is a bug.
  if (work.guest_size != tb.ir.guest_size || work.num_insns != tb.ir.num_insns ||
      work.insts.size() != tb.ir_size || reader.extended() != two_pages ||
      work.term.kind != tb.ir.term.kind || work.term.target != tb.ir.term.target ||
      work.term.target2 != tb.ir.term.target2)
    return false;
  // The direct targets are left as they are: baseline code's unlinked exits read them from
  // other threads meanwhile (detail::exit_stubs).
  tb.ir.insts = work.insts;
  tb.ir.term.cond = work.term.cond;
  tb.ir.term.value = work.term.value;
  tb.ir.pc_relative = work.pc_relative;
  tb.ir_dropped = false;
  return true;
}

void VcpuExec::log_in_asm(const ir::Block& b, const CodeReader& code, uint64_t pc) {
  std::string out = "IN:\n";
  std::vector<uint64_t> starts;
  for (const ir::Inst& i : b.insts)
    if (i.op == ir::Opcode::InsnStart) starts.push_back(i.imm);
  for (size_t k = 0; k < starts.size(); ++k) {
    uint64_t at = starts[k];
    uint64_t end = k + 1 < starts.size() ? starts[k + 1] : b.guest_pc + b.guest_size;
    if (at < pc || end <= at) continue;
    uint8_t bytes[16];
    const size_t len = code.copy(at, bytes, size_t(std::min<uint64_t>(end - at, sizeof bytes)));
    if (len == 0) continue;
    char head[32];
    std::snprintf(head, sizeof head, "0x%016" PRIx64 ":  ", at);
    out += head;
    out += frontend_.disassemble(at, bytes, len);
    out += "\n";
  }
  engine_.log().write(out + "\n");
}

uint64_t VcpuExec::execute(TranslationBlock* tb) {
  if (NativeFn fn = tb->native.load(std::memory_order_acquire)) return fn(&cpu_);
  if (engine_.counts_executions() && tb->count()) engine_.tier_up(tb, &cpu_);
  return interp::run(*tb->prog, &cpu_);
}

RunResult VcpuExec::run() {
  // The boot images are in RAM now.
  if (engine_.options().install_ahead) engine_.start_install_ahead(mmu_.address_space());
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
    update_stepping();
  }
  hw::Log& log = engine_.log();
  // While in here this vCPU's TLB is in use: memory-map changes wait for its acknowledgement.
  struct MapScope {
    Engine& e;
    VcpuExec* v;
    MapScope(Engine& e, VcpuExec* v) : e(e), v(v) { e.set_vcpu_running(v, true); }
    ~MapScope() { e.set_vcpu_running(v, false); }
  } map_scope(engine_, this);
  TranslationBlock* prev = nullptr;
  unsigned prev_slot = 0;
  for (;;) {
    if (cpu_.exit_request.load(std::memory_order_acquire)) {
      if (map_wait_ || map_seen_ != map_gen_->load(std::memory_order_acquire)) {
        engine_.sync_memory_map(this);
        prev = nullptr;  // the TLB was flushed: look the next block up again
      }
      if (dbg.active() && dbg.stop_pending(debug_slot_)) {
        debug_park(DebugStopKind::Requested);
        prev = nullptr;
        continue;
      }
      if (!debug_step_) return RunResult{RunResult::Kind::ExitRequest};
    }

    TranslationBlock* tb = nullptr;
    if (prev && !stepping() && !block_step_) {
      // Follow a direct exit without hashing, and patch native chaining once both are native.
      TranslationBlock* next = prev->link_tb[prev_slot];
      if (next && next->valid.load(std::memory_order_relaxed) && next->key.pc == cpu_.pc &&
          next->key.flags == cpu_.tb_flags && next->key.cs_base == cpu_.cs_base) {
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
      if (prev && !stepping() && !block_step_ && may_chain(*prev, *tb))
        engine_.link(prev, prev_slot, tb);
    }
    if (log.enabled(hw::kLogExec))
      log.log(hw::kLogExec, "Trace: 0x%016" PRIx64 " [%s]\n", tb->key.pc,
              tb->native.load() ? "native" : "interp");

    uint64_t r;
    if (__builtin_expect(!stepping(), 1)) {
      r = execute(tb);
    } else {
      // A debugger step runs with interrupts masked: hold back exit_request for one
      // instruction. Re-running a store that rewrote its own block: this time it goes through.
      const uint32_t held = debug_step_ ? cpu_.exit_request.exchange(0) : 0;
      const bool code_write = code_write_step_;
      if (code_write) {
        code_write_step_ = false;
        update_stepping();
        mmu_.set_code_write_retry(true);
      }
      r = execute(tb);
      if (code_write) mmu_.set_code_write_retry(false);
      if (held) cpu_.exit_request.fetch_or(held);
    }
    const uint64_t code = r & 0xff;
    prev = nullptr;
    if (code == kRetNext) {
      prev = cpu_.last_tb;
      prev_slot = cpu_.last_exit_slot;
      cpu_.last_tb = nullptr;
      if (single_step_ || block_step_)
        return RunResult{RunResult::Kind::Exit, ir::ExitReason::Step, 0};
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
      // Seen at the entry of the block this run() entered (under block_step_ it enters one):
      // nothing ran, and the caller must not take it for a step. x86's STI shadow would end
      // without its instruction, letting an interrupt in between STI and HLT.
      if (block_step_ && cpu_.pc != tb->key.pc)
        return RunResult{RunResult::Kind::Exit, ir::ExitReason::Step, 0};
      return RunResult{RunResult::Kind::ExitRequest};
    }
    const auto reason = static_cast<ir::ExitReason>(code);
    if (reason == ir::ExitReason::Lookup) {
      mode_changed();
      if (single_step_ || block_step_)
        return RunResult{RunResult::Kind::Exit, ir::ExitReason::Step, 0};
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
  if (pe == PendingExit::CodeModified) {  // nothing of the instruction happened: run it alone
    code_write_step_ = true;
    update_stepping();
    return std::nullopt;
  }
  // A guest exception was taken: its entry changed the mode.
  mode_changed();
  if (single_step_ || block_step_) return RunResult{RunResult::Kind::Exit, ir::ExitReason::Step, 0};
  if (debug_step_) debug_park(DebugStopKind::Step);
  return std::nullopt;
}

}  // namespace orrery::tcg::exec
