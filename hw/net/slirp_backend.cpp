#include "hw/net/slirp_backend.h"

#include <arpa/inet.h>
#include <slirp/libslirp.h>

#include <climits>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

namespace orrery::hw::net {

struct SlirpBackend::Core {
  Core(EventLoop& l, const SlirpBackendConfig& c)
      : loop(l), clock(c.clock), log(c.log), rx(c.rx_queue_limit, c.log) {}

  EventLoop& loop;
  const ClockType clock;
  Log* const log;
  std::weak_ptr<Core> self;

  // Serialises slirp: every loop handler takes it, and teardown takes it to mark `closed`, so
  // a handler that was already queued when the backend went away finds closed and returns.
  std::mutex mu;
  bool closed = false;
  Slirp* slirp = nullptr;
  RxQueue rx;
  std::atomic<uint64_t> tx_frames{0};

  // Polling: slirp names the sockets to watch in each slirp_pollfds_fill; they are kept
  // registered with the loop between passes, and what the loop reports is handed back to
  // slirp_pollfds_poll in the next pass.
  struct PollFd {
    int fd;
    int events;
  };
  std::vector<PollFd> poll_fds;        // from the last fill, indexed by add_poll's return
  std::map<int, uint32_t> registered;  // fd -> interest registered with the loop
  std::map<int, int> revents;          // fd -> SLIRP_POLL_* seen since the last pass
  bool filled = false;
  std::atomic<bool> pass_posted{false};
  TimerId poll_timer = 0;

  struct SlirpTimer {
    TimerId id;
    bool removed;
    SlirpTimerId slirp_id;
    void* cb_opaque;  // slirp's own cookie, handed back unchanged
  };
  std::vector<std::unique_ptr<SlirpTimer>> timers;

