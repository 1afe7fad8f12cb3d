#include "hw/virtio/vhost_user/blk_frontend.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hw/core/thread_name.h"

namespace orrery::hw::virtio::vhost_user {

namespace {
constexpr uint64_t kWantedProtocol = kProtocolMq | kProtocolReplyAck | kProtocolConfig;
constexpr size_t kBlkConfigSize = 60;  // struct virtio_blk_config (virtio 1.2, 5.2.4)
constexpr size_t kNumQueuesOffset = 34;
// Bits the frontend handles itself or that need a transport feature Orrery lacks.
constexpr uint64_t kNotPassed = kFeatureProtocolFeatures | (1ull << 34) /* RING_PACKED */ |
                                (1ull << 33) /* ACCESS_PLATFORM */ | (1ull << 26) /* LOG_ALL */;
}  // namespace

std::string check_shareable(const AddressSpace& as) {
  for (const Region& r : as.regions()) {
    if (r.kind != RegionKind::Ram) continue;
    if (!r.backing || r.backing->fd() < 0 || !r.backing->shared())
      return "guest RAM '" + std::string(r.name) +
             "' is not shared memory (use -object memory-backend-memfd,id=ID,size=SIZE,"
             "share=on -machine memory-backend=ID)";
  }
  return {};
}

BlkFrontend::BlkFrontend(const GuestMemory& mem, Log& log, std::string name, unsigned num_queues)
    : VirtioDevice(mem, log, std::move(name), kDeviceId, num_queues, kQueueSize) {}

std::unique_ptr<BlkFrontend> BlkFrontend::connect(const GuestMemory& mem, Log& log,
                                                  std::string name, const std::string& socket_path,
                                                  unsigned num_queues, std::string& error) {
  error = check_shareable(mem.address_space());
  if (!error.empty()) return nullptr;
  std::unique_ptr<BlkFrontend> d(new BlkFrontend(mem, log, std::move(name), num_queues));
  error = d->handshake(socket_path, num_queues);
  if (!error.empty()) return nullptr;
  d->thread_ = std::thread([p = d.get()] {
    name_this_thread("vhost-user call");
    p->call_thread();
  });
  return d;
}

BlkFrontend::~BlkFrontend() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    ssize_t k = write(stop_.get(), &one, sizeof one);
    (void)k;
    thread_.join();
  }
  // Closing the socket makes the backend finish its requests and forget the rings.
}

std::string BlkFrontend::call(Request r, std::span<const uint8_t> payload, std::span<const int> fds,
                              std::vector<uint8_t>* reply, bool ack) {
  const bool want_ack = ack && (protocol_features_ & kProtocolReplyAck);
  const std::string name = request_name(uint32_t(r));
  if (!send_message(sock_.get(),
                    encode_request(uint32_t(r), want_ack ? kFlagNeedReply : 0, payload), fds))
    return name + ": " + std::strerror(errno);
  if (!reply && !want_ack) return {};
  uint8_t h[kHeaderSize];
  if (recv(sock_.get(), h, sizeof h, MSG_WAITALL) != ssize_t(sizeof h))
    return name + ": no reply from the backend";
  uint32_t req, flags, size;
  std::memcpy(&req, h, 4);
  std::memcpy(&flags, h + 4, 4);
  std::memcpy(&size, h + 8, 4);
  if (req != uint32_t(r) || !(flags & kFlagReply) || size > kMaxPayload)
    return name + ": malformed reply from the backend";
  std::vector<uint8_t> p(size);
  if (size && recv(sock_.get(), p.data(), size, MSG_WAITALL) != ssize_t(size))
    return name + ": truncated reply from the backend";
  if (reply) {
    *reply = std::move(p);
    return {};
  }
  uint64_t status = 1;
  if (p.size() == 8) std::memcpy(&status, p.data(), 8);
  if (status != 0) return name + ": the backend refused it";
  return {};
}

