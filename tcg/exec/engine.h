// The translation engine: translation cache, tiering and the per-vCPU dispatch loop.
//
// Engine is per machine (shared translation cache and JIT); VcpuExec is per vCPU (its TLB,
// jump cache and dispatch loop). The guest CPU calls VcpuExec::run() and handles what it returns.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "hw/core/address_space.h"
#include "hw/core/log.h"
#include "tcg/baseline/baseline.h"
#include "tcg/exec/adaptive_mutex.h"
#include "tcg/exec/code_pages.h"
#include "tcg/exec/debug.h"
#include "tcg/exec/frontend.h"
#include "tcg/exec/perf_map.h"
#include "tcg/exec/tb.h"
#include "tcg/exec/tb_map.h"
#include "tcg/exec/tier_policy.h"
#include "tcg/exec/translation_cache.h"
#include "tcg/softmmu/softmmu.h"

namespace orrery::tcg::llvm {
class BackgroundCompiler;
class CodeCache;
}  // namespace orrery::tcg::llvm

namespace orrery::tcg::exec {

// Interp: interpreter only. Baseline: baseline x86-64 code (tcg/baseline), the interpreter only
// for blocks it cannot compile. Llvm: every block compiled by LLVM before it runs. Auto: baseline
// code first, LLVM in the background for hot blocks.
enum class Tier : uint8_t { Interp, Baseline, Llvm, Auto };

struct EngineOptions {
  Tier tier = Tier::Auto;
  // Executions before a block is first considered for LLVM (Tier::Auto); the policy decides
  // from there (its hot_threshold is this one).
  uint32_t hot_threshold = 64;
  TierPolicyOptions policy;
  bool optimize = true;  // run tcg/opt passes on new blocks
  bool regions = true;   // compile hot loops spanning several blocks as one unit
  // Address space reserved for baseline code. When it is full, new blocks are interpreted.
  size_t code_cache_bytes = size_t(1) << 30;
  // An instruction the guest CPU model does not implement stops its vCPU with the -d unimp
  // reason (a debugging aid, -accel tcg,unimp=stop) instead of raising UNDEFINED in the guest.
  bool stop_on_unimplemented = false;
  // Most JIT memory the LLVM tier may hold. When it is reached, the code-full hook asks for a
  // flush (as for a full baseline cache); until then, hot blocks stay in the baseline tier.
  size_t llvm_code_bytes = size_t(256) << 20;
  // The LLVM tier's persistent translation cache (-accel tcg,cache=DIR|on|off): its directory,
  // empty for none, and the most bytes it may hold (cache-size=; least recently used entries
  // are evicted past it).
  std::string tcg_cache_dir;
  uint64_t tcg_cache_bytes = uint64_t(256) << 20;
  // The cache also keeps baseline translations (tcg/exec/translation_cache.h).
  bool tcg_cache_baseline = true;
  // Install stored baseline translations ahead of need (Engine::start_install_ahead); tests
  // that count lookups turn it off.
  bool install_ahead = true;
  // Installing ahead stops once this many lookups missed the stored translations while
  // fewer than half as many stored blocks ran: the run is not the one they came from.
  uint64_t ahead_give_up_misses = 256;
  // Stored entries of a mapping this large wait until a lookup places it
  // (TranslationCacheOptions::mapping_min_entries).
  uint32_t ahead_mapping_min_entries = 64;
  // Names the guest architecture and CPU model in cache keys (tcg/llvm/code_cache.h).
  std::string guest_id;
};

constexpr size_t kMaxRegionBlocks = 16;
// The profile keeps a block whose baseline code ran long enough that compiling it pays back
// over this many runs: its object is stored once and linked by every later run.
constexpr double kProfileRuns = 16;
// A block the profile names but the cache does not hold yet is compiled ahead of need when
// that pays back within this run (it had LLVM code in the profiled run, or its weight there
// saves more than the compile costs). Blocks that pay back only over several runs are compiled
// to fill the cache from a budget: this fraction of the estimated time that blocks linked
// from the cache saved this run, so filling never costs a run more than linking saved it.
constexpr double kAheadFillShare = 0.25;
// Linking a block's object from the persistent cache costs about this fraction of compiling it
// (measured: ~0.4 ms against ~4 ms per block).
constexpr uint64_t kLinkCostDivisor = 8;
// Tier-up checks at which a profiled block's cached object is tried again on the vCPU's thread
// (a try-lock of the JIT, never a wait) before it is queued for the compile thread to link,
// ahead of its compiles (Engine::pending_links_).
constexpr unsigned kLinkTries = 4;

/// Why VcpuExec::run returned.
struct RunResult {
  enum class Kind : uint8_t {
    Exit,         // a block ended with Terminal::Exit; reason/arg are set, cpu.pc is exact
    Stop,         // pending_exit == Stop: cpu.stop_message says why
    ExitRequest,  // another thread set exit_request
  };
  Kind kind = Kind::Exit;
  ir::ExitReason reason = ir::ExitReason::Lookup;
  uint64_t arg = 0;
};

class VcpuExec;

/// Per-machine translation state: the block cache (which also tracks code pages for
/// self-modifying code) and the LLVM tier.
class Engine : public softmmu::CodePageTracker,
               public hw::GuestWriteObserver,
               public hw::MemoryListener {
 public:
  Engine(EngineOptions opt, hw::Log& log);
  ~Engine() override;

  /// Starts the LLVM tier when the options need it; returns an error message on failure.
  std::string init();

  const EngineOptions& options() const { return opt_; }
  /// Whether blocks count their executions toward tier-up (TranslationBlock::count).
  bool counts_executions() const { return compiler_ != nullptr; }
  hw::Log& log() { return log_; }

  // CodePageTracker
  bool is_code_page(uint64_t phys_page) const override;
  void invalidate_phys(uint64_t phys, uint64_t len) override;
  bool invalidate_phys_from(uint64_t phys, uint64_t len, uint64_t running_pc) override;
  // GuestWriteObserver: device DMA and loaders write guest RAM without the softmmu.
  void guest_memory_written(uint64_t addr, uint64_t len) override;

  /// Drops every block (e.g. on reset).
  void flush();
  /// Forgets which blocks kept being invalidated (the LLVM back-off survives flush()): for a
  /// harness that loads a new program where the last one was, so a forced tier=llvm compiles it.
  void forget_tier_history();

  /// MemoryListener for the address space the vCPUs' softmmus use: a new view makes every vCPU
  /// flush its TLB, and translated code of the changed ranges is dropped. On a vCPU's own thread
  /// (a device access that moved a region: device locks may be held) its TLB is flushed at once
  /// and its block ends; it waits for the others' acknowledgements at the block boundary, holding
  /// nothing. On any other thread this waits for them here: such a thread must hold no lock a
  /// vCPU could wait for. Once every acknowledgement is in, no vCPU uses the old view.
  void memory_map_changed(const hw::AddressSpace& as,
                          const std::vector<hw::AddrRange>& changed) override;
  /// Views published so far (tests).
  uint64_t map_generation() const { return map_gen_.load(std::memory_order_acquire); }

  /// Called once, on a vCPU thread, when the baseline code cache fills up, or on the LLVM
  /// compile thread when the LLVM tier's code memory does (once until the next flush()). A
  /// board sets it to stop every vCPU and flush(), which makes room again; without one, new
  /// blocks are interpreted (baseline full) or stay out of the LLVM tier (LLVM full). Set or
  /// clear it only while no vCPU runs and no block is queued for LLVM.
  void set_code_full_hook(std::function<void()> hook) { code_full_hook_ = std::move(hook); }

  /// Waits until the LLVM tier has compiled every queued block (tests, benchmarks).
  void drain_compiles();
  /// Bytes of JIT memory the LLVM tier holds now (0 without it).
  size_t llvm_code_bytes() const;
  /// Whether fn is code of the baseline tier (as opposed to LLVM's).
  bool is_baseline_code(NativeFn fn) const;
  /// from->link[slot] = fn, and from's patchable jump with it: to fn's fast entry when fn is
  /// baseline code, else back to the exit's slow path (which reads link). Under mu_. A thread
  /// racing it takes the old way or the new, each into valid code.
  void set_link(TranslationBlock* from, unsigned slot, NativeFn fn) const;

  /// Debugger state (breakpoints, watchpoints, run control); inactive unless a debugger is set.
  DebugState& debug() { return debug_; }
  /// Drops every block containing the virtual PC, in every mode (tcg/exec/debug.cpp).
  void invalidate_vpc(uint64_t pc);

  // Used by VcpuExec.
  TranslationBlock* lookup(const TbKey& key);
  /// Drops one block (a two-page block whose second page now maps elsewhere).
  void invalidate(TranslationBlock* tb);
  TranslationBlock* insert(std::unique_ptr<TranslationBlock> tb);
  /// Sizes the block index and list for n more blocks than they hold (a loaded translation
  /// cache's entries), allocating outside the lock: no growth, and no fresh memory for the
  /// tables they would have outgrown, while those blocks go in.
  void reserve_blocks(size_t n);
  void link(TranslationBlock* from, unsigned slot, TranslationBlock* to);
  // Queue (Auto) or compile now (Llvm). cpu: the vCPU running tb, at its start (it translates
  // dropped IR again); null only where no IR was dropped.
  void tier_up(TranslationBlock* tb, CpuCommon* cpu = nullptr);
  /// What the profile of earlier runs (tcg/llvm/code_cache.h, ProfileEntry) says about a block
  /// just translated (Auto tier): nothing, it names the block but the code changed, or it names
  /// it and the cache holds its object (Cached) or not yet (Miss); key: its cache key.
  /// Region: it headed a region in the profiled run; tier_up forms that region again from
  /// the profile once its members are translated (tier_up_profiled_locked).
  struct AheadPlan {
    enum class Kind : uint8_t { None, Changed, Cached, Miss, Region } kind = Kind::None;
    std::string key;
  };
  AheadPlan plan_ahead(const TranslationBlock& tb);
  /// A Cached block's code linked now, on this thread, before the block is published (null:
  /// the JIT is busy or the entry did not link; then tier_ahead queues it).
  NativeFn link_ahead(TranslationBlock& tb, const AheadPlan& plan);
  /// Queues a block the profile names (a Miss within the compile budget, or a Cached one that
  /// was not linked at once), so its code is native before it runs hot.
  void tier_ahead(TranslationBlock* tb, const AheadPlan& plan);
  /// Baseline code for a new block (Baseline/Auto tiers), or null: the block is interpreted.
  /// *code_size (when given): the code's bytes.
  NativeFn compile_baseline(TranslationBlock* tb, baseline::Workspace& ws,
                            size_t* code_size = nullptr);
  /// The persistent baseline translations (-accel tcg,cache=DIR with the baseline tier), or
  /// null.
  TranslationCache* translation_cache() { return tcache_.get(); }
  /// Whether the hot-block profile names the block (it is then translated, not installed from
  /// translation_cache(): planning it ahead needs its IR).
  bool profile_names(const TbKey& key) const {
    return !profile_.empty() && profile_.contains(ProfileKey{key.pc, key.flags, key.cs_base});
  }
  /// Installs a stored translation's code for tb (baseline code cache, relocations applied),
  /// or null when the code cache is full.
  NativeFn install_cached(TranslationBlock* tb, const TranslationCache::Found& found);
  /// A block for a stored translation, code not installed yet (translate_cached, install_ahead).
  std::unique_ptr<TranslationBlock> cached_block(const TbKey& key,
                                                 const TranslationCache::Found& found) const;
  /// Starts installing the persistent cache's blocks whose guest bytes are in memory now, on
  /// a thread of its own, so vCPUs find them installed (once; with EngineOptions::install_ahead
  /// the first vCPU to run calls it, when the boot images are in RAM). Not under a debugger or
  /// the in_asm/op/out_asm logs.
  void start_install_ahead(hw::AddressSpace& as);
  /// Waits until that thread's first pass over the stored blocks is done (tests).
  void wait_install_ahead();
  /// Marks the stored entries of installed blocks that ran without a lookup (reached only
  /// through links made ahead) as run, so a merge keeps them; done before the pack is saved.
  void mark_installed_ran();
  /// A block made from a stored translation ran for the first time (VcpuExec).
  void note_stored_block_ran() { stored_ran_.fetch_add(1, std::memory_order_relaxed); }
  void register_vcpu(VcpuExec* v);
  void unregister_vcpu(VcpuExec* v);
  /// Whether vCPU v runs guest code (its TLB is in use) on this thread.
  void set_vcpu_running(VcpuExec* v, bool running);
  /// v's thread, at a block boundary: flushes v's TLB for a newer view, and when v itself
  /// published one, waits until every running vCPU flushed for it.
  void sync_memory_map(VcpuExec* v);

  struct Stats {
    uint64_t blocks_translated = 0;
    uint64_t blocks_compiled = 0;  // by the LLVM tier
    uint64_t invalidations = 0;
    uint64_t baseline_blocks = 0;
    uint64_t flushes = 0;  // flush() calls (reset, full code cache)
    // The tiering policy (tcg/exec/tier_policy.h).
    uint64_t tier_checks = 0;    // a block's count-down reached its check
    uint64_t tier_compiles = 0;  // ... and was queued (Auto) or compiled (Llvm)
    uint64_t tier_deferred = 0;  // ... and must run longer first
    uint64_t tier_cached = 0;    // compiled early: its code is in the tcg cache
    uint64_t tier_never = 0;     // ... and stays where it is for good
    // The profile (plan_ahead): blocks linked from the cache at translation, queued (the JIT
    // was busy) from the cache, queued to be compiled (a miss), left alone past the compile
    // budget, and named by the profile but with other code now.
    uint64_t ahead_linked = 0;        // linked at translation, never ran in baseline code
    uint64_t ahead_linked_later = 0;  // linked at a later tier-up check (the JIT was busy)
    uint64_t ahead_cached = 0;
    uint64_t ahead_compiles = 0;
    uint64_t ahead_over_budget = 0;  // pays back only over several runs, past the fill budget
    uint64_t ahead_fill = 0;         // ... compiled from the fill budget
    uint64_t ahead_changed = 0;
    // Regions the profile names, formed again at their head's first tier-up check: linked
    // from the cache (at once, or queued when the JIT was busy) or queued to compile.
    uint64_t ahead_regions_linked = 0;
    uint64_t ahead_regions_queued = 0;
    uint64_t ahead_regions_compiles = 0;
    uint64_t invalidated_compiled = 0;  // blocks with LLVM code invalidated
    uint64_t invalidated_queued = 0;    // blocks invalidated while queued for LLVM
    uint64_t dropped_cold = 0;          // left the queue because they stopped running
    // Blocks whose dropped IR was translated again for the LLVM tier or the profile, and
    // those where that failed (the block then stays out of LLVM).
    uint64_t ir_rebuilt = 0;
    uint64_t ir_rebuild_failed = 0;
    // Executions of LLVM code and the guest instructions they ran (counted under -d tier
    // only), over every block so far.
    uint64_t native_execs = 0;
    uint64_t native_insns = 0;
    uint64_t installed_ahead = 0;  // blocks start_install_ahead installed
  };
  Stats stats() const;
  /// The policy's current compile-cost estimate for ir_insts IR instructions (tests).
  double compile_cost_ns(uint64_t ir_insts) const { return policy_.cost_ns(ir_insts); }

 private:
  void install_ahead(hw::AddressSpace& as);
  // Chains the direct exits of blocks install_ahead installed to installed blocks, as the
  // dispatcher would after each exit first ran (same page, same mode).
  void link_installed(std::span<TranslationBlock* const> blocks);
  // Whether baseline code counts its executions (tier=auto): only then does a block reached
  // through links alone, with no lookup to mark its stored entry hit, show that it ran
  // (mark_installed_ran), so only then does install_ahead chain what it installs.
  bool installed_count_runs() const { return opt_.tier == Tier::Auto && opt_.hot_threshold != 0; }
  void link_locked(TranslationBlock* from, unsigned slot, TranslationBlock* to);
  // Stops and joins the install_ahead thread (before anything it uses goes away).
  void stop_install_ahead();
  void invalidate_locked(TranslationBlock* tb);
  void unregister_page_locked(uint64_t page, TranslationBlock* tb);
  bool invalidate_range_locked(uint64_t phys, uint64_t len, const uint64_t* running_pc);
  void relink_published(TranslationBlock* tb);
  std::vector<TranslationBlock*> region_candidates_locked(TranslationBlock* head) const;
  // Gives tb back the IR translate() dropped, through v (the vCPU calling tier_up); false
  // when it cannot.
  bool ensure_ir_locked(TranslationBlock* tb, VcpuExec* v);
  VcpuExec* vcpu_of_locked(const CpuCommon* cpu) const;
  void code_full();
  /// True when every running vCPU but self flushed for view gen. map_mu_ held.
  bool map_acked_locked(uint64_t gen, const VcpuExec* self) const;
  void ack_map_locked(VcpuExec* v);
  void count_native_locked(const std::vector<std::unique_ptr<TranslationBlock>>& blocks);
  void load_profile();
  void save_profile();
  struct Profiled;
  /// Whether compiling a profiled block (or region) of ir_insts IR instructions ahead of need
  /// pays back within this run (AheadPlan; see kAheadFillShare).
  bool ahead_pays(const Profiled& p, uint64_t ir_insts) const;
  /// Takes a fill compile's estimated cost from the fill budget; false when it is not there.
  bool take_fill_budget(uint64_t ir_insts);
  /// A linked block or region saves about its profiled weight this run: credits the fill budget.
  void earn_fill_budget(uint64_t weight);
  /// For a head the profile names with region members: the region formed again (members
  /// looked up in the same page and mode) and its cache key when that is the profiled code,
  /// else empty (members not translated yet, or other code: then never tried again). v: the
  /// vCPU at tb's start, which translates members' dropped IR again. mu_ held.
  std::vector<TranslationBlock*> profiled_region_locked(TranslationBlock* tb, VcpuExec* v,
                                                        const Profiled& p, std::string& key);
  /// tier_up for a head the profile names with its region: forms that region and marks the
  /// head queued when its object is cached (cached) or compiling it now pays; key: its key.
  bool take_profiled_region_locked(TranslationBlock* tb, VcpuExec* v, std::string& key,
                                   bool& cached);
  void log_tier_stats();

  EngineOptions opt_;
  hw::Log& log_;
  mutable AdaptiveMutex mu_;
  TbMap map_;
  std::unordered_map<uint64_t, std::vector<TranslationBlock*>> pages_;  // phys page -> blocks
  CodePages code_pages_;  // the keys of pages_, for lock-free is_code_page()
  std::vector<std::unique_ptr<TranslationBlock>> all_;  // owned; invalid ones kept until flush
  std::vector<VcpuExec*> vcpus_;
  std::unique_ptr<llvm::CodeCache> tcg_cache_;  // before compiler_, which uses it
  std::unique_ptr<TranslationCache> tcache_;
  // Blocks already looked up in tcg_cache_ by tier_up (guarded by mu_; blocks are freed only
  // by flush(), which clears it).
  std::unordered_set<const TranslationBlock*> cache_probed_;
  // The profile loaded by init(), by (pc, flags, cs_base): the key hash and weight. Read-only
  // after init().
  struct ProfileKey {
    uint64_t pc, flags, cs_base;
    bool operator==(const ProfileKey&) const = default;
  };
  struct ProfileKeyHash {
    size_t operator()(const ProfileKey& k) const {
      return size_t(k.pc * 0x9e3779b97f4a7c15ull ^ (k.flags << 17) ^ k.cs_base);
    }
  };
  struct Profiled {
    uint64_t key_hash = 0, weight = 0;
    bool compiled = false;
    std::vector<uint64_t> members;  // a region's other members' PCs
  };
  std::unordered_map<ProfileKey, Profiled, ProfileKeyHash> profile_;
  // Region heads whose profiled region was found to be other code (guarded by mu_).
  std::unordered_set<const TranslationBlock*> region_probed_;
  // Cached objects of profiled blocks and regions not linked yet because the compile thread
  // held the JIT: their next tier_up checks try again, on the vCPU's thread, before they are
  // queued (the compile thread runs at nice 10 and may hold the JIT for long on a busy host).
  struct PendingLink {
    std::string key;
    unsigned tries = 0;
  };
  std::unordered_map<const TranslationBlock*, PendingLink> pending_links_;  // guarded by mu_
  // The fill budget (kAheadFillShare) in estimated CPU ns: earned by links, spent by compiles.
  std::atomic<int64_t> fill_budget_ns_{0};
  // Memory-map changes: the generation of the latest view and the vCPUs' acknowledgements.
  std::mutex map_mu_;
  std::condition_variable map_cv_;
  std::atomic<uint64_t> map_gen_{0};
  std::vector<VcpuExec*> map_vcpus_;  // guarded by map_mu_ (as vcpus_, without the engine lock)
  std::unique_ptr<llvm::BackgroundCompiler> compiler_;
  std::unique_ptr<baseline::CodeCache> code_cache_;
  baseline::Options baseline_opt_;  // set by init()
  std::atomic<bool> code_cache_full_logged_{false};
  std::function<void()> code_full_hook_;
  std::atomic<bool> code_full_signalled_{false};
  std::atomic<uint64_t> baseline_blocks_{0};
  PerfMap perf_map_;  // -d perfmap
  Stats stats_;
  TierPolicy policy_;  // guarded by mu_ (its cost estimate is atomic)
  // install_ahead's thread, its start, first-pass and stop flags (the stop flag also under
  // ahead_mu_, for ahead_cv_) and the blocks it installed.
  std::thread ahead_thread_;
  std::atomic<bool> ahead_started_{false}, ahead_first_pass_{false}, ahead_stop_{false};
  std::mutex ahead_mu_;
  std::condition_variable ahead_cv_;
  std::atomic<uint64_t> ahead_installed_{0};
  std::atomic<uint64_t> stored_ran_{0};  // note_stored_block_ran
  DebugState debug_{*this};
};

class VcpuExec {
 public:
  VcpuExec(Engine& engine, Frontend& frontend, CpuCommon& cpu, softmmu::Softmmu& mmu);
  ~VcpuExec();

