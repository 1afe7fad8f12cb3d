#include "hw/block/file.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace orrery::hw::block {
namespace {

// O_DIRECT needs buffer, offset and length aligned to the device's logical block size;
// 4 KiB satisfies every common device.
constexpr uint64_t kDirectAlign = 4096;

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<uint8_t[], FreeDeleter>;

AlignedBuffer aligned_buffer(size_t size) {
  return AlignedBuffer(static_cast<uint8_t*>(std::aligned_alloc(kDirectAlign, size)));
}

// QEMU file-posix lock layout: byte 100+i is read-locked while permission i is held,
// byte 200+i while permission i is *not* shared with other users.
constexpr off_t kLockPermBase = 100;
constexpr off_t kLockSharedBase = 200;
enum Perm : unsigned {
  kPermConsistentRead = 0,
  kPermWrite = 1,
  kPermWriteUnchanged = 2,
  kPermResize = 3,
  kPermCount = 4
};
constexpr const char* kPermNames[kPermCount] = {"consistent read", "write", "write unchanged",
                                                "resize"};

int ofd_lock(int fd, int cmd, short type, off_t start, struct flock* out) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = start;
  fl.l_len = 1;
  int r;
  do {
    r = fcntl(fd, cmd, &fl);
  } while (r < 0 && errno == EINTR);
  if (out) *out = fl;
  return r < 0 ? errno : 0;
}

}  // namespace

Expected<std::unique_ptr<PosixFile>> PosixFile::open(const std::string& path, bool read_only,
                                                     bool direct) {
  int flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | (direct ? O_DIRECT : 0);
  int fd = ::open(path.c_str(), flags);
  if (fd < 0) {
    int err = errno;
    std::string msg = "cannot open '" + path + "'" + (read_only ? "" : " for writing") + ": " +
                      std::strerror(err);
    if (direct && err == EINVAL) msg += " (cache=none needs O_DIRECT support)";
    return error_status(err, msg);
  }
  return std::make_unique<PosixFile>(fd, path, read_only, direct);
}

PosixFile::PosixFile(int fd, std::string name, bool read_only, bool direct)
    : fd_(fd), name_(std::move(name)), read_only_(read_only), direct_(direct) {}

PosixFile::~PosixFile() {
  if (fd_ >= 0) ::close(fd_);
}

Status PosixFile::errno_status(const char* what, int err) const {
  return error_status(err, std::string(what) + " '" + name_ + "' failed: " + std::strerror(err));
}

