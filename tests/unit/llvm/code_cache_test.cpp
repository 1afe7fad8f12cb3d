// The persistent translation cache: its files (round trip, a changed key is a miss, corrupt
// entries are ignored, LRU eviction, two processes sharing a directory) and the JIT linking a
// cached object into another JIT session, at another TranslationBlock address.
#include "tcg/llvm/code_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

#include "llvm_test_util.h"

namespace orrery::tcg::llvm::test {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/orrery_tcc_XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::vector<std::string> entries_in(const std::string& dir, bool tmp_too = false) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  while (struct dirent* e = d ? ::readdir(d) : nullptr) {
    std::string n = e->d_name;
    if (n.ends_with(".tcc") || (tmp_too && n.starts_with(".tmp"))) out.push_back(n);
  }
  if (d) ::closedir(d);
  return out;
}

std::string read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
void write_file(const std::string& p, const std::string& data) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(data.data(), std::streamsize(data.size()));
}

std::unique_ptr<CodeCache> open_cache(const std::string& dir, uint64_t max = 0) {
  std::string err;
  auto c = CodeCache::open({dir, max}, nullptr, err);
  EXPECT_TRUE(c) << err;
  return c;
}

std::vector<char> bytes(std::string_view s) {
  return {s.begin(), s.end()};
}

TEST(CodeCacheFiles, StoreLoadRoundTripAndOtherKeyMisses) {
  TempDir t;
  auto c = open_cache(t.path());
  EXPECT_FALSE(c->load("key-a"));
  EXPECT_TRUE(c->store("key-a", bytes("payload of a")));
  auto got = c->load("key-a");
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, bytes("payload of a"));
  EXPECT_FALSE(c->load("key-b"));
  EXPECT_EQ(entries_in(t.path()).size(), 1u);
  // An entry found under another key's name (as a hash collision would) is a miss.
  ::rename(c->path_for("key-a").c_str(), c->path_for("key-b").c_str());
  EXPECT_FALSE(c->load("key-b"));
  EXPECT_EQ(c->stats().rejected, 1u);
  EXPECT_EQ(c->stats().hits, 1u);
}

TEST(CodeCacheFiles, OpenFailsCleanlyOnAFile) {
  TempDir t;
  write_file(t.path() + "/f", "x");
  std::string err;
  EXPECT_FALSE(CodeCache::open({t.path() + "/f", 0}, nullptr, err));
  EXPECT_NE(err, "");
}

// A mutation of a valid entry: truncated, a flipped bit, overwritten bytes, garbage appended,
// or random bytes.
std::string mutate(const std::string& good, std::mt19937_64& rng) {
  std::string bad = good;
  switch (rng() % 5) {
    case 0:
      bad.resize(rng() % good.size());
      break;
    case 1:
      bad[rng() % bad.size()] ^= char(1u << (rng() % 8));
      break;
    case 2:
      for (int k = 0, n = 1 + int(rng() % 8); k < n; ++k) bad[rng() % bad.size()] = char(rng());
      break;
    case 3:
      bad.append(1 + rng() % 64, char(rng()));
      break;
    default:
      bad.resize(rng() % (2 * good.size()));
      for (char& ch : bad) ch = char(rng());
      break;
  }
  return bad;
}

// Every mutated entry is either rejected or, where the mutation left it as it was (overwriting a
// byte with itself), yields exactly the stored payload: in memory many times, then through the
// files a few hundred times.
TEST(CodeCacheFiles, FuzzedEntriesAreIgnored) {
  TempDir t;
  auto c = open_cache(t.path());
  const std::string key = "fuzz-key-material";
  std::vector<char> payload(3000);
  std::mt19937_64 rng(1234);
  for (char& ch : payload) ch = char(rng());
  ASSERT_TRUE(c->store(key, payload));
  const std::string path = c->path_for(key);
  const std::string good = read_file(path);
  ASSERT_TRUE(CodeCache::decode(std::span<const char>(good.data(), good.size()), key));

  constexpr int kInMemory = 100000, kFiles = 100;
  int rejected = 0;
  for (int i = 0; i < kInMemory; ++i) {
    const std::string bad = mutate(good, rng);
    auto got = CodeCache::decode(std::span<const char>(bad.data(), bad.size()), key);
    if (!got) {
      ++rejected;
      continue;
    }
    EXPECT_EQ(bad, good) << "iteration " << i;
    EXPECT_EQ(*got, payload);
  }
  EXPECT_GT(rejected, kInMemory * 9 / 10);
  int file_rejected = 0;
  for (int i = 0; i < kFiles; ++i) {
    const std::string bad = mutate(good, rng);
    write_file(path, bad);
    auto got = c->load(key);
    if (!got) {
      ++file_rejected;
      continue;
    }
    EXPECT_EQ(bad, good) << "file iteration " << i;
    EXPECT_EQ(*got, payload);
  }
  EXPECT_EQ(c->stats().rejected, uint64_t(file_rejected));
  std::printf("fuzz: %d mutated entries in memory (%d rejected), %d as files (%d rejected)\n",
              kInMemory, rejected, kFiles, file_rejected);
}

