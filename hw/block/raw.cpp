#include "hw/block/raw.h"

#include <cerrno>

namespace orrery::hw::block {

Expected<std::unique_ptr<RawDriver>> RawDriver::open(const std::string& path, bool read_only,
                                                     CacheMode cache) {
  auto file = PosixFile::open(path, read_only, cache_is_direct(cache));
  if (!file.ok()) return file.status();
  if (Status s = (*file)->lock(!read_only); !s.ok()) return s;
  auto len = (*file)->length();
  if (!len.ok()) return len.status();
  return std::make_unique<RawDriver>(std::move(*file), *len, cache);
}

RawDriver::RawDriver(std::unique_ptr<PosixFile> file, uint64_t size, CacheMode cache)
    : file_(std::move(file)), size_(size), cache_(cache) {
  file_->set_writeback_chunk(writeback_chunk(cache));
}

Status RawDriver::do_read(uint64_t offset, std::span<uint8_t> buf) {
  return file_->pread(offset, buf);
}

Status RawDriver::do_write(uint64_t offset, std::span<const uint8_t> buf) {
  if (Status s = file_->pwrite(offset, buf); !s.ok()) return s;
  return cache_syncs_each_write(cache_) ? file_->sync() : ok_status();
}

Status RawDriver::do_readv(uint64_t offset, std::span<const std::span<uint8_t>> segments) {
  return file_->preadv(offset, segments);
}

Status RawDriver::do_writev(uint64_t offset, std::span<const std::span<uint8_t>> segments) {
  if (Status s = file_->pwritev(offset, segments); !s.ok()) return s;
  return cache_syncs_each_write(cache_) ? file_->sync() : ok_status();
}

Status RawDriver::do_flush() {
  return cache_ == CacheMode::kUnsafe ? ok_status() : file_->sync();
}

Status RawDriver::do_discard(uint64_t offset, uint64_t length) {
  // Discard is advisory: a file system without hole punching just keeps the data.
  Status s = file_->punch_hole(offset, length);
  return s.code == ENOTSUP ? ok_status() : s;
}

Status RawDriver::do_write_zeroes(uint64_t offset, uint64_t length, bool may_unmap) {
  Status s = may_unmap ? file_->punch_hole(offset, length) : error_status(ENOTSUP, "");
  if (s.code == ENOTSUP) s = file_->zero_range(offset, length);
  if (!s.ok()) return s;
  return cache_syncs_each_write(cache_) ? file_->sync() : ok_status();
}

}  // namespace orrery::hw::block
