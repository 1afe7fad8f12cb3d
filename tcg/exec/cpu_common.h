// The guest-neutral head of every vCPU's state. Each guest's state struct starts with a
// CpuCommon member at offset 0, so generated code reaches both the common fields and the guest's
// registers (GetReg/SetReg byte offsets) from one pointer.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <utility>

#include "tcg/softmmu/tlb.h"

namespace orrery::tcg {

struct CpuCommon;
namespace softmmu {
class Softmmu;
}
namespace exec {
struct TranslationBlock;
using NativeFn = uint64_t (*)(CpuCommon* cpu);
}  // namespace exec

// The jump cache is grouped by 4 KiB page: the high index bits hash the page number only, so
// dropping one page's entries (TLBI by VA) touches one group of 1024 slots instead of the whole
// cache. A block starts in its group's page (it may run on into the next page: see
// Softmmu::flush_page). 64K slots: with 16K the kernel's page-cache paths (bench/disk.sh, qcow2,
// 512 MiB through dd) missed 1.64M times, each a locked map lookup; with 64K, 0.31M. Groups of 64
// (QEMU's old choice) conflicted within hot kernel pages: a Linux boot missed 3x more often.
//
// The hash is defined once, here, as XORs of shifted PCs; the dispatcher (jump_cache_index), the
// baseline code generator and the LLVM tier all build it from these tables. The slot hash takes
// PC bits 2..11 (consecutive 4-byte AArch64 instructions get distinct slots) and folds bits 0..1
// in at the top (the negative shift is a left one), so byte-aligned x86 PCs do not collide four by
// four; for 4-byte-aligned PCs the index is exactly what it was before x86 came.
constexpr unsigned kJumpCacheBits = 16;
constexpr unsigned kJumpCacheEntries = 1u << kJumpCacheBits;
constexpr unsigned kJumpCacheGroupBits = kJumpCacheBits - 6;  // 64 groups: one mask word
constexpr unsigned kJumpCacheGroupSize = 1u << kJumpCacheGroupBits;
constexpr unsigned kJumpCacheGroupMask = (1u << (kJumpCacheBits - kJumpCacheGroupBits)) - 1;
/// Right shifts (negative: left) whose XOR, masked, gives the group and the slot in it.
constexpr int kJumpCacheGroupShifts[] = {12, 18};
constexpr int kJumpCacheSlotShifts[] = {2, 8, -int(kJumpCacheGroupBits - 2)};
namespace detail {
constexpr uint64_t jump_cache_shift(uint64_t pc, int s) {
  return s >= 0 ? pc >> s : pc << -s;
}
template <const auto& Shifts, size_t... I>
constexpr uint64_t jump_cache_fold(uint64_t pc, std::index_sequence<I...>) {
  return (jump_cache_shift(pc, Shifts[I]) ^ ...);
}
}  // namespace detail
/// XOR of pc shifted by each of Shifts; straight-line code with constant shifts (the dispatcher
/// computes it for every lookup).
template <const auto& Shifts>
constexpr uint64_t jump_cache_fold(uint64_t pc) {
  return detail::jump_cache_fold<Shifts>(pc, std::make_index_sequence<std::size(Shifts)>{});
}
constexpr unsigned jump_cache_group(uint64_t pc) {
  return unsigned(jump_cache_fold<kJumpCacheGroupShifts>(pc)) & kJumpCacheGroupMask;
}
constexpr unsigned jump_cache_index(uint64_t pc) {
  return (jump_cache_group(pc) << kJumpCacheGroupBits) |
         (unsigned(jump_cache_fold<kJumpCacheSlotShifts>(pc)) & (kJumpCacheGroupSize - 1));
}

/// What a jump-cache entry's `flags` holds and native code compares with CpuCommon::jc_tag: the
/// block key's mode (tb_flags) and code-segment base folded exactly into one word. With
/// cs_base 0 (every AArch64 block, x86 64-bit code) it is tb_flags itself; otherwise
/// cs_base (< 2^32, as every x86 segment base outside 64-bit mode) goes in the high half above
/// tb_flags (< 2^32, as x86's). A mode outside that range gets kNoJumpCacheTag and never uses
/// the jump cache (no entry is ever filled with it).
constexpr uint64_t kNoJumpCacheTag = ~0ull;
constexpr uint64_t jump_cache_tag(uint64_t tb_flags, uint64_t cs_base) {
  if (cs_base == 0) return tb_flags;
  if ((tb_flags >> 32) != 0 || (cs_base >> 32) != 0) return kNoJumpCacheTag;
  return tb_flags | (cs_base << 32);
}

/// One slot of the per-vCPU indirect-branch cache, read inline by native code: a hit needs
/// pc to match, flags to equal CpuCommon::jc_tag and code to be non-null. Only the owning vCPU
/// fills slots; other threads may invalidate one by storing kInvalidPc into pc. 32 bytes: a
/// context's 64K slots are 2 MiB of memory to fill when it is made (4 MiB at 64 bytes).
struct alignas(32) JumpCacheEntry {
  static constexpr uint64_t kInvalidPc = ~0ull;
  std::atomic<uint64_t> pc{kInvalidPc};
  uint64_t flags = 0;  // jump_cache_tag() of the block's key
  // What runs on a hit: baseline code's fast entry (tcg/baseline/baseline.h), where it goes on
  // in the caller's frame, else the block's NativeFn; null: nothing. Bit 3 tells them apart:
  // native code starts 16-byte aligned and the fast entry lies 24 bytes in.
  const uint8_t* code = nullptr;
  exec::TranslationBlock* tb = nullptr;
  static constexpr uintptr_t kFastBit = 8;
  static constexpr int64_t kFastOffset = 24;  // baseline::kFastEntryOffset (asserted there)
  static bool is_fast(const uint8_t* code) { return (uintptr_t(code) & kFastBit) != 0; }
  /// The code for a block with this NativeFn and (baseline code) fast entry: null for a NativeFn
  /// that is not 16-byte aligned (then the dispatcher runs it).
  static const uint8_t* code_for(exec::NativeFn native, const uint8_t* fast) {
    if (fast) return is_fast(fast) ? fast : nullptr;
    const auto* p = reinterpret_cast<const uint8_t*>(native);
    return is_fast(p) ? nullptr : p;
  }
};
inline constexpr unsigned kJumpCacheEntryBits = 5;
static_assert(sizeof(JumpCacheEntry) == 1u << kJumpCacheEntryBits);

/// Set by slow paths and helpers to make the running block return to the dispatcher.
enum class PendingExit : uint32_t {
  None = 0,
  Exception = 1,  // the guest took an exception; guest state (PC included) is already updated
  Stop = 2,       // Orrery must stop this vCPU (e.g. a fatal guest error it cannot architecturally
                  // report yet); CpuCommon::stop_message says why
  Debug = 3,      // a debugger watchpoint: the access did not happen; the PC is at its instruction
  CodeModified = 4,  // a store would rewrite the running block: it did not happen; the PC is at
                     // its instruction, which the dispatcher re-runs alone (precise SMC)
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
  // The code-segment base of the current mode (Frontend::cs_base; 0 for guests without one) and
  // jump_cache_tag(tb_flags, cs_base). Both are kept current with tb_flags by the dispatcher.
  uint64_t cs_base = 0;
  uint64_t jc_tag = 0;
};

static_assert(offsetof(CpuCommon, pc) == 0);

}  // namespace orrery::tcg