  void schedule_pass();
  void pass();  // mu held, !closed
  void sync_fds();
};

namespace {

using Core = SlirpBackend::Core;

// libslirp's C callbacks receive the Core as their opaque pointer.
Core& core_of(void* opaque) {
  return *static_cast<Core*>(opaque);
}

uint32_t to_loop_events(int slirp_events) {
  uint32_t e = 0;
  if (slirp_events & SLIRP_POLL_IN) e |= kFdRead;
  if (slirp_events & SLIRP_POLL_OUT) e |= kFdWrite;
  if (slirp_events & SLIRP_POLL_PRI) e |= kFdPriority;
  return e;
}

int to_slirp_events(uint32_t e) {
  int r = 0;
  if (e & kFdRead) r |= SLIRP_POLL_IN;
  if (e & kFdWrite) r |= SLIRP_POLL_OUT;
  if (e & kFdPriority) r |= SLIRP_POLL_PRI;
  if (e & kFdError) r |= SLIRP_POLL_ERR;
  if (e & kFdHangup) r |= SLIRP_POLL_HUP;
  return r;
}

ssize_t cb_send_packet(const void* buf, size_t len, void* opaque) {
  core_of(opaque).rx.push({static_cast<const uint8_t*>(buf), len});
  return ssize_t(len);  // a frame the device cannot take is queued or dropped, never an error
}

void cb_guest_error(const char* msg, void* opaque) {
  Core& c = core_of(opaque);
  if (c.log) c.log->log(kLogGuestErrors, "net: slirp: %s\n", msg);
}

int64_t cb_clock_get_ns(void* opaque) {
  Core& c = core_of(opaque);
  return c.loop.clock().now(c.clock);
}

void* cb_timer_new_opaque(SlirpTimerId id, void* cb_opaque, void* opaque) {
  Core& c = core_of(opaque);
  auto t = std::make_unique<Core::SlirpTimer>(Core::SlirpTimer{0, false, id, cb_opaque});
  Core::SlirpTimer* raw = t.get();
  std::weak_ptr<Core> weak = c.self;
  t->id = c.loop.add_timer(c.clock, [weak, raw] {
    auto core = weak.lock();
    if (!core) return;
    std::lock_guard<std::mutex> g(core->mu);
    if (core->closed || raw->removed) return;
    slirp_handle_timer(core->slirp, raw->slirp_id, raw->cb_opaque);
    core->schedule_pass();
  });
  c.timers.push_back(std::move(t));
  return raw;
}

void cb_timer_free(void* timer, void* opaque) {
  Core& c = core_of(opaque);
  for (auto it = c.timers.begin(); it != c.timers.end(); ++it) {
    if (it->get() != timer) continue;
    if (!(*it)->removed) c.loop.remove_timer((*it)->id);
    c.timers.erase(it);
    return;
  }
}

void cb_timer_mod(void* timer, int64_t expire_ms, void* opaque) {
  Core& c = core_of(opaque);
  auto* t = static_cast<Core::SlirpTimer*>(timer);
  if (!t->removed) c.loop.arm_timer(t->id, expire_ms * 1'000'000);
}

void drop_registration(Core& c, int fd) {
  if (c.closed) return;
  if (c.registered.erase(fd)) c.loop.remove_fd(fd);
  c.revents.erase(fd);
}

// A new socket under a number the loop still watches (its old file was closed without a
// word) must be registered afresh.
void cb_register_poll_fd(int fd, void* opaque) {
  drop_registration(core_of(opaque), fd);
}

// slirp says so before it closes a socket: forget it while the number is still ours.
void cb_unregister_poll_fd(int fd, void* opaque) {
  drop_registration(core_of(opaque), fd);
}

void cb_notify(void* opaque) {
  core_of(opaque).schedule_pass();
}

int cb_add_poll(int fd, int events, void* opaque) {
  Core& c = core_of(opaque);
  c.poll_fds.push_back({fd, events});
  return int(c.poll_fds.size() - 1);
}

int cb_get_revents(int idx, void* opaque) {
  Core& c = core_of(opaque);
  if (idx < 0 || size_t(idx) >= c.poll_fds.size()) return 0;
  auto it = c.revents.find(c.poll_fds[idx].fd);
  return it == c.revents.end() ? 0 : it->second;
}

const SlirpCb kCallbacks = {
    .send_packet = cb_send_packet,
    .guest_error = cb_guest_error,
    .clock_get_ns = cb_clock_get_ns,
    .timer_new = nullptr,
    .timer_free = cb_timer_free,
    .timer_mod = cb_timer_mod,
    .register_poll_fd = cb_register_poll_fd,
    .unregister_poll_fd = cb_unregister_poll_fd,
    .notify = cb_notify,
    .init_completed = nullptr,
    .timer_new_opaque = cb_timer_new_opaque,
};

in_addr in4(uint32_t host_order) {
  in_addr a{};
  a.s_addr = htonl(host_order);
  return a;
}

in6_addr in6(const char* text) {
  in6_addr a{};
  inet_pton(AF_INET6, text, &a);
  return a;
}

}  // namespace

void Core::schedule_pass() {
  if (pass_posted.exchange(true)) return;
  std::weak_ptr<Core> weak = self;
  loop.post([weak] {
    auto core = weak.lock();
    if (!core) return;
    std::lock_guard<std::mutex> g(core->mu);
    core->pass_posted = false;
    if (!core->closed) core->pass();
  });
}

void Core::pass() {
  if (filled) slirp_pollfds_poll(slirp, 0, cb_get_revents, this);
  revents.clear();
  poll_fds.clear();
  uint32_t timeout_ms = UINT32_MAX;
  slirp_pollfds_fill(slirp, &timeout_ms, cb_add_poll, this);
  filled = true;
  sync_fds();
  // slirp's TCP timers are polled: come back when it says, on its clock.
  if (timeout_ms != UINT32_MAX) {
    loop.arm_timer(poll_timer, loop.clock().now(clock) + int64_t(timeout_ms) * 1'000'000);
  } else {
    loop.cancel_timer(poll_timer);
  }
}

void Core::sync_fds() {
  std::map<int, uint32_t> want;
  for (const PollFd& p : poll_fds) want[p.fd] |= to_loop_events(p.events);
  for (auto it = registered.begin(); it != registered.end();) {
    if (want.count(it->first)) {
      ++it;
      continue;
    }
    loop.remove_fd(it->first);
    it = registered.erase(it);
  }
  std::weak_ptr<Core> weak = self;
  for (const auto& [fd, interest] : want) {
    auto it = registered.find(fd);
    if (it != registered.end()) {
      if (it->second != interest && loop.modify_fd(fd, interest)) it->second = interest;
      continue;
    }
    const int sfd = fd;
    const bool ok = loop.add_fd(fd, interest, [weak, sfd](uint32_t events) {
      auto core = weak.lock();
      if (!core) return;
      std::lock_guard<std::mutex> g(core->mu);
      if (core->closed) return;
      core->revents[sfd] |= to_slirp_events(events);
      core->schedule_pass();
    });
    if (ok) {
      registered[fd] = interest;
    } else if (log) {
      log->log(kLogGuestErrors, "net: cannot watch slirp socket %d: %s\n", fd,
               std::strerror(errno));
    }
  }
}

std::unique_ptr<SlirpBackend> SlirpBackend::create(EventLoop& loop, const NetdevUserOptions& o,
                                                   std::string& error,
                                                   const SlirpBackendConfig& config) {
  error.clear();
  auto core = std::make_shared<Core>(loop, config);
  core->self = core;

  SlirpConfig cfg{};
  cfg.version = 4;
  cfg.restricted = o.restrict;
  cfg.in_enabled = o.ipv4;
  cfg.vnetwork = in4(o.net);
  cfg.vnetmask = in4(o.netmask);
  cfg.vhost = in4(o.host);
  cfg.in6_enabled = o.ipv6;
  // QEMU's IPv6 defaults: fec0::/64 with the host at ::2 and DNS at ::3.
  cfg.vprefix_addr6 = in6("fec0::");
  cfg.vprefix_len = 64;
  cfg.vhost6 = in6("fec0::2");
  cfg.vnameserver6 = in6("fec0::3");
  cfg.vhostname = o.hostname.empty() ? nullptr : o.hostname.c_str();
  cfg.vdhcp_start = in4(o.dhcp_start);
  cfg.vnameserver = in4(o.dns);

  auto backend = std::unique_ptr<SlirpBackend>(new SlirpBackend(loop, core, o.host));
  std::weak_ptr<Core> weak = core;
  core->poll_timer = loop.add_timer(config.clock, [weak] {
    auto c = weak.lock();
    if (!c) return;
    std::lock_guard<std::mutex> g(c->mu);
    if (!c->closed) c->pass();
  });
  {
    // Held so that a slirp timer armed during setup cannot fire before setup is done.
    std::lock_guard<std::mutex> g(core->mu);
    core->slirp = slirp_new(&cfg, &kCallbacks, core.get());
    if (!core->slirp) {
      error = "-netdev user: cannot start the user-mode network stack (libslirp)";
      core->closed = true;
    }
    for (size_t i = 0; core->slirp && i < o.hostfwd.size(); ++i) {
      const HostForward& f = o.hostfwd[i];
      const uint32_t guest = f.guest_addr ? f.guest_addr : o.dhcp_start;
      if (slirp_add_hostfwd(core->slirp, f.udp, in4(f.host_addr), f.host_port, in4(guest),
                            f.guest_port) < 0) {
        error = std::string("-netdev user: cannot forward host ") + (f.udp ? "udp" : "tcp") +
                " port " + format_ipv4(f.host_addr) + ":" + std::to_string(f.host_port) +
                " (in use, or not an address of this machine)";
        break;
      }
    }
  }
  if (!error.empty()) return nullptr;  // the backend's destructor closes what was set up
  core->schedule_pass();               // the first fill registers the forwarded ports' sockets
  return backend;
}

SlirpBackend::~SlirpBackend() {
  std::vector<int> fds;
  std::vector<TimerId> timers;
  {
    std::lock_guard<std::mutex> g(core_->mu);
    core_->closed = true;
    for (const auto& [fd, interest] : core_->registered) fds.push_back(fd);
    core_->registered.clear();
    timers.push_back(core_->poll_timer);
    for (auto& t : core_->timers) {
      t->removed = true;
      timers.push_back(t->id);
    }
  }
  // Outside the lock: removal waits for a running handler, which takes the lock, sees closed
  // and returns.
  for (int fd : fds) loop_.remove_fd(fd);
  for (TimerId t : timers) loop_.remove_timer(t);
  std::lock_guard<std::mutex> g(core_->mu);
  if (core_->slirp) slirp_cleanup(core_->slirp);  // no handler can reach slirp now
  core_->slirp = nullptr;
}

void SlirpBackend::receive_from_guest(std::span<const uint8_t> frame) {
  core_->tx_frames.fetch_add(1, std::memory_order_relaxed);
  std::weak_ptr<Core> weak = core_;
  loop_.post([weak, f = std::vector<uint8_t>(frame.begin(), frame.end())] {
    auto c = weak.lock();
    if (!c) return;
    std::lock_guard<std::mutex> g(c->mu);
    if (c->closed) return;
    slirp_input(c->slirp, f.data(), int(f.size()));
    c->schedule_pass();  // a new connection's socket needs watching
  });
}

void SlirpBackend::set_frame_sink(FrameSink sink) {
  {
    std::lock_guard<std::mutex> g(core_->mu);
    core_->rx.set_sink(std::move(sink));
  }
  rx_ready();
}

void SlirpBackend::rx_ready() {
  std::weak_ptr<Core> weak = core_;
  loop_.post([weak] {
    auto c = weak.lock();
    if (!c) return;
    std::lock_guard<std::mutex> g(c->mu);
    if (!c->closed) c->rx.flush();
  });
}

NetStats SlirpBackend::stats() const {
  NetStats s;
  s.tx_frames = core_->tx_frames.load(std::memory_order_relaxed);
  s.rx_delivered = core_->rx.delivered();
  s.rx_dropped = core_->rx.dropped();
  return s;
}

}  // namespace orrery::hw::net
