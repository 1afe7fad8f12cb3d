// Orrery's block layer: image drivers (raw, qcow2) behind one guest-neutral interface.
// Devices (virtio-blk on any board, a vhost-user-blk backend) call BlockBackend; nothing here
// knows about CPUs, boards or guests. Errors are values (Status / Expected), never exceptions
// or aborts, because every offset and length comes from an untrusted guest.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <variant>

namespace orrery::hw::block {

/// Result of a block operation: code 0 means success, otherwise a positive errno value
/// (EIO, EINVAL, EROFS, ENOSPC, ENOTSUP...) and a one-line message naming the file.
struct Status {
  int code = 0;
  std::string message;
  bool ok() const { return code == 0; }
};

inline Status ok_status() {
  return {};
}
inline Status error_status(int code, std::string message) {
  return Status{code == 0 ? 5 /*EIO*/ : code, std::move(message)};
}

/// A value or the Status that explains why there is none.
template <class T>
class Expected {
 public:
  Expected(T value) : v_(std::move(value)) {}  // NOLINT: implicit like std::expected
  Expected(Status error) : v_(std::move(error)) {}
  bool ok() const { return v_.index() == 0; }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const Status& status() const { return std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

/// One image format on top of a file. Thread-safe: requests may come from several worker
/// threads at once. The public calls check every range against size() and the read-only
/// flag before the driver sees it.
class BlockDriver {
 public:
  virtual ~BlockDriver() = default;

  /// Guest-visible size in bytes.
  virtual uint64_t size() const = 0;
  virtual bool read_only() const = 0;
  /// The file the driver reads, for messages.
  virtual const std::string& filename() const = 0;
  /// Short driver name ("raw", "qcow2").
  virtual const char* format_name() const = 0;

  Status read(uint64_t offset, std::span<uint8_t> buf);
  Status write(uint64_t offset, std::span<const uint8_t> buf);
  /// Scatter-gather forms: the segments are consecutive bytes from offset on, checked as one
  /// range (a guest request's data buffers).
  Status readv(uint64_t offset, std::span<const std::span<uint8_t>> segments);
  Status writev(uint64_t offset, std::span<const std::span<uint8_t>> segments);
  /// Returns once every write completed before the call is on stable storage.
  Status flush();
  /// Hint that the range is no longer needed; afterwards it reads as zeros or old data.
  Status discard(uint64_t offset, uint64_t length);
  /// The range reads as zeros afterwards; may_unmap allows freeing the space.
  Status write_zeroes(uint64_t offset, uint64_t length, bool may_unmap);

 protected:
  virtual Status do_read(uint64_t offset, std::span<uint8_t> buf) = 0;
  virtual Status do_write(uint64_t offset, std::span<const uint8_t> buf) = 0;
  /// One do_read/do_write per segment; drivers with vectored file I/O override them.
  virtual Status do_readv(uint64_t offset, std::span<const std::span<uint8_t>> segments);
  virtual Status do_writev(uint64_t offset, std::span<const std::span<uint8_t>> segments);
  virtual Status do_flush() = 0;
  virtual Status do_discard(uint64_t offset, uint64_t length) = 0;
  virtual Status do_write_zeroes(uint64_t offset, uint64_t length, bool may_unmap) = 0;

 private:
  Status check_range(const char* what, uint64_t offset, uint64_t length) const;
};

}  // namespace orrery::hw::block
