// The persistent translation cache of the LLVM tier (-accel tcg,cache=DIR): object files of
// compiled blocks stored on disk, content-addressed, so a second run (another boot of the same
// kernel, another process of the same emulator build) links the code instead of compiling it.
//
// An entry is one file `<32 hex digits>.tcc`: the name is a 128-bit hash of the key material,
// the file holds the key material itself (compared byte for byte before use: a hash collision
// or a changed guest is a miss, never wrong code), the payload, and a checksum of both, so a
// truncated or corrupted file is a miss too (logged under -d tier). Files are written to a
// temporary name and renamed into place (rename(2) is atomic), so several Orrery processes can
// share a directory. The directory's size is bounded: past max_bytes the least recently used
// entries (by access time, which a hit refreshes explicitly) are deleted.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tcg/exec/tb.h"

namespace orrery::hw {
class Log;
}

namespace orrery::tcg::llvm {

/// A block that ran hot in an earlier run, from the profile in the cache directory: a later
/// run compiles or links it when it first translates it. Identified by content, as the
/// objects are: key_hash is CodeCache::key_hash of the block's key material (alone).
struct ProfileEntry {
  uint64_t pc = 0, cs_base = 0, flags = 0;
  uint64_t key_hash = 0;  // of the block's key material, or its region's when it heads one
  uint64_t weight = 0;    // guest instructions it (or its region) ran in the run that wrote it
  // It had LLVM code in that run: the tiering policy found it worth a compile there.
  bool compiled = false;
  // The PCs of the other members of the region it headed (same page and mode), in region
  // order; empty for a block compiled alone.
  std::vector<uint64_t> members;
  bool operator==(const ProfileEntry&) const = default;
};

struct CodeCacheOptions {
  std::string dir;                           // created if missing
  uint64_t max_bytes = uint64_t(256) << 20;  // 0: unbounded
};

class CodeCache {
 public:
  /// Opens (creating) the directory. Returns null with error set when it cannot be used.
  static std::unique_ptr<CodeCache> open(const CodeCacheOptions& opt, hw::Log* log,
                                         std::string& error);

  /// The payload stored under exactly this key material, or nullopt (absent, truncated,
  /// corrupt, or another key with the same hash). Refreshes the entry's access time on a hit.
  std::optional<std::vector<char>> load(std::string_view key);
  /// Stores payload under key (atomically replacing an entry with the same name), then evicts
  /// least recently used entries while the directory holds more than max_bytes. False when the
  /// entry could not be written (a full disk, a read-only directory): the cache is only an
  /// optimisation, so the caller goes on.
  bool store(std::string_view key, std::span<const char> payload);
  /// Counts `bytes` another writer (the baseline tier's packs, `.tbp`, tcg/exec/
  /// translation_cache.h) put in the directory, and evicts as store() does: packs are part of
  /// the size bound and of the least-recently-used order.
  void note_stored(uint64_t bytes);

  /// The payload of an entry file's contents `data` if it is a complete, intact entry for
  /// exactly this key; else nullopt and *why (when given) says what is wrong.
  static std::optional<std::vector<char>> decode(std::span<const char> data, std::string_view key,
                                                 const char** why = nullptr);

  /// The file an entry for key lives in (tests).
  std::string path_for(std::string_view key) const;
  const std::string& dir() const { return opt_.dir; }

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;    // no file
    uint64_t rejected = 0;  // a file that was truncated, corrupt or held another key
    uint64_t stores = 0;
    uint64_t store_failures = 0;
    uint64_t evicted = 0;
  };
  Stats stats() const;

  /// The key material of tb's compiled code (tb alone or its region), for a JIT configured as
  /// described by `config` (code generator settings, host CPU, guest model): everything the
  /// generated object depends on. Empty when the block cannot be cached (a helper without a
  /// name). The guest's code enters through the blocks' IR (what the translation made of the
  /// guest bytes, with their PC, cs_base and tb flags) and, when given, its bytes.
  static std::string key_material(const exec::TranslationBlock& tb, std::string_view config);
  /// The same for a block whose region would be `members` (the head first).
  static std::string key_material(std::span<const exec::TranslationBlock* const> members,
                                  std::string_view config);
  /// Whether an entry file for key exists (not validated: a cheap test before queueing).
  bool contains(std::string_view key) const;

  /// A 64-bit hash of key material (profile entries name blocks by it).
  static uint64_t key_hash(std::string_view key);

  /// The profile written by the last run with this configuration (the code generator and
  /// guest settings of key_material's `config`), hottest first; empty when there is none or
  /// its file is truncated, corrupt or for another configuration (logged under -d tier).
  std::vector<ProfileEntry> load_profile(std::string_view config);
  /// Replaces that profile (temporary file and rename, as entries). The profile is one file,
  /// `<hash>.tcp`, outside the size bound and LRU eviction (a few KiB per thousand blocks).
  bool store_profile(std::string_view config, std::span<const ProfileEntry> entries);
  /// The profile's file for this configuration (tests).
  std::string profile_path(std::string_view config) const;
  /// Most entries a profile holds (the hottest are kept).
  static constexpr size_t kMaxProfileEntries = 8192;

  /// Identifies this build of Orrery: the GNU build id of the executable and of the module
  /// holding this code (or, without one, a hash of the executable file).
  static const std::string& build_id();

 private:
  CodeCache(CodeCacheOptions opt, hw::Log* log) : opt_(std::move(opt)), log_(log) {}
  void evict_locked();
  void reject(const std::string& path, const char* why);
  // An entry file's payload if it holds exactly key (else rejected and logged); sets *absent
  // when there is no such file.
  std::optional<std::vector<char>> read_entry(const std::string& path, std::string_view key,
                                              bool* absent);
  // Writes an entry file atomically (temporary file, rename); false (logged) on failure.
  bool write_entry(const std::string& path, std::string_view key, std::span<const char> payload,
                   size_t* written);

  const CodeCacheOptions opt_;
  hw::Log* log_;
  std::mutex mu_;             // the size estimate and eviction
  int64_t known_bytes_ = -1;  // the directory's size as last scanned plus our stores; -1 unknown
  std::atomic<uint64_t> hits_{0}, misses_{0}, rejected_{0}, stores_{0}, store_failures_{0},
      evicted_{0}, tmp_seq_{0};
};

/// $XDG_CACHE_HOME/orrery/tcg, else $HOME/.cache/orrery/tcg; empty if neither is set.
std::string default_code_cache_dir();

}  // namespace orrery::tcg::llvm
