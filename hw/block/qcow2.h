// The qcow2 image driver (versions 2 and 3): cluster mapping through L1/L2 tables,
// allocation with refcounts, copy-on-write from a backing image, compressed clusters on read.
//
// Consistency: every metadata update is written to the file at once, in an order that keeps
// the image valid at every instant except for leaked clusters (refcount before use, new table
// before the pointer to it, COW data before its L2 entry, pointer removal before refcount
// decrement). A killed process therefore leaves an image that `qemu-img check` finds clean
// or only leaking; flush() adds fdatasync for power loss.
// Threading: one mutex guards the metadata. Writes, discards and zeroing hold it for the
// whole request; reads hold it only for the lookup and read the data outside it.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hw/block/block.h"
#include "hw/block/file.h"
#include "hw/block/qcow2_cache.h"
#include "hw/block/qcow2_header.h"
#include "hw/block/raw.h"

namespace orrery::hw::block {

class Qcow2Driver final : public BlockDriver {
 public:
  /// Opens a qcow2 image on an already opened (and locked) file. When backing is null and
  /// the header names a backing file, it is opened read-only through open_image().
  /// Read-write opens refuse dirty (lazy refcounts) or corrupt images and images with
  /// internal snapshots; read-only opens accept them.
  static Expected<std::unique_ptr<Qcow2Driver>> open(std::unique_ptr<PosixFile> file,
                                                     CacheMode cache, int depth,
                                                     std::unique_ptr<BlockDriver> backing,
                                                     std::vector<std::string>& warnings);
  ~Qcow2Driver() override;

  uint64_t size() const override { return hdr_.size; }
  bool read_only() const override { return file_->read_only(); }
  const std::string& filename() const override { return file_->name(); }
  const char* format_name() const override { return "qcow2"; }
  const BlockDriver* backing() const { return backing_.get(); }

 protected:
  Status do_read(uint64_t offset, std::span<uint8_t> buf) override;
  Status do_write(uint64_t offset, std::span<const uint8_t> buf) override;
  Status do_readv(uint64_t offset, std::span<const std::span<uint8_t>> segments) override;
  Status do_writev(uint64_t offset, std::span<const std::span<uint8_t>> segments) override;
  Status do_flush() override;
  Status do_discard(uint64_t offset, uint64_t length) override;
  Status do_write_zeroes(uint64_t offset, uint64_t length, bool may_unmap) override;

 private:
  Qcow2Driver(std::unique_ptr<PosixFile> file, const qcow2::Header& hdr, CacheMode cache);
  Status corrupt(const std::string& what) const;

  // Mapping (qcow2.cpp). Callers hold mutex_.
  Expected<uint64_t> l2_entry(uint64_t guest_cluster);
  Expected<uint64_t> ensure_l2_table(uint64_t l1_index);
  Status set_l2_entry(uint64_t guest_cluster, uint64_t entry);
  Status read_cluster(uint64_t entry, uint64_t guest_cluster, uint64_t in_offset,
                      std::span<uint8_t> out);
  Status read_backing(uint64_t offset, std::span<uint8_t> out);
  Status read_compressed(uint64_t entry, std::span<uint8_t> cluster);
  Status write_cluster(uint64_t guest_cluster, uint64_t in_offset, std::span<const uint8_t> data);
  Status release_entry(uint64_t entry);
  bool reads_as_zero(uint64_t entry) const;
  /// The entry points at a data cluster of this file (not compressed, zero or unallocated).
  bool plain_data(uint64_t entry) const;

  // Refcounts (qcow2_refcount.cpp). Callers hold mutex_.
  Expected<uint64_t> get_refcount(uint64_t cluster_index);
  Status set_refcount(uint64_t cluster_index, uint64_t value);
  Status ensure_refcount_block(uint64_t table_index, uint64_t avoid_cluster);
  Status grow_refcount_table(uint64_t table_index, uint64_t avoid_cluster);
  /// Allocates one cluster (refcount 1, written before return) and returns its offset.
  Expected<uint64_t> alloc_cluster();
  /// Drops one reference to each cluster in [offset, offset + length).
  Status free_clusters(uint64_t offset, uint64_t length);

  std::unique_ptr<PosixFile> file_;
  qcow2::Header hdr_;
  CacheMode cache_;
  uint64_t cluster_size_;
  uint64_t l2_entries_;
  uint64_t refblock_entries_;
  uint32_t refcount_bits_;
  std::vector<uint64_t> l1_;
  std::vector<uint64_t> reftable_;
  qcow2::ClusterCache l2_cache_;
  qcow2::ClusterCache refblock_cache_;
  std::unique_ptr<BlockDriver> backing_;
  uint64_t free_hint_ = 0;    // no free cluster below this index
  uint64_t end_cluster_ = 0;  // every cluster at or past this index is unused
  std::mutex mutex_;
};

}  // namespace orrery::hw::block
