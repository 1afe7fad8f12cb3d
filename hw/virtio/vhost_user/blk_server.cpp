#include "hw/virtio/vhost_user/blk_server.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cinttypes>
#include <cstring>
#include <future>

namespace orrery::hw::virtio::vhost_user {

namespace {
constexpr uint64_t kOfferedProtocol = kProtocolMq | kProtocolReplyAck | kProtocolConfig;

/// Kick and call fds never block the loop or a worker, whatever the frontend passed (a pipe
/// nobody reads would otherwise hang a completion).
UniqueFd nonblocking(UniqueFd fd) {
  const int fl = fcntl(fd.get(), F_GETFL);
  if (fl >= 0) fcntl(fd.get(), F_SETFL, fl | O_NONBLOCK);
  return fd;
}
}  // namespace

struct BlkServer::Ring {
  uint32_t num = 0;
  VringAddr addr;
  bool addr_set = false;
  uint16_t base = 0;
  UniqueFd kick;
  UniqueFd call;
  UniqueFd err;
  bool enabled = false;
  bool started = false;
};

/// The frontend's memory table as guest RAM: each region's fd mapped shared.
class BlkServer::Memory {
 public:
  AddressSpace space;
  GuestMemory memory{space};
  std::vector<MemRegion> regions;
};

/// The virtio-blk device over one memory table, and its transport (the call eventfds).
class BlkServer::Device : public VirtioTransport {
 public:
  Device(BlkServer& s, const GuestMemory& mem)
      : server(s), blk(mem, s.log_, "vhost-user-blk", s.disk_, s.num_queues_) {
    blk.attach(*this);
  }
  void notify_used(unsigned q) override { server.notify(q); }
  void notify_config() override {
    server.log_.log(kLogGuestErrors, "vhost-user-blk: the device needs a reset\n");
  }
  BlkServer& server;
  VirtioBlk blk;
};

BlkServer::BlkServer(std::shared_ptr<block::BlockBackend> disk, unsigned num_queues,
                     EventLoop& loop, Log& log)
    : disk_(std::move(disk)), num_queues_(num_queues), loop_(loop), log_(log) {
  rings_.resize(num_queues_);
  call_fds_.assign(num_queues_, -1);
  template_ =
      std::make_unique<VirtioBlk>(empty_memory_, log_, "vhost-user-blk", disk_, num_queues_);
}

BlkServer::~BlkServer() {
  disconnect();
}

bool BlkServer::attach(UniqueFd sock) {
  {
    std::lock_guard g(mu_);
    if (sock_.valid()) return false;
    sock_ = std::move(sock);
  }
  // A frontend that stops half-way through a message, or stops reading replies, must not hold
  // the loop forever.
  timeval tv{5, 0};
  setsockopt(sock_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(sock_.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  loop_.add_fd(sock_.get(), kFdRead, [this](uint32_t ev) { readable(ev); });
  return true;
}

bool BlkServer::connected() const {
  std::lock_guard g(mu_);
  return sock_.valid();
}

void BlkServer::wait_disconnected() {
  std::unique_lock g(mu_);
  gone_.wait(g, [this] { return !sock_.valid(); });
}

void BlkServer::disconnect() {
  if (!connected()) return;
  // Wait for the posted drop() to have returned, not just for the socket to be gone: drop()
  // still runs on the loop thread after that, and the destructor frees us when this returns.
  std::promise<void> done;
  loop_.post([this, &done] {
    if (connected()) drop();
    done.set_value();
  });
  done.get_future().wait();  // drop() reset the socket before it returned
}

std::string BlkServer::last_error() const {
  std::lock_guard g(mu_);
  return last_error_;
}

void BlkServer::readable(uint32_t events) {
  Message m;
  bool eof = false;
  const std::string err = read_message(sock_.get(), m, eof);
  if (!err.empty()) {
    fail(err);
    return;
  }
  if (eof) {
    drop();
    return;
  }
  if (!handle(m)) return;
  (void)events;
}

bool BlkServer::fail(const std::string& why) {
  log_.write("orrery-vhost-user-blk: " + why + "; dropping the connection\n");
  {
    std::lock_guard g(mu_);
    last_error_ = why;
  }
  drop();
  return false;
}

bool BlkServer::reply(const std::vector<uint8_t>& bytes) {
  if (!send_message(sock_.get(), bytes))
    return fail(std::string("cannot send a reply: ") + std::strerror(errno));
  return true;
}

void BlkServer::stop_all_rings() {
  for (unsigned q = 0; q < num_queues_; ++q) {
    uint16_t base;
    stop_ring(q, base);
    rings_[q].base = base;
  }
}

void BlkServer::drop() {
  // Requests in flight finish (and reach the image) before the memory they use goes away.
  stop_all_rings();
  device_.reset();
  memory_.reset();
  {
    std::lock_guard g(call_mu_);
    std::fill(call_fds_.begin(), call_fds_.end(), -1);
  }
  for (Ring& r : rings_) r = Ring{};
  features_ = protocol_features_ = 0;
  loop_.remove_fd(sock_.get());
  if (on_disconnect_) on_disconnect_();
  // Last, under the lock: once the socket is gone a waiter (a test, or the destructor) may free
  // us, so nothing of ours is touched after the lock is released.
  std::lock_guard g(mu_);
  sock_ = UniqueFd();
  gone_.notify_all();
}

bool BlkServer::stop_ring(unsigned q, uint16_t& base) {
  Ring& r = rings_[q];
  base = r.base;
  if (!r.started) return false;
  loop_.remove_fd(r.kick.get());
  {
    auto l = device_->blk.lock();
    base = device_->blk.stop_queue(q, l);
  }
  r.started = false;
  return true;
}

bool BlkServer::translate(uint64_t user_addr, uint64_t& guest_addr) const {
  for (const MemRegion& m : memory_->regions)
    if (user_addr >= m.user_addr && user_addr - m.user_addr < m.size) {
      guest_addr = m.guest_addr + (user_addr - m.user_addr);
      return true;
    }
  return false;
}

bool BlkServer::maybe_start(unsigned q) {
  Ring& r = rings_[q];
  if (r.started || !device_ || !r.num || !r.addr_set || !r.kick.valid() || !r.enabled) return true;
  VirtqLayout l;
  if (!translate(r.addr.desc, l.desc) || !translate(r.addr.avail, l.avail) ||
      !translate(r.addr.used, l.used))
    return fail("ring " + std::to_string(q) + " lies outside the memory table");
  l.size = uint16_t(r.num);
  {
    auto lock = device_->blk.lock();
    QueueConfig& c = device_->blk.queue_config(q);
    c.size = l.size;
    c.layout = l;
    if (!device_->blk.enable_queue_at(q, r.base)) {
      lock.unlock();
      return fail("ring " + std::to_string(q) +
                  " has an unusable layout (not in guest RAM or misaligned)");
    }
  }
  r.started = true;
  loop_.add_fd(r.kick.get(), kFdRead, [this, q](uint32_t) { kicked(q); });
  // Anything the driver queued before the ring started.
  auto lock = device_->blk.lock();
  device_->blk.kick(q);
  return true;
}

void BlkServer::kicked(unsigned q) {
  Ring& r = rings_[q];
  uint64_t n;
  if (read(r.kick.get(), &n, sizeof n) < 0 && errno != EAGAIN) {
    fail("ring " + std::to_string(q) + "'s kick fd: " + std::strerror(errno));
    return;
  }
  if (!r.started || !device_) return;
  auto lock = device_->blk.lock();
  device_->blk.kick(q);
}

void BlkServer::notify(unsigned q) {
  std::lock_guard g(call_mu_);
  if (q >= call_fds_.size() || call_fds_[q] < 0) return;
  const uint64_t one = 1;
  ssize_t k = write(call_fds_[q], &one, sizeof one);
  (void)k;  // a full eventfd counter has already woken the frontend
}

bool BlkServer::rebuild_device() {
  for (unsigned q = 0; q < num_queues_; ++q) {
    uint16_t base;
    stop_ring(q, base);
    rings_[q].base = base;
  }
  device_.reset();
  if (!memory_) return true;
  device_ = std::make_unique<Device>(*this, memory_->memory);
  {
    auto l = device_->blk.lock();
    const uint64_t f = features_ & ~kFeatureProtocolFeatures;
    device_->blk.set_driver_features_word(0, uint32_t(f));
    device_->blk.set_driver_features_word(1, uint32_t(f >> 32));
    device_->blk.set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk, l);
    if (!(device_->blk.status() & kStatusFeaturesOk)) {
      l.unlock();
      char buf[64];
      std::snprintf(buf, sizeof buf, "features 0x%" PRIx64 " were not offered", f);
      return fail(buf);
    }
    device_->blk.set_status(
        kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk, l);
  }
  for (unsigned q = 0; q < num_queues_; ++q)
    if (!maybe_start(q)) return false;
  return true;
}

bool BlkServer::handle(Message& m) {
  const uint32_t req = m.raw_request;
  bool acked = false;  // the request has a reply of its own
  auto ring_index = [&](uint32_t q) {
    if (q < num_queues_) return true;
    return fail(request_name(req) + ": ring " + std::to_string(q) + " of " +
                std::to_string(num_queues_));
  };
  switch (m.request) {
    case Request::kGetFeatures:
      acked = true;
      if (!reply(encode_reply_u64(req, template_->offered_features() | kFeatureProtocolFeatures)))
        return false;
      break;
    case Request::kSetFeatures:
      features_ = m.u64;
      if (memory_ && !rebuild_device()) return false;
      break;
    case Request::kGetProtocolFeatures:
      acked = true;
      if (!reply(encode_reply_u64(req, kOfferedProtocol))) return false;
      break;
    case Request::kSetProtocolFeatures:
      protocol_features_ = m.u64 & kOfferedProtocol;
      break;
    case Request::kGetQueueNum:
      acked = true;
      if (!reply(encode_reply_u64(req, num_queues_))) return false;
      break;
    case Request::kSetOwner:
      break;
    case Request::kResetOwner:
    case Request::kResetDevice:
      stop_all_rings();
      device_.reset();
      memory_.reset();
      for (Ring& r : rings_) r = Ring{};
      {
        std::lock_guard g(call_mu_);
        std::fill(call_fds_.begin(), call_fds_.end(), -1);
      }
      features_ = 0;
      break;
    case Request::kSetMemTable: {
      auto mem = std::make_unique<Memory>();
      for (size_t i = 0; i < m.regions.size(); ++i) {
        const MemRegion& r = m.regions[i];
        struct stat st;
        const uint64_t end = r.mmap_offset + r.size;
        // Mapping past the end of the file would fault (SIGBUS) on the first access.
        if (fstat(m.fds[i].get(), &st) != 0 || !S_ISREG(st.st_mode) || uint64_t(st.st_size) < end)
          return fail("SET_MEM_TABLE: region " + std::to_string(i) +
                      " is not backed by a large enough shared file");
        // A file that shrank later would fault too: seal a memfd against shrinking when it
        // allows it (QEMU seals its memfds itself).
        const int seals = fcntl(m.fds[i].get(), F_GET_SEALS);
        if (seals >= 0 && !(seals & F_SEAL_SHRINK))
          fcntl(m.fds[i].get(), F_ADD_SEALS, F_SEAL_SHRINK);
        std::string err;
        auto backing = RamBacking::map_fd(m.fds[i].release(), end, err);
        if (!backing) return fail("SET_MEM_TABLE: " + err);
        err = mem->space.add_ram("region" + std::to_string(i), r.guest_addr,
                                 std::shared_ptr<RamBacking>(std::move(backing)), r.mmap_offset,
                                 r.size);
        if (!err.empty()) return fail("SET_MEM_TABLE: " + err);
        mem->regions.push_back(r);
      }
      // The old table stays mapped until no request uses it.
      for (unsigned q = 0; q < num_queues_; ++q) {
        uint16_t base;
        stop_ring(q, base);
        rings_[q].base = base;
      }
      device_.reset();
      memory_ = std::move(mem);
      if (!rebuild_device()) return false;
      break;
    }
    case Request::kSetVringNum: {
      if (!ring_index(m.state.index)) return false;
      const uint32_t n = m.state.num;
      if (n == 0 || n > Virtqueue::kMaxSize || (n & (n - 1)))
        return fail("SET_VRING_NUM: size " + std::to_string(n));
      rings_[m.state.index].num = n;
      break;
    }
    case Request::kSetVringAddr:
      if (!ring_index(m.addr.index)) return false;
      rings_[m.addr.index].addr = m.addr;
      rings_[m.addr.index].addr_set = true;
      break;
    case Request::kSetVringBase:
      if (!ring_index(m.state.index)) return false;
      if (m.state.num > 0xffff) return fail("SET_VRING_BASE: " + std::to_string(m.state.num));
      rings_[m.state.index].base = uint16_t(m.state.num);
      break;
    case Request::kGetVringBase: {
      acked = true;
      if (!ring_index(m.state.index)) return false;
      const unsigned q = m.state.index;
      uint16_t base;
      stop_ring(q, base);
      rings_[q].base = base;
      rings_[q].kick = UniqueFd();  // the ring stays stopped until the next SET_VRING_KICK
      if (!reply(encode_reply_state(req, {q, base}))) return false;
      break;
    }
    case Request::kSetVringKick: {
      const unsigned q = m.vring_index();
      if (!ring_index(q)) return false;
      uint16_t base;
      if (stop_ring(q, base)) rings_[q].base = base;
      if (!m.vring_has_fd()) {
        log_.log(kLogUnimp, "vhost-user-blk: polling ring %u (no kick fd)\n", q);
        rings_[q].kick = UniqueFd();
        break;
      }
      rings_[q].kick = nonblocking(std::move(m.fds[0]));
      // Without protocol features a ring runs as soon as it has its kick fd.
      if (!(features_ & kFeatureProtocolFeatures)) rings_[q].enabled = true;
      if (!maybe_start(q)) return false;
      break;
    }
    case Request::kSetVringCall: {
      const unsigned q = m.vring_index();
      if (!ring_index(q)) return false;
      std::lock_guard g(call_mu_);
      rings_[q].call = m.vring_has_fd() ? nonblocking(std::move(m.fds[0])) : UniqueFd();
      call_fds_[q] = rings_[q].call.get();
      break;
    }
    case Request::kSetVringErr: {
      const unsigned q = m.vring_index();
      if (!ring_index(q)) return false;
      rings_[q].err = m.vring_has_fd() ? std::move(m.fds[0]) : UniqueFd();
      break;
    }
    case Request::kSetVringEnable: {
      if (!ring_index(m.state.index)) return false;
      const unsigned q = m.state.index;
      rings_[q].enabled = m.state.num != 0;
      if (rings_[q].enabled) {
        if (!maybe_start(q)) return false;
      } else {
        uint16_t base;
        if (stop_ring(q, base)) rings_[q].base = base;
      }
      break;
    }
    case Request::kGetConfig: {
      acked = true;
      ConfigPayload c = m.config;
      c.data.assign(c.size, 0);
      {
        auto l = template_->lock();
        template_->read_config(c.offset, c.data);
      }
      if (!reply(encode_reply_config(req, c))) return false;
      break;
    }
    case Request::kSetConfig:
      // The virtio-blk configuration has nothing a driver may change here (no CONFIG_WCE).
      log_.log(kLogUnimp, "vhost-user-blk: SET_CONFIG at %u ignored\n", m.config.offset);
      break;
    default:
      log_.log(kLogUnimp, "vhost-user-blk: %s is not supported\n", request_name(req).c_str());
      if (m.need_reply()) return reply(encode_reply_u64(req, 1));
      return true;
  }
  if (!acked && m.need_reply() && (protocol_features_ & kProtocolReplyAck))
    return reply(encode_reply_u64(req, 0));
  return true;
}

}  // namespace orrery::hw::virtio::vhost_user
