// The per-vCPU software TLB. Layout follows QEMU's proven design: each entry holds the page's
// guest-virtual address once per access kind, with flag bits in the low (sub-page) bits, and the
// host addend. A plain RAM hit is therefore one compare of (vaddr & (page mask | align mask))
// against addr_read/addr_write/addr_code; any flag, a different page, or a misaligned access
// fails the compare and takes the slow path. Generated code depends on this exact layout.
#pragma once

#include <cstddef>
#include <cstdint>

namespace orrery::tcg::softmmu {

constexpr unsigned kPageBits = 12;  // TLB granule; larger guest pages fill several entries
constexpr uint64_t kPageSize = 1ull << kPageBits;
constexpr uint64_t kPageMask = ~(kPageSize - 1);
constexpr unsigned kTlbBits = 10;
constexpr unsigned kTlbEntries = 1u << kTlbBits;
constexpr unsigned kNumMmuIdx = 8;

// Flag bits in addr_read/addr_write/addr_code. They sit above the alignment bits (0..2).
constexpr uint64_t kTlbInvalid = 1ull << 11;   // empty entry or no permission for this access
constexpr uint64_t kTlbMmio = 1ull << 10;      // not RAM: go through the AddressSpace
constexpr uint64_t kTlbNotDirty = 1ull << 9;   // RAM page holding translated code (writes only)
constexpr uint64_t kTlbWatch = 1ull << 8;      // a debugger watchpoint covers part of the page
constexpr uint64_t kTlbFlagMask = kTlbInvalid | kTlbMmio | kTlbNotDirty | kTlbWatch;

struct TlbEntry {
  uint64_t addr_read;
  uint64_t addr_write;
  uint64_t addr_code;
  uintptr_t addend;  // host pointer = guest vaddr + addend (RAM and ROM only)
};
static_assert(sizeof(TlbEntry) == 32, "generated code indexes entries with a shift by 5");

using TlbTable = TlbEntry[kNumMmuIdx][kTlbEntries];

/// The direct-mapped slot of a page. Bits above the table's reach are folded in, so buffers a
/// multiple of the reach apart (4 MiB: common for adjacent arrays) do not collide. The fold is
/// an add, not an xor: adjacent pages then always differ by 1 or 2 slots, which the inline fast
/// path of a possibly misaligned access relies on (it compares its last byte's page with the
/// entry in its first byte's slot, so a page-crossing access must miss); the xor gave the
/// pages on either side of every 2 GiB boundary one slot. Generated code computes exactly this.
constexpr unsigned tlb_index(uint64_t vaddr) {
  return unsigned((vaddr >> kPageBits) + (vaddr >> (kPageBits + kTlbBits))) & (kTlbEntries - 1);
}

}  // namespace orrery::tcg::softmmu
