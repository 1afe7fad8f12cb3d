#include "hw/net/netdev_options.h"

#include <arpa/inet.h>

#include <charconv>
#include <set>

#include "hw/core/option_list.h"

namespace orrery::hw::net {
namespace {

bool parse_ip(std::string_view s, uint32_t& out) {
  in_addr a{};
  const std::string str(s);
  // inet_pton, unlike inet_aton, takes only the plain dotted quad.
  if (inet_pton(AF_INET, str.c_str(), &a) != 1) return false;
  out = ntohl(a.s_addr);
  return true;
}

bool parse_port(std::string_view s, uint16_t& out) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty() || v > 65535) return false;
  out = uint16_t(v);
  return true;
}

// QEMU's mask for a net= without a prefix: the old address classes.
uint32_t classful_mask(uint32_t a) {
  if (!(a & 0x80000000)) return 0xff000000;
  if ((a & 0xfff00000) == 0xac100000) return 0xfff00000;
  if ((a & 0xc0000000) == 0x80000000) return 0xffff0000;
  if ((a & 0xffff0000) == 0xc0a80000) return 0xffff0000;
  if ((a & 0xffff0000) == 0xc6120000) return 0xfffe0000;
  if ((a & 0xe0000000) == 0xe0000000) return 0xffffff00;
  return 0xfffffff0;
}

// Parses the options after the leading "user" into o; model/mac go to nic when it is set.
std::string parse_user_items(const char* opt, std::string_view text, NetdevUserOptions& o,
                             NicUserOptions* nic) {
  const std::string prefix = std::string(opt) + ": ";
  std::vector<std::string> items = split_option_list(text);
  if (items.empty() || items[0] != "user") {
    return prefix + "only the 'user' backend is supported (got '" + items[0] + "')";
  }
  std::set<std::string> seen;
  bool have_net = false, have_host = false, have_dns = false, have_dhcp = false;
  for (size_t i = 1; i < items.size(); ++i) {
    const std::string& item = items[i];
    if (item.empty()) continue;  // a trailing comma
    const size_t eq = item.find('=');
    if (eq == std::string::npos) return prefix + "option '" + item + "' needs a value (key=value)";
    const std::string key = item.substr(0, eq);
    const std::string value = item.substr(eq + 1);
    if (key != "hostfwd" && !seen.insert(key).second) {
      return prefix + "option '" + key + "' is given twice";
    }
    auto invalid = [&](const char* expected) {
      return prefix + "invalid value '" + value + "' for '" + key + "' (expected " + expected + ")";
    };
    if (key == "id") {
      if (nic) return prefix + "'id' is not allowed (use -netdev user,id=...)";
      if (value.empty()) return invalid("a name");
      o.id = value;
    } else if (key == "net") {
      const size_t slash = value.find('/');
      if (!parse_ip(std::string_view(value).substr(0, slash), o.net)) {
        return invalid("an IPv4 address with an optional /prefix, e.g. 10.0.2.0/24");
      }
      if (slash == std::string::npos) {
        o.netmask = classful_mask(o.net);
      } else {
        const std::string_view m = std::string_view(value).substr(slash + 1);
        uint16_t bits = 0;
        if (parse_port(m, bits)) {
          if (bits < 4 || bits > 32) return invalid("a prefix length of 4 to 32");
          o.netmask = bits == 32 ? 0xffffffff : ~(0xffffffffu >> bits);
        } else if (!parse_ip(m, o.netmask)) {
          return invalid("an IPv4 address with an optional /prefix, e.g. 10.0.2.0/24");
        }
      }
      o.net &= o.netmask;
      have_net = true;
    } else if (key == "host") {
      if (!parse_ip(value, o.host)) return invalid("an IPv4 address");
      have_host = true;
    } else if (key == "dns") {
      if (!parse_ip(value, o.dns)) return invalid("an IPv4 address");
      have_dns = true;
    } else if (key == "dhcpstart") {
      if (!parse_ip(value, o.dhcp_start)) return invalid("an IPv4 address");
      have_dhcp = true;
    } else if (key == "hostfwd") {
      ParseResult<HostForward> f = parse_hostfwd(value);
      if (!f.ok()) return prefix + f.message();
      o.hostfwd.push_back(f.value());
    } else if (key == "restrict") {
      if (!parse_bool(value, o.restrict)) return invalid("on or off");
    } else if (key == "ipv4") {
      if (!parse_bool(value, o.ipv4)) return invalid("on or off");
    } else if (key == "ipv6") {
      if (!parse_bool(value, o.ipv6)) return invalid("on or off");
    } else if (key == "hostname") {
      o.hostname = value;
    } else if (nic && key == "model") {
      if (value.empty()) return invalid("a NIC model name");
      nic->model = value;
    } else if (nic && key == "mac") {
      unsigned b[6];
      char tail;
      if (std::sscanf(value.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4],
                      &b[5], &tail) != 6 ||
          value.size() != 17) {
        return invalid("a MAC address like 52:54:00:12:34:56");
      }
      if (b[0] & 1) return invalid("a unicast MAC address (the first byte's low bit clear)");
      nic->mac = value;
    } else {
      return prefix + "unknown option '" + key + "' for the user backend";
    }
  }
  if (!o.ipv4 && !o.ipv6) return prefix + "ipv4=off needs ipv6=on (nothing would be left)";
  // A new net= moves the defaults into it, as in QEMU.
  if (have_net) {
    if (!have_host) o.host = o.net | (0x0202 & ~o.netmask);
    if (!have_dns) o.dns = o.net | (0x0203 & ~o.netmask);
    if (!have_dhcp) o.dhcp_start = o.net | (0x020f & ~o.netmask);
  }
  auto in_net = [&](uint32_t a) { return (a & o.netmask) == o.net; };
  const std::string net = format_ipv4(o.net);
  if (!in_net(o.host)) return prefix + "host=" + format_ipv4(o.host) + " is outside net=" + net;
  if (o.restrict && !in_net(o.dns)) {
    return prefix + "dns=" + format_ipv4(o.dns) + " is outside net=" + net;
  }
  if (o.dns == o.host) return prefix + "dns= and host= must differ";
  if (!in_net(o.dhcp_start)) {
    return prefix + "dhcpstart=" + format_ipv4(o.dhcp_start) + " is outside net=" + net;
  }
  if (o.dhcp_start == o.host || o.dhcp_start == o.dns) {
    return prefix + "dhcpstart= must differ from host= and dns=";
  }
  return {};
}

}  // namespace