std::vector<ProfileEntry> some_profile(size_t n) {
  std::vector<ProfileEntry> v;
  for (size_t i = 0; i < n; ++i) {
    v.push_back(
        ProfileEntry{0x1000 + 4 * i, i & 1, 0x10 + i, 0xabc0 + i, (i * 7919) % 1000, false, {}});
    // Every third a region head (with up to 15 members), every other one compiled.
    v.back().compiled = i % 2 == 0;
    if (i % 3 == 0)
      for (size_t m = 0; m < 1 + i % 15; ++m) v.back().members.push_back(0x9000 + 8 * i + m);
  }
  return v;
}

TEST(CodeCacheProfile, RoundTripHottestFirstAndPerConfiguration) {
  TempDir t;
  auto c = open_cache(t.path());
  EXPECT_TRUE(c->load_profile("cfg-a").empty());
  const std::vector<ProfileEntry> v = some_profile(50);
  ASSERT_TRUE(c->store_profile("cfg-a", v));
  EXPECT_TRUE(c->load_profile("cfg-b").empty());  // another guest model, host or build
  auto got = open_cache(t.path())->load_profile("cfg-a");
  ASSERT_EQ(got.size(), v.size());
  for (size_t i = 1; i < got.size(); ++i) EXPECT_GE(got[i - 1].weight, got[i].weight);
  for (const ProfileEntry& e : v) {
    auto it = std::find(got.begin(), got.end(), e);  // regions' members and all
    EXPECT_NE(it, got.end()) << std::hex << e.pc;
  }
  // The profile is not an entry: outside eviction and the entry count.
  EXPECT_TRUE(entries_in(t.path()).empty());
  EXPECT_EQ(c->stats().rejected, 0u);
}

TEST(CodeCacheProfile, KeepsTheHottestWhenTooLong) {
  TempDir t;
  auto c = open_cache(t.path());
  std::vector<ProfileEntry> v = some_profile(CodeCache::kMaxProfileEntries + 10);
  for (size_t i = 0; i < v.size(); ++i) v[i].weight = i;
  ASSERT_TRUE(c->store_profile("cfg", v));
  auto got = c->load_profile("cfg");
  ASSERT_EQ(got.size(), CodeCache::kMaxProfileEntries);
  EXPECT_EQ(got.front().weight, v.size() - 1);
  EXPECT_EQ(got.back().weight, 10u);
}

// A truncated, corrupted or foreign profile file is ignored (counted as rejected), never
// half-used: every mutation either is rejected or leaves the file as it was.
TEST(CodeCacheProfile, CorruptProfileIsIgnored) {
  TempDir t;
  auto c = open_cache(t.path());
  const std::vector<ProfileEntry> v = some_profile(40);
  ASSERT_TRUE(c->store_profile("cfg", v));
  const std::string path = c->profile_path("cfg");
  const std::string good = read_file(path);
  ASSERT_FALSE(good.empty());
  std::mt19937_64 rng(99);
  int rejected = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string bad = mutate(good, rng);
    write_file(path, bad);
    auto got = c->load_profile("cfg");
    if (got.empty()) {
      ++rejected;
      continue;
    }
    EXPECT_EQ(bad, good) << "iteration " << i;
    EXPECT_EQ(got.size(), v.size());
  }
  EXPECT_GT(rejected, 150);
  EXPECT_EQ(c->stats().rejected, uint64_t(rejected));
  // Another configuration's profile under this name (a hash collision) is not used.
  ASSERT_TRUE(c->store_profile("other", v));
  std::rename(c->profile_path("other").c_str(), path.c_str());
  EXPECT_TRUE(c->load_profile("cfg").empty());
}

