#include "hw/virtio/vhost_user/protocol.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace orrery::hw::virtio::vhost_user {

namespace {

template <class T>
T get(std::span<const uint8_t> p, size_t off) {
  T v;
  std::memcpy(&v, p.data() + off, sizeof v);
  return v;
}

template <class T>
void put(std::vector<uint8_t>& out, T v) {
  const auto* b = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), b, b + sizeof v);
}

std::string sized(const char* what, size_t want, size_t got) {
  return std::string(what) + " payload of " + std::to_string(got) + " bytes (expected " +
         std::to_string(want) + ")";
}

}  // namespace

std::string request_name(uint32_t r) {
  switch (Request(r)) {
    case Request::kGetFeatures:
      return "GET_FEATURES";
    case Request::kSetFeatures:
      return "SET_FEATURES";
    case Request::kSetOwner:
      return "SET_OWNER";
    case Request::kResetOwner:
      return "RESET_OWNER";
    case Request::kSetMemTable:
      return "SET_MEM_TABLE";
    case Request::kSetLogBase:
      return "SET_LOG_BASE";
    case Request::kSetLogFd:
      return "SET_LOG_FD";
    case Request::kSetVringNum:
      return "SET_VRING_NUM";
    case Request::kSetVringAddr:
      return "SET_VRING_ADDR";
    case Request::kSetVringBase:
      return "SET_VRING_BASE";
    case Request::kGetVringBase:
      return "GET_VRING_BASE";
    case Request::kSetVringKick:
      return "SET_VRING_KICK";
    case Request::kSetVringCall:
      return "SET_VRING_CALL";
    case Request::kSetVringErr:
      return "SET_VRING_ERR";
    case Request::kGetProtocolFeatures:
      return "GET_PROTOCOL_FEATURES";
    case Request::kSetProtocolFeatures:
      return "SET_PROTOCOL_FEATURES";
    case Request::kGetQueueNum:
      return "GET_QUEUE_NUM";
    case Request::kSetVringEnable:
      return "SET_VRING_ENABLE";
    case Request::kGetConfig:
      return "GET_CONFIG";
    case Request::kSetConfig:
      return "SET_CONFIG";
    case Request::kResetDevice:
      return "RESET_DEVICE";
    case Request::kNone:
      break;
  }
  return "request " + std::to_string(r);
}

