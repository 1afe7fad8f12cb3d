#include "hw/core/log.h"

#include <cerrno>
#include <cstring>

#include "hw/core/user_file.h"

namespace orrery::hw {

std::string Log::set_mask(std::string_view list) {
  uint32_t m = 0;
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    bool found = false;
    for (const LogItem& li : kLogItems) {
      if (item == li.name) {
        m |= li.mask;
        found = true;
      }
    }
    if (!found) return std::string(item.empty() ? "(empty)" : item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  mask_ = m;
  return {};
}

bool Log::set_file(const std::string& path, std::string& error) {
  UniqueFd fd = open_user_file(path, UserFileUse::Output, error);
  if (!fd.valid()) return false;
  FILE* f = ::fdopen(fd.get(), "w");
  if (!f) {
    error = std::strerror(errno);
    return false;
  }
  fd.release();
  if (file_ && file_ != stderr) std::fclose(file_);
  file_ = f;
  path_ = path;
  return true;
}

void Log::flush() {
  FILE* f = out();
  if (std::fflush(f) == 0 && !std::ferror(f)) return;
  int err = errno;
  std::clearerr(f);
  if (f == stderr || write_failed_.exchange(true)) return;
  std::fprintf(stderr, "orrery: -D %s: write failed: %s\n", path_.c_str(), std::strerror(err));
}

}  // namespace orrery::hw
