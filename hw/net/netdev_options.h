// QEMU's `-netdev user,...` and `-nic user,...` spellings, parsed into NetdevUserOptions (pure
// functions: no sockets are opened). Addresses are IPv4 in host byte order.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace orrery::hw::net {

/// A value, or one line saying what was wrong with the option text.
template <class T>
class ParseResult {
 public:
  ParseResult(T value) : v_(std::move(value)) {}  // NOLINT
  static ParseResult error(std::string msg) { return ParseResult(Err{std::move(msg)}); }
  bool ok() const { return v_.index() == 0; }
  const T& value() const { return std::get<0>(v_); }
  T& value() { return std::get<0>(v_); }
  const std::string& message() const { return std::get<1>(v_).msg; }

 private:
  struct Err {
    std::string msg;
  };
  explicit ParseResult(Err e) : v_(std::move(e)) {}
  std::variant<T, Err> v_;
};

/// hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport
struct HostForward {
  bool udp = false;
  /// Orrery's default is 127.0.0.1 (services stay on the local machine); QEMU's is 0.0.0.0.
  uint32_t host_addr = 0x7f000001;
  uint16_t host_port = 0;
  /// 0 means the DHCP start address (the first guest to ask for a lease), as in QEMU.
  uint32_t guest_addr = 0;
  uint16_t guest_port = 0;
};

struct NetdevUserOptions {
  std::string id;
  uint32_t net = 0x0a000200;         // 10.0.2.0
  uint32_t netmask = 0xffffff00;     // /24
  uint32_t host = 0x0a000202;        // 10.0.2.2: the host's loopback as seen by the guest
  uint32_t dns = 0x0a000203;         // 10.0.2.3
  uint32_t dhcp_start = 0x0a00020f;  // 10.0.2.15
  bool restrict = false;             // restrict=on: the guest reaches only the host and forwards
  bool ipv4 = true;
  /// Off by default (QEMU turns it on): no IPv6 router advertisements or DNS until asked for.
  bool ipv6 = false;
  std::string hostname;  // DHCP option 12 handed to the guest
  std::vector<HostForward> hostfwd;
};

/// A `-nic user,...`: the backend options plus the NIC model (empty: the board's default).
struct NicUserOptions {
  NetdevUserOptions user;
  std::string model;
  std::string mac;  // "52:54:00:12:34:56" form, empty for the board's default
};

/// Parses the text after `-netdev `, which must start with "user" ("user,id=n0,hostfwd=...").
/// net= and host=/dns=/dhcpstart= are checked against each other as QEMU does.
ParseResult<NetdevUserOptions> parse_netdev_user(std::string_view text);

/// Parses the text after `-nic ` ("user,model=virtio-net-pci,hostfwd=..."). id= is not
/// allowed (QEMU names -nic backends itself).
ParseResult<NicUserOptions> parse_nic_user(std::string_view text);

/// "tcp:127.0.0.1:2222-:22" (the value of one hostfwd=) into a HostForward.
ParseResult<HostForward> parse_hostfwd(std::string_view text);

/// "52:54:00:12:34:56" into six bytes; false unless it is that form and unicast.
bool parse_mac(std::string_view text, std::array<uint8_t, 6>& out);

/// Dotted quad in host byte order, for messages and tests.
std::string format_ipv4(uint32_t addr);

}  // namespace orrery::hw::net