std::string parse(const Header& h, std::span<const uint8_t> payload, std::vector<UniqueFd> fds,
                  Message& out) {
  out = Message{};
  out.raw_request = h.request;
  out.flags = h.flags;
  const std::string name = request_name(h.request);
  if ((h.flags & kVersionMask) != kVersion)
    return name + ": protocol version " + std::to_string(h.flags & kVersionMask);
  if (h.flags & kFlagReply) return name + ": a reply where a request was expected";
  if (h.size != payload.size() || h.size > kMaxPayload)
    return name + ": header size " + std::to_string(h.size) + " does not match";
  if (fds.size() > kMaxFds) return name + ": " + std::to_string(fds.size()) + " fds";
  const size_t n = payload.size();
  auto want_fds = [&](size_t k) -> std::string {
    if (fds.size() != k)
      return name + ": " + std::to_string(fds.size()) + " fds (expected " + std::to_string(k) + ")";
    return {};
  };
  Request r = Request(h.request);
  switch (r) {
    case Request::kGetFeatures:
    case Request::kSetOwner:
    case Request::kResetOwner:
    case Request::kGetProtocolFeatures:
    case Request::kGetQueueNum:
    case Request::kResetDevice:
      if (n != 0) return name + ": " + sized("a", 0, n);
      if (auto e = want_fds(0); !e.empty()) return e;
      break;
    case Request::kSetFeatures:
    case Request::kSetProtocolFeatures:
      if (n != 8) return name + ": " + sized("u64", 8, n);
      if (auto e = want_fds(0); !e.empty()) return e;
      out.u64 = get<uint64_t>(payload, 0);
      break;
    case Request::kSetVringKick:
    case Request::kSetVringCall:
    case Request::kSetVringErr:
      if (n != 8) return name + ": " + sized("u64", 8, n);
      out.u64 = get<uint64_t>(payload, 0);
      if (out.u64 & ~(kVringIndexMask | kVringNoFd))
        return name + ": reserved bits in 0x" + std::to_string(out.u64);
      if (auto e = want_fds(out.vring_has_fd() ? 1 : 0); !e.empty()) return e;
      break;
    case Request::kSetVringNum:
    case Request::kSetVringBase:
    case Request::kGetVringBase:
    case Request::kSetVringEnable:
      if (n != 8) return name + ": " + sized("vring state", 8, n);
      if (auto e = want_fds(0); !e.empty()) return e;
      out.state = {get<uint32_t>(payload, 0), get<uint32_t>(payload, 4)};
      break;
    case Request::kSetVringAddr:
      if (n != 40) return name + ": " + sized("vring address", 40, n);
      if (auto e = want_fds(0); !e.empty()) return e;
      out.addr = {get<uint32_t>(payload, 0),  get<uint32_t>(payload, 4),
                  get<uint64_t>(payload, 8),  get<uint64_t>(payload, 16),
                  get<uint64_t>(payload, 24), get<uint64_t>(payload, 32)};
      break;
    case Request::kSetMemTable: {
      if (n < 8) return name + ": " + sized("memory table", 8, n);
      const uint32_t count = get<uint32_t>(payload, 0);
      if (count == 0 || count > kMaxRegions)
        return name + ": " + std::to_string(count) + " regions";
      // QEMU sends exactly the regions it uses; a full 8-slot table is accepted too.
      if (n != 8 + kRegionSize * count && n != 8 + kRegionSize * kMaxRegions)
        return name + ": " + sized("memory table", 8 + kRegionSize * count, n);
      if (auto e = want_fds(count); !e.empty()) return e;
      for (uint32_t i = 0; i < count; ++i) {
        const size_t o = 8 + kRegionSize * i;
        MemRegion m{get<uint64_t>(payload, o), get<uint64_t>(payload, o + 8),
                    get<uint64_t>(payload, o + 16), get<uint64_t>(payload, o + 24)};
        if (m.size == 0 || m.guest_addr + m.size < m.guest_addr ||
            m.user_addr + m.size < m.user_addr || m.mmap_offset + m.size < m.mmap_offset)
          return name + ": region " + std::to_string(i) + " is empty or wraps";
        out.regions.push_back(m);
      }
      break;
    }
    case Request::kGetConfig:
    case Request::kSetConfig: {
      if (n < kConfigHeaderSize) return name + ": " + sized("config", kConfigHeaderSize, n);
      if (auto e = want_fds(0); !e.empty()) return e;
      out.config.offset = get<uint32_t>(payload, 0);
      out.config.size = get<uint32_t>(payload, 4);
      out.config.flags = get<uint32_t>(payload, 8);
      if (out.config.size > kMaxConfigSize || out.config.offset > kMaxConfigSize ||
          n != kConfigHeaderSize + out.config.size)
        return name + ": config of " + std::to_string(out.config.size) + " bytes at " +
               std::to_string(out.config.offset) + " in a " + std::to_string(n) + "-byte payload";
      out.config.data.assign(payload.begin() + kConfigHeaderSize, payload.end());
      break;
    }
    default:
      // Not a request this project serves; the caller refuses it (fds close here).
      r = Request::kNone;
      break;
  }
  out.request = r;
  if (r != Request::kNone) out.fds = std::move(fds);
  return {};
}

