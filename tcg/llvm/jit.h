// The LLVM tier's code generator: lowers translation blocks to LLVM IR, optimises them with a
// small function pipeline and compiles them with ORC LLJIT for the host. LLVM headers stay in
// the .cpp files; users only see this interface.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "tcg/exec/tb.h"
#include "tcg/softmmu/softmmu.h"

namespace orrery::tcg::llvm {

class CodeCache;

struct JitOptions {
  // LLVM code generator level: 0 None (FastISel), 1 Less, 2 Default, 3 Aggressive.
  unsigned codegen_level = 1;
  bool run_passes = true;  // the IR function pipeline (InstCombine, EarlyCSE, GVN, ...)
  // FastISel instruction selection (falls back to SelectionDAG per instruction where it must);
  // the rest of the code generator still runs at codegen_level.
  bool fast_isel = true;
  // Modules with a loop (a region's back edge) go to SelectionDAG even with fast_isel: hot
  // loops run long enough to repay its ~30% more codegen time with fewer spills and moves.
  bool dag_isel_loops = true;
  // TLB-miss entry points; tests substitute their own to observe misses.
  uint64_t (*slow_load)(CpuCommon*, uint64_t, uint64_t, uint64_t) = &softmmu::slow_load;
  void (*slow_store)(CpuCommon*, uint64_t, uint64_t, uint64_t, uint64_t) = &softmmu::slow_store;
  uint64_t (*slow_atomic)(CpuCommon*, uint64_t, uint64_t, uint64_t, uint64_t,
                          uint64_t) = &softmmu::slow_atomic;
  void (*slow_load_vec)(CpuCommon*, uint64_t, uint64_t, uint64_t,
                        uint64_t*) = &softmmu::slow_load_vec;
  void (*slow_store_vec)(CpuCommon*, uint64_t, const uint64_t*, uint64_t,
                         uint64_t) = &softmmu::slow_store_vec;
  // Most bytes of JIT memory (code and data pages) the tier may hold at once; a module that
  // would go past it is refused (code_full() turns true until code is released). 0: no limit.
  size_t code_limit = size_t(256) << 20;
  // Generated code counts its executions in TranslationBlock::native_execs (-d tier).
  bool count_executions = false;
  // Generated code names helpers, slow paths and per-block data by symbol, so that its object
  // can be linked into another process (required by `cache`). false: it embeds their host
  // addresses, as before the cache (kept to compare the speed of both).
  bool relocatable = true;
  // The persistent translation cache (null: none); must outlive the JIT. A hot block's code is
  // looked up there before compiling, and stored after.
  CodeCache* cache = nullptr;
  // The guest architecture and CPU model, part of every cache key.
  std::string guest_id;
  // Tests: runs in a compile between the IR passes and the code generator.
  std::function<void()> before_codegen;
};

class LlvmJit {
 public:
  static std::unique_ptr<LlvmJit> create(std::string& error);
  static std::unique_ptr<LlvmJit> create(const JitOptions& opt, std::string& error);
  ~LlvmJit();
  LlvmJit(const LlvmJit&) = delete;
  LlvmJit& operator=(const LlvmJit&) = delete;

  /// Compiles tb (its IR must stay unchanged during the call; tb itself must outlive the code,
  /// which embeds &tb and &tb.link). Returns null and sets *error on failure. Thread-safe.
  exec::NativeFn compile(const exec::TranslationBlock& tb, std::string* error);

  /// Compiles several blocks as one module: one object and shared code pages, so cheaper per
  /// block in both time and memory. out[i] receives tbs[i]'s code, or null on failure (with
  /// (*errors)[i] set when errors is given). The code belongs to `epoch` (default: the current
  /// one); a batch whose epoch has ended by the time its machine code would be generated is
  /// dropped with the error "flushed". Thread-safe.
  static constexpr uint64_t kCurrentEpoch = ~uint64_t(0);
  void compile_batch(std::span<const exec::TranslationBlock* const> tbs,
                     std::span<exec::NativeFn> out, std::vector<std::string>* errors,
                     uint64_t epoch = kCurrentEpoch);

