#include "tcg/baseline/code_cache.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

namespace orrery::tcg::baseline {

std::unique_ptr<CodeCache> CodeCache::create(size_t bytes, std::string& error) {
  // Read-write-execute, like QEMU's default on Linux: blocks are appended while other threads
  // run earlier ones, and a split W^X mapping would double the TLB footprint of hot code.
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE | PROT_EXEC,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    error = std::string("cannot map executable memory for the baseline tier: ") + strerror(errno);
    return nullptr;
  }
  return std::unique_ptr<CodeCache>(new CodeCache(static_cast<uint8_t*>(p), bytes));
}

CodeCache::~CodeCache() {
  munmap(base_, size_);
}

uint8_t* CodeCache::add(const uint8_t* code, size_t n) {
  const size_t need = (n + 15) & ~size_t(15);
  size_t at = used_.fetch_add(need, std::memory_order_relaxed);
  if (at + need > size_) return nullptr;  // full (used_ stays past the end until reset)
  std::memcpy(base_ + at, code, n);
  // x86 keeps instruction fetch coherent with stores; the release publish of the block's
  // entry point (TranslationBlock::native) orders the copy before any other thread jumps in.
  return base_ + at;
}

}  // namespace orrery::tcg::baseline
