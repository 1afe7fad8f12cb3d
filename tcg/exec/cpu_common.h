// The guest-neutral head of every vCPU's state. Each guest's state struct starts with a
// CpuCommon member at offset 0, so generated code reaches both the common fields and the guest's
// registers (GetReg/SetReg byte offsets) from one pointer.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "tcg/softmmu/tlb.h"

namespace orrery::tcg {

struct CpuCommon;
namespace softmmu {
class Softmmu;
}
namespace exec {
struct TranslationBlock;
using NativeFn = uint64_t (*)(CpuCommon* cpu);
}

// The jump cache is grouped by 4 KiB page: the high index bits hash the page number only, so
// dropping one page's entries (TLBI by VA) touches one group of 256 slots instead of the whole
// cache. Blocks never cross a page, so one group holds all of a page's. Groups of 64 (QEMU's
// old choice) conflicted within hot kernel pages: a Linux boot missed 3x more often.
constexpr unsigned kJumpCacheBits = 14;
constexpr unsigned kJumpCacheEntries = 1u << kJumpCacheBits;
constexpr unsigned kJumpCacheGroupBits = 8;
constexpr unsigned kJumpCacheGroupSize = 1u << kJumpCacheGroupBits;
constexpr unsigned kJumpCacheGroupMask = (1u << (kJumpCacheBits - kJumpCacheGroupBits)) - 1;
constexpr unsigned jump_cache_group(uint64_t pc) {
  return unsigned((pc >> 12) ^ (pc >> 18)) & kJumpCacheGroupMask;
}
constexpr unsigned jump_cache_index(uint64_t pc) {
  return (jump_cache_group(pc) << kJumpCacheGroupBits) |
         (unsigned((pc >> 2) ^ (pc >> 8)) & (kJumpCacheGroupSize - 1));
}

/// One slot of the per-vCPU indirect-branch cache, read inline by native code: a hit needs
/// pc and flags to match and native to be non-null. Only the owning vCPU fills slots; other
/// threads may invalidate one by storing kInvalidPc into pc.
struct JumpCacheEntry {
  static constexpr uint64_t kInvalidPc = ~0ull;
  std::atomic<uint64_t> pc{kInvalidPc};
  uint64_t flags = 0;
  exec::NativeFn native = nullptr;
  exec::TranslationBlock* tb = nullptr;
};
static_assert(sizeof(JumpCacheEntry) == 32);

/// Set by slow paths and helpers to make the running block return to the dispatcher.
enum class PendingExit : uint32_t {
  None = 0,
  Exception = 1,  // the guest took an exception; guest state (PC included) is already updated
  Stop = 2,       // Orrery must stop this vCPU (e.g. a fatal guest error it cannot architecturally
                  // report yet); CpuCommon::stop_message says why
  Debug = 3,      // a debugger watchpoint: the access did not happen; the PC is at its instruction
};

struct CpuCommon {
  uint64_t pc = 0;
  // Nonzero asks the vCPU to leave chained execution at the next block boundary (interrupts,
  // debugger, shutdown). Written by other threads.
  std::atomic<uint32_t> exit_request{0};
  // Set by the current vCPU's slow paths/helpers (see PendingExit); generated code tests it after
  // every helper call or slow-path access that may fault.
  uint32_t pending_exit = 0;
  uint64_t tb_flags = 0;  // translation-relevant mode bits; kept current by the dispatcher
  softmmu::TlbTable* tlb = nullptr;
  JumpCacheEntry* jump_cache = nullptr;  // kJumpCacheEntries slots
  softmmu::Softmmu* mmu = nullptr;
  // Where the last block left through a chainable exit (see exec/engine.cpp).
  exec::TranslationBlock* last_tb = nullptr;
  uint32_t last_exit_slot = 0;
  const char* stop_message = nullptr;
};

static_assert(offsetof(CpuCommon, pc) == 0);

}  // namespace orrery::tcg
