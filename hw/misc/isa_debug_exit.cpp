#include "hw/misc/isa_debug_exit.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "hw/core/address_space.h"

namespace orrery::hw {

namespace {

// A number as QEMU's integer properties take it: decimal, 0x hexadecimal or 0 octal.
bool parse_number(const std::string& text, uint64_t& out) {
  if (text.empty() || text[0] == '-' || text[0] == '+' || text[0] == ' ') return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtoull(text.c_str(), &end, 0);
  return errno == 0 && end && *end == '\0';
}

}  // namespace

std::string parse_isa_debug_exit(std::span<const std::pair<std::string, std::string>> props,
                                 IsaDebugExitConfig& out) {
  uint64_t base = out.iobase, size = out.iosize;
  for (const auto& [name, value] : props) {
    uint64_t v = 0;
    if (name == "iobase" || name == "iosize") {
      if (!parse_number(value, v) || v > 0xffff)
        return name + "=" + value + ": expected a number from 0 to 0xffff";
      (name == "iobase" ? base : size) = v;
    } else {
      return "no property '" + name + "' (isa-debug-exit has iobase and iosize)";
    }
  }
  if (size == 0) return "iosize=0: the port range must not be empty";
  if (base + size > kIoPortSpaceSize) {
    char buf[80];
    std::snprintf(buf, sizeof buf, "iobase=0x%x,iosize=%u: the ports reach past 0xffff",
                  unsigned(base), unsigned(size));
    return buf;
  }
  out.iobase = uint16_t(base);
  out.iosize = uint16_t(size);
  return {};
}

}  // namespace orrery::hw
