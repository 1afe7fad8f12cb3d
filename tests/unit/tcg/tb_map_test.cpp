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
      blocks.push_back(std::make_unique<TranslationBlock>());
      TranslationBlock* tb = blocks.back().get();
      auto [it, fresh] = ref.emplace(key_of(k), tb);
      ASSERT_EQ(m.insert(k, tb), it->second);  // the first insert wins
      (void)fresh;
    } else if (what < 8) {
      auto it = ref.find(key_of(k));
      ASSERT_EQ(m.find(k), it == ref.end() ? nullptr : it->second);
    } else {
      auto it = ref.find(key_of(k));
      if (it == ref.end()) continue;
      m.erase(k, blocks.front().get());  // not the stored block (unless it is): no effect
      if (it->second == blocks.front().get()) ref.erase(it);
      it = ref.find(key_of(k));
      if (it == ref.end()) continue;
      m.erase(k, it->second);
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
    ASSERT_EQ(m.insert(key(n), blocks.back().get()), blocks.back().get());
    ++n;
  }
  const size_t want = m.growth_needed();
  m.adopt(TbMap::make_slots(want / 2));  // too small: ignored
  EXPECT_EQ(m.growth_needed(), want);
  m.adopt(TbMap::make_slots(want));
  EXPECT_EQ(m.growth_needed(), 0u);
  EXPECT_EQ(m.size(), n);
  for (uint64_t i = 0; i < n; ++i) ASSERT_EQ(m.find(key(i)), blocks[i].get()) << i;
}

}  // namespace
}  // namespace orrery::tcg::exec
