// Executable memory for the baseline tier: one reserved mapping, handed out by a lock-free bump
// allocator. Blocks are never freed one by one (another vCPU may still be running an invalidated
// block's code); reset() recycles everything once nothing can run it.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace orrery::tcg::baseline {

class CodeCache {
 public:
  /// Reserves `bytes` of address space (pages are committed as code is written). Returns null
  /// and sets error if the host refuses the mapping.
  static std::unique_ptr<CodeCache> create(size_t bytes, std::string& error);
  ~CodeCache();
  CodeCache(const CodeCache&) = delete;
  CodeCache& operator=(const CodeCache&) = delete;

  /// Copies n bytes of code in and returns where they landed, or null when the cache is full.
  /// Thread-safe.
  uint8_t* add(const uint8_t* code, size_t n);

  /// Forgets every block. Only when no thread can be running or about to run cached code.
  void reset() { used_.store(0, std::memory_order_relaxed); }

  bool contains(const uint8_t* p) const { return p >= base_ && p < base_ + size_; }
  size_t used() const { return std::min(used_.load(std::memory_order_relaxed), size_); }
  size_t capacity() const { return size_; }

 private:
  CodeCache(uint8_t* base, size_t size) : base_(base), size_(size) {}
  uint8_t* base_;
  size_t size_;
  std::atomic<size_t> used_{0};
};

}  // namespace orrery::tcg::baseline
