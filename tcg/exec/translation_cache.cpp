// Pack files of baseline translations (translation_cache.h). Layout (host byte order: the
// baseline tier exists only on x86-64):
//   "ORRTBP01"  u64 xxh3_64(everything after these 16 bytes)
//   u32 config_len  config  u32 helpers  { u32 len  name } * helpers  (zeros to 8-byte alignment)
//   u64 entries  { FileEntry  guest bytes  code  FileReloc * nrelocs  (zeros to 8 bytes) } *
//   entries
#include "tcg/exec/translation_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstring>
#include <system_error>

#include <llvm/Support/xxhash.h>

#include "hw/core/log.h"
#include "tcg/softmmu/softmmu.h"

namespace orrery::tcg::exec {

namespace {

constexpr char kMagic[8] = {'O', 'R', 'R', 'T', 'B', 'P', '0', '1'};
constexpr const char* kSuffix = ".tbp";
// The prefix of temporary files, shared with the LLVM tier's cache (whose eviction scan
// removes ones a dead process left).
constexpr const char* kTmpPrefix = ".tmp.";
constexpr size_t kMaxHelpers = 4096;
constexpr uint32_t kMaxCode = uint32_t(1) << 20;
constexpr uint64_t kPage = softmmu::kPageSize;
// New entries are collected in chunks of this many bytes (no reallocation copies).
constexpr size_t kChunk = size_t(4) << 20;

struct FileEntry {
  uint64_t pc, phys_pc, flags, cs_base, phys_page2;
  uint64_t target, target2, arg;
  uint32_t guest_size, num_insns, ir_size, code_size;
  uint32_t bytes_len, nrelocs, cond, value;
  uint8_t kind, reason, pc_in_state, age;
  uint32_t pad;
};
static_assert(sizeof(FileEntry) == 104);

struct FileReloc {
  uint32_t at, addend;
  uint16_t helper;
  uint8_t kind, pad;
};
static_assert(sizeof(FileReloc) == 12);

size_t align8(size_t n) {
  return (n + 7) & ~size_t(7);
}
uint64_t key_hash(uint64_t pc, uint64_t flags, uint64_t cs_base) {
  uint64_t h = pc * 0x9e3779b97f4a7c15ull;
  h ^= (flags + 0x632be59bd9b4e019ull) * 0xff51afd7ed558ccdull;
  h ^= cs_base * 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 29);
}
uint64_t checksum(const uint8_t* p, size_t n) {
  return ::llvm::xxh3_64bits(::llvm::ArrayRef<uint8_t>(p, n));
}
void put(std::string& s, const void* p, size_t n) {
  s.append(static_cast<const char*>(p), n);
}
void put_u32(std::string& s, uint32_t v) {
  put(s, &v, 4);
}
void put_u64(std::string& s, uint64_t v) {
  put(s, &v, 8);
}
void pad8(std::string& s) {
  s.append(align8(s.size()) - s.size(), '\0');
}
uint64_t hex_hash(std::string_view s) {
  return ::llvm::xxh3_64bits(::llvm::StringRef(s.data(), s.size()));
}
uint64_t now_us() {
  return uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count());
}

// A reader over a pack's bytes that fails (sets bad) instead of reading past the end.
struct Cursor {
  const uint8_t* p;
  size_t n, at = 0;
  bool bad = false;
  const uint8_t* take(size_t k) {
    if (bad || k > n - at) {
      bad = true;
      return nullptr;
    }
    const uint8_t* r = p + at;
    at += k;
    return r;
  }
  uint32_t u32() {
    uint32_t v = 0;
    if (const uint8_t* r = take(4)) std::memcpy(&v, r, 4);
    return v;
  }
  uint64_t u64() {
    uint64_t v = 0;
    if (const uint8_t* r = take(8)) std::memcpy(&v, r, 8);
    return v;
  }
  void align() { take(align8(at) - at); }
};

