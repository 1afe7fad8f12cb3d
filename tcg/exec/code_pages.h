// Which guest-physical pages hold translated code, readable without a lock: every TLB fill asks
// (so that writes to code pages take the slow path), and that used to take the engine's mutex.
// A two-level table of one flag byte per 4 KiB page over a 44-bit physical space (every board's
// RAM and flash); leaves (one per GiB) are allocated on first use and never freed, so a reader
// can't see one disappear. Writers hold the engine's lock.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include "tcg/softmmu/tlb.h"

namespace orrery::tcg::exec {

class CodePages {
 public:
  static constexpr unsigned kSpaceBits = 44;
  /// The end of the physical space the table tracks.
  static constexpr uint64_t kLimit = uint64_t(1) << kSpaceBits;

  CodePages() : top_(new std::atomic<Leaf*>[kTopSize]) {
    for (uint64_t i = 0; i < kTopSize; ++i) top_[i].store(nullptr, std::memory_order_relaxed);
  }
  ~CodePages() {
    for (uint64_t i = 0; i < kTopSize; ++i) delete[] top_[i].load(std::memory_order_relaxed);
  }

  /// Whether phys lies in the space this table tracks (the engine keeps the rest in its map).
  static bool covers(uint64_t phys) { return (page_number(phys) >> (kTopBits + kLeafBits)) == 0; }
  CodePages(const CodePages&) = delete;
  CodePages& operator=(const CodePages&) = delete;

  bool contains(uint64_t phys) const {
    if (!covers(phys)) return false;
    const uint64_t pn = page_number(phys);
    const Leaf* leaf = top_[pn >> kLeafBits].load(std::memory_order_acquire);
    return leaf && leaf[pn & kLeafMask].load(std::memory_order_acquire);
  }

  /// The first marked page at or after the page holding `from` whose address is <= last, or
  /// nothing. Skips unallocated leaves a GiB at a time, so a notice over a huge range (a PCI
  /// window mapped, the whole space flushed) costs little more than the RAM it covers.
  std::optional<uint64_t> next(uint64_t from, uint64_t last) const {
    if (!covers(from)) return std::nullopt;
    const uint64_t end_pn = std::min(page_number(last), kTopSize * kLeafSize - 1);
    for (uint64_t pn = page_number(from); pn <= end_pn;) {
      const Leaf* leaf = top_[pn >> kLeafBits].load(std::memory_order_acquire);
      if (!leaf) {
        pn = (pn | kLeafMask) + 1;
        continue;
      }
      for (const uint64_t leaf_end = std::min(pn | kLeafMask, end_pn); pn <= leaf_end; ++pn)
        if (leaf[pn & kLeafMask].load(std::memory_order_acquire)) return pn << softmmu::kPageBits;
    }
    return std::nullopt;
  }

  /// Marks or unmarks the page holding phys (callers serialise writes; uncovered addresses are
  /// ignored).
  void set(uint64_t phys, bool code) {
    if (!covers(phys)) return;
    const uint64_t pn = page_number(phys);
    std::atomic<Leaf*>& slot = top_[pn >> kLeafBits];
    Leaf* leaf = slot.load(std::memory_order_relaxed);
    if (!leaf) {
      if (!code) return;
      leaf = new Leaf[kLeafSize]();
      slot.store(leaf, std::memory_order_release);
    }
    leaf[pn & kLeafMask].store(code ? 1 : 0, std::memory_order_release);
  }

  void clear() {
    for (uint64_t t = 0; t < kTopSize; ++t)
      if (Leaf* leaf = top_[t].load(std::memory_order_relaxed))
        for (uint64_t i = 0; i < kLeafSize; ++i) leaf[i].store(0, std::memory_order_relaxed);
  }

 private:
  using Leaf = std::atomic<uint8_t>;
  static constexpr unsigned kLeafBits = 18;  // 2^18 pages of 4 KiB = 1 GiB per leaf
  static constexpr unsigned kTopBits = kSpaceBits - softmmu::kPageBits - kLeafBits;
  static constexpr uint64_t kTopSize = uint64_t(1) << kTopBits;
  static constexpr uint64_t kLeafSize = uint64_t(1) << kLeafBits;
  static constexpr uint64_t kLeafMask = kLeafSize - 1;
  static uint64_t page_number(uint64_t phys) { return phys >> softmmu::kPageBits; }

  std::unique_ptr<std::atomic<Leaf*>[]> top_;
};

}  // namespace orrery::tcg::exec