TEST(CodeCacheFiles, EvictsLeastRecentlyUsedPastTheLimit) {
  TempDir t;
  constexpr uint64_t kLimit = 16 * 1024;
  auto c = open_cache(t.path(), kLimit);
  const std::vector<char> payload(1000, 'p');
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(c->store("k" + std::to_string(i), payload));
  EXPECT_EQ(c->stats().evicted, 0u);
  // Entry k0 was used last, k1 longest ago: explicit access times, ordered.
  for (int i = 0; i < 12; ++i) {
    const struct timespec times[2] = {{1000 + i, 0}, {0, UTIME_OMIT}};
    ::utimensat(AT_FDCWD, c->path_for("k" + std::to_string(i)).c_str(), times, 0);
  }
  ASSERT_TRUE(c->load("k0"));  // refreshes k0's access time to now
  for (int i = 12; i < 20; ++i) ASSERT_TRUE(c->store("k" + std::to_string(i), payload));
  EXPECT_GT(c->stats().evicted, 0u);
  uint64_t total = 0;
  for (const std::string& n : entries_in(t.path())) {
    struct stat st {};
    ::stat((t.path() + "/" + n).c_str(), &st);
    total += uint64_t(st.st_size);
  }
  EXPECT_LE(total, kLimit);
  EXPECT_TRUE(c->load("k0"));   // recently used: kept
  EXPECT_FALSE(c->load("k1"));  // the oldest: gone
  EXPECT_TRUE(c->load("k19"));  // just stored
}

