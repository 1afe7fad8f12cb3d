#include "machine/boot_options.h"

#include "hw/core/option_list.h"

namespace orrery::machine {

namespace {

/// QEMU's rule: letters a-p, each at most once.
std::string check_drives(std::string_view key, std::string_view drives) {
  if (drives.empty()) return std::string(key) + ": no boot device given";
  unsigned seen = 0;
  for (char c : drives) {
    if (c < 'a' || c > 'p') return std::string(key) + ": invalid boot device '" + c + "'";
    const unsigned bit = 1u << (c - 'a');
    if (seen & bit) return std::string(key) + ": boot device '" + c + "' was given twice";
    seen |= bit;
  }
  return {};
}

bool parse_on_off(std::string_view v, bool& out) {
  if (v == "on")
    out = true;
  else if (v == "off")
    out = false;
  else
    return false;
  return true;
}

/// A time in milliseconds, 0..65535 (SeaBIOS takes 16 bits of splash-time; QEMU's limits).
bool parse_ms(std::string_view v, int max, int& out) {
  if (v.empty() || v.size() > 6) return false;
  int n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  if (n > max) return false;
  out = n;
  return true;
}

}  // namespace

std::string parse_boot_options(std::string_view text, BootOptions& out) {
  const std::vector<std::string> items = hw::split_option_list(text);
  for (size_t i = 0; i < items.size(); ++i) {
    std::string_view item = items[i];
    const size_t eq = item.find('=');
    std::string_view key = eq == std::string_view::npos ? "order" : item.substr(0, eq);
    std::string_view val = eq == std::string_view::npos ? item : item.substr(eq + 1);
    if (eq == std::string_view::npos && i != 0)
      return "'" + std::string(item) + "': expected key=value";
    std::string err;
    if (key == "order" || key == "once") {
      // once= is the order for the first boot only; the PC keeps its order across resets,
      // which only matters to a guest that reboots.
      err = check_drives(key, val);
      if (err.empty()) out.order = std::string(val);
    } else if (key == "menu") {
      if (!parse_on_off(val, out.menu)) err = "menu: expected on or off";
    } else if (key == "strict") {
      if (!parse_on_off(val, out.strict)) err = "strict: expected on or off";
    } else if (key == "splash-time") {
      if (!parse_ms(val, 0xffff, out.splash_time)) err = "splash-time: expected 0..65535 (ms)";
    } else if (key == "reboot-timeout") {
      if (!parse_ms(val, 0xffff, out.reboot_timeout))
        err = "reboot-timeout: expected 0..65535 (ms)";
    } else if (key == "splash") {
      err = "splash: boot splash pictures are not supported";
    } else {
      err = "unknown key '" + std::string(key) + "'";
    }
    if (!err.empty()) return err;
  }
  return {};
}

}  // namespace orrery::machine
