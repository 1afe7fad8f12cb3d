// The baseline tier's persistent translations (-accel tcg,cache=DIR): the host code baseline
// made for each block in earlier runs, with what it was made from, so that a later run (a warm
// boot) installs that code instead of running the frontend, the IR passes and the code
// generator again.
//
// Entries live in a few pack files per configuration, `<config hash>-<unique>.tbp`, each a
// header (magic, the configuration string, helper names), a table of the entries' fixed
// fields and their bodies (guest bytes, code, relocations). The header and table carry an
// xxh3-64 checksum, checked when the pack is loaded: a truncated or corrupt one is ignored (and
// logged under -d tier). Each body carries its own, checked when the entry is first used: a
// corrupt one is a miss (and logged). Loading maps a pack and indexes its table by (pc, tb
// flags, cs_base) on a thread of their own at start-up, reading only the table (~7 MiB of an
// arm64 boot's ~60), so the index is ready about when the guest starts: until then every lookup
// is a miss, and what those translations record is checked against the loaded entries at
// save(). An entry holds the guest bytes the translation read (from the block's PC
// to 16 bytes past its end, within the page or two it spans), compared with guest memory
// before use: changed code is a miss, never wrong code.
// Its code's run-dependent immediates (the TranslationBlock, the engine, slow paths, helpers)
// are relocations (baseline::Reloc); helpers are stored by name and resolved against helpers
// this run's own translations used, so a block calling a helper this run has not met yet is
// a miss. New entries are collected in memory and written as one more pack at shutdown
// (temporary file and rename); when a run loaded several packs it writes one merged pack
// instead and deletes the ones it loaded. Entries not hit in a few merges are dropped, and a
// merged pack keeps loaded entries (hit ones first) only up to half the cache's size bound.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tcg/baseline/baseline.h"
#include "tcg/exec/tb.h"

namespace orrery::hw {
class Log;
}

namespace orrery::tcg::exec {

struct TranslationCacheOptions {
  std::string dir;     // must exist
  std::string config;  // everything the code depends on besides the block (build, guest, options)
  // The directory's size bound (cache-size=), 0 for none: a merged pack keeps loaded entries
  // only up to half of it, so eviction never has to delete the pack it just wrote.
  uint64_t max_bytes = 0;
  // Index the packs on a thread of their own (find() misses until they are ready); false:
  // open() returns with them indexed.
  bool background = false;
  // Called once the packs are indexed (on the loading thread, before ready()) with the bytes
  // of code they hold and their number of entries: the engine sizes its block index and
  // commits that much of its code cache ahead of the installs.
  std::function<void(uint64_t code_bytes, uint64_t entries)> loaded;
  // Entries sharing one virtual-to-physical offset (PC minus physical PC) from this many up are
  // a mapping that may have moved (a kernel image under KASLR): install_pass holds them back
  // until a lookup shows where that mapping is in this run (see install_pass).
  uint32_t mapping_min_entries = 64;
};

class TranslationCache {
 public:
  /// Maps and indexes the packs in dir written for this configuration (never fails: a pack
  /// that cannot be read is skipped and logged).
  static std::unique_ptr<TranslationCache> open(TranslationCacheOptions opt, hw::Log* log);
  ~TranslationCache();
  TranslationCache(const TranslationCache&) = delete;
  TranslationCache& operator=(const TranslationCache&) = delete;

  /// A stored translation that matches guest memory now.
  struct Found {
    uint64_t phys_page2 = TranslationBlock::kNoPage;  // the second page it runs on into, now
    uint32_t guest_size = 0, num_insns = 0, ir_size = 0;
    ir::Terminal term;
    std::span<const uint8_t> code;
    std::vector<baseline::Reloc> relocs;  // helpers resolved
    std::span<const uint8_t> bytes;       // the guest bytes it was made from
    // The PC it was made at: another than the key's for pc-relative code found by its bytes
    // (its relocations and terminal targets, already moved, follow the key's PC).
    uint64_t stored_pc = 0;
    // Set when the block runs (installed ahead: see install_pass), so a merge keeps
    // the entry; null for find()'s entries, which are marked at once.
    std::atomic<bool>* hit = nullptr;
  };
  /// The page after a block's first, asked for only when an entry runs on into it.
  class NextPage {
   public:
    /// Its host bytes (a whole page) and physical address, or null when it cannot be fetched
    /// now.
    virtual const uint8_t* get(uint64_t& phys) = 0;

