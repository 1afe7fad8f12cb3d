// Background compile queue (see compiler.h).
#include "tcg/llvm/compiler.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include <chrono>
#include <cinttypes>
#include <ctime>
#include <vector>

#include "hw/core/log.h"
#include "hw/core/thread_name.h"

namespace orrery::tcg::llvm {

namespace {

uint64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

uint64_t ir_size(const exec::TranslationBlock& tb) {
  if (tb.region.empty()) return tb.ir.insts.size();
  uint64_t n = 0;
  for (const exec::TranslationBlock* m : tb.region) n += m->ir.insts.size();
  return n;
}

}  // namespace

std::unique_ptr<BackgroundCompiler> BackgroundCompiler::create(std::string& error, hw::Log* log,
                                                               const JitOptions& opt) {
  std::unique_ptr<LlvmJit> jit = LlvmJit::create(opt, error);
  if (!jit) return nullptr;
  return std::make_unique<BackgroundCompiler>(std::move(jit), log);
}

BackgroundCompiler::BackgroundCompiler(std::unique_ptr<LlvmJit> jit, hw::Log* log)
    : jit_(std::move(jit)), log_(log), thread_([this] { worker(); }) {}

BackgroundCompiler::~BackgroundCompiler() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
    queue_.clear();
  }
  work_cv_.notify_all();
  thread_.join();
}

void BackgroundCompiler::enqueue(exec::TranslationBlock* tb, bool first) {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (stop_ || full_) return;  // full: the block stays where it is until the next flush
    queue_.push_back(Queued{tb, tb->executions(), 0, first});
  }
  ++enqueued_;
  work_cv_.notify_one();
}

exec::NativeFn BackgroundCompiler::compile_now(exec::TranslationBlock* tb) {
  if (exec::NativeFn fn = tb->native.load(std::memory_order_acquire)) return fn;
  tb->compile_queued.store(true, std::memory_order_relaxed);  // attempted: never retry
  {
    std::lock_guard<std::mutex> g(mu_);
    if (full_) return nullptr;
  }
  auto t0 = std::chrono::steady_clock::now();
  const uint64_t c0 = thread_cpu_ns();
  std::string error;
  const uint64_t hits0 = jit_->stats().cache_hits;
  exec::NativeFn fn = jit_->compile(*tb, &error);
  const exec::TranslationBlock* const one[] = {tb};
  note_compile(one, 1,
               uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - t0)
                            .count()),
               thread_cpu_ns() - c0, jit_->stats().cache_hits - hits0 == 1);
  finish(tb, fn, error);
  if (!fn && jit_->code_full()) {
    bool call;
    {
      std::lock_guard<std::mutex> g(mu_);
      call = note_full_locked();
    }
    if (call) full_hook_();
  }
  return fn;
}

bool BackgroundCompiler::note_full_locked() {
  if (full_) return false;
  full_ = true;
  queue_.clear();
  if (log_) log_->log(hw::kLogTier, "llvm: code memory full, compiling nothing until a flush\n");
  return bool(full_hook_);
}

void BackgroundCompiler::release_old_locked() {
  std::string err = jit_->release_epochs_before(epoch_);
  if (!err.empty() && log_)
    log_->log(hw::kLogTier, "llvm: cannot free old code: %s\n", err.c_str());
  retired_.clear();
}

void BackgroundCompiler::flush(std::vector<std::unique_ptr<exec::TranslationBlock>> old_blocks) {
  std::lock_guard<std::mutex> g(mu_);
  queue_.clear();
  epoch_ = jit_->begin_epoch();
  full_ = false;
  for (auto& tb : old_blocks) retired_.push_back(std::move(tb));
  // Otherwise the worker frees them when its batch ends (it checks the epoch first).
  if (in_flight_ == 0) release_old_locked();
}

void BackgroundCompiler::finish(exec::TranslationBlock* tb, exec::NativeFn fn,
                                const std::string& error) {
  if (!fn) {
    // compile_queued stays set, so the engine does not queue the block again; it keeps
    // running in the interpreter.
    ++failed_;
    if (log_)
      log_->log(hw::kLogTier, "llvm: cannot compile block at 0x%" PRIx64 ": %s\n", tb->key.pc,
                error.c_str());
    return;
  }
  ++compiled_;
  tb->native.store(fn, std::memory_order_release);
  if (publish_hook_) publish_hook_(tb);
  if (log_)
    log_->log(hw::kLogTier,
              "llvm: compiled block at 0x%" PRIx64 " (phys 0x%" PRIx64
              ", %u insns, region of %zu, %u executions)\n",
              tb->key.pc, tb->key.phys_pc, tb->ir.num_insns, std::max<size_t>(1, tb->region.size()),
              tb->executions());
}

size_t BackgroundCompiler::hottest_index(const std::deque<Queued>& queue) {
  size_t best = 0;
  uint32_t best_growth = 0;
  for (size_t i = 0; i < queue.size(); ++i) {
    if (queue[i].first) return i;
    const uint32_t growth = queue[i].tb->executions() - queue[i].seen;
    if (growth > best_growth) {
      best = i;
      best_growth = growth;
    }
  }
  return best;
}