// Two processes store and load the same keys at once: every load sees nothing or exactly the
// payload stored under that key, and no temporary file is left behind.
TEST(CodeCacheFiles, TwoProcessesShareADirectory) {
  TempDir t;
  constexpr int kKeys = 300;
  auto payload_for = [](int k) {
    std::vector<char> p(200 + k * 7 % 1500);
    for (size_t i = 0; i < p.size(); ++i) p[i] = char(k * 31 + i);
    return p;
  };
  auto work = [&](int seed) {
    auto c = open_cache(t.path(), 256 * 1024);
    int bad = 0;
    std::mt19937 rng(seed);
    for (int round = 0; round < 4 * kKeys; ++round) {
      const int k = int(rng() % kKeys);
      const std::string key = "shared-" + std::to_string(k);
      if (auto got = c->load(key)) {
        if (*got != payload_for(k)) ++bad;
      } else {
        c->store(key, payload_for(k));
      }
    }
    return bad + int(c->stats().rejected);
  };
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(work(2) == 0 ? 0 : 1);
  EXPECT_EQ(work(1), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto c = open_cache(t.path());
  int present = 0;
  for (int k = 0; k < kKeys; ++k)
    if (auto got = c->load("shared-" + std::to_string(k))) {
      ++present;
      EXPECT_EQ(*got, payload_for(k));
    }
  EXPECT_GT(present, kKeys / 2);
  for (const std::string& n : entries_in(t.path(), true)) EXPECT_FALSE(n.starts_with(".tmp")) << n;
}

uint64_t h_add3(CpuCommon* c, uint64_t a, uint64_t, uint64_t) {
  reinterpret_cast<TestCpu*>(c)->r[7] += 3;
  return a + 3;
}
constexpr ir::Helper kAdd3{"test_add3", h_add3};

TEST(CodeCacheKey, DependsOnEveryInputOfTheCode) {
  auto a = counter_tb(0x1000, 1, 5), b = counter_tb(0x1000, 1, 5);
  EXPECT_EQ(CodeCache::key_material(*a, "cfg"), CodeCache::key_material(*b, "cfg"));
  EXPECT_NE(CodeCache::key_material(*a, "cfg"), CodeCache::key_material(*a, "cfg2"));
  auto c = counter_tb(0x1000, 1, 6);  // another immediate: another guest instruction
  EXPECT_NE(CodeCache::key_material(*a, "cfg"), CodeCache::key_material(*c, "cfg"));
  auto d = counter_tb(0x2000, 1, 5);
  EXPECT_NE(CodeCache::key_material(*a, "cfg"), CodeCache::key_material(*d, "cfg"));
  b->key.flags = 1;
  EXPECT_NE(CodeCache::key_material(*a, "cfg"), CodeCache::key_material(*b, "cfg"));
  b->key.flags = 0;
  b->key.cs_base = 0x10;
  EXPECT_NE(CodeCache::key_material(*a, "cfg"), CodeCache::key_material(*b, "cfg"));
  EXPECT_NE(CodeCache::build_id(), "");
}

class CodeCacheJit : public LlvmTest {
 protected:
  void SetUp() override {
    LlvmTest::SetUp();
    cache_ = open_cache(dir_.path());
  }
  std::unique_ptr<LlvmJit> cached_jit(std::function<void()> before_codegen = {}) {
    JitOptions o = fake_slow_options();
    o.cache = cache_.get();
    o.guest_id = "test";
    o.before_codegen = std::move(before_codegen);
    std::string err;
    auto j = LlvmJit::create(o, err);
    EXPECT_TRUE(j) << err;
    return j;
  }
  // r1 += inc; r2 = test_add3(r2); a load through the TLB; jump to pc + 4.
  std::unique_ptr<exec::TranslationBlock> block(uint64_t inc) {
    auto tb = new_tb(0x1000);
    ir::Emitter e(tb->ir);
    e.insn_start(0x1000);
    e.set_reg(reg(1), e.add(e.get_reg(Type::I64, reg(1)), e.c64(inc)));
    e.set_reg(reg(2), e.call(kAdd3, {e.get_reg(Type::I64, reg(2))}));
    e.set_reg(reg(3), e.load(Type::I64, e.c64(kRamBase + 8), MemOp{3}));
    e.jump(0x1004);
    return tb;
  }
  TempDir dir_;
  std::unique_ptr<CodeCache> cache_;
};

TEST_F(CodeCacheJit, SecondSessionLinksTheStoredObject) {
  uint64_t ram_word = 0x1122334455667788;
  std::memcpy(ram_.data() + 8, &ram_word, 8);
  auto first = cached_jit();
  auto tb1 = block(5);
  std::string err;
  exec::NativeFn f1 = first->compile(*tb1, &err);
  ASSERT_TRUE(f1) << err;
  EXPECT_EQ(first->stats().cache_stores, 1u);
  EXPECT_EQ(first->stats().cache_hits, 0u);
  EXPECT_EQ(entries_in(dir_.path()).size(), 1u);

  // Another JIT session (as in another process), another TranslationBlock object.
  auto second = cached_jit();
  auto tb2 = block(5);
  exec::NativeFn f2 = second->compile(*tb2, &err);
  ASSERT_TRUE(f2) << err;
  EXPECT_EQ(second->stats().cache_hits, 1u);
  EXPECT_EQ(second->stats().modules, 0u);  // nothing compiled
  cpu_->r[1] = 10;
  cpu_->r[2] = 100;
  EXPECT_EQ(run(f2), exec::kRetNext);
  EXPECT_EQ(cpu_->r[1], 15u);
  EXPECT_EQ(cpu_->r[2], 103u);
  EXPECT_EQ(cpu_->r[7], 3u);
  EXPECT_EQ(cpu_->r[3], ram_word);
  EXPECT_EQ(cpu_->common.pc, 0x1004u);
  // The per-block data is the new block's: the unchained exit names tb2, and a link stored in
  // tb2 is followed.
  EXPECT_EQ(cpu_->common.last_tb, tb2.get());
  auto next = counter_tb(0x1004, 4, 1);
  exec::NativeFn fn_next = second->compile(*next, &err);
  ASSERT_TRUE(fn_next) << err;
  tb2->link[0].store(fn_next);
  cpu_->common.last_tb = nullptr;
  EXPECT_EQ(run(f2), exec::kRetNext);
  EXPECT_EQ(cpu_->r[4], 1u);
  EXPECT_EQ(cpu_->common.last_tb, next.get());
  // The first session's block still runs its own data.
  EXPECT_EQ(run(f1), exec::kRetNext);
  EXPECT_EQ(cpu_->common.last_tb, tb1.get());
}

// What a run does for a block its profile names: the block's cache key (the same in every
// session, so the profile's hash of it matches) links the stored object at once.
TEST_F(CodeCacheJit, ProfiledBlockLinksFromItsKeyAtOnce) {
  auto first = cached_jit();
  auto tb1 = block(5);
  std::string err;
  ASSERT_TRUE(first->compile(*tb1, &err)) << err;
  auto second = cached_jit();
  auto tb2 = block(5);
  const std::string key = second->cache_key(*tb2);
  ASSERT_FALSE(key.empty());
  EXPECT_EQ(CodeCache::key_hash(key), CodeCache::key_hash(first->cache_key(*tb1)));
  exec::NativeFn f2 = second->try_link_cached(*tb2, key);
  ASSERT_TRUE(f2);
  EXPECT_EQ(second->stats().cache_hits, 1u);
  EXPECT_EQ(second->stats().modules, 0u);
  cpu_->r[1] = 10;
  EXPECT_EQ(run(f2), exec::kRetNext);
  EXPECT_EQ(cpu_->r[1], 15u);
  EXPECT_EQ(cpu_->common.last_tb, tb2.get());
  // Other guest code has another key, and nothing is stored under it: no code.
  auto tb3 = block(6);
  const std::string key3 = second->cache_key(*tb3);
  EXPECT_NE(CodeCache::key_hash(key3), CodeCache::key_hash(key));
  EXPECT_FALSE(second->try_link_cached(*tb3, key3));
  EXPECT_EQ(second->stats().cache_hits, 1u);
}

// A vCPU links stored code while the compile thread is in the middle of compiling another
// block: a compile holds the JIT's link lock only to link. (It held it throughout, and the
// vCPU's try failed: a warm boot's hottest loops then ran baseline code until the compile
// ended.)
TEST_F(CodeCacheJit, StoredCodeLinksWhileAnotherBlockCompiles) {
  auto first = cached_jit();
  auto tb1 = block(5);
  std::string err;
  ASSERT_TRUE(first->compile(*tb1, &err)) << err;
  std::mutex mu;
  std::condition_variable cv;
  bool in_codegen = false, go_on = false;
  auto second = cached_jit([&] {
    std::unique_lock<std::mutex> lk(mu);
    in_codegen = true;
    cv.notify_all();
    cv.wait(lk, [&] { return go_on; });
  });
  ASSERT_TRUE(second);
  auto tb2 = block(5);
  auto other = block(7);  // not stored: compiled
  exec::NativeFn f_other = nullptr;
  std::thread compiling([&] { f_other = second->compile(*other, nullptr); });
  {
    std::unique_lock<std::mutex> lk(mu);
    cv.wait(lk, [&] { return in_codegen; });
  }
  exec::NativeFn f2 = second->try_link_cached(*tb2, second->cache_key(*tb2), /*wait=*/false);
  {
    std::lock_guard<std::mutex> lk(mu);
    go_on = true;
  }
  cv.notify_all();
  compiling.join();
  ASSERT_TRUE(f2);
  ASSERT_TRUE(f_other);
  EXPECT_EQ(second->stats().cache_hits, 1u);
  EXPECT_EQ(second->stats().modules, 1u);
  cpu_->r[1] = 10;
  EXPECT_EQ(run(f2), exec::kRetNext);
  EXPECT_EQ(cpu_->r[1], 15u);
  EXPECT_EQ(run(f_other), exec::kRetNext);
  EXPECT_EQ(cpu_->r[1], 22u);
}

TEST_F(CodeCacheJit, ChangedGuestCodeIsAMiss) {
  auto first = cached_jit();
  auto tb1 = block(5);
  std::string err;
  ASSERT_TRUE(first->compile(*tb1, &err)) << err;
  auto second = cached_jit();
  auto tb2 = block(6);
  exec::NativeFn f2 = second->compile(*tb2, &err);
  ASSERT_TRUE(f2) << err;
  EXPECT_EQ(second->stats().cache_hits, 0u);
  EXPECT_EQ(second->stats().cache_stores, 1u);
  cpu_->r[1] = 10;
  run(f2);
  EXPECT_EQ(cpu_->r[1], 16u);
}

TEST_F(CodeCacheJit, CorruptEntryIsCompiledInstead) {
  auto first = cached_jit();
  auto tb1 = block(5);
  std::string err;
  ASSERT_TRUE(first->compile(*tb1, &err)) << err;
  const std::vector<std::string> files = entries_in(dir_.path());
  ASSERT_EQ(files.size(), 1u);
  const std::string path = dir_.path() + "/" + files[0];
  std::string data = read_file(path);
  data[data.size() - 100] ^= 0x40;  // inside the object
  write_file(path, data);
  auto second = cached_jit();
  auto tb2 = block(5);
  exec::NativeFn f2 = second->compile(*tb2, &err);
  ASSERT_TRUE(f2) << err;
  EXPECT_EQ(second->stats().cache_hits, 0u);
  EXPECT_EQ(cache_->stats().rejected, 1u);
  cpu_->r[1] = 1;
  run(f2);
  EXPECT_EQ(cpu_->r[1], 6u);
}

}  // namespace
}  // namespace orrery::tcg::llvm::test