std::string BlkFrontend::handshake(const std::string& path, unsigned num_queues) {
  const std::string where = "vhost-user socket " + path;
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) return where + ": path too long";
  sock_ = UniqueFd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (!sock_.valid() ||
      ::connect(sock_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return "cannot connect to " + where + ": " + std::strerror(errno);
  // A backend that stops answering must not hang the machine forever.
  timeval tv{10, 0};
  setsockopt(sock_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::vector<uint8_t> p;
  auto u64 = [&](uint64_t& v) {
    if (p.size() != 8) return false;
    std::memcpy(&v, p.data(), 8);
    return true;
  };
  uint64_t features = 0;
  if (std::string e = call(Request::kGetFeatures, {}, {}, &p); !e.empty()) return where + ": " + e;
  if (!u64(features)) return where + ": malformed GET_FEATURES reply";
  protocol_ = features & kFeatureProtocolFeatures;
  backend_features_ = features & ~kNotPassed;
  if (!protocol_) return where + ": the backend has no protocol features (CONFIG is needed)";
  uint64_t proto = 0;
  if (std::string e = call(Request::kGetProtocolFeatures, {}, {}, &p); !e.empty())
    return where + ": " + e;
  if (!u64(proto)) return where + ": malformed GET_PROTOCOL_FEATURES reply";
  if (!(proto & kProtocolConfig)) return where + ": the backend cannot report its configuration";
  protocol_features_ = proto & kWantedProtocol;
  if (std::string e = call(Request::kSetProtocolFeatures, encode_u64(protocol_features_));
      !e.empty())
    return where + ": " + e;
  uint64_t queues = 1;
  if (protocol_features_ & kProtocolMq) {
    if (std::string e = call(Request::kGetQueueNum, {}, {}, &p); !e.empty())
      return where + ": " + e;
    if (!u64(queues)) return where + ": malformed GET_QUEUE_NUM reply";
  }
  if (num_queues > queues)
    return where + ": num-queues=" + std::to_string(num_queues) + " but the backend has " +
           std::to_string(queues);
  if (std::string e = call(Request::kSetOwner, {}, {}, nullptr, true); !e.empty())
    return where + ": " + e;
  ConfigPayload c{0, uint32_t(kBlkConfigSize), 0, std::vector<uint8_t>(kBlkConfigSize)};
  if (std::string e = call(Request::kGetConfig, encode_config(c), {}, &p); !e.empty())
    return where + ": " + e;
  if (p.size() != kConfigHeaderSize + kBlkConfigSize) return where + ": malformed GET_CONFIG reply";
  config_.assign(p.begin() + kConfigHeaderSize, p.end());
  // The guest sees the queues this device has (the backend may have more).
  const uint16_t nq = uint16_t(num_queues);
  std::memcpy(config_.data() + kNumQueuesOffset, &nq, 2);
  if (num_queues == 1) backend_features_ &= ~(1ull << 12);  // VIRTIO_BLK_F_MQ
  stop_ = UniqueFd(eventfd(0, EFD_CLOEXEC));
  for (unsigned q = 0; q < num_queues; ++q) {
    kick_.emplace_back(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    call_.emplace_back(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!kick_.back().valid() || !call_.back().valid() || !stop_.valid())
      return std::string("eventfd: ") + std::strerror(errno);
  }
  started_.assign(num_queues, false);
  return {};
}

void BlkFrontend::lost(const std::string& why) {
  if (broken_) return;
  broken_ = true;
  log().write("vhost-user-blk: " + name() + ": " + why + "; the device needs a reset\n");
  needs_reset();
}

std::string BlkFrontend::start_backend() {
  const uint64_t f = (driver_features() & ~kNotPassed) | kFeatureProtocolFeatures;
  if (std::string e = call(Request::kSetFeatures, encode_u64(f), {}, nullptr, true); !e.empty())
    return e;
  std::vector<MemRegion> regions;
  std::vector<int> fds;
  for (const Region& r : memory().address_space().regions()) {
    if (r.kind != RegionKind::Ram) continue;
    if (regions.size() == kMaxRegions) return "guest RAM has more than 8 regions";
    regions.push_back(
        {r.base, r.size, uint64_t(reinterpret_cast<uintptr_t>(r.host)), r.backing_offset});
    fds.push_back(r.backing->fd());
  }
  if (std::string e = call(Request::kSetMemTable, encode_mem_table(regions), fds, nullptr, true);
      !e.empty())
    return e;
  const AddressSpace& as = memory().address_space();
  for (unsigned q = 0; q < num_queues(); ++q) {
    const QueueConfig& c = queue_config(q);
    if (!c.ready) continue;
    // The backend reads ring addresses in this process's address space.
    const uint8_t* desc = as.host_ptr(c.layout.desc, 16ull * c.size);
    const uint8_t* avail = as.host_ptr(c.layout.avail, 6 + 2ull * c.size);
    const uint8_t* used = as.host_ptr(c.layout.used, 6 + 8ull * c.size);
    if (!desc || !avail || !used) return "ring " + std::to_string(q) + " is not in guest RAM";
    auto ua = [](const uint8_t* p) { return uint64_t(reinterpret_cast<uintptr_t>(p)); };
    const int kick = kick_[q].get(), callfd = call_[q].get();
    std::string e = call(Request::kSetVringNum, encode_state({q, c.size}), {}, nullptr, true);
    if (e.empty()) e = call(Request::kSetVringBase, encode_state({q, 0}), {}, nullptr, true);
    if (e.empty())
      e = call(Request::kSetVringAddr, encode_addr({q, 0, ua(desc), ua(used), ua(avail), 0}), {},
               nullptr, true);
    if (e.empty()) e = call(Request::kSetVringKick, encode_u64(q), {&kick, 1}, nullptr, true);
    if (e.empty()) e = call(Request::kSetVringCall, encode_u64(q), {&callfd, 1}, nullptr, true);
    if (e.empty()) e = call(Request::kSetVringEnable, encode_state({q, 1}), {}, nullptr, true);
    if (!e.empty()) return e;
    started_[q] = true;
  }
  return {};
}

void BlkFrontend::driver_ok() {
  if (broken_) return;
  if (std::string e = start_backend(); !e.empty()) lost(e);
}

void BlkFrontend::stop_backend() {
  for (unsigned q = 0; q < num_queues(); ++q) {
    if (!started_[q]) continue;
    started_[q] = false;
    if (broken_) continue;
    std::vector<uint8_t> p;
    if (std::string e = call(Request::kGetVringBase, encode_state({q, 0}), {}, &p); !e.empty()) {
      lost(e);
      continue;
    }
  }
}

void BlkFrontend::device_reset(std::unique_lock<std::mutex>& held) {
  // GET_VRING_BASE returns once the backend finished the ring's requests.
  stop_backend();
}

void BlkFrontend::queue_kicked(unsigned q) {
  if (!started_[q]) return;
  const uint64_t one = 1;
  ssize_t k = write(kick_[q].get(), &one, sizeof one);
  (void)k;  // a saturated counter has already woken the backend
}

void BlkFrontend::call_thread() {
  std::vector<pollfd> fds;
  for (const UniqueFd& c : call_) fds.push_back({c.get(), POLLIN, 0});
  // The backend hanging up (it exited or dropped us): only watched, never read here.
  fds.push_back({sock_.get(), POLLRDHUP, 0});
  fds.push_back({stop_.get(), POLLIN, 0});
  const size_t sock_slot = fds.size() - 2;
  for (;;) {
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds.back().revents) return;
    if (fds[sock_slot].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
      fds[sock_slot].fd = -1;  // reported once
      auto l = lock();
      lost("the backend closed the connection");
    }
    for (unsigned q = 0; q < sock_slot; ++q) {
      if (!fds[q].revents) continue;
      uint64_t n;
      if (read(fds[q].fd, &n, sizeof n) != sizeof n) continue;
      auto l = lock();
      signal_used(q);
    }
  }
}

}  // namespace orrery::hw::virtio::vhost_user