void BackgroundCompiler::mark_seen(std::deque<Queued>& queue,
                                   std::vector<exec::TranslationBlock*>* cold, uint64_t* invalid) {
  std::erase_if(queue, [&](Queued& q) {
    if (!q.tb->valid.load(std::memory_order_acquire)) {
      if (invalid) ++*invalid;
      return true;
    }
    const uint32_t now = q.tb->executions();
    q.idle = now == q.seen ? uint8_t(q.idle + 1) : 0;
    q.seen = now;
    // A block queued from the profile waits for its turn however cold: it was hot in earlier
    // runs, and its object serves the later ones.
    if (!cold || q.idle < kColdLooks || q.tb->ahead) return false;
    q.tb->compile_queued.store(false, std::memory_order_release);
    cold->push_back(q.tb);
    return true;
  });
}

void BackgroundCompiler::note_compile(const exec::TranslationBlock* const* tbs, size_t n,
                                      uint64_t wall_us, uint64_t cpu_ns, bool all_cached) {
  uint64_t ir = 0;
  for (size_t i = 0; i < n; ++i) ir += ir_size(*tbs[i]);
  compile_us_ += wall_us;
  compile_cpu_us_ += cpu_ns / 1000;
  ir_insts_ += ir;
  if (cost_hook_ && !all_cached) cost_hook_(ir, cpu_ns);
}

void BackgroundCompiler::worker() {
  hw::name_this_thread("llvm compile");
  // Compiling only pays off later; the vCPU threads running guest code now come first when the
  // host's cores are all busy (an -smp 2 guest on a 2-core host).
  setpriority(PRIO_PROCESS, pid_t(syscall(SYS_gettid)), 10);
  std::vector<exec::TranslationBlock*> batch;
  std::vector<const exec::TranslationBlock*> cbatch;
  std::vector<exec::NativeFn> out;
  std::vector<std::string> errors;
  for (;;) {
    batch.clear();
    uint64_t epoch = 0;
    {
      std::unique_lock<std::mutex> lk(mu_);
      work_cv_.wait(lk, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      unsigned limit = batch_limit_.load(std::memory_order_relaxed);
      while (!queue_.empty() && batch.size() < limit) {
        auto hottest = queue_.begin() + hottest_index(queue_);
        exec::TranslationBlock* tb = hottest->tb;
        queue_.erase(hottest);
        if (!tb->valid.load(std::memory_order_acquire)) {
          ++skipped_;
          continue;
        }
        batch.push_back(tb);
      }
      cold_.clear();
      uint64_t invalid = 0;
      // Without a cold hook nobody would queue a dropped block again: keep everything.
      mark_seen(queue_, cold_hook_ ? &cold_ : nullptr, &invalid);
      skipped_ += invalid;
      dropped_cold_ += cold_.size();
      if (cold_hook_)
        for (exec::TranslationBlock* tb : cold_) cold_hook_(tb);
      epoch = epoch_;
      in_flight_ = unsigned(batch.size());
    }
    if (batch_hook_) batch_hook_();
    if (!batch.empty()) {
      cbatch.assign(batch.begin(), batch.end());
      out.assign(batch.size(), nullptr);
      auto t0 = std::chrono::steady_clock::now();
      const uint64_t c0 = thread_cpu_ns();
      const uint64_t hits0 = jit_->stats().cache_hits;
      jit_->compile_batch(cbatch, out, &errors, epoch);
      note_compile(cbatch.data(), cbatch.size(),
                   uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - t0)
                                .count()),
                   thread_cpu_ns() - c0, jit_->stats().cache_hits - hits0 == cbatch.size());
    }
    thread_cpu_us_.store(thread_cpu_ns() / 1000, std::memory_order_relaxed);
    bool call_full_hook = false;
    {
      // Publishing under mu_: flush() cannot end the epoch between the check and the publish.
      std::lock_guard<std::mutex> g(mu_);
      if (epoch != epoch_) {
        // Flushed while we compiled: the blocks are retired, their code must not be published
        // (it is freed with its epoch).
        skipped_ += batch.size();
        in_flight_ = 0;
        release_old_locked();
      } else {
        for (size_t i = 0; i < batch.size(); ++i) {
          // A block invalidated while we compiled is not worth publishing.
          if (out[i] && !batch[i]->valid.load(std::memory_order_acquire)) {
            ++skipped_;
            continue;
          }
          finish(batch[i], out[i], errors[i]);
        }
        in_flight_ = 0;
        if (jit_->code_full()) call_full_hook = note_full_locked();
      }
    }
    if (call_full_hook) full_hook_();
    idle_cv_.notify_all();
  }
}

void BackgroundCompiler::drain() {
  std::unique_lock<std::mutex> lk(mu_);
  idle_cv_.wait(lk, [this] { return stop_ || (queue_.empty() && in_flight_ == 0); });
}

void BackgroundCompiler::discard_queue() {
  std::unique_lock<std::mutex> lk(mu_);
  queue_.clear();
  idle_cv_.wait(lk, [this] { return stop_ || in_flight_ == 0; });
}

BackgroundCompiler::Stats BackgroundCompiler::stats() const {
  Stats s;
  s.enqueued = enqueued_.load();
  s.compiled = compiled_.load();
  s.failed = failed_.load();
  s.skipped = skipped_.load();
  s.dropped_cold = dropped_cold_.load();
  s.compile_us = compile_us_.load();
  s.compile_cpu_us = compile_cpu_us_.load();
  s.ir_insts = ir_insts_.load();
  s.thread_cpu_us = thread_cpu_us_.load();
  return s;
}

}  // namespace orrery::tcg::llvm
