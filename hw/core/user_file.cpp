#include "hw/core/user_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace orrery::hw {

namespace {

const char* kind_name(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a plain file";
}

std::string not_regular(mode_t mode) {
  return std::string("not a regular file (it is ") + kind_name(mode) + ")";
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

UniqueFd open_user_file(const std::string& path, UserFileUse use, std::string& error) {
  error.clear();
  // O_NONBLOCK: opening a FIFO would otherwise wait for the other end. O_TRUNC waits until
  // fstat has shown a regular file.
  int flags = O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  flags |= use == UserFileUse::Input ? O_RDONLY : O_WRONLY | O_CREAT;
  UniqueFd fd(::open(path.c_str(), flags, 0666));
  if (!fd.valid()) {
    int err = errno;
    struct stat st;
    // A FIFO without a reader fails with ENXIO, whose text ("No such device or address")
    // would mislead.
    if (err == ENXIO && ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      error = not_regular(st.st_mode);
    } else {
      error = std::strerror(err);
    }
    return {};
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    error = std::strerror(errno);
    return {};
  }
  if (S_ISDIR(st.st_mode)) {
    error = "is a directory";
    return {};
  }
  bool ok = S_ISREG(st.st_mode) || (use == UserFileUse::Output && S_ISCHR(st.st_mode));
  if (!ok) {
    error = not_regular(st.st_mode);
    return {};
  }
  if (use == UserFileUse::Output && S_ISREG(st.st_mode) && ::ftruncate(fd.get(), 0) != 0) {
    error = std::string("cannot truncate: ") + std::strerror(errno);
    return {};
  }
  int fl = ::fcntl(fd.get(), F_GETFL);
  if (fl < 0 || ::fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK) != 0) {
    error = std::strerror(errno);
    return {};
  }
  return fd;
}

}  // namespace orrery::hw
