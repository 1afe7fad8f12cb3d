// Test helpers: a tiny builder and parser for Ethernet / ARP / IPv4 / UDP / TCP / DHCP, and a
// fake guest that sits on a NetBackend's frame sink. Addresses are host byte order.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "hw/net/net_backend.h"

namespace orrery::hw::net::test {

using Bytes = std::vector<uint8_t>;
using Mac = std::array<uint8_t, 6>;

constexpr Mac kGuestMac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
constexpr Mac kBroadcastMac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr uint32_t kGuestIp = 0x0a00020f;  // 10.0.2.15
constexpr uint32_t kHostIp = 0x0a000202;   // 10.0.2.2
constexpr uint32_t kDnsIp = 0x0a000203;    // 10.0.2.3

constexpr uint16_t kEtherIpv4 = 0x0800, kEtherArp = 0x0806;
constexpr uint8_t kProtoTcp = 6, kProtoUdp = 17;
constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

inline void put16(Bytes& b, uint16_t v) {
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}
inline void put32(Bytes& b, uint32_t v) {
  put16(b, uint16_t(v >> 16));
  put16(b, uint16_t(v));
}
inline uint16_t get16(std::span<const uint8_t> b, size_t o) {
  return uint16_t(b[o] << 8 | b[o + 1]);
}
inline uint32_t get32(std::span<const uint8_t> b, size_t o) {
  return uint32_t(get16(b, o)) << 16 | get16(b, o + 2);
}
inline Bytes bytes(const std::string& s) {
  return Bytes(s.begin(), s.end());
}

/// The Internet checksum's one's-complement sum (not yet inverted), continuing from sum.
inline uint32_t sum16(std::span<const uint8_t> b, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < b.size(); i += 2) sum += get16(b, i);
  if (b.size() & 1) sum += uint32_t(b.back()) << 8;
  return sum;
}
inline uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}
inline uint32_t pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, size_t len) {
  return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + uint32_t(len);
}

inline Bytes eth(const Mac& dst, const Mac& src, uint16_t type, const Bytes& payload) {
  Bytes f(dst.begin(), dst.end());
  f.insert(f.end(), src.begin(), src.end());
  put16(f, type);
  f.insert(f.end(), payload.begin(), payload.end());
  while (f.size() < 60) f.push_back(0);  // Ethernet minimum (without FCS)
  return f;
}

inline Bytes arp(uint16_t op, const Mac& sha, uint32_t spa, const Mac& tha, uint32_t tpa) {
  Bytes a;
  put16(a, 1);       // Ethernet
  put16(a, 0x0800);  // IPv4
  a.push_back(6);
  a.push_back(4);
  put16(a, op);
  a.insert(a.end(), sha.begin(), sha.end());
  put32(a, spa);
  a.insert(a.end(), tha.begin(), tha.end());
  put32(a, tpa);
  return eth(op == 1 ? kBroadcastMac : tha, sha, kEtherArp, a);
}

inline Bytes ipv4(uint32_t src, uint32_t dst, uint8_t proto, const Bytes& payload) {
  Bytes p;
  p.push_back(0x45);
  p.push_back(0);
  put16(p, uint16_t(20 + payload.size()));
  put16(p, 0);       // identification: unused, nothing is fragmented
  put16(p, 0x4000);  // don't fragment
  p.push_back(64);
  p.push_back(proto);
  put16(p, 0);
  put32(p, src);
  put32(p, dst);
  const uint16_t c = fold(sum16(p));
  p[10] = uint8_t(c >> 8);
  p[11] = uint8_t(c);
  p.insert(p.end(), payload.begin(), payload.end());
  return p;
}

/// An Ethernet frame from the guest to slirp's MAC (any unicast MAC reaches slirp).
inline Bytes guest_ip_frame(const Bytes& ip_packet) {
  return eth({0x52, 0x55, 0x0a, 0x00, 0x02, 0x02}, kGuestMac, kEtherIpv4, ip_packet);
}

