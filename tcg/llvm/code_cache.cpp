// The persistent translation cache's files. Format of an entry (all integers little-endian):
//   "ORRTCC01"  u32 key_len  u32 payload_len  u64 xxh3_64(key, payload)  key  payload
// and nothing after it.
#include "tcg/llvm/code_cache.h"

#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <llvm/Support/xxhash.h>

#include "hw/core/log.h"
#include "tcg/ir/helpers.h"

namespace orrery::tcg::llvm {

namespace {

constexpr char kMagic[8] = {'O', 'R', 'R', 'T', 'C', 'C', '0', '1'};
constexpr size_t kHeader = 8 + 4 + 4 + 8;
constexpr const char* kSuffix = ".tcc";
constexpr const char* kTmpPrefix = ".tmp.";
constexpr const char* kProfileSuffix = ".tcp";
// The baseline tier's pack files (tcg/exec/translation_cache.h): evicted with the entries.
constexpr const char* kPackSuffix = ".tbp";
// Entries larger than this are not ours (a block's object is a few KiB).
constexpr uint64_t kMaxEntry = uint64_t(64) << 20;

void put_u32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(char(v >> (8 * i)));
}
void put_u64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(char(v >> (8 * i)));
}
void put_str(std::string& s, std::string_view v) {
  put_u32(s, uint32_t(v.size()));
  s.append(v);
}
uint32_t get_u32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t(uint8_t(p[i])) << (8 * i);
  return v;
}
uint64_t get_u64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t(uint8_t(p[i])) << (8 * i);
  return v;
}

uint64_t checksum(std::string_view key, std::span<const char> payload) {
  std::string both;
  both.reserve(key.size() + payload.size());
  both.append(key);
  both.append(payload.data(), payload.size());
  return ::llvm::xxh3_64bits(::llvm::StringRef(both));
}

bool read_all(int fd, char* out, size_t n) {
  while (n) {
    ssize_t r = ::read(fd, out, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    out += r;
    n -= size_t(r);
  }
  return true;
}

bool write_all(int fd, const char* p, size_t n) {
  while (n) {
    ssize_t r = ::write(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= size_t(r);
  }
  return true;
}

bool make_dirs(const std::string& dir) {
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i != dir.size() && dir[i] != '/') continue;
    std::string part = dir.substr(0, i);
    if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) return false;
  }
  struct stat st {};
  return ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The NT_GNU_BUILD_ID note of the loaded module whose base address is `base` (0: the
// executable), as hex.
struct BuildIdSearch {
  uintptr_t base;
  bool main;
  std::string id;
};

int find_build_id(struct dl_phdr_info* info, size_t, void* data) {
  auto* s = static_cast<BuildIdSearch*>(data);
  const bool is_main = !info->dlpi_name || !info->dlpi_name[0];
  if (s->main ? !is_main : info->dlpi_addr != s->base) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    const char* p = reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
    const char* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      const auto* nh = reinterpret_cast<const ElfW(Nhdr)*>(p);
      const char* name = p + sizeof(ElfW(Nhdr));
      const char* desc = name + ((nh->n_namesz + 3) & ~3u);
      if (desc + nh->n_descsz > end) break;
      if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
        char hex[3];
        for (uint32_t k = 0; k < nh->n_descsz; ++k) {
          std::snprintf(hex, sizeof hex, "%02x", unsigned(uint8_t(desc[k])));
          s->id += hex;
        }
        return 1;
      }
      p = desc + ((nh->n_descsz + 3) & ~3u);
    }
  }
  return 1;
}

std::string exe_hash() {
  int fd = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string all;
  char buf[1 << 16];
  for (;;) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    all.append(buf, size_t(r));
  }
  ::close(fd);
  auto h = ::llvm::xxh3_128bits(
      ::llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t*>(all.data()), all.size()));
  char out[40];
  std::snprintf(out, sizeof out, "exe:%016" PRIx64 "%016" PRIx64, h.high64, h.low64);
  return out;
}

}  // namespace

const std::string& CodeCache::build_id() {
  static const std::string id = [] {
    BuildIdSearch exe{0, true, {}};
    dl_iterate_phdr(find_build_id, &exe);
    std::string out = "exe:" + exe.id;
    Dl_info info{};
    if (dladdr(reinterpret_cast<const void*>(&default_code_cache_dir), &info) && info.dli_fbase) {
      BuildIdSearch self{reinterpret_cast<uintptr_t>(info.dli_fbase), false, {}};
      // dlpi_addr is the load bias; for a PIE or shared object it equals the base.
      dl_iterate_phdr(find_build_id, &self);
      out += ",tcg:" + self.id;
    }
    return exe.id.empty() ? exe_hash() : out;
  }();
  return id;
}