// Whether an entry's fields are consistent (a checksum can match a file someone else wrote).
bool entry_ok(const FileEntry& h, size_t helpers, const uint8_t* code, const uint8_t* relocs) {
  const uint64_t in_page = kPage - (h.pc & (kPage - 1));
  const bool two = h.phys_page2 != TranslationBlock::kNoPage;
  if (h.guest_size == 0 || h.guest_size > h.bytes_len) return false;
  if (h.bytes_len > in_page + (two ? kPage : 0) || (two && h.guest_size <= in_page)) return false;
  if (h.code_size == 0 || h.code_size > kMaxCode) return false;
  if (h.kind > uint8_t(ir::Terminal::Kind::Exit) || h.kind == 0) return false;
  if (h.reason > uint8_t(ir::ExitReason::FetchFault)) return false;
  for (uint32_t i = 0; i < h.nrelocs; ++i) {
    FileReloc r;
    std::memcpy(&r, relocs + i * sizeof r, sizeof r);
    if (r.kind >= uint8_t(baseline::RelocKind::Count) ||
        uint64_t(r.at) + baseline::reloc_width(baseline::RelocKind(r.kind)) > h.code_size)
      return false;
    if (r.kind == uint8_t(baseline::RelocKind::Helper) && r.helper >= helpers) return false;
    // A jump site is the aligned rel32 of a `jmp` (0xe9) that the engine repoints.
    if (r.kind == uint8_t(baseline::RelocKind::JumpSite) &&
        (r.addend > 1 || r.at % 4 != 0 || r.at == 0 || code[r.at - 1] != 0xe9))
      return false;
    // A counter site is the rel32 of a `dec dword [rip+rel32]` (0xff 0x0d), which ends there.
    if (r.kind == uint8_t(baseline::RelocKind::Counter) &&
        (r.at < 2 || code[r.at - 2] != 0xff || code[r.at - 1] != 0x0d))
      return false;
  }
  return true;
}

}  // namespace

struct TranslationCache::Pack {
  std::string path;
  const uint8_t* data = nullptr;
  size_t size = 0;
  std::vector<uint32_t> helper_ids;  // the pack's helper index -> global id
  ~Pack() {
    if (data) ::munmap(const_cast<uint8_t*>(data), size);
  }
};

struct TranslationCache::Entry {
  FileEntry h;
  const uint8_t* bytes;
  const uint8_t* code;
  const uint8_t* relocs;                    // FileReloc records, unaligned
  const std::vector<uint32_t>* helper_ids;  // the helper field -> global id (null: already global)
  const Entry* next = nullptr;              // same key hash
  mutable std::atomic<bool> hit{false};
};

TranslationCache::TranslationCache(TranslationCacheOptions opt, hw::Log* log)
    : opt_(std::move(opt)), log_(log) {
  char hex[20];
  std::snprintf(hex, sizeof hex, "%016" PRIx64 "-", hex_hash(opt_.config));
  prefix_ = hex;
  helpers_ = std::make_unique<std::atomic<const ir::Helper*>[]>(kMaxHelpers);
  helper_cap_ = kMaxHelpers;
}

TranslationCache::~TranslationCache() {
  if (loader_.joinable()) loader_.join();
}

std::unique_ptr<TranslationCache> TranslationCache::open(TranslationCacheOptions opt,
                                                         hw::Log* log) {
  std::unique_ptr<TranslationCache> c(new TranslationCache(std::move(opt), log));
  if (c->opt_.background) {
    try {
      c->loader_ = std::thread([t = c.get()] { t->load(); });
      return c;
    } catch (const std::system_error&) {  // no thread to be had: index them here
    }
  }
  c->load();
  return c;
}

void TranslationCache::load() {
  const uint64_t t0 = now_us();
  std::vector<std::string> paths;
  if (DIR* d = ::opendir(opt_.dir.c_str())) {
    while (struct dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (name.starts_with(prefix_) && name.ends_with(kSuffix))
        paths.push_back(opt_.dir + "/" + e->d_name);
    }
    ::closedir(d);
  }
  std::sort(paths.begin(), paths.end());
  for (const std::string& p : paths) load_pack(p);
  fixed_.load_us = now_us() - t0;
  if (opt_.loaded) {
    uint64_t code = 0;
    for (const auto& e : entries_) code += (e->h.code_size + 15) & ~uint64_t(15);
    opt_.loaded(code);
  }
  ready_.store(true, std::memory_order_release);
  ready_.notify_all();
}

