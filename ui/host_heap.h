// How the orrery process's own heap is set up before any thread starts.
#pragma once

#include <cstddef>

namespace orrery::ui {

/// What prepare_host_heap did, for tests and -d logging.
struct HostHeapReport {
  bool applied = false;   // false: not glibc, or a sanitizer owns malloc
  size_t huge_bytes = 0;  // heap bytes advised to use transparent huge pages
};

/// Puts every thread's small allocations in one brk heap that grows in large steps, never
/// shrinks, and whose first first_bytes use transparent huge pages. Call before threads start.
///
/// Why: translating a block allocates ~1 KB that lives as long as the block (its IR, the
/// TranslationBlock, map slots), ~70 MB in an arm64 Linux boot. glibc's per-thread arenas grew
/// that a page at a time (one mprotect and one page fault per 4 KiB: 24k of the boot's 41k
/// faults, ~12% of its CPU on this host, where a fault is expensive). One arena, padded and
/// backed by huge pages, takes a few dozen faults instead.
HostHeapReport prepare_host_heap(size_t first_bytes = size_t(256) << 20);

}  // namespace orrery::ui
