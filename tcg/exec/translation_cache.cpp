// Pack files of baseline translations (translation_cache.h). Layout (host byte order: the
// baseline tier exists only on x86-64):
//   "ORRTBP03"  u64 xxh3_64(bytes 16 to the end of the table)
//   u32 config_len  config  u32 helpers  { u32 len  name } * helpers  (zeros to 8-byte alignment)
//   u64 entries  FileEntry * entries                                   (the table)
//   { guest bytes  code  FileReloc * nrelocs  (zeros to 8 bytes) } * entries   (the bodies)
// The bodies follow in table order, each checked against its FileEntry::body_sum when the entry
// is first used: loading reads the header and the table only (~7 of an arm64 boot's ~60 MiB),
// so the index is ready before the guest starts. Every first touch of a page costs here.
#include "tcg/exec/translation_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstddef>
#include <cstring>
#include <system_error>

#include <llvm/Support/xxhash.h>

#include "hw/core/log.h"
#include "hw/core/thread_name.h"
#include "tcg/softmmu/softmmu.h"

namespace orrery::tcg::exec {

namespace {

constexpr char kMagic[8] = {'O', 'R', 'R', 'T', 'B', 'P', '0', '3'};
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
  uint8_t pc_relative;  // ir::Block::pc_relative: may run at another PC (same page offset)
  uint8_t pad[3];
  uint64_t body_sum;   // xxh3_64 of the entry's body
  uint64_t head_hash;  // pc_relative: the content key (head_hash()) that finds it at any PC
};
static_assert(sizeof(FileEntry) == 120);

struct FileReloc {
  uint32_t at;
  uint16_t helper;
  uint8_t kind, pad;
  int64_t addend;
};
static_assert(sizeof(FileReloc) == 16);

size_t align8(size_t n) {
  return (n + 7) & ~size_t(7);
}
uint64_t key_hash(uint64_t pc, uint64_t flags, uint64_t cs_base) {
  uint64_t h = pc * 0x9e3779b97f4a7c15ull;
  h ^= (flags + 0x632be59bd9b4e019ull) * 0xff51afd7ed558ccdull;
  h ^= cs_base * 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 29);
}
// The guest bytes a pc-relative entry is found by at another PC: up to 16, within the first
// page (a lookup has only that page's bytes in hand).
uint64_t head_len(uint64_t pc) {
  return std::min<uint64_t>(16, kPage - (pc & (kPage - 1)));
}
// The content key: those bytes, the page offset (PC-relative code moves by whole pages only)
// and the mode. Lookups compare the whole entry's bytes afterwards.
uint64_t head_hash(const uint8_t* bytes, uint64_t pc, uint64_t flags, uint64_t cs_base) {
  const uint64_t h = ::llvm::xxh3_64bits(::llvm::ArrayRef<uint8_t>(bytes, head_len(pc)));
  return h ^ key_hash(pc & (kPage - 1), flags, cs_base);
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

// The bytes of an entry's body: guest bytes, code and relocations, padded to 8.
size_t body_len(const FileEntry& h) {
  return align8(size_t(h.bytes_len) + h.code_size + size_t(h.nrelocs) * sizeof(FileReloc));
}

// Whether a table entry's own fields are consistent (a checksum can match a file someone else
// wrote).
bool header_ok(const FileEntry& h) {
  const uint64_t in_page = kPage - (h.pc & (kPage - 1));
  const bool two = h.phys_page2 != TranslationBlock::kNoPage;
  if (h.guest_size == 0 || h.guest_size > h.bytes_len) return false;
  if (h.bytes_len > in_page + (two ? kPage : 0) || (two && h.guest_size <= in_page)) return false;
  if (h.code_size == 0 || h.code_size > kMaxCode || h.nrelocs > kMaxCode) return false;
  if (h.kind > uint8_t(ir::Terminal::Kind::Exit) || h.kind == 0) return false;
  if (h.reason > uint8_t(ir::ExitReason::FetchFault)) return false;
  return true;
}

// Whether a body's relocations fit its code and the pack's helper table.
bool relocs_ok(const FileEntry& h, size_t helpers, const uint8_t* code, const uint8_t* relocs) {
  for (uint32_t i = 0; i < h.nrelocs; ++i) {
    FileReloc r;
    std::memcpy(&r, relocs + i * sizeof r, sizeof r);
    if (r.kind >= uint8_t(baseline::RelocKind::Count) ||
        uint64_t(r.at) + baseline::reloc_width(baseline::RelocKind(r.kind)) > h.code_size)
      return false;
    if (r.kind == uint8_t(baseline::RelocKind::Helper) && r.helper >= helpers) return false;
    // A block-data address stays inside the TranslationBlock.
    if (r.kind == uint8_t(baseline::RelocKind::Tb) &&
        (r.addend < 0 || uint64_t(r.addend) >= sizeof(TranslationBlock)))
      return false;
    // A jump site is the aligned rel32 of a `jmp` (0xe9) that the engine repoints.
    if (r.kind == uint8_t(baseline::RelocKind::JumpSite) &&
        (r.addend < 0 || r.addend > 1 || r.at % 4 != 0 || r.at == 0 || code[r.at - 1] != 0xe9))
      return false;
    // An exit-stub site is the rel32 of a `jmp` (0xe9) to one of the three stubs.
    if (r.kind == uint8_t(baseline::RelocKind::ExitStub) &&
        (r.addend < 0 || r.addend > 2 || r.at == 0 || code[r.at - 1] != 0xe9))
      return false;
    // A counter site is the rel32 of a `dec dword [rip+rel32]` (0xff 0x0d), which ends there.
    if (r.kind == uint8_t(baseline::RelocKind::Counter) &&
        (r.at < 2 || code[r.at - 2] != 0xff || code[r.at - 1] != 0x0d))
      return false;
  }
  return true;
}

// Whether a body is intact: its checksum and its relocations.
bool body_ok(const FileEntry& h, size_t helpers, const uint8_t* body) {
  const uint8_t* code = body + h.bytes_len;
  return checksum(body, body_len(h)) == h.body_sum &&
         relocs_ok(h, helpers, code, code + h.code_size);
}

// A pack's header and table, checked: its magic, configuration and checksum, each table
// entry's fields, and bodies that fill the rest of the file exactly. Returns why not, or null.
struct Layout {
  uint32_t helpers = 0;
  size_t names_at = 0;  // the first helper name's length
  const FileEntry* table = nullptr;
  uint64_t entries = 0;
  size_t bodies_at = 0;
};
const char* parse_layout(std::span<const uint8_t> data, std::string_view config, Layout& out) {
  Cursor c{data.data(), data.size()};
  const uint8_t* magic = c.take(8);
  const uint64_t sum = c.u64();
  if (c.bad || std::memcmp(magic, kMagic, 8) != 0) return "not a pack of this format";
  const uint32_t config_len = c.u32();
  const uint8_t* cfg = c.take(config_len);
  if (c.bad) return "truncated";
  if (std::string_view(reinterpret_cast<const char*>(cfg), config_len) != config)
    return "written for another configuration";
  out.helpers = c.u32();
  if (out.helpers > kMaxHelpers) return "too many helpers";
  out.names_at = c.at;
  for (uint32_t i = 0; i < out.helpers && !c.bad; ++i) c.take(c.u32());
  c.align();
  out.entries = c.u64();
  if (c.bad || out.entries > (c.n - c.at) / sizeof(FileEntry)) return "truncated";
  const uint8_t* table = c.take(out.entries * sizeof(FileEntry));
  if (checksum(data.data() + 16, c.at - 16) != sum) return "checksum mismatch";
  // 8-aligned in a page-aligned mapping: read in place.
  out.table = reinterpret_cast<const FileEntry*>(table);
  out.bodies_at = c.at;
  size_t at = c.at;
  for (uint64_t i = 0; i < out.entries; ++i) {
    const FileEntry& h = out.table[i];
    if (!header_ok(h)) return "an entry is malformed";
    const size_t len = body_len(h);
    if (len > data.size() - at) return "truncated";
    at += len;
  }
  if (at != data.size()) return "trailing bytes";
  return nullptr;
}

}  // namespace