  /// Runs guest code until something needs the guest CPU's attention.
  RunResult run();

  /// Single-instruction blocks, not cached (debugger stepping).
  void set_single_step(bool on) {
    single_step_ = on;
    update_stepping();
  }
  /// One block per run(), returning ExitReason::Step after it (lockstep verification): blocks
  /// are cached and compiled as usual but never chained, nor entered through the jump cache,
  /// so each run() executes exactly one block. Set before the first run().
  void set_block_step(bool on) { block_step_ = on; }
  bool block_step() const { return block_step_; }
  /// Told when this vCPU parks for the debugger and when it leaves the park.
  void set_debug_park_listener(DebugParkListener* l) { park_listener_ = l; }

  /// Called when the guest's mode or translation regime changed outside generated code.
  void mode_changed() {
    cpu_.tb_flags = frontend_.compute_tb_flags(cpu_);
    cpu_.cs_base = frontend_.cs_base(cpu_);
    cpu_.jc_tag = jump_cache_tag(cpu_.tb_flags, cpu_.cs_base);
  }
  void flush_jump_cache();
  void invalidate_jump_cache(const TranslationBlock* tb);

  CpuCommon& cpu() { return cpu_; }
  softmmu::Softmmu& mmu() { return mmu_; }

 private:
  // Debugger (tcg/exec/debug.cpp): parks this vCPU for why; on return it runs again from
  // cpu.pc, stepping one instruction if the debugger asked.
  void debug_park(DebugStopKind why);
  RunResult debug_wait_quit();  // Orrery is quitting: wait for the board's kick
  // One flag for the dispatcher's hot path: any of the three kinds of one-instruction blocks.
  bool stepping() const { return stepping_; }
  void update_stepping() { stepping_ = single_step_ || debug_step_ || code_write_step_; }

