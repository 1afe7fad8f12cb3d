// Runs of guest memory accesses that one TLB probe can check. A copy or clear loop's accesses
// (AArch64 LDP/STP of Q registers, DC ZVA's eight stores, x86 PUSH sequences) use one base value
// with small constant offsets; a backend probes the TLB once for the run's whole byte range
// before its first access and, when the range is one page of plain RAM with the needed
// permission, makes every member a host access with no check of its own. When the probe fails
// each member takes its usual path, so faults, MMIO, watchpoints and code-page writes behave
// exactly as without runs (the interpreter, the reference, ignores them).
#pragma once

#include <cstdint>
#include <vector>

#include "tcg/ir/ir.h"

namespace orrery::tcg::opt {

struct MemRun {
  uint32_t leader = 0;  // the first member: the probe goes just before it
  uint32_t last = 0;    // the last member
  ir::Value base;       // every member's address is base + its offset (I64)
  int64_t lo = 0;       // the members cover [base + lo, base + hi)
  int64_t hi = 0;
  uint8_t mmu_idx = 0;
  bool write = false;  // all members are stores (else all are loads)
};

struct MemRuns {
  std::vector<MemRun> runs;
  std::vector<int32_t> run_of;  // by instruction: index into runs, or -1
  std::vector<int64_t> offset;  // by instruction: a member's address minus its run's base
};

/// The longest run (bytes from the lowest to the highest address touched): short enough that a
/// run rarely straddles a page (its probe then fails), long enough for a 128-byte copy step.
constexpr int64_t kMaxRunSpan = 256;

/// Groups the block's Load/Store instructions into runs of two or more. Members share a base
/// value, direction and MMU index and have neither alignment checks nor 32-bit wrapping; a
/// helper call (which may change the TLB or the translation regime) ends every run. Other
/// accesses may come between members, but the backend must treat their slow paths as ending
/// the runs in progress: a device access can change the memory map, which flushes the vCPU's
/// TLB at once (Engine::memory_map_changed).
MemRuns find_mem_runs(const ir::Block& b);

}  // namespace orrery::tcg::opt
