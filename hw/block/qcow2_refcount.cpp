// qcow2 refcounts: lookup, update, cluster allocation, new refcount blocks and growth of the
// refcount table. Each update is written before anything that relies on it.
#include <algorithm>
#include <cerrno>
#include <set>

#include "hw/block/qcow2.h"

namespace orrery::hw::block {

using namespace qcow2;

namespace {

constexpr uint64_t kRefTableOffsetMask = ~uint64_t(0x1ff);

uint64_t read_entry(const uint8_t* block, uint64_t index, uint32_t bits) {
  if (bits >= 8) {
    uint64_t v = 0;
    const uint8_t* p = block + index * (bits / 8);
    for (uint32_t i = 0; i < bits / 8; ++i) v = v << 8 | p[i];
    return v;
  }
  const uint64_t bit = index * bits;
  return (block[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
}

}  // namespace

Expected<uint64_t> Qcow2Driver::get_refcount(uint64_t cluster_index) {
  const uint64_t t = cluster_index / refblock_entries_;
  if (t >= reftable_.size()) return uint64_t(0);
  const uint64_t block_off = reftable_[t] & kRefTableOffsetMask;
  if (block_off == 0) return uint64_t(0);
  if (block_off % cluster_size_) return corrupt("refcount block offset is not cluster-aligned");
  auto block = refblock_cache_.get(block_off);
  if (!block.ok()) return block.status();
  return read_entry(*block, cluster_index % refblock_entries_, refcount_bits_);
}

Status Qcow2Driver::set_refcount(uint64_t cluster_index, uint64_t value) {
  const uint64_t t = cluster_index / refblock_entries_;
  if (Status s = ensure_refcount_block(t, cluster_index); !s.ok()) return s;
  if (refcount_bits_ < 64 && value >> refcount_bits_) return corrupt("refcount overflow");
  const uint64_t block_off = reftable_[t] & kRefTableOffsetMask;
  const uint64_t index = cluster_index % refblock_entries_;
  if (refcount_bits_ >= 8) {
    uint8_t bytes[8];
    const uint32_t n = refcount_bits_ / 8;
    for (uint32_t i = 0; i < n; ++i) bytes[i] = uint8_t(value >> (8 * (n - 1 - i)));
    return refblock_cache_.write(block_off, index * n, {bytes, n});
  }
  auto block = refblock_cache_.get(block_off);
  if (!block.ok()) return block.status();
  const uint64_t bit = index * refcount_bits_;
  const uint8_t mask = uint8_t(((1u << refcount_bits_) - 1) << (bit % 8));
  uint8_t byte = uint8_t(((*block)[bit / 8] & ~mask) | ((value << (bit % 8)) & mask));
  return refblock_cache_.write(block_off, bit / 8, {&byte, 1});
}

Status Qcow2Driver::ensure_refcount_block(uint64_t t, uint64_t avoid_cluster) {
  if (t < reftable_.size() && (reftable_[t] & kRefTableOffsetMask)) return ok_status();
  if (t >= reftable_.size()) {
    if (Status s = grow_refcount_table(t, avoid_cluster); !s.ok()) return s;
    if (reftable_[t] & kRefTableOffsetMask) return ok_status();
  }
  // No block means every cluster it would describe is free, so the block can describe
  // itself from the first of them (or the second, if the caller is about to take the first).
  uint64_t block_cluster = t * refblock_entries_;
  if (block_cluster == avoid_cluster) ++block_cluster;
  std::vector<uint8_t> block(cluster_size_, 0);
  const uint64_t self = block_cluster - t * refblock_entries_;
  if (refcount_bits_ >= 8) {
    block[(self + 1) * (refcount_bits_ / 8) - 1] = 1;
  } else {
    block[self * refcount_bits_ / 8] = uint8_t(1u << (self * refcount_bits_ % 8));
  }
  const uint64_t block_off = block_cluster * cluster_size_;
  if (Status s = file_->pwrite(block_off, block); !s.ok()) return s;
  refblock_cache_.install(block_off, block);
  uint8_t be[8];
  store_be64(be, block_off);
  if (Status s = file_->pwrite(hdr_.refcount_table_offset + t * 8, {be, 8}); !s.ok()) return s;
  reftable_[t] = block_off;
  end_cluster_ = std::max(end_cluster_, block_cluster + 1);
  return ok_status();
}

Status Qcow2Driver::grow_refcount_table(uint64_t need, uint64_t avoid_cluster) {
  const uint64_t per_cluster = cluster_size_ / 8;
  uint64_t entries = std::max<uint64_t>(need + 1, reftable_.size() * 2);
  // The new table and the refcount blocks describing it go past everything in use. Blocks
  // are needed for each range of the new area that has none yet; iterate until stable.
  // (The cluster being allocated may be end_cluster_ itself and has no refcount yet.)
  const uint64_t start = std::max(end_cluster_, avoid_cluster + 1);
  uint64_t table_clusters = 0;
  std::vector<uint64_t> new_ranges;
  for (;;) {
    entries = (entries + per_cluster - 1) / per_cluster * per_cluster;
    table_clusters = entries / per_cluster;
    if (table_clusters * cluster_size_ > kMaxRefcountTableBytes) {
      return error_status(ENOSPC, "qcow2 image '" + filename() + "': refcount table is full");
    }
    size_t blocks = 0;
    for (;;) {
      new_ranges.clear();
      const uint64_t end = start + table_clusters + blocks;
      for (uint64_t r = start / refblock_entries_; r <= (end - 1) / refblock_entries_; ++r) {
        if (r >= reftable_.size() || !(reftable_[r] & kRefTableOffsetMask)) new_ranges.push_back(r);
      }
      if (new_ranges.size() == blocks) break;
      blocks = new_ranges.size();
    }
    const uint64_t last = start + table_clusters + blocks - 1;
    if (last / refblock_entries_ < entries) break;
    entries = last / refblock_entries_ + 1;
  }
  const uint64_t area_end = start + table_clusters + new_ranges.size();

  // 1. Refcounts of the new area: in existing blocks first, then the new blocks' contents.
  std::vector<uint64_t> table(reftable_);
  table.resize(entries, 0);
  for (size_t i = 0; i < new_ranges.size(); ++i) {
    table[new_ranges[i]] = (start + table_clusters + i) * cluster_size_;
  }
  for (uint64_t c = start; c < area_end; ++c) {
    const uint64_t r = c / refblock_entries_;
    if (std::find(new_ranges.begin(), new_ranges.end(), r) == new_ranges.end()) {
      if (Status s = set_refcount(c, 1); !s.ok()) return s;
    }
  }
  for (size_t i = 0; i < new_ranges.size(); ++i) {
    std::vector<uint8_t> block(cluster_size_, 0);
    for (uint64_t c = start; c < area_end; ++c) {
      if (c / refblock_entries_ != new_ranges[i]) continue;
      const uint64_t idx = c % refblock_entries_;
      if (refcount_bits_ >= 8) {
        block[(idx + 1) * (refcount_bits_ / 8) - 1] = 1;
      } else {
        block[idx * refcount_bits_ / 8] |= uint8_t(1u << (idx * refcount_bits_ % 8));
      }
    }
    const uint64_t off = table[new_ranges[i]];
    if (Status s = file_->pwrite(off, block); !s.ok()) return s;
    refblock_cache_.install(off, block);
  }
  // 2. The new table, 3. the header pointing at it (one write of offset and size).
  std::vector<uint8_t> raw(table_clusters * cluster_size_, 0);
  for (uint64_t i = 0; i < entries; ++i) store_be64(&raw[i * 8], table[i]);
  const uint64_t table_off = start * cluster_size_;
  if (Status s = file_->pwrite(table_off, raw); !s.ok()) return s;
  uint8_t hdr[12];
  store_be64(hdr, table_off);
  store_be32(hdr + 8, uint32_t(table_clusters));
  if (Status s = file_->pwrite(kOffRefcountTableOffset, {hdr, 12}); !s.ok()) return s;

  // 4. Only now drop the old table's clusters.
  const uint64_t old_off = hdr_.refcount_table_offset;
  const uint64_t old_clusters = hdr_.refcount_table_clusters;
  hdr_.refcount_table_offset = table_off;
  hdr_.refcount_table_clusters = uint32_t(table_clusters);
  reftable_ = std::move(table);
  end_cluster_ = std::max(end_cluster_, area_end);
  return free_clusters(old_off, old_clusters * cluster_size_);
}

Expected<uint64_t> Qcow2Driver::alloc_cluster() {
  uint64_t index = free_hint_;
  for (; index < end_cluster_; ++index) {
    auto rc = get_refcount(index);
    if (!rc.ok()) return rc.status();
    if (*rc == 0) break;
  }
  if (Status s = set_refcount(index, 1); !s.ok()) return s;
  free_hint_ = index + 1;
  end_cluster_ = std::max(end_cluster_, index + 1);
  return index * cluster_size_;
}

Status Qcow2Driver::free_clusters(uint64_t offset, uint64_t length) {
  if (length == 0) return ok_status();
  const uint64_t first = offset / cluster_size_;
  const uint64_t last = (offset + length - 1) / cluster_size_;
  for (uint64_t c = first; c <= last; ++c) {
    auto rc = get_refcount(c);
    if (!rc.ok()) return rc.status();
    if (*rc == 0)
      return corrupt("refcount of cluster " + std::to_string(c) + " would drop below 0");
    if (Status s = set_refcount(c, *rc - 1); !s.ok()) return s;
    if (*rc == 1) free_hint_ = std::min(free_hint_, c);
  }
  return ok_status();
}

}  // namespace orrery::hw::block