struct TranslationCache::Entry {
  const FileEntry* h = nullptr;    // in its pack's table
  const uint8_t* bytes = nullptr;  // its body: these guest bytes, then code, then relocations
  const uint8_t* code = nullptr;
  const uint8_t* relocs = nullptr;  // FileReloc records, unaligned
  const Pack* pack = nullptr;
  mutable std::atomic<bool> hit{false};
  mutable std::atomic<uint8_t> state{0};  // 0: body not checked yet, 1: intact, 2: corrupt
};

struct TranslationCache::Pack {
  std::string path;
  const uint8_t* data = nullptr;
  size_t size = 0;
  std::vector<uint32_t> helper_ids;  // the pack's helper index -> global id
  std::unique_ptr<Entry[]> entries;
  ~Pack() {
    if (data) ::munmap(const_cast<uint8_t*>(data), size);
  }
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
      c->loader_ = std::thread([t = c.get()] {
        hw::name_this_thread("tcache load");
        t->load();
      });
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
  build_index();
  fixed_.load_us = now_us() - t0;
  if (opt_.loaded) {
    uint64_t code = 0;
    for (const Entry* e : entries_) code += (e->h->code_size + 15) & ~uint64_t(15);
    opt_.loaded(code, entries_.size());
  }
  ready_.store(true, std::memory_order_release);
  ready_.notify_all();
}