   protected:
    ~NextPage() = default;
  };
  /// Whether the packs are indexed (always, unless TranslationCacheOptions::background).
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  /// Waits until they are.
  void wait_loaded() const { ready_.wait(false, std::memory_order_acquire); }

  /// Looks up the block at key: page is the host bytes of its first page from key.pc on
  /// (in_page of them). False on a miss (also while the packs are still being indexed).
  bool find(const TbKey& key, const uint8_t* page, uint64_t in_page, NextPage& next, Found& out);
  /// Lookups so far that found no entry (find's misses, also counted in stats()).
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }
  /// Lookups so far that found pc-relative code stored at another PC (counted in the hits).
  uint64_t moved() const { return moved_.load(std::memory_order_relaxed); }
  /// How many mappings lookups have placed so far (see install_pass); on_placed runs after
  /// each (on the looking-up thread; set before any lookup).
  uint64_t mappings_placed() const { return placed_gen_.load(std::memory_order_acquire); }
  void set_on_placed(std::function<void()> f) { on_placed_ = std::move(f); }

  /// The entries still to try installing ahead of need (install_pass).
  struct AheadList {
    std::vector<uint32_t> left;  // indices of loaded entries
    bool started = false;
  };
  /// For installing blocks ahead of need (Engine, on a thread of its own): waits until the
  /// packs are indexed, then calls visit(key, found) for each entry of `list` (on the first
  /// pass every entry on one page, in pack order: the order in which an earlier run first met
  /// them) whose guest bytes bytes_at(phys, len) returns now equal the stored ones and whose
  /// helpers are resolved. An entry of a large mapping (mapping_min_entries) waits until a
  /// lookup hit one of its entries: at the stored PC (the mapping is where it was), or, for
  /// pc-relative code, at another (the mapping moved: it is installed moved as far). Those,
  /// and entries a lookup hit meanwhile, leave the list; the rest
  /// stay for a later pass (code the guest has not loaded or patched yet). Stops when visit
  /// returns false. Counts no hits; Found::hit is for when the block runs.
  void install_pass(AheadList& list,
                    const std::function<const uint8_t*(uint64_t phys, uint64_t len)>& bytes_at,
                    const std::function<bool(const TbKey& key, const Found& found)>& visit);

  /// Records a block translated this run (written at save()): guest bytes from its PC (see
  /// above), its code as compile() made it and the code's relocations.
  void record(const TranslationBlock& tb, std::span<const uint8_t> guest_bytes,
              std::span<const uint8_t> code, std::span<const baseline::Reloc> relocs);
  /// Writes what record() collected (once; later records are dropped). Returns the bytes
  /// written.
  uint64_t save();

  /// Guest bytes an entry keeps past a block's last byte: decoders may look ahead (an x86
  /// instruction is at most 15 bytes).
  static constexpr uint32_t kLookahead = 16;
  /// When a run loads this many packs or more, save() merges them into one.
  static constexpr size_t kMergePacks = 3;
  /// A merged pack drops entries not hit in this many merges in a row.
  static constexpr uint8_t kMaxAge = 3;

  struct Stats {
    uint64_t packs = 0, packs_bad = 0;  // loaded, ignored (truncated, corrupt, other format)
    uint64_t entries_bad = 0;           // bodies found corrupt when first used
    uint64_t loaded = 0;                // entries indexed
    uint64_t hits = 0, misses = 0;
    uint64_t moved = 0;      // of the hits, pc-relative code stored at another PC
    uint64_t early = 0;      // of the misses, lookups before the packs were indexed
    uint64_t rejected = 0;   // an entry for the key whose guest bytes changed
    uint64_t no_helper = 0;  // an entry calling a helper this run has not resolved yet
    uint64_t ran = 0;        // loaded entries whose code ran (found, or marked at the end)
    uint64_t recorded = 0, stored = 0, dropped = 0;  // dropped: aged out or over the bound
    uint64_t bytes_loaded = 0, bytes_stored = 0;
    uint64_t load_us = 0, save_us = 0;
  };
  Stats stats() const;
  /// The pack files this run loaded (tests).
  std::vector<std::string> pack_paths() const;
  const std::string& dir() const { return opt_.dir; }
  const std::string& config() const { return opt_.config; }

  /// Parses one pack's contents; the number of entries, or -1 when it is not an intact pack
  /// for config (*why says what is wrong). Exposed for tests.
  static int64_t check_pack(std::span<const uint8_t> data, std::string_view config,
                            const char** why);

