// The background compile queue of the LLVM tier: the vCPU threads enqueue hot blocks and keep
// running them in the interpreter; one worker thread compiles them and publishes the code in
// TranslationBlock::native, which the dispatcher picks up on the block's next execution.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tcg/exec/tb.h"
#include "tcg/llvm/jit.h"

namespace orrery::hw {
class Log;
}

namespace orrery::tcg::llvm {

class BackgroundCompiler {
 public:
  /// Creates the JIT and starts the worker. log (optional) receives -d tier messages and
  /// compile failures; it must outlive the compiler.
  static std::unique_ptr<BackgroundCompiler> create(std::string& error, hw::Log* log = nullptr,
                                                    const JitOptions& opt = {});
  BackgroundCompiler(std::unique_ptr<LlvmJit> jit, hw::Log* log);
  ~BackgroundCompiler();  // finishes the block being compiled, drops the rest, joins
  BackgroundCompiler(const BackgroundCompiler&) = delete;
  BackgroundCompiler& operator=(const BackgroundCompiler&) = delete;

  /// Queues tb for compilation; never blocks on compilation. tb must stay alive until it is
  /// compiled or discard_queue()/the destructor returned. Blocks whose valid flag is false when
  /// the worker reaches them are skipped.
  /// `first`: taken before every other block (oldest first), for code that costs only its
  /// linking (an object in the persistent cache).
  void enqueue(exec::TranslationBlock* tb, bool first = false);

  /// Compiles tb on the calling thread (forced-LLVM mode) and publishes it like the worker.
  /// Returns the code, or null if tb cannot be compiled (then it is marked as not to retry).
  exec::NativeFn compile_now(exec::TranslationBlock* tb);

  /// Waits until every queued block has been compiled (tests, benchmarks).
  void drain();

  /// Drops every queued block and waits for the one being compiled: afterwards no queued TB
  /// is referenced by the compiler, so the caller may free them.
  void discard_queue();

  /// Translation-cache flush, without waiting for the compile thread: drops the queue, starts a
  /// new JIT epoch and frees the old epochs' code and the given (old) blocks, at once or, when
  /// a compile is in flight, as soon as it ends; that compile is not published. Call only
  /// while no thread runs or is about to run the old code (every vCPU stopped) and no
  /// compile_now() is running.
  void flush(std::vector<std::unique_ptr<exec::TranslationBlock>> old_blocks);

  /// Called (on the compile thread or in compile_now()) when the JIT refused a module because
  /// its code memory reached JitOptions::code_limit, once until the next flush(). Until then
  /// no block is compiled: they keep running where they are. Set it before queueing blocks.
  void set_full_hook(std::function<void()> hook) { full_hook_ = std::move(hook); }

  struct Stats {
    uint64_t enqueued = 0;
    uint64_t compiled = 0;        // blocks published
    uint64_t failed = 0;          // blocks that stay in the interpreter
    uint64_t skipped = 0;         // invalidated before their turn (or while compiled)
    uint64_t dropped_cold = 0;    // left the queue because they stopped running
    uint64_t compile_us = 0;      // wall time spent compiling, all blocks
    uint64_t compile_cpu_us = 0;  // CPU time of the compiling threads spent compiling
    uint64_t ir_insts = 0;        // IR instructions of the blocks compiled (regions: all members)
    uint64_t thread_cpu_us = 0;   // CPU time of the compile thread, all of it
  };
  Stats stats() const;

  LlvmJit& jit() { return *jit_; }

  /// Called on the compiling thread right after a block's code is published (before any other
  /// block is compiled). Set it before queueing blocks.
  void set_publish_hook(std::function<void(exec::TranslationBlock*)> hook) {
    publish_hook_ = std::move(hook);
  }

  /// Called on the compile thread after it took a batch, before compiling it (tests).
  void set_batch_hook(std::function<void()> hook) { batch_hook_ = std::move(hook); }