int64_t TranslationCache::check_pack(std::span<const uint8_t> data, std::string_view config,
                                     const char** why) {
  auto fail = [why](const char* w) {
    if (why) *why = w;
    return int64_t(-1);
  };
  Cursor c{data.data(), data.size()};
  const uint8_t* magic = c.take(8);
  const uint64_t sum = c.u64();
  if (c.bad || std::memcmp(magic, kMagic, 8) != 0) return fail("not a pack of this format");
  if (checksum(data.data() + 16, data.size() - 16) != sum) return fail("checksum mismatch");
  const uint32_t config_len = c.u32();
  const uint8_t* cfg = c.take(config_len);
  if (c.bad || std::string_view(reinterpret_cast<const char*>(cfg), config_len) != config)
    return fail("written for another configuration");
  const uint32_t helpers = c.u32();
  if (helpers > kMaxHelpers) return fail("too many helpers");
  for (uint32_t i = 0; i < helpers && !c.bad; ++i) c.take(c.u32());
  c.align();
  const uint64_t n = c.u64();
  for (uint64_t i = 0; i < n && !c.bad; ++i) {
    FileEntry h;
    const uint8_t* r = c.take(sizeof h);
    if (!r) break;
    std::memcpy(&h, r, sizeof h);
    if (h.bytes_len > 2 * kPage || h.code_size > kMaxCode || h.nrelocs > kMaxCode)
      return fail("an entry is malformed");
    c.take(h.bytes_len);
    const uint8_t* code = c.take(h.code_size);
    const uint8_t* rel = c.take(h.nrelocs * sizeof(FileReloc));
    if (c.bad) break;
    if (!entry_ok(h, helpers, code, rel)) return fail("an entry is malformed");
    c.align();
  }
  if (c.bad) return fail("truncated");
  if (c.at != data.size()) return fail("trailing bytes");
  return int64_t(n);
}

