// The translation cache index against std::map as a reference: random inserts, finds and
// erases (with tombstones and rehashes), first-insert-wins, and erase only of the stored block.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <tuple>

#include "tcg/exec/tb_map.h"
#include "tcg/interp/interp.h"

namespace orrery::tcg::exec {
namespace {

using Key = std::tuple<uint64_t, uint64_t, uint64_t>;
Key key_of(const TbKey& k) {
  return {k.pc, k.phys_pc, k.flags};
}

TEST(TbMap, MatchesAReferenceMapUnderRandomChurn) {
  TbMap m;
  std::map<Key, TranslationBlock*> ref;
  std::vector<std::unique_ptr<TranslationBlock>> blocks;
  auto block = [&](const TbKey& k) {
    blocks.push_back(std::make_unique<TranslationBlock>());
    blocks.back()->key = k;
    return blocks.back().get();
  };
  TranslationBlock other;  // never inserted
  other.key = TbKey{1, 2, 3};
  std::mt19937_64 rng(42);
  auto random_key = [&] {
    // Few distinct values so inserts, hits and erases of present keys are all common.
    return TbKey{0xffff800008000000ull + 4 * (rng() % 20000), 0x40000000 + 4 * (rng() % 20000),
                 rng() % 3};
  };
  for (int step = 0; step < 200000; ++step) {
    const TbKey k = random_key();
    const unsigned what = rng() % 10;
    if (what < 5) {
      TranslationBlock* tb = block(k);
      auto [it, fresh] = ref.emplace(key_of(k), tb);
      ASSERT_EQ(m.insert(tb), it->second);  // the first insert wins
      (void)fresh;
    } else if (what < 8) {
      auto it = ref.find(key_of(k));
      ASSERT_EQ(m.find(k), it == ref.end() ? nullptr : it->second);
    } else {
      auto it = ref.find(key_of(k));
      if (it == ref.end()) continue;
      m.erase(&other);  // not the stored block: no effect
      other.key = k;
      m.erase(&other);  // its key, but not the stored block: no effect
      ASSERT_EQ(m.find(k), it->second);
      m.erase(it->second);
      ref.erase(it);
      ASSERT_EQ(m.find(k), nullptr);
    }
    ASSERT_EQ(m.size(), ref.size());
  }
  size_t seen = 0;
  m.for_each([&](const TbKey& k, TranslationBlock* tb) {
    ++seen;
    EXPECT_EQ(ref.at(key_of(k)), tb);
  });
  EXPECT_EQ(seen, ref.size());
  m.clear();
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.find(TbKey{0xffff800008000000ull, 0x40000000, 0}), nullptr);
}

// A table made ahead (outside the engine's lock) replaces the map's when its next insert
// would rehash; a table made for a smaller map is not taken.
TEST(TbMap, AdoptsATableMadeAheadWhenItWouldGrow) {
  TbMap m;
  std::vector<std::unique_ptr<TranslationBlock>> blocks;
  auto key = [](uint64_t i) { return TbKey{0xffff800008000000ull + 4 * i, 0x40000000 + 4 * i, 0}; };
  uint64_t n = 0;
  while (!m.growth_needed()) {
    blocks.push_back(std::make_unique<TranslationBlock>());
    blocks.back()->key = key(n);
    ASSERT_EQ(m.insert(blocks.back().get()), blocks.back().get());
    ++n;
  }
  const size_t want = m.growth_needed();
  m.adopt(TbMap::make_slots(want / 2));  // too small: ignored
  EXPECT_EQ(m.growth_needed(), want);
  m.adopt(TbMap::make_slots(want));
  EXPECT_EQ(m.growth_needed(), 0u);
  EXPECT_EQ(m.size(), n);
  for (uint64_t i = 0; i < n; ++i) ASSERT_EQ(m.find(key(i)), blocks[i].get()) << i;
  // A larger table made ahead (for the blocks a loaded cache will install) is taken at once.
  const size_t ahead = TbMap::slots_for(4 * n);
  EXPECT_GT(ahead, m.capacity());
  m.adopt(TbMap::make_slots(ahead));
  EXPECT_EQ(m.capacity(), ahead);
  for (uint64_t i = 0; i < n; ++i) ASSERT_EQ(m.find(key(i)), blocks[i].get()) << i;
  for (uint64_t i = n; i < 4 * n; ++i) {
    blocks.push_back(std::make_unique<TranslationBlock>());
    blocks.back()->key = key(i);
    m.insert(blocks.back().get());
  }
  EXPECT_EQ(m.capacity(), ahead);  // no growth on the way
}

// Keys that share a PC (the slot's part of the key) are told apart by the rest, in the block.
TEST(TbMap, KeysSharingAPcAreDistinct) {
  TbMap m;
  std::vector<std::unique_ptr<TranslationBlock>> blocks;
  for (uint64_t f = 0; f < 64; ++f) {
    blocks.push_back(std::make_unique<TranslationBlock>());
    blocks.back()->key = TbKey{0x1000, 0x2000 + (f & 1) * 0x1000, f >> 1, f & 3};
    ASSERT_EQ(m.insert(blocks.back().get()), blocks.back().get());
  }
  for (const auto& b : blocks) ASSERT_EQ(m.find(b->key), b.get());
  m.erase(blocks[5].get());
  EXPECT_EQ(m.find(blocks[5]->key), nullptr);
  EXPECT_EQ(m.find(blocks[6]->key), blocks[6].get());
  EXPECT_EQ(m.size(), 63u);
}

}  // namespace
}  // namespace orrery::tcg::exec
