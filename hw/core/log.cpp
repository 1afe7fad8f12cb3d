#include "hw/core/log.h"

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

bool Log::set_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return false;
  if (file_ && file_ != stderr) std::fclose(file_);
  file_ = f;
  return true;
}

}  // namespace orrery::hw