void TranslationCache::load_pack(const std::string& path) {
  auto bad = [&](const char* why) {
    ++fixed_.packs_bad;
    if (log_)
      log_->log(hw::kLogTier, "tcg cache: ignoring baseline pack %s: %s\n", path.c_str(), why);
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;  // evicted or merged by another process meanwhile
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size < 16) {
    ::close(fd);
    return bad("truncated");
  }
  const size_t size = size_t(st.st_size);
  void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  // A hit keeps the pack young for the directory's LRU eviction, whatever the atime policy.
  const struct timespec times[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
  ::futimens(fd, times);
  ::close(fd);
  if (m == MAP_FAILED) return bad("cannot map it");
  auto pack = std::make_unique<Pack>();
  pack->path = path;
  pack->data = static_cast<const uint8_t*>(m);
  pack->size = size;
  const char* why = nullptr;
  if (check_pack({pack->data, size}, opt_.config, &why) < 0) return bad(why);

  // Intact: index it.
  Cursor c{pack->data, size, 16};
  c.take(c.u32());
  const uint32_t helpers = c.u32();
  {
    std::lock_guard<std::mutex> g(mu_);
    for (uint32_t i = 0; i < helpers; ++i) {
      const uint32_t len = c.u32();
      const uint8_t* name = c.take(len);
      pack->helper_ids.push_back(helper_id_locked({reinterpret_cast<const char*>(name), len}));
    }
  }
  c.align();
  const uint64_t n = c.u64();
  index_.reserve(index_.size() + n);  // one table for the pack (rehashing was ~0.5% of a boot)
  entries_.reserve(entries_.size() + n);
  for (uint64_t i = 0; i < n; ++i) {
    auto e = std::make_unique<Entry>();
    std::memcpy(&e->h, c.take(sizeof(FileEntry)), sizeof(FileEntry));
    e->bytes = c.take(e->h.bytes_len);
    e->code = c.take(e->h.code_size);
    e->relocs = c.take(e->h.nrelocs * sizeof(FileReloc));
    e->helper_ids = &pack->helper_ids;
    c.align();
    // Helper ids beyond the table (a full table) make the entry useless: skip it.
    bool ok = true;
    for (uint32_t k = 0; k < e->h.nrelocs && ok; ++k) {
      FileReloc r;
      std::memcpy(&r, e->relocs + k * sizeof r, sizeof r);
      if (r.kind == uint8_t(baseline::RelocKind::Helper) &&
          pack->helper_ids[r.helper] >= helper_cap_)
        ok = false;
    }
    if (!ok) continue;
    if (holds(TbKey{e->h.pc, e->h.phys_pc, e->h.flags, e->h.cs_base}, {e->bytes, e->h.bytes_len}))
      continue;  // the same translation in an older pack
    add_entry(std::move(e));
  }
  ++fixed_.packs;
  fixed_.bytes_loaded += size;
  packs_.push_back(std::move(pack));
}

void TranslationCache::add_entry(std::unique_ptr<Entry> e) {
  const Entry*& head = index_[key_hash(e->h.pc, e->h.flags, e->h.cs_base)];
  e->next = head;
  head = e.get();
  ++fixed_.loaded;
  entries_.push_back(std::move(e));
}

bool TranslationCache::holds(const TbKey& key, std::span<const uint8_t> bytes) const {
  auto it = index_.find(key_hash(key.pc, key.flags, key.cs_base));
  if (it == index_.end()) return false;
  for (const Entry* e = it->second; e; e = e->next)
    if (e->h.pc == key.pc && e->h.flags == key.flags && e->h.cs_base == key.cs_base &&
        e->h.bytes_len == bytes.size() && std::memcmp(e->bytes, bytes.data(), bytes.size()) == 0)
      return true;
  return false;
}

uint32_t TranslationCache::helper_id_locked(std::string_view name) {
  auto [it, fresh] = helper_ids_.try_emplace(std::string(name), uint32_t(helper_names_.size()));
  if (fresh) helper_names_.emplace_back(name);
  return it->second;
}

bool TranslationCache::find(const TbKey& key, const uint8_t* page, uint64_t in_page, NextPage& next,
                            Found& out) {
  if (!ready()) {
    early_misses_.fetch_add(1, std::memory_order_relaxed);
    misses_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  auto it = index_.find(key_hash(key.pc, key.flags, key.cs_base));
  if (it == index_.end()) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  const uint8_t* page2 = nullptr;
  uint64_t phys2 = 0;
  bool fetched = false, changed = false;
  for (const Entry* e = it->second; e; e = e->next) {
    const FileEntry& h = e->h;
    if (h.pc != key.pc || h.flags != key.flags || h.cs_base != key.cs_base) continue;
    const uint64_t n1 = std::min<uint64_t>(h.bytes_len, in_page);
    if (std::memcmp(page, e->bytes, n1) != 0) {
      changed = true;
      continue;
    }
    if (h.phys_page2 != TranslationBlock::kNoPage) {
      if (!fetched) {
        page2 = next.get(phys2);
        fetched = true;
      }
      if (!page2) continue;  // not in the TLB now: a translation would stop before it too
      if (std::memcmp(page2, e->bytes + n1, h.bytes_len - n1) != 0) {
        changed = true;
        continue;
      }
    }
    if (!resolve(*e, out)) {
      no_helper_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    describe(*e, out);
    out.phys_page2 =
        h.phys_page2 == TranslationBlock::kNoPage ? h.phys_page2 : phys2 & ~(kPage - 1);
    out.hit = nullptr;
    e->hit.store(true, std::memory_order_relaxed);
    hits_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  (changed ? rejected_ : misses_).fetch_add(1, std::memory_order_relaxed);
  return false;
}

void TranslationCache::describe(const Entry& e, Found& out) {
  const FileEntry& h = e.h;
  out.phys_page2 = h.phys_page2;
  out.guest_size = h.guest_size;
  out.num_insns = h.num_insns;
  out.ir_size = h.ir_size;
  out.term = ir::Terminal{};
  out.term.kind = ir::Terminal::Kind(h.kind);
  out.term.cond = ir::Value{h.cond};
  out.term.value = ir::Value{h.value};
  out.term.target = h.target;
  out.term.target2 = h.target2;
  out.term.reason = ir::ExitReason(h.reason);
  out.term.pc_in_state = h.pc_in_state != 0;
  out.term.arg = h.arg;
  out.code = {e.code, h.code_size};
  out.bytes = {e.bytes, h.bytes_len};
  out.hit = &e.hit;
}

void TranslationCache::install_pass(
    AheadList& list, const std::function<const uint8_t*(uint64_t phys, uint64_t len)>& bytes_at,
    const std::function<bool(const TbKey& key, const Found& found)>& visit) {
  wait_loaded();
  if (!list.started) {
    list.started = true;
    // A block running on into a second page is checked against the page its next virtual
    // page maps to when it is looked up; it is left to find().
    for (size_t i = 0; i < entries_.size(); ++i)  // read-only once the packs are indexed
      if (entries_[i]->h.phys_page2 == TranslationBlock::kNoPage) list.left.push_back(uint32_t(i));
  }
  Found found;
  size_t kept = 0, i = 0;
  for (; i < list.left.size(); ++i) {
    const Entry& e = *entries_[list.left[i]];
    const FileEntry& h = e.h;
    if (e.hit.load(std::memory_order_relaxed)) continue;
    const uint8_t* now = bytes_at(h.phys_pc, h.bytes_len);
    if (!now || std::memcmp(now, e.bytes, h.bytes_len) != 0 || !resolve(e, found)) {
      list.left[kept++] = list.left[i];
      continue;
    }
    describe(e, found);
    if (!visit(TbKey{h.pc, h.phys_pc, h.flags, h.cs_base}, found)) break;
  }
  for (; i < list.left.size(); ++i) list.left[kept++] = list.left[i];  // stopped: not installed
  list.left.resize(kept);
}

bool TranslationCache::resolve(const Entry& e, Found& out) const {
  out.relocs.clear();
  for (uint32_t i = 0; i < e.h.nrelocs; ++i) {
    FileReloc r;
    std::memcpy(&r, e.relocs + i * sizeof r, sizeof r);
    baseline::Reloc br{r.at, baseline::RelocKind(r.kind), r.addend, nullptr};
    if (br.kind == baseline::RelocKind::Helper) {
      const uint32_t id = e.helper_ids ? (*e.helper_ids)[r.helper] : r.helper;
      br.helper = helpers_[id].load(std::memory_order_acquire);
      if (!br.helper) return false;
    }
    out.relocs.push_back(br);
  }
  return true;
}

void TranslationCache::record(const TranslationBlock& tb, std::span<const uint8_t> guest_bytes,
                              std::span<const uint8_t> code,
                              std::span<const baseline::Reloc> relocs) {
  FileEntry h{};
  h.pc = tb.key.pc;
  h.phys_pc = tb.key.phys_pc;
  h.flags = tb.key.flags;
  h.cs_base = tb.key.cs_base;
  h.phys_page2 = tb.phys_page2;
  const ir::Terminal& t = tb.ir.term;
  h.target = t.target;
  h.target2 = t.target2;
  h.arg = t.arg;
  h.guest_size = tb.ir.guest_size;
  h.num_insns = tb.ir.num_insns;
  h.ir_size = uint32_t(tb.ir_insts());
  h.code_size = uint32_t(code.size());
  h.bytes_len = uint32_t(guest_bytes.size());
  h.nrelocs = uint32_t(relocs.size());
  h.cond = t.cond.id;
  h.value = t.value.id;
  h.kind = uint8_t(t.kind);
  h.reason = uint8_t(t.reason);
  h.pc_in_state = t.pc_in_state;
  std::lock_guard<std::mutex> g(mu_);
  // Helpers first: a loaded entry that missed only for want of one of them hits next time.
  bool helpers_ok = true;
  std::vector<FileReloc> rel_(relocs.size());
  for (size_t i = 0; i < relocs.size(); ++i) {
    const baseline::Reloc& r = relocs[i];
    rel_[i] = FileReloc{r.at, r.addend, 0, uint8_t(r.kind), 0};
    if (r.kind != baseline::RelocKind::Helper) continue;
    auto [it, fresh] = seen_.try_emplace(r.helper, 0);
    if (fresh) {
      it->second = helper_id_locked(r.helper->name);
      if (it->second < helper_cap_) helpers_[it->second].store(r.helper, std::memory_order_release);
    }
    if (it->second >= helper_cap_) helpers_ok = false;
    rel_[i].helper = uint16_t(it->second);
  }
  // Only what a later load accepts: one odd block (a two-page block that ended on its first
  // page, an empty one) must not make the whole pack malformed.
  const bool early = !ready();
  if (saved_ || !helpers_ok || code.size() > kMaxCode ||
      !entry_ok(h, helper_cap_, code.data(), reinterpret_cast<const uint8_t*>(rel_.data())) ||
      (!early && holds(tb.key, guest_bytes)))
    return;
  const size_t size =
      align8(sizeof h + guest_bytes.size() + code.size() + rel_.size() * sizeof(FileReloc));
  if (early) early_.emplace_back().reserve(size);
  std::string& out = early ? early_.back() : pending_chunk_locked(size);
  const size_t start = out.size();
  put(out, &h, sizeof h);
  put(out, guest_bytes.data(), guest_bytes.size());
  put(out, code.data(), code.size());
  // The sites hold this run's addresses: stored as zeros (apply_relocs fills them in).
  const size_t code_at = start + sizeof h + guest_bytes.size();
  for (const FileReloc& r : rel_)
    std::memset(&out[code_at + r.at], 0, baseline::reloc_width(baseline::RelocKind(r.kind)));
  put(out, rel_.data(), rel_.size() * sizeof(FileReloc));
  pad8(out);
  if (!early) ++pending_count_;
  recorded_.fetch_add(1, std::memory_order_relaxed);
}

std::string& TranslationCache::pending_chunk_locked(size_t size) {
  if (pending_.empty() || pending_.back().size() + size > pending_.back().capacity()) {
    pending_.emplace_back();
    pending_.back().reserve(std::max(kChunk, size));
  }
  return pending_.back();
}

void TranslationCache::take_early_locked() {
  for (std::string& e : early_) {
    FileEntry h;
    std::memcpy(&h, e.data(), sizeof h);
    const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(e.data()) + sizeof h,
                                         h.bytes_len);
    if (holds(TbKey{h.pc, h.phys_pc, h.flags, h.cs_base}, bytes)) continue;
    pending_chunk_locked(e.size()) += e;
    ++pending_count_;
  }
  early_.clear();
}

namespace {
// Writes all of s at the file's current offset; false on failure.
bool write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t w = ::write(fd, s.data(), s.size());
    if (w <= 0) return false;
    s.remove_prefix(size_t(w));
  }
  return true;
}
}  // namespace

uint64_t TranslationCache::save() {
  wait_loaded();
  const uint64_t t0 = now_us();
  std::lock_guard<std::mutex> g(mu_);
  if (saved_) return 0;
  saved_ = true;
  take_early_locked();
  if (pending_count_ == 0) return 0;
  const bool merge = packs_.size() >= kMergePacks;
  char name[96];
  const auto ns = std::chrono::system_clock::now().time_since_epoch().count();
  std::snprintf(name, sizeof name, "%s%d-%" PRIx64 "%s", prefix_.c_str(), int(::getpid()),
                uint64_t(ns), kSuffix);
  const std::string final_path = opt_.dir + "/" + name;
  const std::string tmp_path = opt_.dir + "/" + kTmpPrefix + name;
  const int fd = ::open(tmp_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (log_) log_->log(hw::kLogTier, "tcg cache: cannot write %s\n", tmp_path.c_str());
    return 0;
  }
  // Header, loaded entries (merging), new entries; written in pieces, then the checksum over
  // the file as written.
  std::string buf(kMagic, 8);
  put_u64(buf, 0);  // the checksum, below
  put_u32(buf, uint32_t(opt_.config.size()));
  buf += opt_.config;
  put_u32(buf, uint32_t(helper_names_.size()));
  for (const std::string& n : helper_names_) {
    put_u32(buf, uint32_t(n.size()));
    buf += n;
  }
  pad8(buf);
  const size_t count_at = buf.size();
  put_u64(buf, 0);
  uint64_t count = 0;
  bool ok = true;
  if (merge) {
    // Entries this run hit first, then the others by age, while the pack stays within half the
    // size bound (the new entries are written in any case).
    uint64_t pending_bytes = 0;
    for (const std::string& c : pending_) pending_bytes += c.size();
    const uint64_t budget = opt_.max_bytes ? opt_.max_bytes / 2 : UINT64_MAX;
    uint64_t written = 0;
    std::vector<const Entry*> order;
    order.reserve(entries_.size());
    for (const auto& e : entries_) order.push_back(e.get());
    std::stable_sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
      const bool ha = a->hit.load(std::memory_order_relaxed);
      const bool hb = b->hit.load(std::memory_order_relaxed);
      return ha != hb ? ha : a->h.age < b->h.age;
    });
    for (const Entry* e : order) {
      FileEntry h = e->h;
      if (e->hit.load(std::memory_order_relaxed)) {
        h.age = 0;
      } else if (++h.age > kMaxAge) {
        ++fixed_.dropped;
        continue;
      }
      if (written + buf.size() + pending_bytes > budget) {
        ++fixed_.dropped;
        continue;
      }
      put(buf, &h, sizeof h);
      put(buf, e->bytes, h.bytes_len);
      put(buf, e->code, h.code_size);
      for (uint32_t i = 0; i < h.nrelocs; ++i) {
        FileReloc r;
        std::memcpy(&r, e->relocs + i * sizeof r, sizeof r);
        if (r.kind == uint8_t(baseline::RelocKind::Helper) && e->helper_ids)
          r.helper = uint16_t((*e->helper_ids)[r.helper]);
        put(buf, &r, sizeof r);
      }
      pad8(buf);
      ++count;
      if (buf.size() >= kChunk) {
        ok = ok && write_all(fd, buf);
        written += buf.size();
        buf.clear();
      }
    }
  }
  ok = ok && write_all(fd, buf);
  for (const std::string& c : pending_) ok = ok && write_all(fd, c);
  count += pending_count_;
  uint64_t size = 0;
  if (ok) {
    ok = ::pwrite(fd, &count, 8, off_t(count_at)) == 8;
    size = uint64_t(::lseek(fd, 0, SEEK_END));
    void* m = ok && size > 16 ? ::mmap(nullptr, size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0)
                              : MAP_FAILED;
    ok = m != MAP_FAILED;
    if (ok) {
      const uint64_t sum = checksum(static_cast<const uint8_t*>(m) + 16, size - 16);
      ::munmap(m, size);
      ok = ::pwrite(fd, &sum, 8, 8) == 8;
    }
  }
  ::close(fd);
  if (ok) ok = ::rename(tmp_path.c_str(), final_path.c_str()) == 0;
  if (!ok) {
    ::unlink(tmp_path.c_str());
    if (log_)
      log_->log(hw::kLogTier, "tcg cache: cannot write baseline pack %s\n", final_path.c_str());
    return 0;
  }
  if (merge)
    for (const auto& p : packs_) ::unlink(p->path.c_str());
  pending_.clear();
  fixed_.stored = count;
  fixed_.bytes_stored = size;
  fixed_.save_us = now_us() - t0;
  return size;
}

TranslationCache::Stats TranslationCache::stats() const {
  wait_loaded();
  std::lock_guard<std::mutex> g(mu_);
  Stats s = fixed_;
  s.hits = hits_.load();
  s.misses = misses_.load();
  s.early = early_misses_.load();
  s.rejected = rejected_.load();
  s.no_helper = no_helper_.load();
  s.recorded = recorded_.load();
  return s;
}

std::vector<std::string> TranslationCache::pack_paths() const {
  wait_loaded();
  std::vector<std::string> v;
  for (const auto& p : packs_) v.push_back(p->path);
  return v;
}

}  // namespace orrery::tcg::exec