std::string default_code_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && x[0] == '/')
    return std::string(x) + "/orrery/tcg";
  if (const char* h = std::getenv("HOME"); h && h[0]) return std::string(h) + "/.cache/orrery/tcg";
  return {};
}

std::string CodeCache::key_material(const exec::TranslationBlock& tb, std::string_view config) {
  if (tb.region.empty() || tb.region.front() != &tb) {
    const exec::TranslationBlock* one[1] = {&tb};
    return key_material(one, config);
  }
  return key_material(tb.region, config);
}

bool CodeCache::contains(std::string_view key) const {
  struct stat st {};
  return ::stat(path_for(key).c_str(), &st) == 0;
}

std::string CodeCache::key_material(std::span<const exec::TranslationBlock* const> members,
                                    std::string_view config) {
  std::string k;
  k.reserve(64 + members.size() * (64 + members[0]->ir.insts.size() * 24));
  k.append("orrery-tcc-1");
  put_str(k, build_id());
  put_str(k, config);
  put_u32(k, uint32_t(members.size()));
  for (const exec::TranslationBlock* m : members) {
    put_u64(k, m->key.pc);
    put_u64(k, m->key.cs_base);
    put_u64(k, m->key.flags);
    const ir::Block& b = m->ir;
    put_u64(k, b.guest_pc);
    put_u32(k, b.guest_size);
    put_u32(k, b.num_insns);
    put_u32(k, uint32_t(b.insts.size()));
    for (const ir::Inst& in : b.insts) {
      k.push_back(char(in.op));
      k.push_back(char(in.type));
      k.push_back(char(in.nargs));
      for (const ir::Value& a : in.args) put_u32(k, a.id);
      if (in.op == ir::Opcode::Call || in.op == ir::Opcode::CallPure ||
          in.op == ir::Opcode::TrapIf) {
        // The helper by name: its address differs from one process to the next.
        const auto* h = reinterpret_cast<const ir::Helper*>(in.imm);
        if (!h || !h->name) return {};
        put_str(k, h->name);
        k.push_back(char(h->pure));
      } else {
        put_u64(k, in.imm);
      }
      put_u64(k, in.imm2);
    }
    const ir::Terminal& t = b.term;
    k.push_back(char(t.kind));
    put_u32(k, t.cond.id);
    put_u32(k, t.value.id);
    put_u64(k, t.target);
    put_u64(k, t.target2);
    k.push_back(char(t.reason));
    k.push_back(char(t.pc_in_state));
    put_u64(k, t.arg);
  }
  return k;
}

std::unique_ptr<CodeCache> CodeCache::open(const CodeCacheOptions& opt, hw::Log* log,
                                           std::string& error) {
  if (opt.dir.empty()) {
    error = "no translation cache directory";
    return nullptr;
  }
  if (!make_dirs(opt.dir)) {
    error =
        "cannot create the translation cache directory '" + opt.dir + "': " + std::strerror(errno);
    return nullptr;
  }
  if (::access(opt.dir.c_str(), R_OK | W_OK | X_OK) != 0) {
    error = "cannot use the translation cache directory '" + opt.dir + "': " + std::strerror(errno);
    return nullptr;
  }
  return std::unique_ptr<CodeCache>(new CodeCache(opt, log));
}

std::string CodeCache::path_for(std::string_view key) const {
  auto h = ::llvm::xxh3_128bits(
      ::llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t*>(key.data()), key.size()));
  char name[40];
  std::snprintf(name, sizeof name, "%016" PRIx64 "%016" PRIx64, h.high64, h.low64);
  return opt_.dir + "/" + name + kSuffix;
}

void CodeCache::reject(const std::string& path, const char* why) {
  ++rejected_;
  if (log_) log_->log(hw::kLogTier, "tcg cache: ignoring %s: %s\n", path.c_str(), why);
}

std::optional<std::vector<char>> CodeCache::load(std::string_view key) {
  bool absent = false;
  std::optional<std::vector<char>> payload = read_entry(path_for(key), key, &absent);
  if (payload)
    ++hits_;
  else if (absent)
    ++misses_;
  return payload;
}