inline Bytes udp(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, const Bytes& data) {
  Bytes u;
  put16(u, sport);
  put16(u, dport);
  put16(u, uint16_t(8 + data.size()));
  put16(u, 0);
  u.insert(u.end(), data.begin(), data.end());
  uint16_t c = fold(sum16(u, pseudo_sum(src, dst, kProtoUdp, u.size())));
  if (c == 0) c = 0xffff;
  u[6] = uint8_t(c >> 8);
  u[7] = uint8_t(c);
  return ipv4(src, dst, kProtoUdp, u);
}

inline Bytes tcp(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, uint32_t seq,
                 uint32_t ack, uint8_t flags, const Bytes& data = {}) {
  Bytes t;
  put16(t, sport);
  put16(t, dport);
  put32(t, seq);
  put32(t, ack);
  const bool syn = flags & kSyn;
  t.push_back(uint8_t((syn ? 6 : 5) << 4));  // data offset in words
  t.push_back(flags);
  put16(t, 65535);  // window
  put16(t, 0);      // checksum
  put16(t, 0);      // urgent pointer
  if (syn) {        // MSS 1460
    t.push_back(2);
    t.push_back(4);
    put16(t, 1460);
  }
  t.insert(t.end(), data.begin(), data.end());
  const uint16_t c = fold(sum16(t, pseudo_sum(src, dst, kProtoTcp, t.size())));
  t[16] = uint8_t(c >> 8);
  t[17] = uint8_t(c);
  return ipv4(src, dst, kProtoTcp, t);
}

/// A DHCP DISCOVER's UDP payload (BOOTP with the DHCP magic cookie).
inline Bytes dhcp_discover(const Mac& mac, uint32_t xid) {
  Bytes b;
  b.push_back(1);  // BOOTREQUEST
  b.push_back(1);  // Ethernet
  b.push_back(6);
  b.push_back(0);
  put32(b, xid);
  put16(b, 0);
  put16(b, 0x8000);                         // broadcast reply
  for (int i = 0; i < 4; ++i) put32(b, 0);  // ciaddr yiaddr siaddr giaddr
  b.insert(b.end(), mac.begin(), mac.end());
  b.resize(236, 0);  // chaddr padding, sname, file
  for (uint8_t m : {99, 130, 83, 99}) b.push_back(m);
  for (uint8_t o : {53, 1, 1}) b.push_back(o);  // DHCPDISCOVER
  b.push_back(255);
  b.resize(300, 0);  // the BOOTP minimum
  return b;
}

/// One frame from the backend, decoded as far as the test needs.
struct Packet {
  Mac dst{}, src{};
  uint16_t type = 0;
  uint16_t arp_op = 0;
  Mac arp_sha{}, arp_tha{};
  uint32_t arp_spa = 0, arp_tpa = 0;
  uint32_t ip_src = 0, ip_dst = 0;
  uint8_t proto = 0;
  uint16_t sport = 0, dport = 0;
  uint32_t seq = 0, ack = 0;
  uint8_t flags = 0;
  Bytes payload;             // UDP or TCP data
  bool checksums_ok = true;  // IPv4 header, and UDP/TCP with the pseudo-header
};

inline std::optional<Packet> parse(std::span<const uint8_t> f) {
  Packet p;
  if (f.size() < 14) return std::nullopt;
  std::copy(f.begin(), f.begin() + 6, p.dst.begin());
  std::copy(f.begin() + 6, f.begin() + 12, p.src.begin());
  p.type = get16(f, 12);
  auto body = f.subspan(14);
  if (p.type == kEtherArp) {
    if (body.size() < 28) return std::nullopt;
    p.arp_op = get16(body, 6);
    std::copy(body.begin() + 8, body.begin() + 14, p.arp_sha.begin());
    p.arp_spa = get32(body, 14);
    std::copy(body.begin() + 18, body.begin() + 24, p.arp_tha.begin());
    p.arp_tpa = get32(body, 24);
    return p;
  }
  if (p.type != kEtherIpv4 || body.size() < 20) return p;
  const size_t ihl = (body[0] & 15) * 4u;
  const size_t total = get16(body, 2);
  if (total > body.size() || ihl < 20 || total < ihl) return std::nullopt;
  p.checksums_ok = fold(sum16(body.subspan(0, ihl))) == 0;
  p.proto = body[9];
  p.ip_src = get32(body, 12);
  p.ip_dst = get32(body, 16);
  auto l4 = body.subspan(ihl, total - ihl);
  const uint32_t ps = pseudo_sum(p.ip_src, p.ip_dst, p.proto, l4.size());
  if (p.proto == kProtoUdp && l4.size() >= 8) {
    p.sport = get16(l4, 0);
    p.dport = get16(l4, 2);
    if (get16(l4, 6) != 0) p.checksums_ok &= fold(sum16(l4, ps)) == 0;
    p.payload.assign(l4.begin() + 8, l4.end());
  } else if (p.proto == kProtoTcp && l4.size() >= 20) {
    p.sport = get16(l4, 0);
    p.dport = get16(l4, 2);
    p.seq = get32(l4, 4);
    p.ack = get32(l4, 8);
    p.flags = l4[13];
    p.checksums_ok &= fold(sum16(l4, ps)) == 0;
    const size_t off = (l4[12] >> 4) * 4u;
    if (off <= l4.size()) p.payload.assign(l4.begin() + off, l4.end());
  }
  return p;
}