  TranslationBlock* find_or_translate();
  TranslationBlock* translate(const TbKey& key, const uint8_t* host);
  // Whether this translation may come from, or go to, the engine's TranslationCache: not
  // under the debugger, stepping or logs that show a translation.
  bool tcache_usable() const;
  // The block at key installed from the TranslationCache, or null (a miss).
  TranslationBlock* translate_cached(const TbKey& key, const uint8_t* host);
  // Translates tb's guest code again into tb.ir after translate() dropped it (the engine's
  // lock held). The frontend reads the mode from this CPU, so tb must be in its current mode.
  // False when it cannot, or the IR comes out other than the first time.
  bool rebuild_ir(TranslationBlock& tb);
  uint64_t execute(TranslationBlock* tb);
  std::optional<RunResult> take_pending();
  void log_in_asm(const ir::Block& b, const CodeReader& code, uint64_t pc);

  Engine& engine_;
  Frontend& frontend_;
  CpuCommon& cpu_;
  softmmu::Softmmu& mmu_;
  bool stepping_ = false;  // update_stepping() after changing any of these three
  bool single_step_ = false;
  bool block_step_ = false;       // set_block_step
  bool code_write_step_ = false;  // re-run one instruction whose store rewrote its own block
  DebugParkListener* park_listener_ = nullptr;
  unsigned debug_slot_ = 0;
  bool debug_step_ = false;                    // the debugger asked for one instruction
  bool debug_step_done_ = false;               // it ran, but run() returned before reporting it
  std::unique_ptr<TranslationBlock> step_tb_;  // the uncached block of a single step
  ir::Block scratch_;                          // translation buffer, reused between blocks
  std::unique_ptr<uint8_t[]> rebuild_bytes_;   // rebuild_ir's copy of a block's two pages
  std::unique_ptr<baseline::Workspace> baseline_ws_;  // code generator buffers, likewise
  TranslationCache::Found found_;                     // translate_cached's, likewise
  // Memory-map acknowledgements (Engine::memory_map_changed); guarded by the engine's map_mu_
  // except map_wait_, which only this vCPU's thread touches.
  friend class Engine;
  bool map_running_ = false;  // inside run(), not parked
  std::thread::id map_thread_;
  uint64_t map_seen_ = 0;  // the latest view generation this TLB flushed for
  uint64_t map_wait_ = 0;  // this vCPU published that generation: wait for the others
  std::atomic<uint64_t>* map_gen_ = nullptr;
};

}  // namespace orrery::tcg::exec
