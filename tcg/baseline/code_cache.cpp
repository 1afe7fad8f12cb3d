#include "tcg/baseline/code_cache.h"

#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <new>
#include <system_error>

#include "hw/core/thread_name.h"
#include "tcg/baseline/detail.h"

namespace orrery::tcg::baseline {

namespace {
constexpr size_t kSmallPage = size_t(4) << 10;
}  // namespace

std::unique_ptr<CodeCache> CodeCache::create(size_t bytes, std::string& error) {
  // Read-write-execute, like QEMU's default on Linux: blocks are appended while other threads
  // run earlier ones, and a split W^X mapping would double the TLB footprint of hot code.
  // Reserved with one huge page of slack so the cache can start on a huge-page boundary.
  bytes = std::min(bytes, kMaxBytes);
  const size_t span = bytes + kCounterGap + counter_bytes(bytes);
  const size_t reserve = span + kHugePage;
  void* p = mmap(nullptr, reserve, PROT_READ | PROT_WRITE | PROT_EXEC,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    error = std::string("cannot map executable memory for the baseline tier: ") + strerror(errno);
    return nullptr;
  }
  auto* raw = static_cast<uint8_t*>(p);
  auto* base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(raw) + kHugePage - 1) &
                                          ~uintptr_t(kHugePage - 1));
  if (base > raw) munmap(raw, size_t(base - raw));
  if (const size_t tail = size_t(raw + reserve - (base + span)); tail) munmap(base + span, tail);
  // Huge pages where the host has them (QEMU advises its code buffer too): a process-heavy
  // guest spreads ~40 MiB of hot code over the cache, ~10k 4 KiB pages for the instruction TLB.
  // Each populate step below is one huge page then.
  madvise(base, span, MADV_HUGEPAGE);
  std::unique_ptr<CodeCache> cache(new CodeCache(base, bytes));
  const std::vector<uint8_t> stubs = detail::exit_stubs(cache->stub_at_);
  if (stubs.empty() || !cache->add(stubs.data(), stubs.size())) {
    error = "the baseline tier's code cache is too small for its exit stubs";
    return nullptr;
  }
  cache->reserved_ = cache->used();
  return cache;
}

CodeCache::~CodeCache() {
  stop_.store(true, std::memory_order_relaxed);
  if (ahead_.joinable()) ahead_.join();
  munmap(base_, size_t(counters_ + counter_bytes_ - base_));
}

std::atomic<uint32_t>* CodeCache::add_counter() {
  const size_t at = counters_used_.fetch_add(sizeof(uint32_t), std::memory_order_relaxed);
  if (at + sizeof(uint32_t) > counter_bytes_) return nullptr;  // full until reset
  return new (counters_ + at) std::atomic<uint32_t>(0);
}

void CodeCache::populate_ahead(size_t bytes) {
  if (ahead_.joinable() || bytes == 0) return;
  bytes = std::min(bytes, size_);
  try {
    ahead_ = std::thread([this, bytes] {
      hw::name_this_thread("code commit");
      // A step at a time, so the writers' own populate_to calls (which claim the next step
      // once they pass the watermark) and this thread never commit the same range twice.
      for (size_t at = 0; at < bytes && !stop_.load(std::memory_order_relaxed); at += kPopulateStep)
        populate_to(at + 1);
    });
  } catch (const std::system_error&) {  // no thread to be had: the writers commit as they go
  }
}

uint8_t* CodeCache::add(const uint8_t* code, size_t n) {
  const size_t need = (n + 15) & ~size_t(15);
  size_t at = used_.fetch_add(need, std::memory_order_relaxed);
  if (at + need > size_) return nullptr;  // full (used_ stays past the end until reset)
  populate_to(at + need);
  std::memcpy(base_ + at, code, n);
  // x86 keeps instruction fetch coherent with stores; the release publish of the block's
  // entry point (TranslationBlock::native) orders the copy before any other thread jumps in.
  return base_ + at;
}

void CodeCache::populate_to(size_t end) {
  size_t ready = populated_.load(std::memory_order_relaxed);
  if (end <= ready) return;
  const size_t upto = std::min(size_, (end + kPopulateStep - 1) & ~(kPopulateStep - 1));
  // One thread commits each step; another that races past it faults its pages in as before.
  if (!populated_.compare_exchange_strong(ready, upto, std::memory_order_relaxed)) return;
  // A write to each page commits it. A write fault holds only this mapping's VMA lock, where
  // MADV_POPULATE_WRITE held the process's mmap_lock for a whole step (5-8 ms to zero a huge
  // page on a VM host): every mmap, munmap and mprotect meanwhile (thread stacks, large
  // allocations, the JIT's memory) waited, under whatever lock its caller held. The write is
  // a compare-and-swap of zero with zero: it never changes a byte, so code another thread
  // writes into the step meanwhile is kept (x86 writes the destination even when the compare
  // fails, and the compiler cannot turn it into a load as it may an atomic add of zero).
  for (size_t at = ready; at < upto; at += kSmallPage) {
    uint8_t zero = 0;
    std::atomic_ref<uint8_t>(base_[at]).compare_exchange_strong(zero, 0, std::memory_order_relaxed);
  }
}

}  // namespace orrery::tcg::baseline