Status PosixFile::raw_pread(uint64_t offset, std::span<uint8_t> buf) {
  size_t done = 0;
  while (done < buf.size()) {
    ssize_t n = ::pread(fd_, buf.data() + done, buf.size() - done, off_t(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("read from", errno);
    }
    if (n == 0) {  // end of file: the rest reads as zeros
      std::memset(buf.data() + done, 0, buf.size() - done);
      break;
    }
    done += size_t(n);
  }
  return ok_status();
}

Status PosixFile::raw_pwrite(uint64_t offset, std::span<const uint8_t> buf) {
  size_t done = 0;
  while (done < buf.size()) {
    ssize_t n = ::pwrite(fd_, buf.data() + done, buf.size() - done, off_t(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("write to", errno);
    }
    if (n == 0) return errno_status("write to", ENOSPC);
    done += size_t(n);
  }
  wrote(buf.size());
  return ok_status();
}

static bool is_aligned(uint64_t offset, const void* p, size_t size) {
  return offset % kDirectAlign == 0 && size % kDirectAlign == 0 &&
         reinterpret_cast<uintptr_t>(p) % kDirectAlign == 0;
}

Status PosixFile::pread(uint64_t offset, std::span<uint8_t> buf) {
  if (!direct_ || is_aligned(offset, buf.data(), buf.size())) return raw_pread(offset, buf);
  return direct_pread(offset, buf);
}

Status PosixFile::pwrite(uint64_t offset, std::span<const uint8_t> buf) {
  if (read_only_) return errno_status("write to", EROFS);
  if (!direct_ || is_aligned(offset, buf.data(), buf.size())) return raw_pwrite(offset, buf);
  return direct_pwrite(offset, buf);
}

Status PosixFile::raw_vectored(bool write, uint64_t offset,
                               std::span<const std::span<uint8_t>> segments) {
  std::vector<iovec> iov;
  iov.reserve(segments.size());
  for (std::span<uint8_t> seg : segments) {
    if (!seg.empty()) iov.push_back({seg.data(), seg.size()});
  }
  size_t first = 0;
  while (first < iov.size()) {
    const int count = int(std::min<size_t>(iov.size() - first, IOV_MAX));
    ssize_t n = write ? ::pwritev(fd_, &iov[first], count, off_t(offset))
                      : ::preadv(fd_, &iov[first], count, off_t(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status(write ? "write to" : "read from", errno);
    }
    if (n == 0) {
      if (write) return errno_status("write to", ENOSPC);
      for (; first < iov.size(); ++first) std::memset(iov[first].iov_base, 0, iov[first].iov_len);
      break;  // end of file: the rest reads as zeros
    }
    offset += uint64_t(n);
    if (write) wrote(uint64_t(n));
    // Skip what was transferred; a short transfer resumes inside a segment.
    for (size_t left = size_t(n); left > 0;) {
      if (left >= iov[first].iov_len) {
        left -= iov[first].iov_len;
        ++first;
      } else {
        iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + left;
        iov[first].iov_len -= left;
        left = 0;
      }
    }
  }
  return ok_status();
}

static bool all_aligned(uint64_t offset, std::span<const std::span<uint8_t>> segments) {
  for (std::span<uint8_t> seg : segments) {
    if (!is_aligned(offset, seg.data(), seg.size())) return false;
    offset += seg.size();
  }
  return true;
}

Status PosixFile::preadv(uint64_t offset, std::span<const std::span<uint8_t>> segments) {
  if (!direct_ || all_aligned(offset, segments)) return raw_vectored(false, offset, segments);
  for (std::span<uint8_t> seg : segments) {
    if (Status s = pread(offset, seg); !s.ok()) return s;
    offset += seg.size();
  }
  return ok_status();
}

Status PosixFile::pwritev(uint64_t offset, std::span<const std::span<uint8_t>> segments) {
  if (read_only_) return errno_status("write to", EROFS);
  if (!direct_ || all_aligned(offset, segments)) return raw_vectored(true, offset, segments);
  for (std::span<uint8_t> seg : segments) {
    if (Status s = pwrite(offset, seg); !s.ok()) return s;
    offset += seg.size();
  }
  return ok_status();
}

Status PosixFile::direct_pread(uint64_t offset, std::span<uint8_t> buf) {
  const uint64_t start = offset & ~(kDirectAlign - 1);
  const uint64_t end = (offset + buf.size() + kDirectAlign - 1) & ~(kDirectAlign - 1);
  AlignedBuffer bounce = aligned_buffer(end - start);
  if (!bounce) return errno_status("allocate a bounce buffer for", ENOMEM);
  if (Status s = raw_pread(start, {bounce.get(), end - start}); !s.ok()) return s;
  std::memcpy(buf.data(), bounce.get() + (offset - start), buf.size());
  return ok_status();
}

Status PosixFile::direct_pwrite(uint64_t offset, std::span<const uint8_t> buf) {
  const uint64_t start = offset & ~(kDirectAlign - 1);
  const uint64_t end = (offset + buf.size() + kDirectAlign - 1) & ~(kDirectAlign - 1);
  AlignedBuffer bounce = aligned_buffer(end - start);
  if (!bounce) return errno_status("allocate a bounce buffer for", ENOMEM);
  std::lock_guard<std::mutex> guard(rmw_mutex_);
  Expected<uint64_t> old_len = length();
  if (!old_len.ok()) return old_len.status();
  if (Status s = raw_pread(start, {bounce.get(), end - start}); !s.ok()) return s;
  std::memcpy(bounce.get() + (offset - start), buf.data(), buf.size());
  if (Status s = raw_pwrite(start, {bounce.get(), end - start}); !s.ok()) return s;
  // The aligned write may have extended the file past what the caller wrote; cut it back so
  // a raw image keeps its size.
  const uint64_t want = std::max(*old_len, offset + buf.size());
  if (end > want && ::ftruncate(fd_, off_t(want)) < 0) return errno_status("truncate", errno);
  return ok_status();
}

void PosixFile::wrote(uint64_t bytes) {
  if (!writeback_chunk_ || direct_) return;
  // One thread per chunk wins the exchange and starts the write-out; the others go on.
  if (written_since_writeback_.fetch_add(bytes) + bytes < writeback_chunk_) return;
  if (written_since_writeback_.exchange(0) < writeback_chunk_) return;
  // The whole file (nbytes 0: to its end): the kernel skips pages already under write-out and
  // writes the rest in large runs, as its flusher would, only earlier.
  ::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
  ++writebacks_started_;
}

Status PosixFile::sync() {
  if (read_only_) return ok_status();
  if (::fdatasync(fd_) < 0) return errno_status("fdatasync", errno);
  return ok_status();
}

Expected<uint64_t> PosixFile::length() const {
  off_t end = ::lseek(fd_, 0, SEEK_END);  // works for block devices too
  if (end < 0) return errno_status("seek in", errno);
  return uint64_t(end);
}

Status PosixFile::punch_hole(uint64_t offset, uint64_t length) {
  if (::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off_t(offset), off_t(length)) <
      0) {
    int err = errno;
    return errno_status("punch a hole in", err == EOPNOTSUPP ? ENOTSUP : err);
  }
  return ok_status();
}

Status PosixFile::zero_range(uint64_t offset, uint64_t length) {
  if (::fallocate(fd_, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off_t(offset), off_t(length)) ==
      0) {
    return ok_status();
  }
  constexpr uint64_t kChunk = 1 << 20;
  AlignedBuffer zeros = aligned_buffer(kChunk);
  if (!zeros) return errno_status("allocate a buffer for", ENOMEM);
  std::memset(zeros.get(), 0, kChunk);
  for (uint64_t done = 0; done < length;) {
    uint64_t n = std::min(kChunk, length - done);
    if (Status s = pwrite(offset + done, {zeros.get(), n}); !s.ok()) return s;
    done += n;
  }
  return ok_status();
}

Status PosixFile::lock(bool write) {
  // Writers hold consistent read + write + resize and share only consistent read and
  // write-unchanged, like a QEMU guest disk over qcow2; readers hold consistent read and do
  // not share write or resize, like qemu-img.
  const unsigned perm = write ? (1u << kPermConsistentRead | 1u << kPermWrite | 1u << kPermResize)
                              : (1u << kPermConsistentRead);
  const unsigned shared = 1u << kPermConsistentRead | 1u << kPermWriteUnchanged;
  auto fail = [&](const std::string& what) {
    for (unsigned i = 0; i < kPermCount; ++i) {
      ofd_lock(fd_, F_OFD_SETLK, F_UNLCK, kLockPermBase + i, nullptr);
      ofd_lock(fd_, F_OFD_SETLK, F_UNLCK, kLockSharedBase + i, nullptr);
    }
    return error_status(EAGAIN, "Failed to get " + what + " lock on '" + name_ +
                                    "': is another process using the image?");
  };
  for (unsigned i = 0; i < kPermCount; ++i) {
    if (perm & (1u << i)) {
      if (int err = ofd_lock(fd_, F_OFD_SETLK, F_RDLCK, kLockPermBase + i, nullptr)) {
        if (err == EAGAIN || err == EACCES) return fail("\"" + std::string(kPermNames[i]) + "\"");
        return errno_status("lock", err);
      }
    }
    if (!(shared & (1u << i))) {
      if (int err = ofd_lock(fd_, F_OFD_SETLK, F_RDLCK, kLockSharedBase + i, nullptr)) {
        if (err == EAGAIN || err == EACCES) {
          return fail("shared \"" + std::string(kPermNames[i]) + "\"");
        }
        return errno_status("lock", err);
      }
    }
  }
  // A read lock held by another user on 200+i means it refuses to share permission i; one on
  // 100+i means it holds permission i. F_OFD_GETLK ignores our own description's locks.
  for (unsigned i = 0; i < kPermCount; ++i) {
    struct flock fl {};
    if (perm & (1u << i)) {
      if (int err = ofd_lock(fd_, F_OFD_GETLK, F_WRLCK, kLockSharedBase + i, &fl)) {
        return errno_status("test a lock on", err);
      }
      if (fl.l_type != F_UNLCK) return fail("\"" + std::string(kPermNames[i]) + "\"");
    }
    if (!(shared & (1u << i))) {
      if (int err = ofd_lock(fd_, F_OFD_GETLK, F_WRLCK, kLockPermBase + i, &fl)) {
        return errno_status("test a lock on", err);
      }
      if (fl.l_type != F_UNLCK) return fail("shared \"" + std::string(kPermNames[i]) + "\"");
    }
  }
  return ok_status();
}

}  // namespace orrery::hw::block
