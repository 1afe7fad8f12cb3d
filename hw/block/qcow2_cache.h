// A small write-through cache of metadata clusters (L2 tables, refcount blocks). Writes go
// to the file at once, in the caller's order, which is what keeps the image consistent when
// the process is killed; the cache only saves reads.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <span>
#include <vector>

#include "hw/block/block.h"
#include "hw/block/file.h"

namespace orrery::hw::block::qcow2 {

class ClusterCache {
 public:
  ClusterCache(PosixFile& file, uint64_t cluster_size, size_t capacity)
      : file_(file), cluster_size_(cluster_size), capacity_(capacity < 2 ? 2 : capacity) {}

  /// The cluster at offset, loaded on a miss. Valid until the next get() or install().
  Expected<uint8_t*> get(uint64_t offset) {
    auto it = entries_.find(offset);
    if (it == entries_.end()) {
      std::vector<uint8_t> data(cluster_size_);
      if (Status s = file_.pread(offset, data); !s.ok()) return s;
      it = insert(offset, std::move(data));
    }
    it->second.last_use = ++clock_;
    return it->second.data.data();
  }

  /// Records a cluster the caller has just written to the file.
  void install(uint64_t offset, std::span<const uint8_t> data) {
    auto it = insert(offset, std::vector<uint8_t>(data.begin(), data.end()));
    it->second.last_use = ++clock_;
  }

  /// Writes bytes at in_offset of the cluster to the file, then into the cached copy.
  Status write(uint64_t offset, size_t in_offset, std::span<const uint8_t> bytes) {
    if (Status s = file_.pwrite(offset + in_offset, bytes); !s.ok()) return s;
    auto it = entries_.find(offset);
    if (it != entries_.end())
      std::memcpy(it->second.data.data() + in_offset, bytes.data(), bytes.size());
    return ok_status();
  }

  void drop(uint64_t offset) { entries_.erase(offset); }

 private:
  struct Entry {
    std::vector<uint8_t> data;
    uint64_t last_use = 0;
  };
  std::map<uint64_t, Entry>::iterator insert(uint64_t offset, std::vector<uint8_t> data) {
    entries_.erase(offset);
    if (entries_.size() >= capacity_) {
      auto victim = entries_.begin();
      for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        if (it->second.last_use < victim->second.last_use) victim = it;
      }
      entries_.erase(victim);
    }
    return entries_.emplace(offset, Entry{std::move(data), 0}).first;
  }

  PosixFile& file_;
  uint64_t cluster_size_;
  size_t capacity_;
  uint64_t clock_ = 0;
  std::map<uint64_t, Entry> entries_;
};

}  // namespace orrery::hw::block::qcow2
