// The translation cache's index: TbKey -> block, an open-addressing hash table with linear
// probing. A slot holds the key's PC beside the block, so a probe rarely leaves the slot's
// cache line before the hit, where a node-based std::unordered_map took two or three misses
// (it was ~3% of a Linux boot); the rest of the key is compared in the block, which the caller
// reads next anyway. 16-byte slots: a boot's ~262k slots are 4 MiB of fresh memory, not 10.
// Not thread-safe: the engine's lock guards it.
#pragma once

#include <cstdint>
#include <vector>

#include "tcg/exec/tb.h"

namespace orrery::tcg::exec {

class TbMap {
  struct Slot;

 public:
  using Slots = std::vector<Slot>;

  TbMap() { slots_.resize(kInitialSlots); }

  TranslationBlock* find(const TbKey& k) const {
    for (size_t i = hash(k) & mask();; i = (i + 1) & mask()) {
      const Slot& s = slots_[i];
      if (s.tb == nullptr) return nullptr;
      if (s.pc == k.pc && s.tb != tombstone() && s.tb->key == k) return s.tb;
    }
  }

  /// Inserts tb under its key unless the key is present; returns the block now stored for it.
  /// One probe finds either the key or the slot to use (the first tombstone on the way, else
  /// the empty end).
  TranslationBlock* insert(TranslationBlock* tb) {
    if (const size_t n = growth_needed()) rehash_into(Slots(n));
    const TbKey& k = tb->key;
    Slot* reuse = nullptr;
    for (size_t i = hash(k) & mask();; i = (i + 1) & mask()) {
      Slot& s = slots_[i];
      if (s.tb == tombstone()) {
        if (!reuse) reuse = &s;
      } else if (s.tb == nullptr) {
        if (!reuse) {
          reuse = &s;
          ++used_;
        }
        *reuse = Slot{k.pc, tb};
        ++live_;
        return tb;
      } else if (s.pc == k.pc && s.tb->key == k) {
        return s.tb;
      }
    }
  }

  /// Removes tb's key if it maps to tb.
  void erase(const TranslationBlock* tb) {
    const TbKey& k = tb->key;
    for (size_t i = hash(k) & mask();; i = (i + 1) & mask()) {
      Slot& s = slots_[i];
      if (s.tb == nullptr) return;
      if (s.pc == k.pc && s.tb != tombstone() && s.tb->key == k) {
        if (s.tb == tb) {
          s.tb = tombstone();
          --live_;
        }
        return;
      }
    }
  }

  void clear() {
    slots_.assign(kInitialSlots, Slot{});
    used_ = live_ = 0;
  }

  template <typename F>
  void for_each(F&& f) const {
    for (const Slot& s : slots_)
      if (s.tb != nullptr && s.tb != tombstone()) f(s.tb->key, s.tb);
  }

  size_t size() const { return live_; }

  /// The table size the next insert rehashes to (larger, or the same size to drop tombstones
  /// when most slots were erased), or 0 when it fits.
  size_t growth_needed() const {
    if ((used_ + 1) * 2 <= slots_.size()) return 0;
    return live_ * 4 > slots_.size() ? slots_.size() * 2 : slots_.size();
  }
  /// An empty table of n slots (a power of two). Zeroing a large one is the costly part of a
  /// rehash (fresh memory: a boot's index grows to ~10 MiB), so a caller that holds a lock
  /// around the map makes it before taking the lock and hands it to adopt().
  static Slots make_slots(size_t n) { return Slots(n); }
  /// Rehashes into `fresh` (from make_slots) if it is larger than the table, or if the next
  /// insert would rehash to its size or less; otherwise leaves the map as it is.
  void adopt(Slots&& fresh) {
    const size_t n = growth_needed();
    if (fresh.size() > slots_.size() || (n && fresh.size() >= n)) rehash_into(std::move(fresh));
  }
  /// The table size that holds n blocks without growing.
  static size_t slots_for(size_t n) {
    size_t s = kInitialSlots;
    while (s < 2 * (n + 1)) s *= 2;
    return s;
  }
  size_t capacity() const { return slots_.size(); }

 private:
  struct Slot {
    uint64_t pc = 0;                 // the key's
    TranslationBlock* tb = nullptr;  // null: never used; tombstone(): erased
  };
  static_assert(sizeof(Slot) == 16);
  static constexpr size_t kInitialSlots = 1 << 12;

  // A non-null address no block can have (blocks are 8-byte aligned).
  static TranslationBlock* tombstone() { return reinterpret_cast<TranslationBlock*>(uintptr_t(1)); }
  size_t mask() const { return slots_.size() - 1; }
  static size_t hash(const TbKey& k) {
    uint64_t x = k.pc ^ (k.phys_pc << 7) ^ ((k.flags ^ (k.cs_base << 23)) * 0x9e3779b97f4a7c15ull);
    x ^= x >> 30;  // splitmix64's finaliser
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return size_t(x);
  }
  void rehash_into(Slots&& fresh) {
    Slots old = std::move(fresh);
    old.swap(slots_);
    used_ = live_ = 0;
    for (const Slot& s : old)
      if (s.tb != nullptr && s.tb != tombstone()) {
        size_t i = hash(s.tb->key) & mask();
        while (slots_[i].tb != nullptr) i = (i + 1) & mask();
        slots_[i] = s;
        ++used_;
        ++live_;
      }
  }

  std::vector<Slot> slots_;
  size_t used_ = 0;  // live + tombstones
  size_t live_ = 0;
};

}  // namespace orrery::tcg::exec
