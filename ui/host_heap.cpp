#include "ui/host_heap.h"

#include <sys/mman.h>
#include <unistd.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace orrery::ui {

namespace {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif
}  // namespace

HostHeapReport prepare_host_heap(size_t first_bytes) {
  HostHeapReport report;
#if defined(__GLIBC__)
  if (kSanitized) return report;
  constexpr uintptr_t kHugePage = uintptr_t(2) << 20;
  // Later growth steps: large enough that brk is rarely called.
  constexpr int kLaterPad = 32 << 20;
  // Small chunks come from the heap (below glibc's 128 KiB mmap threshold).
  constexpr size_t kChunk = 96 << 10;
  // All threads share the main arena: its brk heap is the one whose growth can be padded.
  if (mallopt(M_ARENA_MAX, 1) == 0) return report;
  // Freed memory stays in the heap (it is reused by the next translations).
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
  mallopt(M_TOP_PAD, int(first_bytes));
  // Grow the heap once by first_bytes: allocate until brk moves, then give the chunks back.
  const uintptr_t before = reinterpret_cast<uintptr_t>(sbrk(0));
  std::vector<std::byte*> chunks;
  chunks.reserve(64);
  while (chunks.size() < 64 && reinterpret_cast<uintptr_t>(sbrk(0)) == before) {
    auto* p = static_cast<std::byte*>(std::malloc(kChunk));
    if (!p) break;
    chunks.push_back(p);
  }
  for (std::byte* p : chunks) std::free(p);
  mallopt(M_TOP_PAD, kLaterPad);
  report.applied = true;
  const uintptr_t after = reinterpret_cast<uintptr_t>(sbrk(0));
  const uintptr_t lo = (before + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t hi = after & ~(kHugePage - 1);
  // Untouched pages cost nothing; touched ones now come 2 MiB per fault.
  if (hi > lo && madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE) == 0)
    report.huge_bytes = hi - lo;
#else
  (void)first_bytes;
#endif
  return report;
}

}  // namespace orrery::ui
