// The raw image driver: guest offset = file offset.
#pragma once

#include <memory>
#include <string>

#include "hw/block/block.h"
#include "hw/block/file.h"

namespace orrery::hw::block {

/// QEMU's cache= modes: which host caches a request may stay in.
enum class CacheMode {
  kWriteback,     // page cache; flush() = fdatasync
  kWritethrough,  // page cache; every write is followed by fdatasync
  kNone,          // O_DIRECT; flush() = fdatasync (device write cache)
  kDirectSync,    // O_DIRECT and fdatasync after every write
  kUnsafe,        // page cache; flush() does nothing
};

inline bool cache_is_direct(CacheMode m) {
  return m == CacheMode::kNone || m == CacheMode::kDirectSync;
}
inline bool cache_syncs_each_write(CacheMode m) {
  return m == CacheMode::kWritethrough || m == CacheMode::kDirectSync;
}
/// Under cache=writeback the image file's write-out starts after every this many bytes
/// (PosixFile::set_writeback_chunk): otherwise a host with gigabytes of page cache keeps a
/// whole dd in it and the guest's flush waits while fdatasync writes all of it (0.26-0.44 s of
/// a 512 MiB bench/disk.sh write, in Orrery and QEMU alike). Not for cache=unsafe, whose
/// flushes do nothing (snapshot overlays are unlinked temporary files), nor the modes that
/// sync or bypass the page cache anyway.
inline constexpr uint64_t kWritebackChunk = uint64_t(4) << 20;
inline uint64_t writeback_chunk(CacheMode m) {
  return m == CacheMode::kWriteback ? kWritebackChunk : 0;
}

class RawDriver final : public BlockDriver {
 public:
  /// Opens and locks path (read-only images: O_RDONLY).
  static Expected<std::unique_ptr<RawDriver>> open(const std::string& path, bool read_only,
                                                   CacheMode cache);
  RawDriver(std::unique_ptr<PosixFile> file, uint64_t size, CacheMode cache);

  uint64_t size() const override { return size_; }
  bool read_only() const override { return file_->read_only(); }
  const std::string& filename() const override { return file_->name(); }
  const char* format_name() const override { return "raw"; }
  int fd() const { return file_->fd(); }
  const PosixFile& file() const { return *file_; }

 protected:
  Status do_read(uint64_t offset, std::span<uint8_t> buf) override;
  Status do_write(uint64_t offset, std::span<const uint8_t> buf) override;
  Status do_readv(uint64_t offset, std::span<const std::span<uint8_t>> segments) override;
  Status do_writev(uint64_t offset, std::span<const std::span<uint8_t>> segments) override;
  Status do_flush() override;
  Status do_discard(uint64_t offset, uint64_t length) override;
  Status do_write_zeroes(uint64_t offset, uint64_t length, bool may_unmap) override;

 private:
  std::unique_ptr<PosixFile> file_;
  uint64_t size_;
  CacheMode cache_;
};

}  // namespace orrery::hw::block