  /// The LLVM IR of tb's function, before or after the function pipeline (debugging, tests).
  std::string ir_text(const exec::TranslationBlock& tb, bool optimized, std::string* error);

  /// Code is grouped by epoch (one per translation-cache flush) so that a flush can free the
  /// old code while a compile for the new epoch goes on. Starts a new epoch and returns its
  /// number; later compiles go to it. Lock-free: never waits for a compile in flight.
  uint64_t begin_epoch();
  uint64_t epoch() const;

  /// Frees the machine code, data and symbols of every epoch before `epoch`. Only when
  /// nothing can run that code any more: no thread is inside it, and no
  /// TranslationBlock::native/link or jump-cache entry still points into it. Waits for a
  /// compile in flight. Returns an error message, or empty.
  std::string release_epochs_before(uint64_t epoch);
  /// The same for every epoch, the current one included.
  std::string release_all_code();

  /// Bytes of JIT memory (code, data, GOT/stub pages) the tier's memory manager holds now:
  /// exactly what it has mapped for linked modules and not yet unmapped. Lock-free.
  size_t code_bytes() const;
  /// Whether a module was refused for JitOptions::code_limit since code was last released.
  bool code_full() const;
  /// Whether generated code counts its executions (JitOptions::count_executions).
  bool counts_executions() const;

  /// Whether the persistent cache has an entry for a block whose region would be `members`
  /// (the head first): its code would be linked, not compiled. Thread-safe, lock-free.
  bool in_cache(std::span<const exec::TranslationBlock* const> members) const;

  /// tb's code (tb alone, or its region when tb heads one) linked from the persistent cache
  /// entry for `key`, on the calling thread; null when the JIT is busy compiling (unless `wait`:
  /// then it waits for that compile), the entry is missing or bad, or linking failed.
  /// Thread-safe.
  exec::NativeFn try_link_cached(const exec::TranslationBlock& tb, const std::string& key,
                                 bool wait = false);

  /// The persistent cache's key material for tb's code compiled alone (no region), or empty
  /// without a cache or when tb cannot be cached. Thread-safe, lock-free.
  std::string cache_key(const exec::TranslationBlock& tb) const;
  /// What every cache key holds besides the blocks (code generator, host, guest model).
  const std::string& cache_config() const;

  struct Stats {
    uint64_t blocks = 0;  // compiled successfully
    uint64_t failures = 0;
    uint64_t modules = 0;
    // Stage times in microseconds of the compiling thread's CPU time.
    uint64_t lower_us = 0;         // IR -> LLVM IR, including the verifier
    uint64_t opt_us = 0;           // function pipeline
    uint64_t codegen_us = 0;       // machine code and linking
    uint64_t link_us = 0;          // the linking part of codegen_us (JITLink, symbol lookup)
    uint64_t cache_hits = 0;       // blocks linked from the persistent cache, not compiled
    uint64_t cache_stores = 0;     // objects written to it
    uint64_t cache_bad_links = 0;  // entries that validated but did not link (compiled instead)
    uint64_t cache_us = 0;         // looking up, reading and linking cached objects
  };
  Stats stats() const;

 private:
  struct Impl;
  explicit LlvmJit(std::unique_ptr<Impl> impl);
  // Compiles tbs[group[...]] as one object (codegen_mu_ held; it takes mu_ to link); stores it
  // under *cache_key when given.
  void compile_group(std::span<const exec::TranslationBlock* const> tbs,
                     std::span<const size_t> group, std::span<exec::NativeFn> out,
                     std::vector<std::string>* errors, uint64_t epoch,
                     const std::string* cache_key);

  // Two locks, taken in this order: codegen_mu_ for lowering, the IR passes and the code
  // generator (one compile at a time, 5-20 ms), mu_ for the JIT's symbols, links and stats,
  // which a compile holds only to link. A vCPU's try_link_cached takes mu_ alone, so it no
  // longer fails for the whole of a compile in progress (a warm boot's RSA self-test ran its
  // multiply loops in baseline code for ~20 ms while the compile thread compiled another block).
  mutable std::mutex codegen_mu_;
  mutable std::mutex mu_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orrery::tcg::llvm