  /// Called after each compile with the IR instructions compiled and the CPU nanoseconds it
  /// took (the policy's cost estimate). Set it before queueing blocks.
  void set_cost_hook(std::function<void(uint64_t ir_insts, uint64_t cpu_ns)> hook) {
    cost_hook_ = std::move(hook);
  }
  /// Called (with the queue's lock held) for a block dropped from the queue because it went
  /// cold; its compile_queued flag is already clear. Without it, cold blocks stay queued. Set
  /// it before queueing blocks.
  void set_cold_hook(std::function<void(exec::TranslationBlock*)> hook) {
    cold_hook_ = std::move(hook);
  }

  /// A queued block, its execution count when the queue was last looked at, and for how many
  /// looks in a row it had not run.
  struct Queued {
    exec::TranslationBlock* tb;
    uint32_t seen;
    uint8_t idle = 0;
    bool first = false;  // enqueue(tb, true)
  };
  /// Looks in a row without an execution after which a queued block is dropped: it was hot only
  /// briefly (a loop that finished, a process that exited) and compiling it would not pay.
  static constexpr unsigned kColdLooks = 4;
  /// Which queued block to compile next: the oldest queued `first`, else the one that ran most
  /// since the queue was last marked (ties: the oldest), so the loops running now go first, not
  /// blocks that were hot in an earlier phase of a boot and have gone quiet. Blocks keep counting
  /// while they wait (in baseline code or the interpreter).
  static size_t hottest_index(const std::deque<Queued>& queue);
  /// Records every queued block's current count (after each batch is taken), and removes the
  /// blocks that were invalidated (counted in *invalid) and those idle for kColdLooks looks
  /// (appended to *cold, their compile_queued cleared).
  static void mark_seen(std::deque<Queued>& queue,
                        std::vector<exec::TranslationBlock*>* cold = nullptr,
                        uint64_t* invalid = nullptr);

  /// Most blocks the worker compiles as one module (default 2: with hottest-first order, a
  /// bigger batch delays the hottest block more than it saves; measured on a Linux boot).
  void set_batch_limit(unsigned n) { batch_limit_.store(n ? n : 1, std::memory_order_relaxed); }

 private:
  void worker();
  void finish(exec::TranslationBlock* tb, exec::NativeFn fn, const std::string& error);
  void release_old_locked();
  bool note_full_locked();  // true when the full hook must be called (once per epoch)

  std::unique_ptr<LlvmJit> jit_;
  hw::Log* log_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // worker waits for blocks or shutdown
  std::condition_variable idle_cv_;  // drain()/discard_queue() wait for the worker
  std::deque<Queued> queue_;
  std::vector<exec::TranslationBlock*> cold_;  // the worker's scratch list, guarded by mu_
  unsigned in_flight_ = 0;
  uint64_t epoch_ = 0;  // the JIT epoch blocks are compiled for now
  bool full_ = false;   // code memory full: compile nothing until the next flush
  // Blocks of ended epochs, kept until the compile in flight (which may read them) ends.
  std::vector<std::unique_ptr<exec::TranslationBlock>> retired_;
  bool stop_ = false;
  std::atomic<unsigned> batch_limit_{2};
  // all_cached: every block came from the persistent cache, so the time says nothing about
  // compile cost (the policy's cost hook is not told).
  void note_compile(const exec::TranslationBlock* const* tbs, size_t n, uint64_t wall_us,
                    uint64_t cpu_ns, bool all_cached);

  std::atomic<uint64_t> enqueued_{0}, compiled_{0}, failed_{0}, skipped_{0}, dropped_cold_{0},
      compile_us_{0}, compile_cpu_us_{0}, ir_insts_{0}, thread_cpu_us_{0};
  std::function<void(exec::TranslationBlock*)> publish_hook_;
  std::function<void(uint64_t, uint64_t)> cost_hook_;
  std::function<void(exec::TranslationBlock*)> cold_hook_;
  std::function<void()> full_hook_;
  std::function<void()> batch_hook_;
  std::thread thread_;  // last: starts after everything above is initialised
};

}  // namespace orrery::tcg::llvm
