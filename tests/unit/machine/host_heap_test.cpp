// prepare_host_heap: one padded main arena whose first part uses transparent huge pages.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <thread>

#include "ui/host_heap.h"

namespace orrery::ui {
namespace {

// Runs in a child process (EXPECT_EXIT) so the test binary's own heap is left as it is.
int check_heap() {
  const uintptr_t before = reinterpret_cast<uintptr_t>(sbrk(0));
  const HostHeapReport r = prepare_host_heap(size_t(64) << 20);
  if (!r.applied) return 2;  // not glibc, or sanitized: nothing to check
  const uintptr_t after = reinterpret_cast<uintptr_t>(sbrk(0));
  if (after - before < (size_t(64) << 20)) return 3;  // grown once by the pad
  // A host kernel built without transparent huge pages refuses the advice.
  const bool thp = access("/sys/kernel/mm/transparent_hugepage", F_OK) == 0;
  if (thp && r.huge_bytes < (size_t(60) << 20)) return 4;
  // Another thread's small allocations come from the same (main, brk) heap.
  uintptr_t got = 0;
  std::thread t([&] {
    void* p = std::malloc(4000);
    got = reinterpret_cast<uintptr_t>(p);
    std::free(p);
  });
  t.join();
  // (Anywhere in the brk heap, which may start below `before`; other arenas are mmap'd far
  // from it.)
  if (got >= after || after - got > (uintptr_t(1) << 30)) return 5;
  // Freeing does not hand the padded heap back.
  void* big = std::malloc(100 << 10);
  std::free(big);
  if (reinterpret_cast<uintptr_t>(sbrk(0)) != after) return 6;
  return 0;
}

TEST(HostHeap, OnePaddedHugePageArena) {
  // A fresh process, as orrery's own start is: a forked one would keep the arenas that
  // earlier tests' threads made, and a new thread could take one of those.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // Exit code 2 (sanitized or not glibc) passes too: the heap is then malloc's default.
  EXPECT_EXIT(
      {
        const int code = check_heap();
        std::exit(code == 2 ? 0 : code);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace orrery::ui
