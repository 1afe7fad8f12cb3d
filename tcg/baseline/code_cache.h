// Executable memory for the baseline tier: one reserved mapping, handed out by a lock-free bump
// allocator. Blocks are never freed one by one (another vCPU may still be running an invalidated
// block's code); reset() recycles everything once nothing can run it. Past the code, a page
// away from it (stores near running code cost the host a pipeline flush), lie the blocks'
// tier-up counters (tcg/exec/tb.h), which the code reaches RIP-relative.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

namespace orrery::tcg::baseline {

class CodeCache {
 public:
  static constexpr size_t kHugePage = size_t(2) << 20;  // x86-64's PMD size
  // Blocks jump to each other and reach their counters with rel32 displacements
  // (baseline::patch_jump): code, gap and counters span less than 2 GiB.
  static constexpr size_t kMaxBytes = (size_t(1) << 31) - (size_t(64) << 20);
  /// Reserves `bytes` (at most kMaxBytes) of address space (pages are committed ahead of the code
  /// written). Returns null and sets error if the host refuses the mapping.
  static std::unique_ptr<CodeCache> create(size_t bytes, std::string& error);
  ~CodeCache();
  CodeCache(const CodeCache&) = delete;
  CodeCache& operator=(const CodeCache&) = delete;

  /// Copies n bytes of code in and returns where they landed, or null when the cache is full.
  /// Thread-safe.
  uint8_t* add(const uint8_t* code, size_t n);

  /// A tier-up counter (zero) within rel32 reach of every block, or null when they are all
  /// taken (the cache is full). Thread-safe.
  std::atomic<uint32_t>* add_counter();

  /// Commits the first `bytes` of the cache on a thread of its own, ahead of the writes (a
  /// warm run knows how much stored code it will install): the vCPU threads then write into
  /// committed pages instead of each zeroing its next huge page as it gets there. Once.
  void populate_ahead(size_t bytes);
  /// Forgets every block (not the exit stubs). Only when no thread can be running or about to
  /// run cached code.
  void reset() {
    used_.store(reserved_, std::memory_order_relaxed);
    counters_used_.store(0, std::memory_order_relaxed);
  }
  /// Exit stub i (detail::exit_stubs: 0 and 1 the unlinked direct exits, 2 the epilogue),
  /// which blocks reach with a rel32 jump.
  const uint8_t* exit_stub(unsigned i) const { return base_ + stub_at_[i < 3 ? i : 2]; }

  /// Where the cache starts: on a huge-page boundary (kHugePage). The exit stubs come first.
  const uint8_t* base() const { return base_; }
  /// Where the first block goes (past the exit stubs).
  const uint8_t* first_block() const { return base_ + reserved_; }
  bool contains(const uint8_t* p) const { return p >= base_ && p < base_ + size_; }
  size_t used() const { return std::min(used_.load(std::memory_order_relaxed), size_); }
  size_t capacity() const { return size_; }

 private:
  // Pages are committed ahead of the writes in steps of this many bytes, one huge page (one
  // fault where the host has them, instead of 512: each fault costs several microseconds, more
  // in a VM: ~2% of a Linux boot's CPU went to the faults of this cache).
  static constexpr size_t kPopulateStep = size_t(2) << 20;

  // Between the code and the counters.
  static constexpr size_t kCounterGap = 4096;
  /// Bytes of counters for `bytes` of code: one per 128 bytes (the smallest blocks are larger).
  static size_t counter_bytes(size_t bytes) {
    return (std::max(bytes / 32, size_t(64) << 10) + 4095) & ~size_t(4095);
  }

  CodeCache(uint8_t* base, size_t size)
      : base_(base),
        size_(size),
        counters_(base + size + kCounterGap),
        counter_bytes_(counter_bytes(size)) {}
  /// Commits the pages up to byte `end` (rounded up to kPopulateStep) if not done yet.
  void populate_to(size_t end);
  uint8_t* base_;
  size_t size_;
  std::atomic<size_t> used_{0};
  size_t reserved_ = 0;  // the exit stubs' bytes at the start, which reset() keeps
  size_t stub_at_[3] = {0, 0, 0};
  uint8_t* counters_;
  size_t counter_bytes_;
  std::atomic<size_t> counters_used_{0};
  std::atomic<size_t> populated_{0};  // bytes from base_ committed by populate_to
  std::atomic<bool> stop_{false};     // the destructor: populate_ahead's thread stops early
  std::thread ahead_;
};

}  // namespace orrery::tcg::baseline
