#include "hw/block/block.h"

#include <cerrno>

namespace orrery::hw::block {

Status BlockDriver::check_range(const char* what, uint64_t offset, uint64_t length) const {
  const uint64_t sz = size();
  if (offset > sz || length > sz - offset) {
    return error_status(EIO, std::string(what) + " at offset " + std::to_string(offset) +
                                 " length " + std::to_string(length) + " is beyond the end of '" +
                                 filename() + "' (" + std::to_string(sz) + " bytes)");
  }
  return ok_status();
}

Status BlockDriver::read(uint64_t offset, std::span<uint8_t> buf) {
  if (Status s = check_range("read", offset, buf.size()); !s.ok()) return s;
  if (buf.empty()) return ok_status();
  return do_read(offset, buf);
}

Status BlockDriver::write(uint64_t offset, std::span<const uint8_t> buf) {
  if (read_only()) return error_status(EROFS, "'" + filename() + "' is read-only");
  if (Status s = check_range("write", offset, buf.size()); !s.ok()) return s;
  if (buf.empty()) return ok_status();
  return do_write(offset, buf);
}

namespace {

uint64_t total_length(std::span<const std::span<uint8_t>> segments) {
  uint64_t n = 0;
  for (std::span<uint8_t> seg : segments) n += seg.size();
  return n;
}

}  // namespace

Status BlockDriver::readv(uint64_t offset, std::span<const std::span<uint8_t>> segments) {
  const uint64_t length = total_length(segments);
  if (Status s = check_range("read", offset, length); !s.ok()) return s;
  if (length == 0) return ok_status();
  return do_readv(offset, segments);
}

Status BlockDriver::writev(uint64_t offset, std::span<const std::span<uint8_t>> segments) {
  if (read_only()) return error_status(EROFS, "'" + filename() + "' is read-only");
  const uint64_t length = total_length(segments);
  if (Status s = check_range("write", offset, length); !s.ok()) return s;
  if (length == 0) return ok_status();
  return do_writev(offset, segments);
}

Status BlockDriver::do_readv(uint64_t offset, std::span<const std::span<uint8_t>> segments) {
  for (std::span<uint8_t> seg : segments) {
    if (seg.empty()) continue;
    if (Status s = do_read(offset, seg); !s.ok()) return s;
    offset += seg.size();
  }
  return ok_status();
}

Status BlockDriver::do_writev(uint64_t offset, std::span<const std::span<uint8_t>> segments) {
  for (std::span<uint8_t> seg : segments) {
    if (seg.empty()) continue;
    if (Status s = do_write(offset, seg); !s.ok()) return s;
    offset += seg.size();
  }
  return ok_status();
}

Status BlockDriver::flush() {
  if (read_only()) return ok_status();
  return do_flush();
}

Status BlockDriver::discard(uint64_t offset, uint64_t length) {
  if (read_only()) return error_status(EROFS, "'" + filename() + "' is read-only");
  if (Status s = check_range("discard", offset, length); !s.ok()) return s;
  if (length == 0) return ok_status();
  return do_discard(offset, length);
}

Status BlockDriver::write_zeroes(uint64_t offset, uint64_t length, bool may_unmap) {
  if (read_only()) return error_status(EROFS, "'" + filename() + "' is read-only");
  if (Status s = check_range("write-zeroes", offset, length); !s.ok()) return s;
  if (length == 0) return ok_status();
  return do_write_zeroes(offset, length, may_unmap);
}

}  // namespace orrery::hw::block
