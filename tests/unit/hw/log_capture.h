// Test helper: sends a Log's output to a temporary file (the -D path the emulator uses) and
// hands back what was written since the last look, so tests can assert on log lines.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>

#include "hw/core/log.h"

namespace orrery::hw::test {

class LogCapture {
 public:
  /// Enables the -d items in mask (e.g. "guest_errors,unimp") and captures their output.
  LogCapture(Log& log, std::string_view mask) : log_(log) {
    int fd = mkstemp(path_);
    if (fd >= 0) close(fd);
    ok_ = fd >= 0 && log.set_file(path_) && log.set_mask(mask).empty();
  }
  ~LogCapture() {
    log_.set_mask_bits(0);
    std::remove(path_);  // the Log keeps its (now unlinked) file open until it is destroyed
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  bool ok() const { return ok_; }
  /// Everything logged since the previous take().
  std::string take() {
    std::string all;
    if (FILE* f = std::fopen(path_, "r")) {
      char buf[4096];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) all.append(buf, n);
      std::fclose(f);
    }
    std::string fresh = all.substr(std::min(seen_, all.size()));
    seen_ = all.size();
    return fresh;
  }

 private:
  Log& log_;
  char path_[32] = "/tmp/orrery_logXXXXXX";
  size_t seen_ = 0;
  bool ok_ = false;
};

/// The number of lines in s.
inline size_t line_count(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace orrery::hw::test
