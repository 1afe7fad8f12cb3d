// TranslationCache on its own: packs indexed on a thread of their own while the guest starts.
#include "tcg/exec/translation_cache.h"

#include "tcg/interp/interp.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <string>
#include <vector>

namespace orrery::tcg::exec {
namespace {

class TranslationCacheUnit : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/orrery-tcache-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  void TearDown() override { std::system(("rm -rf '" + dir + "'").c_str()); }

  TranslationCacheOptions options(bool background) const {
    TranslationCacheOptions o;
    o.dir = dir;
    o.config = "unit test config";
    o.background = background;
    return o;
  }
  // A block at pc whose guest bytes are `guest` (one 4-byte instruction and the lookahead).
  static std::unique_ptr<TranslationBlock> block(uint64_t pc) {
    auto b = std::make_unique<TranslationBlock>();
    TranslationBlock& tb = *b;
    tb.key = TbKey{pc, pc, 0, 0};
    tb.ir.guest_pc = pc;
    tb.ir.guest_size = 4;
    tb.ir.num_insns = 1;
    tb.ir.term.kind = ir::Terminal::Kind::Jump;
    tb.ir.term.target = pc + 4;
    return b;
  }
  // The guest page the blocks live on: bytes of their own at 0x100 and 0x200.
  std::vector<uint8_t> page = std::vector<uint8_t>(4096, 0x11);
  const std::vector<uint8_t> code = std::vector<uint8_t>(32, 0xcc);
  std::span<const uint8_t> bytes_at(uint64_t pc) const {
    return {page.data() + pc, 4 + TranslationCache::kLookahead};
  }
  void record(TranslationCache& c, uint64_t pc) { c.record(*block(pc), bytes_at(pc), code, {}); }
  bool find(TranslationCache& c, uint64_t pc) {
    struct NoNextPage final : TranslationCache::NextPage {
      const uint8_t* get(uint64_t&) override { return nullptr; }
    } next;
    TranslationCache::Found found;
    return c.find(TbKey{pc, pc, 0, 0}, page.data() + pc, 4096 - pc, next, found);
  }
  std::string dir;
};

TEST_F(TranslationCacheUnit, StoredEntriesHitInTheNextRun) {
  {
    auto c = TranslationCache::open(options(false), nullptr);
    record(*c, 0x100);
    EXPECT_GT(c->save(), 0u);
  }
  auto c = TranslationCache::open(options(true), nullptr);
  c->wait_loaded();
  EXPECT_TRUE(find(*c, 0x100));
  EXPECT_FALSE(find(*c, 0x200));
  EXPECT_EQ(c->stats().loaded, 1u);
  EXPECT_EQ(c->stats().hits, 1u);
  EXPECT_EQ(c->stats().early, 0u);
}

// A counter relocation is valid only as the rel32 of a `dec dword [rip+rel32]` (the engine
// writes a cell's displacement there): an entry with one anywhere else is not stored, by the
// same check that makes a loaded pack holding one be ignored.
TEST_F(TranslationCacheUnit, CounterSitesAreCheckedAtLoad) {
  for (bool good : {true, false}) {
    SCOPED_TRACE(good ? "dec site" : "other bytes");
    std::system(("rm -f '" + dir + "'/*").c_str());
    std::vector<uint8_t> counting(code);
    counting[0] = good ? 0xff : 0x90;
    counting[1] = 0x0d;
    const baseline::Reloc site{2, baseline::RelocKind::Counter, 0};
    {
      auto c = TranslationCache::open(options(false), nullptr);
      c->record(*block(0x100), bytes_at(0x100), counting, std::span(&site, 1));
      EXPECT_EQ(c->save() > 0, good);
    }
    auto c = TranslationCache::open(options(false), nullptr);
    EXPECT_EQ(find(*c, 0x100), good);
  }
}

// Lookups before the packs are indexed miss; what those translations record is stored at
// save() only where no loaded entry holds it already.
TEST_F(TranslationCacheUnit, EarlyRecordsAreCheckedAgainstTheLoadedPacks) {
  {
    auto c = TranslationCache::open(options(false), nullptr);
    record(*c, 0x100);
    c->save();
  }
  std::promise<void> go;
  std::shared_future<void> started = go.get_future().share();
  std::promise<uint64_t> code_bytes;
  TranslationCacheOptions o = options(true);
  o.loaded = [&](uint64_t bytes, uint64_t entries) {
    EXPECT_EQ(entries, 1u);
    code_bytes.set_value(bytes);
    started.wait();  // holds the index back until the "guest" below has run
  };
  auto c = TranslationCache::open(std::move(o), nullptr);
  EXPECT_EQ(code_bytes.get_future().get(), 32u);  // the loaded entry's code, 16-byte aligned
  EXPECT_FALSE(c->ready());
  EXPECT_FALSE(find(*c, 0x100));  // stored, but not indexed yet
  record(*c, 0x100);              // translated again meanwhile: the same entry
  record(*c, 0x200);              // new code
  go.set_value();
  c->wait_loaded();
  EXPECT_TRUE(find(*c, 0x100));
  const TranslationCache::Stats s = c->stats();
  EXPECT_EQ(s.early, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.recorded, 2u);
  EXPECT_GT(c->save(), 0u);
  EXPECT_EQ(c->stats().stored, 1u);  // 0x200 only
  c.reset();

  auto d = TranslationCache::open(options(false), nullptr);
  EXPECT_EQ(d->stats().packs, 2u);
  EXPECT_EQ(d->stats().loaded, 2u);
  EXPECT_TRUE(find(*d, 0x100));
  EXPECT_TRUE(find(*d, 0x200));
}

// The only pack file in dir (written by the last save() when there was none).
std::vector<std::string> packs_in(const std::string& dir) {
  std::vector<std::string> v;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (struct dirent* e = ::readdir(d))
      if (std::string_view(e->d_name).ends_with(".tbp")) v.push_back(dir + "/" + e->d_name);
    ::closedir(d);
  }
  std::sort(v.begin(), v.end());
  return v;
}
void flip_byte(const std::string& path, off_t at) {
  const int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  uint8_t b = 0;
  ASSERT_EQ(::pread(fd, &b, 1, at), 1);
  b ^= 0x40;
  ASSERT_EQ(::pwrite(fd, &b, 1, at), 1);
  ::close(fd);
}
off_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}
// A body: 20 guest bytes and 32 bytes of code, padded to 8.
constexpr off_t kBody = 56;
constexpr off_t kRow = 112;  // a table row