std::string format_ipv4(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
         std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255);
}

bool parse_mac(std::string_view text, std::array<uint8_t, 6>& out) {
  if (text.size() != 17) return false;
  for (size_t i = 0; i < 6; ++i) {
    if (i > 0 && text[3 * i - 1] != ':') return false;
    unsigned v = 0;
    auto [p, ec] = std::from_chars(text.data() + 3 * i, text.data() + 3 * i + 2, v, 16);
    if (ec != std::errc() || p != text.data() + 3 * i + 2) return false;
    out[i] = uint8_t(v);
  }
  return (out[0] & 1) == 0;
}

ParseResult<HostForward> parse_hostfwd(std::string_view text) {
  const std::string what = "invalid hostfwd '" + std::string(text) +
                           "' (expected [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport)";
  HostForward f;
  std::string_view s = text;
  const size_t c1 = s.find(':');
  if (c1 == std::string_view::npos) return ParseResult<HostForward>::error(what);
  const std::string_view proto = s.substr(0, c1);
  if (proto == "udp") {
    f.udp = true;
  } else if (proto != "tcp" && !proto.empty()) {
    return ParseResult<HostForward>::error(what);
  }
  s.remove_prefix(c1 + 1);
  const size_t dash = s.find('-');
  if (dash == std::string_view::npos) return ParseResult<HostForward>::error(what);
  const std::string_view host = s.substr(0, dash), guest = s.substr(dash + 1);
  const size_t hc = host.find(':'), gc = guest.find(':');
  if (hc == std::string_view::npos || gc == std::string_view::npos) {
    return ParseResult<HostForward>::error(what);
  }
  if (hc > 0 && !parse_ip(host.substr(0, hc), f.host_addr)) {
    return ParseResult<HostForward>::error(what);
  }
  if (gc > 0 && !parse_ip(guest.substr(0, gc), f.guest_addr)) {
    return ParseResult<HostForward>::error(what);
  }
  // Port 0 on the host asks the kernel for any free port, as QEMU allows.
  if (!parse_port(host.substr(hc + 1), f.host_port) ||
      !parse_port(guest.substr(gc + 1), f.guest_port) || f.guest_port == 0) {
    return ParseResult<HostForward>::error(what);
  }
  return f;
}

ParseResult<NetdevUserOptions> parse_netdev_user(std::string_view text) {
  NetdevUserOptions o;
  std::string err = parse_user_items("-netdev", text, o, nullptr);
  if (!err.empty()) return ParseResult<NetdevUserOptions>::error(std::move(err));
  if (o.id.empty()) return ParseResult<NetdevUserOptions>::error("-netdev: user needs id=NAME");
  return o;
}

ParseResult<NicUserOptions> parse_nic_user(std::string_view text) {
  NicUserOptions nic;
  std::string err = parse_user_items("-nic", text, nic.user, &nic);
  if (!err.empty()) return ParseResult<NicUserOptions>::error(std::move(err));
  return nic;
}

}  // namespace orrery::hw::net