/// DHCP options of a BOOTP payload (after the magic cookie), by code.
inline std::map<uint8_t, Bytes> dhcp_options(const Bytes& bootp) {
  std::map<uint8_t, Bytes> opts;
  for (size_t i = 240; i < bootp.size();) {
    const uint8_t code = bootp[i];
    if (code == 255) break;
    if (code == 0 || i + 1 >= bootp.size()) {
      ++i;
      continue;
    }
    const size_t len = bootp[i + 1];
    if (i + 2 + len > bootp.size()) break;
    opts[code].assign(bootp.begin() + i + 2, bootp.begin() + i + 2 + len);
    i += 2 + len;
  }
  return opts;
}

/// Sits on a backend's frame sink: answers ARP for its address itself (as a guest kernel
/// would), keeps every other frame for the test, and refuses frames while !accepting.
class FakeGuest {
 public:
  explicit FakeGuest(NetBackend& backend, uint32_t ip = kGuestIp, Mac mac = kGuestMac)
      : backend_(backend), ip_(ip), mac_(mac) {
    backend_.set_frame_sink([this](std::span<const uint8_t> f) { return on_frame(f); });
  }
  // As a device must: after set_frame_sink returns, the old sink is not running.
  ~FakeGuest() { backend_.set_frame_sink(nullptr); }
  FakeGuest(const FakeGuest&) = delete;
  FakeGuest& operator=(const FakeGuest&) = delete;

  void send(const Bytes& frame) { backend_.receive_from_guest(frame); }

  void set_accepting(bool on) {
    {
      std::lock_guard<std::mutex> g(mu_);
      accepting_ = on;
    }
    if (on) backend_.rx_ready();
  }

  /// The first kept frame matching pred (removed from the kept list), waiting up to 10 s.
  std::optional<Packet> wait_for(const std::function<bool(const Packet&)>& pred) {
    std::unique_lock<std::mutex> l(mu_);
    std::optional<Packet> found;
    cv_.wait_for(l, std::chrono::seconds(10), [&] {
      for (auto it = kept_.begin(); it != kept_.end(); ++it) {
        if (pred(*it)) {
          found = *it;
          kept_.erase(it);
          return true;
        }
      }
      return false;
    });
    return found;
  }

  size_t frames_taken() const {
    std::lock_guard<std::mutex> g(mu_);
    return taken_;
  }

 private:
  bool on_frame(std::span<const uint8_t> f) {
    std::optional<Packet> p = parse(f);
    std::lock_guard<std::mutex> g(mu_);
    if (!accepting_) return false;
    ++taken_;
    if (!p) return true;
    if (p->type == kEtherArp && p->arp_op == 1 && p->arp_tpa == ip_) {
      backend_.receive_from_guest(arp(2, mac_, ip_, p->arp_sha, p->arp_spa));
      return true;
    }
    kept_.push_back(std::move(*p));
    cv_.notify_all();
    return true;
  }

  NetBackend& backend_;
  const uint32_t ip_;
  const Mac mac_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Packet> kept_;
  bool accepting_ = true;
  size_t taken_ = 0;
};

}  // namespace orrery::hw::net::test
