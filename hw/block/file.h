// A host file (or block device) under an image driver: full-length pread/pwrite, O_DIRECT
// with aligned bounce buffers, fdatasync, hole punching and QEMU-compatible image locks.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "hw/block/block.h"

namespace orrery::hw::block {

class PosixFile {
 public:
  /// Opens path O_RDONLY or O_RDWR, with O_DIRECT when direct is set.
  static Expected<std::unique_ptr<PosixFile>> open(const std::string& path, bool read_only,
                                                   bool direct);
  /// Takes ownership of an open descriptor (used for unlinked temporary overlays).
  PosixFile(int fd, std::string name, bool read_only, bool direct);
  ~PosixFile();
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }
  bool read_only() const { return read_only_; }

  /// Reads buf.size() bytes; the part beyond the end of the file reads as zeros.
  Status pread(uint64_t offset, std::span<uint8_t> buf);
  Status pwrite(uint64_t offset, std::span<const uint8_t> buf);
  /// Scatter-gather forms (one preadv/pwritev for many segments; O_DIRECT falls back to one
  /// call per segment unless every segment is aligned).
  Status preadv(uint64_t offset, std::span<const std::span<uint8_t>> segments);
  Status pwritev(uint64_t offset, std::span<const std::span<uint8_t>> segments);
  /// fdatasync: everything written so far reaches stable storage.
  Status sync();
  /// After every `chunk` bytes written, starts the kernel's write-out of the file's dirty
  /// pages without waiting for it (sync_file_range WRITE), so a later sync() finds little
  /// left to write. Advisory: errors are ignored. 0 (the default) turns it off.
  void set_writeback_chunk(uint64_t chunk) { writeback_chunk_ = chunk; }
  /// How many write-outs were started (for tests).
  uint64_t writebacks_started() const { return writebacks_started_.load(); }
  Expected<uint64_t> length() const;
  /// Deallocates the range (reads as zeros afterwards). ENOTSUP when the file system cannot.
  Status punch_hole(uint64_t offset, uint64_t length);
  /// Makes the range read as zeros, writing zeros if the file system has no faster way.
  Status zero_range(uint64_t offset, uint64_t length);

  /// Takes QEMU file-posix's OFD byte locks: writers exclude each other and readers that
  /// do not share "write", in both Orrery and QEMU. Held until the file is closed.
  Status lock(bool write);

 private:
  Status direct_pread(uint64_t offset, std::span<uint8_t> buf);
  Status direct_pwrite(uint64_t offset, std::span<const uint8_t> buf);
  Status raw_pread(uint64_t offset, std::span<uint8_t> buf);
  Status raw_pwrite(uint64_t offset, std::span<const uint8_t> buf);
  Status raw_vectored(bool write, uint64_t offset, std::span<const std::span<uint8_t>> segments);
  Status errno_status(const char* what, int err) const;
  void wrote(uint64_t bytes);

  int fd_;
  std::string name_;
  bool read_only_;
  bool direct_;
  std::mutex rmw_mutex_;  // serialises read-modify-write of partial O_DIRECT blocks
  uint64_t writeback_chunk_ = 0;
  std::atomic<uint64_t> written_since_writeback_{0};
  std::atomic<uint64_t> writebacks_started_{0};
};

}  // namespace orrery::hw::block