  struct Entry;  // a loaded entry (translation_cache.cpp)

 private:
  TranslationCache(TranslationCacheOptions opt, hw::Log* log);
  void load();
  void load_pack(const std::string& path);
  // Indexes entries_ (once every pack is loaded), dropping those an older pack holds.
  void build_index();
  size_t slot_of(uint64_t pc, uint64_t flags, uint64_t cs_base) const;
  // The first slot a hash probes, in slots_ or moved_slots_ (both that size).
  size_t slot_of_hash(uint64_t hash) const;
  // Walks the key's probe chain, calling visit(entry) for each entry with this key until one
  // returns true. Returns that entry's slot, or else the empty slot that ends the chain.
  template <class Visit>
  size_t probe(uint64_t pc, uint64_t flags, uint64_t cs_base, Visit&& visit) const;
  // Whether e's body matches its checksum and its relocations fit (checked once).
  bool intact(const Entry& e) const;
  bool resolve(const Entry& e, Found& out) const;
  // out's fields from e's header, code and bytes (resolve() fills the relocations).
  static void describe(const Entry& e, Found& out);
  // Moves out's terminal targets with the block from stored_pc to pc (pc-relative code).
  static void move_found(Found& out, uint64_t stored_pc, uint64_t pc);
  uint32_t helper_id_locked(std::string_view name);
  // Whether an entry with this key and these guest bytes is loaded (record() skips it).
  bool holds(const TbKey& key, std::span<const uint8_t> bytes) const;
  // The pending chunk an entry of `size` bytes is appended to (a new one when the last is
  // full: chunks never reallocate). mu_ held.
  std::string& pending_chunk_locked(size_t size);
  // Moves the early entries no loaded entry holds to the pending ones. mu_ held, packs loaded.
  void take_early_locked();

  struct Pack;
  const TranslationCacheOptions opt_;
  hw::Log* log_;
  std::string prefix_;  // "<config hash>-"
  std::vector<std::unique_ptr<Pack>> packs_;
  std::vector<Entry*> entries_;  // in the packs' arrays
  // The index: open addressing by key hash, linear probing; entries_ index + 1, 0 for none.
  std::vector<uint32_t> slots_;
  unsigned slot_shift_ = 60;
  // The pc-relative entries by content (head_hash: their first bytes, page offset and mode),
  // for lookups at another PC; the same size and probing as slots_.
  std::vector<uint32_t> moved_slots_;
  // Entries per virtual-to-physical offset, for the offsets of at least mapping_min_entries
  // (built with the index, read-only after), and where lookups found each such mapping in this
  // run: the PC delta from the stored one (placed_mu_).
  std::unordered_map<uint64_t, uint32_t> mappings_;
  mutable std::mutex placed_mu_;
  std::unordered_map<uint64_t, int64_t> placed_;
  std::atomic<uint64_t> placed_gen_{0};
  std::function<void()> on_placed_;
  // Notes that a lookup found an entry of mapping voff at PC delta from its own.
  void place_mapping(uint64_t voff, int64_t delta);
  // Helpers by global id (names of every loaded pack, then names met this run): the name, and
  // the helper once a translation of this run used it.
  std::vector<std::string> helper_names_;
  std::unique_ptr<std::atomic<const ir::Helper*>[]> helpers_;
  size_t helper_cap_ = 0;
  std::unordered_map<std::string, uint32_t> helper_ids_;
  mutable std::mutex mu_;  // the records and the helper tables' growth
  std::unordered_map<const ir::Helper*, uint32_t> seen_;  // helpers met by record(); mu_
  std::vector<std::string> pending_;                      // serialized new entries, in chunks; mu_
  uint64_t pending_count_ = 0;
  // Entries recorded before the packs were indexed, one serialized entry each: save() keeps
  // those no loaded entry already holds. mu_
  std::vector<std::string> early_;
  bool saved_ = false;
  std::atomic<uint64_t> hits_{0}, misses_{0}, early_misses_{0}, rejected_{0}, no_helper_{0},
      recorded_{0}, moved_{0};
  mutable std::atomic<uint64_t> entries_bad_{0};
  // Set (release) once packs_, entries_, slots_ and fixed_'s load counts are complete; the
  // loading thread writes them only before, everything else reads them only after.
  std::atomic<bool> ready_{false};
  std::thread loader_;
  Stats fixed_;  // counts set once by load() and save()
};

}  // namespace orrery::tcg::exec