std::optional<std::vector<char>> CodeCache::read_entry(const std::string& path,
                                                       std::string_view key, bool* absent) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *absent = true;
    return std::nullopt;
  }
  struct stat st {};
  std::vector<char> data;
  bool read_ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && uint64_t(st.st_size) >= kHeader &&
                 uint64_t(st.st_size) <= kMaxEntry;
  if (read_ok) {
    data.resize(size_t(st.st_size));
    read_ok = read_all(fd, data.data(), data.size());
  }
  if (read_ok) {
    // A hit keeps the entry young for LRU eviction, whatever the mount's atime policy.
    const struct timespec times[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
    ::futimens(fd, times);
  }
  ::close(fd);
  if (!read_ok) {
    reject(path, "unreadable or truncated");
    return std::nullopt;
  }
  const char* why = nullptr;
  std::optional<std::vector<char>> payload = decode(data, key, &why);
  if (!payload) reject(path, why);
  return payload;
}

std::optional<std::vector<char>> CodeCache::decode(std::span<const char> data, std::string_view key,
                                                   const char** why) {
  auto fail = [why](const char* w) {
    if (why) *why = w;
    return std::nullopt;
  };
  if (data.size() < kHeader || std::memcmp(data.data(), kMagic, sizeof kMagic) != 0)
    return fail("not a cache entry");
  const uint64_t klen = get_u32(data.data() + 8), plen = get_u32(data.data() + 12);
  if (kHeader + klen + plen != data.size()) return fail("truncated or wrong size");
  const std::string_view stored_key(data.data() + kHeader, klen);
  const std::span<const char> payload(data.data() + kHeader + klen, plen);
  if (checksum(stored_key, payload) != get_u64(data.data() + 16)) return fail("checksum mismatch");
  // A hash collision, or an entry written for another key under this name.
  if (stored_key != key) return fail("holds another key");
  return std::vector<char>(payload.begin(), payload.end());
}

bool CodeCache::store(std::string_view key, std::span<const char> payload) {
  size_t written = 0;
  if (!write_entry(path_for(key), key, payload, &written)) return false;
  ++stores_;
  if (opt_.max_bytes) {
    std::lock_guard<std::mutex> g(mu_);
    if (known_bytes_ >= 0) known_bytes_ += int64_t(written);
    if (known_bytes_ < 0 || uint64_t(known_bytes_) > opt_.max_bytes) evict_locked();
  }
  return true;
}

bool CodeCache::write_entry(const std::string& path, std::string_view key,
                            std::span<const char> payload, size_t* written) {
  if (kHeader + key.size() + payload.size() > kMaxEntry) return false;
  std::string data(kMagic, sizeof kMagic);
  put_u32(data, uint32_t(key.size()));
  put_u32(data, uint32_t(payload.size()));
  put_u64(data, checksum(key, payload));
  data.append(key);
  data.append(payload.data(), payload.size());

  char tmp_name[64];
  std::snprintf(tmp_name, sizeof tmp_name, "/%s%d.%" PRIu64, kTmpPrefix, int(::getpid()),
                tmp_seq_.fetch_add(1, std::memory_order_relaxed));
  const std::string tmp = opt_.dir + tmp_name;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && write_all(fd, data.data(), data.size());
  if (fd >= 0 && ::close(fd) != 0) ok = false;
  if (ok) ok = ::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) {
    if (fd >= 0) ::unlink(tmp.c_str());
    ++store_failures_;
    if (log_)
      log_->log(hw::kLogTier, "tcg cache: cannot store %s: %s\n", path.c_str(),
                std::strerror(errno));
    return false;
  }
  *written = data.size();
  return true;
}

uint64_t CodeCache::key_hash(std::string_view key) {
  return ::llvm::xxh3_64bits(::llvm::StringRef(key.data(), key.size()));
}

namespace {
// An entry: pc, cs_base, flags, key_hash, weight, then a word holding the compiled bit (bit 8)
// and the member count (bits 0-7), then that many member PCs.
constexpr size_t kProfileEntryWords = 6;
constexpr uint64_t kProfileCompiled = uint64_t(1) << 8;
constexpr uint64_t kProfileMaxMembers = 255;

// The profile's key material: its format, the build and the configuration.
std::string profile_key(std::string_view config) {
  std::string k = "orrery-tcp-2";
  put_str(k, CodeCache::build_id());
  put_str(k, config);
  return k;
}

bool hotter(const ProfileEntry& a, const ProfileEntry& b) {
  return a.weight > b.weight;
}
}  // namespace

std::string CodeCache::profile_path(std::string_view config) const {
  std::string p = path_for(profile_key(config));
  p.replace(p.size() - std::strlen(kSuffix), std::string::npos, kProfileSuffix);
  return p;
}