std::vector<uint8_t> encode_request(uint32_t request, uint32_t flags,
                                    std::span<const uint8_t> payload) {
  std::vector<uint8_t> out;
  put<uint32_t>(out, request);
  put<uint32_t>(out, flags | kVersion);
  put<uint32_t>(out, uint32_t(payload.size()));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

std::vector<uint8_t> encode_reply(uint32_t request, std::span<const uint8_t> payload) {
  return encode_request(request, kFlagReply, payload);
}

std::vector<uint8_t> encode_u64(uint64_t v) {
  std::vector<uint8_t> out;
  put(out, v);
  return out;
}

std::vector<uint8_t> encode_state(VringState s) {
  std::vector<uint8_t> out;
  put(out, s.index);
  put(out, s.num);
  return out;
}

std::vector<uint8_t> encode_addr(const VringAddr& a) {
  std::vector<uint8_t> out;
  put(out, a.index);
  put(out, a.flags);
  put(out, a.desc);
  put(out, a.used);
  put(out, a.avail);
  put(out, a.log);
  return out;
}

std::vector<uint8_t> encode_mem_table(std::span<const MemRegion> regions) {
  std::vector<uint8_t> out;
  put<uint32_t>(out, uint32_t(regions.size()));
  put<uint32_t>(out, 0);
  for (const MemRegion& m : regions) {
    put(out, m.guest_addr);
    put(out, m.size);
    put(out, m.user_addr);
    put(out, m.mmap_offset);
  }
  return out;
}

std::vector<uint8_t> encode_config(const ConfigPayload& c) {
  std::vector<uint8_t> out;
  put(out, c.offset);
  put(out, c.size);
  put(out, c.flags);
  out.insert(out.end(), c.data.begin(), c.data.end());
  return out;
}

std::vector<uint8_t> encode_reply_u64(uint32_t request, uint64_t value) {
  return encode_reply(request, encode_u64(value));
}

std::vector<uint8_t> encode_reply_state(uint32_t request, VringState s) {
  return encode_reply(request, encode_state(s));
}

std::vector<uint8_t> encode_reply_config(uint32_t request, const ConfigPayload& c) {
  return encode_reply(request, encode_config(c));
}

std::string read_message(int sock, Message& out, bool& eof) {
  eof = false;
  uint8_t hdr[kHeaderSize];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  iovec iov{hdr, sizeof hdr};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t got;
  do {
    got = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_WAITALL);
  } while (got < 0 && errno == EINTR);
  // Take ownership of whatever fds came, before any check can return.
  std::vector<UniqueFd> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      fds.emplace_back(fd);
    }
  }
  if (got == 0) {
    eof = true;
    return {};
  }
  if (got < 0) return std::string("receive: ") + std::strerror(errno);
  if (size_t(got) != sizeof hdr) return "truncated header";
  if (msg.msg_flags & MSG_CTRUNC) return "more than " + std::to_string(kMaxFds) + " fds";
  Header h;
  std::memcpy(&h.request, hdr, 4);
  std::memcpy(&h.flags, hdr + 4, 4);
  std::memcpy(&h.size, hdr + 8, 4);
  if (h.size > kMaxPayload)
    return request_name(h.request) + ": payload of " + std::to_string(h.size) + " bytes";
  std::vector<uint8_t> payload(h.size);
  size_t have = 0;
  while (have < payload.size()) {
    const ssize_t k = recv(sock, payload.data() + have, payload.size() - have, MSG_WAITALL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return request_name(h.request) + ": truncated payload";
    have += size_t(k);
  }
  return parse(h, payload, std::move(fds), out);
}

bool send_message(int sock, std::span<const uint8_t> bytes, std::span<const int> fds) {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  iovec iov{const_cast<uint8_t*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (!fds.empty()) {
    if (fds.size() > kMaxFds) {
      errno = EINVAL;
      return false;
    }
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t k = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return false;
    sent += size_t(k);
    // The fds went with the first bytes; send the rest plainly.
    iov.iov_base = const_cast<uint8_t*>(bytes.data()) + sent;
    iov.iov_len = bytes.size() - sent;
    msg.msg_control = nullptr;
    msg.msg_controllen = 0;
  }
  return true;
}

}  // namespace orrery::hw::virtio::vhost_user
