// Opening the files a user names on the command line (-kernel, -initrd, -dtb, -serial file:,
// -D) without ever blocking. The open is non-blocking and fstat decides before anything is
// read or written: a FIFO would otherwise hang the open or the read forever, and a directory
// or device makes no sense as an image. One helper so every option behaves the same.
#pragma once

#include <cstdint>
#include <string>

namespace orrery::hw {

/// Owns a file descriptor (closed on destruction); -1 when empty.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

enum class UserFileUse : uint8_t {
  Input,   // read from: regular files only
  Output,  // written to (created, truncated if regular): regular files and character devices
           // (/dev/null, /dev/full, a tty)
};

/// Opens path for use; on failure returns an empty UniqueFd and sets error to a short reason
/// ("No such file or directory", "is a directory", "not a regular file (it is a FIFO)").
/// The returned descriptor is blocking and close-on-exec.
UniqueFd open_user_file(const std::string& path, UserFileUse use, std::string& error);

}  // namespace orrery::hw
