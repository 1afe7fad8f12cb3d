// The translation cache's index: TbKey -> block, an open-addressing hash table with linear
// probing. Keys sit inline in the slots, so a lookup costs one cache miss where a node-based
// std::unordered_map took two or three (it was ~3% of a Linux boot). Not thread-safe: the
// engine's lock guards it.
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
      if (s.tb != tombstone() && s.key == k) return s.tb;
    }
  }

  /// Inserts k -> tb unless k is present; returns the block now stored for k. One probe
  /// finds either k or the slot to use (the first tombstone on the way, else the empty end).
  TranslationBlock* insert(const TbKey& k, TranslationBlock* tb) {
    if (const size_t n = growth_needed()) rehash_into(Slots(n));
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
        *reuse = Slot{k, tb};
        ++live_;
        return tb;
      } else if (s.key == k) {
        return s.tb;
      }
    }
  }

  /// Removes k if it maps to tb.
  void erase(const TbKey& k, const TranslationBlock* tb) {
    for (size_t i = hash(k) & mask();; i = (i + 1) & mask()) {
      Slot& s = slots_[i];
      if (s.tb == nullptr) return;
      if (s.tb != tombstone() && s.key == k) {
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
      if (s.tb != nullptr && s.tb != tombstone()) f(s.key, s.tb);
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
  /// Rehashes into `fresh` (from make_slots) if the next insert would rehash to its size or
  /// less; otherwise leaves the map as it is.
  void adopt(Slots&& fresh) {
    const size_t n = growth_needed();
    if (n && fresh.size() >= n) rehash_into(std::move(fresh));
  }

 private:
  struct Slot {
    TbKey key;
    TranslationBlock* tb = nullptr;  // null: never used; tombstone(): erased
  };
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
        size_t i = hash(s.key) & mask();
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