// Loading checks a pack's header and table only; a body is checked when its entry is first
// looked up: a corrupt one is a miss (and counted), the pack's other entries still hit.
TEST_F(TranslationCacheUnit, ACorruptBodyIsAMissWhenLookedUp) {
  {
    auto c = TranslationCache::open(options(false), nullptr);
    record(*c, 0x100);
    record(*c, 0x200);
    c->save();
  }
  const std::vector<std::string> packs = packs_in(dir);
  ASSERT_EQ(packs.size(), 1u);
  flip_byte(packs[0], file_size(packs[0]) - kBody + 30);  // 0x200's code, the last body
  const char* why = nullptr;
  std::vector<uint8_t> data(size_t(file_size(packs[0])));
  {
    const int fd = ::open(packs[0].c_str(), O_RDONLY);
    ASSERT_EQ(::read(fd, data.data(), data.size()), ssize_t(data.size()));
    ::close(fd);
  }
  EXPECT_EQ(TranslationCache::check_pack(data, "unit test config", &why), -1);
  EXPECT_STREQ(why, "an entry's body is corrupt");

  auto c = TranslationCache::open(options(false), nullptr);
  EXPECT_EQ(c->stats().packs_bad, 0u);
  EXPECT_EQ(c->stats().loaded, 2u);
  EXPECT_EQ(c->stats().entries_bad, 0u);  // not read yet
  EXPECT_TRUE(find(*c, 0x100));
  EXPECT_FALSE(find(*c, 0x200));
  EXPECT_FALSE(find(*c, 0x200));
  EXPECT_EQ(c->stats().entries_bad, 1u);
  EXPECT_EQ(c->stats().hits, 1u);
}

// A merge writes the loaded entries again, checked: a corrupt one no run looked up is dropped,
// and the merged pack is intact.
TEST_F(TranslationCacheUnit, AMergeDropsACorruptEntry) {
  for (uint64_t pc : {0x100, 0x200, 0x300}) {
    auto c = TranslationCache::open(options(false), nullptr);
    record(*c, pc);
    c->save();
  }
  std::vector<std::string> packs = packs_in(dir);
  ASSERT_EQ(packs.size(), 3u);
  for (const std::string& p : packs) {  // the pack holding 0x200: its one table row's pc
    uint64_t pc = 0;
    const int fd = ::open(p.c_str(), O_RDONLY);
    ASSERT_EQ(::pread(fd, &pc, 8, file_size(p) - kBody - kRow), 8);
    ::close(fd);
    if (pc == 0x200) flip_byte(p, file_size(p) - kBody + 40);
  }
  {
    auto c = TranslationCache::open(options(false), nullptr);
    EXPECT_EQ(c->stats().loaded, 3u);
    EXPECT_TRUE(find(*c, 0x100));
    record(*c, 0x400);
    EXPECT_GT(c->save(), 0u);
    EXPECT_EQ(c->stats().stored, 3u);  // 0x100, 0x300 (not hit: kept while young), 0x400
    EXPECT_EQ(c->stats().entries_bad, 1u);
  }
  packs = packs_in(dir);
  ASSERT_EQ(packs.size(), 1u);
  std::vector<uint8_t> data(size_t(file_size(packs[0])));
  const int fd = ::open(packs[0].c_str(), O_RDONLY);
  ASSERT_EQ(::read(fd, data.data(), data.size()), ssize_t(data.size()));
  ::close(fd);
  EXPECT_EQ(TranslationCache::check_pack(data, "unit test config", nullptr), 3);
  auto c = TranslationCache::open(options(false), nullptr);
  for (uint64_t pc : {0x100, 0x300, 0x400}) EXPECT_TRUE(find(*c, pc)) << pc;
  EXPECT_FALSE(find(*c, 0x200));
  EXPECT_EQ(c->stats().entries_bad, 0u);
}

TEST_F(TranslationCacheUnit, DestroyedWhileIndexing) {
  {
    auto c = TranslationCache::open(options(false), nullptr);
    for (uint64_t pc = 0; pc < 0x800; pc += 0x40) record(*c, pc);
    c->save();
  }
  for (int i = 0; i < 20; ++i) {
    auto c = TranslationCache::open(options(true), nullptr);
    if (i % 2) find(*c, 0x40);
  }  // joins the loading thread: no leak, no use after free (ASan)
}

}  // namespace
}  // namespace orrery::tcg::exec
