// QEMU's "a=b,c=d" option syntax, shared by every parser of such options (-drive, -netdev,
// -device, -object): items split on single commas, ",," standing for a literal comma.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace orrery::hw {

/// Splits text into its comma-separated items (always at least one, possibly empty).
inline std::vector<std::string> split_option_list(std::string_view text) {
  std::vector<std::string> items(1);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == ',') {
      if (i + 1 < text.size() && text[i + 1] == ',') {
        items.back() += ',';
        ++i;
      } else {
        items.emplace_back();
      }
    } else {
      items.back() += text[i];
    }
  }
  return items;
}

/// QEMU's boolean property values: on/yes/true or off/no/false; false for anything else.
inline bool parse_bool(std::string_view s, bool& out) {
  if (s == "on" || s == "yes" || s == "true") return out = true, true;
  if (s == "off" || s == "no" || s == "false") return out = false, true;
  return false;
}

}  // namespace orrery::hw
