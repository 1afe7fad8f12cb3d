// Background compile queue (see compiler.h).
#include "tcg/llvm/compiler.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include <chrono>
#include <cinttypes>
#include <vector>

#include "hw/core/log.h"

namespace orrery::tcg::llvm {

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

void BackgroundCompiler::enqueue(exec::TranslationBlock* tb) {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (stop_ || full_) return;  // full: the block stays where it is until the next flush
    queue_.push_back(Queued{tb, tb->exec_count.load(std::memory_order_relaxed)});
  }
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
  std::string error;
  exec::NativeFn fn = jit_->compile(*tb, &error);
  compile_us_ += uint64_t(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count());
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
    log_->log(hw::kLogTier, "llvm: compiled block at 0x%" PRIx64 " (%u insns, region of %zu)\n",
              tb->key.pc, tb->ir.num_insns, std::max<size_t>(1, tb->region.size()));
}

size_t BackgroundCompiler::hottest_index(const std::deque<Queued>& queue) {
  size_t best = 0;
  uint32_t best_growth = 0;
  for (size_t i = 0; i < queue.size(); ++i) {
    const uint32_t growth = queue[i].tb->exec_count.load(std::memory_order_relaxed) - queue[i].seen;
    if (growth > best_growth) {
      best = i;
      best_growth = growth;
    }
  }
  return best;
}

void BackgroundCompiler::mark_seen(std::deque<Queued>& queue) {
  for (Queued& q : queue) q.seen = q.tb->exec_count.load(std::memory_order_relaxed);
}

void BackgroundCompiler::worker() {
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
      mark_seen(queue_);
      epoch = epoch_;
      in_flight_ = unsigned(batch.size());
    }
    if (batch_hook_) batch_hook_();
    if (!batch.empty()) {
      cbatch.assign(batch.begin(), batch.end());
      out.assign(batch.size(), nullptr);
      auto t0 = std::chrono::steady_clock::now();
      jit_->compile_batch(cbatch, out, &errors, epoch);
      compile_us_ += uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(
                                  std::chrono::steady_clock::now() - t0)
                                  .count());
    }
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
  s.compiled = compiled_.load();
  s.failed = failed_.load();
  s.skipped = skipped_.load();
  s.compile_us = compile_us_.load();
  return s;
}

}  // namespace orrery::tcg::llvm