int64_t TranslationCache::check_pack(std::span<const uint8_t> data, std::string_view config,
                                     const char** why) {
  Layout l;
  const char* w = parse_layout(data, config, l);
  const uint8_t* body = data.data() + l.bodies_at;
  for (uint64_t i = 0; !w && i < l.entries; ++i) {
    if (!body_ok(l.table[i], l.helpers, body)) w = "an entry's body is corrupt";
    body += body_len(l.table[i]);
  }
  if (!w) return int64_t(l.entries);
  if (why) *why = w;
  return -1;
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
  // Not populated: the bodies are read when their entries are first used.
  void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  // A hit keeps the pack young for the directory's LRU eviction, whatever the atime policy.
  const struct timespec times[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
  ::futimens(fd, times);
  ::close(fd);
  if (m == MAP_FAILED) return bad("cannot map it");
  auto pack = std::make_unique<Pack>();
  pack->path = path;
  pack->data = static_cast<const uint8_t*>(m);
  pack->size = size;
  Layout l;
  if (const char* why = parse_layout({pack->data, size}, opt_.config, l)) return bad(why);

  // Intact as far as the table goes: list its entries (build_index() indexes them).
  Cursor c{pack->data, size, l.names_at};
  {
    std::lock_guard<std::mutex> g(mu_);
    for (uint32_t i = 0; i < l.helpers; ++i) {
      const uint32_t len = c.u32();
      const uint8_t* name = c.take(len);
      pack->helper_ids.push_back(helper_id_locked({reinterpret_cast<const char*>(name), len}));
    }
  }
  pack->entries = std::make_unique<Entry[]>(l.entries);
  entries_.reserve(entries_.size() + l.entries);
  const uint8_t* body = pack->data + l.bodies_at;
  for (uint64_t i = 0; i < l.entries; ++i) {
    Entry& e = pack->entries[i];
    e.h = &l.table[i];
    e.bytes = body;
    e.code = body + e.h->bytes_len;
    e.relocs = e.code + e.h->code_size;
    e.pack = pack.get();
    body += body_len(*e.h);
    entries_.push_back(&e);
  }
  ++fixed_.packs;
  fixed_.bytes_loaded += size;
  packs_.push_back(std::move(pack));
}

size_t TranslationCache::slot_of(uint64_t pc, uint64_t flags, uint64_t cs_base) const {
  return slot_of_hash(key_hash(pc, flags, cs_base));
}

size_t TranslationCache::slot_of_hash(uint64_t hash) const {
  return size_t((hash * 0x9e3779b97f4a7c15ull) >> slot_shift_);
}

template <class Visit>
size_t TranslationCache::probe(uint64_t pc, uint64_t flags, uint64_t cs_base, Visit&& visit) const {
  const size_t mask = slots_.size() - 1;
  size_t i = slot_of(pc, flags, cs_base);
  for (; slots_[i]; i = (i + 1) & mask) {
    const Entry& e = *entries_[slots_[i] - 1];
    if (e.h->pc == pc && e.h->flags == flags && e.h->cs_base == cs_base && visit(e)) break;
  }
  return i;
}

void TranslationCache::build_index() {
  // Open addressing at most half full, so a probe always meets an empty slot.
  unsigned bits = 4;
  while ((size_t(1) << bits) < 2 * entries_.size()) ++bits;
  slots_.assign(size_t(1) << bits, 0);
  slot_shift_ = 64 - bits;
  size_t kept = 0;
  for (Entry* e : entries_) {
    const FileEntry& h = *e->h;
    if (holds(TbKey{h.pc, h.phys_pc, h.flags, h.cs_base}, {e->bytes, h.bytes_len}))
      continue;  // the same translation in an older pack
    const size_t i = probe(h.pc, h.flags, h.cs_base, [](const Entry&) { return false; });
    entries_[kept] = e;
    slots_[i] = uint32_t(++kept);
  }
  entries_.resize(kept);
  // The large mappings (install_pass holds their entries back until one is found).
  std::unordered_map<uint64_t, uint32_t> count;
  for (const Entry* e : entries_) ++count[e->h->pc - e->h->phys_pc];
  for (const auto& [voff, n] : count)
    if (n >= opt_.mapping_min_entries) mappings_.emplace(voff, n);
  // The content index of the pc-relative entries (as large: at most half full too).
  moved_slots_.assign(slots_.size(), 0);
  const size_t mask = moved_slots_.size() - 1;
  for (size_t k = 0; k < entries_.size(); ++k) {
    const FileEntry& h = *entries_[k]->h;
    if (!h.pc_relative) continue;
    size_t i = slot_of_hash(h.head_hash);
    while (moved_slots_[i]) i = (i + 1) & mask;
    moved_slots_[i] = uint32_t(k + 1);
  }
  fixed_.loaded = kept;
}

bool TranslationCache::holds(const TbKey& key, std::span<const uint8_t> bytes) const {
  if (slots_.empty()) return false;
  const size_t i = probe(key.pc, key.flags, key.cs_base, [&](const Entry& e) {
    return e.h->bytes_len == bytes.size() && std::memcmp(e.bytes, bytes.data(), bytes.size()) == 0;
  });
  return slots_[i] != 0;
}

bool TranslationCache::intact(const Entry& e) const {
  uint8_t s = e.state.load(std::memory_order_acquire);
  if (s == 0) {
    const bool ok = body_ok(*e.h, e.pack->helper_ids.size(), e.bytes);
    s = ok ? 1 : 2;
    // Two threads may check it at once: the first to store logs it.
    if (e.state.exchange(s, std::memory_order_acq_rel) == 0 && !ok) {
      entries_bad_.fetch_add(1, std::memory_order_relaxed);
      if (log_)
        log_->log(hw::kLogTier,
                  "tcg cache: ignoring an entry of baseline pack %s (pc %#" PRIx64
                  "): its body is corrupt\n",
                  e.pack->path.c_str(), e.h->pc);
    }
  }
  return s == 1;
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
  const uint8_t* page2 = nullptr;
  uint64_t phys2 = 0;
  bool fetched = false, changed = false;
  // Whether e's guest bytes are in memory now, on both pages (different bytes set changed).
  auto matches = [&](const Entry& e) {
    const FileEntry& h = *e.h;
    if (!intact(e)) return false;
    const uint64_t n1 = std::min<uint64_t>(h.bytes_len, in_page);
    if (std::memcmp(page, e.bytes, n1) != 0) {
      changed = true;
      return false;
    }
    if (h.phys_page2 == TranslationBlock::kNoPage) return true;
    if (!fetched) {
      page2 = next.get(phys2);
      fetched = true;
    }
    if (!page2) return false;  // not in the TLB now: a translation would stop before it too
    if (std::memcmp(page2, e.bytes + n1, h.bytes_len - n1) == 0) return true;
    changed = true;
    return false;
  };
  const size_t i = probe(key.pc, key.flags, key.cs_base, matches);
  const Entry* found = slots_[i] ? entries_[slots_[i] - 1] : nullptr;
  if (!found && in_page >= head_len(key.pc)) {
    // The same code at another address (a kernel with KASLR, a library mapped elsewhere):
    // found by its bytes; its PC-relative code and targets move with it.
    const uint64_t want = head_hash(page, key.pc, key.flags, key.cs_base);
    const size_t mask = moved_slots_.size() - 1;
    for (size_t j = slot_of_hash(want); moved_slots_[j]; j = (j + 1) & mask) {
      const Entry& e = *entries_[moved_slots_[j] - 1];
      const FileEntry& h = *e.h;
      if (h.head_hash != want || h.flags != key.flags || h.cs_base != key.cs_base ||
          ((h.pc ^ key.pc) & (kPage - 1))) {
        continue;
      }
      const bool was_changed = changed;
      if (!matches(e)) {
        changed = was_changed;  // other code with the same head: not this key's changed code
        continue;
      }
      found = &e;
      moved_.fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  if (!found) {
    (changed ? rejected_ : misses_).fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  const Entry& e = *found;
  if (!resolve(e, out)) {
    no_helper_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  describe(e, out);
  move_found(out, e.h->pc, key.pc);
  out.phys_page2 =
      e.h->phys_page2 == TranslationBlock::kNoPage ? e.h->phys_page2 : phys2 & ~(kPage - 1);
  out.hit = nullptr;
  e.hit.store(true, std::memory_order_relaxed);
  hits_.fetch_add(1, std::memory_order_relaxed);
  // After the hit mark: the install-ahead pass this may bring leaves this entry to the caller.
  place_mapping(e.h->pc - e.h->phys_pc, int64_t(key.pc - e.h->pc));
  return true;
}

void TranslationCache::move_found(Found& out, uint64_t stored_pc, uint64_t pc) {
  out.stored_pc = stored_pc;
  if (const uint64_t delta = pc - stored_pc) {
    using Kind = ir::Terminal::Kind;
    if (out.term.kind == Kind::Jump || out.term.kind == Kind::Branch ||
        (out.term.kind == Kind::Exit && !out.term.pc_in_state))
      out.term.target += delta;
    if (out.term.kind == Kind::Branch) out.term.target2 += delta;
  }
}

void TranslationCache::place_mapping(uint64_t voff, int64_t delta) {
  if (!mappings_.count(voff)) return;
  {
    std::lock_guard<std::mutex> g(placed_mu_);
    if (!placed_.emplace(voff, delta).second) return;  // the first place found stands
  }
  placed_gen_.fetch_add(1, std::memory_order_release);
  if (on_placed_) on_placed_();
}

void TranslationCache::describe(const Entry& e, Found& out) {
  const FileEntry& h = *e.h;
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
      if (entries_[i]->h->phys_page2 == TranslationBlock::kNoPage) list.left.push_back(uint32_t(i));
  }
  std::unordered_map<uint64_t, int64_t> placed;
  {
    std::lock_guard<std::mutex> g(placed_mu_);
    placed = placed_;
  }
  Found found;
  size_t kept = 0, i = 0;
  for (; i < list.left.size(); ++i) {
    const Entry& e = *entries_[list.left[i]];
    const FileEntry& h = *e.h;
    if (e.hit.load(std::memory_order_relaxed) || !intact(e)) continue;
    const uint64_t voff = h.pc - h.phys_pc;
    int64_t delta = 0;
    if (mappings_.count(voff)) {
      auto it = placed.find(voff);
      if (it == placed.end()) {  // not met yet: it may be elsewhere in this run
        list.left[kept++] = list.left[i];
        continue;
      }
      delta = it->second;
      if (delta && !h.pc_relative) continue;  // moved, and this code cannot move with it
    }
    const uint8_t* now = bytes_at(h.phys_pc, h.bytes_len);
    if (!now || std::memcmp(now, e.bytes, h.bytes_len) != 0 || !resolve(e, found)) {
      list.left[kept++] = list.left[i];
      continue;
    }
    describe(e, found);
    const uint64_t pc = h.pc + uint64_t(delta);
    move_found(found, h.pc, pc);
    if (!visit(TbKey{pc, h.phys_pc, h.flags, h.cs_base}, found)) break;
  }
  for (; i < list.left.size(); ++i) list.left[kept++] = list.left[i];  // stopped: not installed
  list.left.resize(kept);
}

bool TranslationCache::resolve(const Entry& e, Found& out) const {
  out.relocs.clear();
  for (uint32_t i = 0; i < e.h->nrelocs; ++i) {
    FileReloc r;
    std::memcpy(&r, e.relocs + i * sizeof r, sizeof r);
    baseline::Reloc br{r.at, baseline::RelocKind(r.kind), r.addend, nullptr};
    if (br.kind == baseline::RelocKind::Helper) {
      // In the pack's table (intact() checked), but maybe past the global one when it filled.
      const uint32_t id = e.pack->helper_ids[r.helper];
      br.helper = id < helper_cap_ ? helpers_[id].load(std::memory_order_acquire) : nullptr;
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
  h.pc_relative = tb.ir.pc_relative && guest_bytes.size() >= head_len(h.pc);
  if (h.pc_relative) h.head_hash = head_hash(guest_bytes.data(), h.pc, h.flags, h.cs_base);
  std::lock_guard<std::mutex> g(mu_);
  // Helpers first: a loaded entry that missed only for want of one of them hits next time.
  bool helpers_ok = true;
  std::vector<FileReloc> rel_(relocs.size());
  for (size_t i = 0; i < relocs.size(); ++i) {
    const baseline::Reloc& r = relocs[i];
    rel_[i] = FileReloc{r.at, 0, uint8_t(r.kind), 0, r.addend};
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
  if (saved_ || !helpers_ok || code.size() > kMaxCode || !header_ok(h) ||
      !relocs_ok(h, helper_cap_, code.data(), reinterpret_cast<const uint8_t*>(rel_.data())) ||
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
  const uint64_t sum = checksum(reinterpret_cast<const uint8_t*>(out.data()) + start + sizeof h,
                                out.size() - start - sizeof h);
  std::memcpy(&out[start + offsetof(FileEntry, body_sum)], &sum, sizeof sum);
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
// Writes all of s at offset at; false on failure.
bool pwrite_all(int fd, std::string_view s, off_t at) {
  while (!s.empty()) {
    const ssize_t w = ::pwrite(fd, s.data(), s.size(), at);
    if (w <= 0) return false;
    s.remove_prefix(size_t(w));
    at += off_t(w);
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
  // What to write: each entry's table row and body; loaded entries (merging) first, the pack
  // they come from when their helper fields need mapping to global ids.
  struct Out {
    FileEntry h;
    const uint8_t* body;
    const Pack* pack;
  };
  std::vector<Out> out;
  uint64_t pending_bytes = 0;
  for (const std::string& c : pending_) pending_bytes += c.size();
  if (merge) {
    // Entries this run hit first, then the others by age, while the pack stays within half the
    // size bound (the new entries are written in any case).
    const uint64_t budget = opt_.max_bytes ? opt_.max_bytes / 2 : UINT64_MAX;
    uint64_t kept = 0;
    std::vector<const Entry*> order(entries_.begin(), entries_.end());
    std::stable_sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
      const bool ha = a->hit.load(std::memory_order_relaxed);
      const bool hb = b->hit.load(std::memory_order_relaxed);
      return ha != hb ? ha : a->h->age < b->h->age;
    });
    out.reserve(order.size() + pending_count_);
    for (const Entry* e : order) {
      FileEntry h = *e->h;
      if (e->hit.load(std::memory_order_relaxed)) {
        h.age = 0;
      } else if (++h.age > kMaxAge) {
        ++fixed_.dropped;
        continue;
      }
      const uint64_t size = sizeof h + body_len(h);
      if (kept + size + pending_bytes > budget || !intact(*e)) {  // a corrupt one is not kept
        ++fixed_.dropped;
        continue;
      }
      kept += size;
      out.push_back({h, e->bytes, e->pack});
    }
  }
  for (const std::string& c : pending_)
    for (size_t at = 0; at < c.size();) {
      Out o{{}, nullptr, nullptr};
      std::memcpy(&o.h, c.data() + at, sizeof o.h);
      o.body = reinterpret_cast<const uint8_t*>(c.data()) + at + sizeof o.h;
      at += sizeof o.h + body_len(o.h);
      out.push_back(o);
    }

  // The header and table go in front once the bodies' checksums are known.
  std::string head(kMagic, 8);
  put_u64(head, 0);  // the checksum, below
  put_u32(head, uint32_t(opt_.config.size()));
  head += opt_.config;
  put_u32(head, uint32_t(helper_names_.size()));
  for (const std::string& n : helper_names_) {
    put_u32(head, uint32_t(n.size()));
    head += n;
  }
  pad8(head);
  put_u64(head, out.size());
  const size_t bodies_at = head.size() + out.size() * sizeof(FileEntry);
  bool ok = ::lseek(fd, off_t(bodies_at), SEEK_SET) == off_t(bodies_at);
  std::string buf;
  uint64_t size = bodies_at;
  for (Out& o : out) {
    const size_t len = body_len(o.h);
    const size_t at = buf.size();
    buf.append(reinterpret_cast<const char*>(o.body), len);
    if (o.pack) {  // a loaded entry: its helper fields become global ids, and its sum changes
      char* rel = buf.data() + at + o.h.bytes_len + o.h.code_size;
      for (uint32_t i = 0; i < o.h.nrelocs; ++i) {
        FileReloc r;
        std::memcpy(&r, rel + i * sizeof r, sizeof r);
        if (r.kind != uint8_t(baseline::RelocKind::Helper)) continue;
        r.helper = uint16_t(o.pack->helper_ids[r.helper]);
        std::memcpy(rel + i * sizeof r, &r, sizeof r);
      }
      o.h.body_sum = checksum(reinterpret_cast<const uint8_t*>(buf.data()) + at, len);
    }
    put(head, &o.h, sizeof o.h);
    size += len;
    if (buf.size() >= kChunk) {
      ok = ok && write_all(fd, buf);
      buf.clear();
    }
  }
  ok = ok && write_all(fd, buf);
  const uint64_t sum =
      checksum(reinterpret_cast<const uint8_t*>(head.data()) + 16, head.size() - 16);
  std::memcpy(&head[8], &sum, sizeof sum);
  ok = ok && pwrite_all(fd, head, 0);
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
  fixed_.stored = out.size();
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
  s.moved = moved_.load();
  s.early = early_misses_.load();
  s.rejected = rejected_.load();
  s.no_helper = no_helper_.load();
  s.entries_bad = entries_bad_.load();
  s.recorded = recorded_.load();
  for (const Entry* e : entries_) s.ran += e->hit.load(std::memory_order_relaxed);
  return s;
}

std::vector<std::string> TranslationCache::pack_paths() const {
  wait_loaded();
  std::vector<std::string> v;
  for (const auto& p : packs_) v.push_back(p->path);
  return v;
}

}  // namespace orrery::tcg::exec