std::vector<ProfileEntry> CodeCache::load_profile(std::string_view config) {
  const std::string path = profile_path(config);
  bool absent = false;
  std::optional<std::vector<char>> payload = read_entry(path, profile_key(config), &absent);
  if (!payload) return {};
  // The checksum already matched, but the layout is checked too: a writer bug must not read
  // past the payload or make a huge profile.
  std::vector<ProfileEntry> out;
  const char* p = payload->data();
  const char* end = p + payload->size();
  while (p != end) {
    const uint64_t kRecordBytes = kProfileEntryWords * 8;
    if (uint64_t(end - p) < kRecordBytes || out.size() == kMaxProfileEntries) {
      reject(path, "not a profile");
      return {};
    }
    ProfileEntry e;
    e.pc = get_u64(p);
    e.cs_base = get_u64(p + 8);
    e.flags = get_u64(p + 16);
    e.key_hash = get_u64(p + 24);
    e.weight = get_u64(p + 32);
    const uint64_t bits = get_u64(p + 40);
    p += kRecordBytes;
    const uint64_t n = bits & kProfileMaxMembers;
    if ((bits & ~(kProfileCompiled | kProfileMaxMembers)) || uint64_t(end - p) < n * 8) {
      reject(path, "not a profile");
      return {};
    }
    e.compiled = bits & kProfileCompiled;
    for (uint64_t i = 0; i < n; ++i, p += 8) e.members.push_back(get_u64(p));
    out.push_back(std::move(e));
  }
  std::stable_sort(out.begin(), out.end(), hotter);
  return out;
}

bool CodeCache::store_profile(std::string_view config, std::span<const ProfileEntry> entries) {
  std::vector<ProfileEntry> sorted(entries.begin(), entries.end());
  std::erase_if(sorted,
                [](const ProfileEntry& e) { return e.members.size() > kProfileMaxMembers; });
  std::stable_sort(sorted.begin(), sorted.end(), hotter);
  if (sorted.size() > kMaxProfileEntries) sorted.resize(kMaxProfileEntries);
  std::string payload;
  payload.reserve(sorted.size() * kProfileEntryWords * 8);
  for (const ProfileEntry& e : sorted) {
    for (uint64_t v : {e.pc, e.cs_base, e.flags, e.key_hash, e.weight,
                       (e.compiled ? kProfileCompiled : 0) | e.members.size()})
      put_u64(payload, v);
    for (uint64_t m : e.members) put_u64(payload, m);
  }
  size_t written = 0;
  return write_entry(profile_path(config), profile_key(config), payload, &written);
}

void CodeCache::note_stored(uint64_t bytes) {
  if (!opt_.max_bytes) return;
  std::lock_guard<std::mutex> g(mu_);
  if (known_bytes_ >= 0) known_bytes_ += int64_t(bytes);
  if (known_bytes_ < 0 || uint64_t(known_bytes_) > opt_.max_bytes) evict_locked();
}

void CodeCache::evict_locked() {
  struct Entry {
    std::string path;
    struct timespec atime;
    uint64_t bytes;
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  DIR* d = ::opendir(opt_.dir.c_str());
  if (!d) return;
  const time_t now = ::time(nullptr);
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    const bool tmp = name.starts_with(kTmpPrefix);
    if (!tmp && !name.ends_with(kSuffix) && !name.ends_with(kPackSuffix)) continue;
    std::string path = opt_.dir + "/" + e->d_name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (tmp) {
      // Left by a process that died between writing and renaming (another process's live
      // temporary file is seconds old at most).
      if (now - st.st_mtime > 600) ::unlink(path.c_str());
      continue;
    }
    total += uint64_t(st.st_size);
    entries.push_back(Entry{std::move(path), st.st_atim, uint64_t(st.st_size)});
  }
  ::closedir(d);
  // Evict down to 3/4 of the limit, so that the next scan is many stores away.
  const uint64_t target = opt_.max_bytes - opt_.max_bytes / 4;
  if (total > opt_.max_bytes) {
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return a.atime.tv_sec != b.atime.tv_sec ? a.atime.tv_sec < b.atime.tv_sec
                                              : a.atime.tv_nsec < b.atime.tv_nsec;
    });
    for (const Entry& e : entries) {
      if (total <= target) break;
      if (::unlink(e.path.c_str()) == 0) ++evicted_;
      total -= e.bytes;  // also when another process removed it first
    }
  }
  known_bytes_ = int64_t(total);
}

CodeCache::Stats CodeCache::stats() const {
  Stats s;
  s.hits = hits_.load();
  s.misses = misses_.load();
  s.rejected = rejected_.load();
  s.stores = stores_.load();
  s.store_failures = store_failures_.load();
  s.evicted = evicted_.load();
  return s;
}

}  // namespace orrery::tcg::llvm
