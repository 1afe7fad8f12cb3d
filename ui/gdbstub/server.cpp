#include "ui/gdbstub/server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "cpu/arm64/gdb.h"
#include "cpu/x86/gdb.h"
#include "hw/core/thread_name.h"
#include "machine/machine.h"
#include "tcg/exec/engine.h"
#include "ui/gdbstub/packet.h"
#include "ui/gdbstub/session.h"

namespace orrery::ui::gdbstub {

namespace {

using namespace std::chrono_literals;

bool parse_port(std::string_view s, uint16_t& port) {
  if (s.empty() || s.size() > 5) return false;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + unsigned(c - '0');
  }
  if (v == 0 || v > 65535) return false;
  port = uint16_t(v);
  return true;
}

int listen_tcp(const GdbSpec& spec, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  const std::string host = spec.host.empty() ? "localhost" : spec.host;
  const std::string port = std::to_string(spec.port);
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    error = "cannot resolve '" + host + "': " + ::gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  error = "no usable address";
  for (addrinfo* a = res; a; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 1) == 0) break;
    error = std::string("cannot listen on port ") + port + ": " + std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  return fd;
}

int listen_unix(const GdbSpec& spec, std::string& error) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (spec.path.size() >= sizeof sa.sun_path) {
    error = "socket path is too long";
    return -1;
  }
  std::memcpy(sa.sun_path, spec.path.c_str(), spec.path.size() + 1);
  // A stale socket from an earlier run would make bind fail; remove only sockets.
  struct stat st;
  if (::lstat(spec.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(spec.path.c_str());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::listen(fd, 1) != 0) {
    error = std::string("cannot listen: ") + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

std::string parse_gdb_spec(std::string_view text, GdbSpec& out) {
  out = GdbSpec{};
  // QEMU chardev options after the address: server/wait are implied, others are not supported.
  std::string_view addr = text.substr(0, text.find(','));
  for (std::string_view rest = text.substr(addr.size()); !rest.empty();) {
    rest.remove_prefix(1);
    std::string_view opt = rest.substr(0, rest.find(','));
    rest.remove_prefix(opt.size());
    if (opt != "server" && opt != "nowait" && opt != "wait=off" && opt != "server=on")
      return "unsupported option '" + std::string(opt) + "'";
  }
  if (addr == "none") return {};
  if (addr.starts_with("unix:")) {
    out.kind = GdbSpec::Kind::Unix;
    out.path = std::string(addr.substr(5));
    if (out.path.empty()) return "missing socket path (expected unix:PATH)";
    return {};
  }
  if (addr.starts_with("tcp:")) addr.remove_prefix(4);
  // [HOST]:PORT, or a bare PORT as QEMU accepts.
  size_t colon = addr.rfind(':');
  std::string_view host = colon == std::string_view::npos ? "" : addr.substr(0, colon);
  std::string_view port = colon == std::string_view::npos ? addr : addr.substr(colon + 1);
  if (host.starts_with("[") && host.ends_with("]")) host = host.substr(1, host.size() - 2);
  if (!parse_port(port, out.port))
    return "invalid port '" + std::string(port) +
           "' (expected tcp::PORT, tcp:HOST:PORT or "
           "unix:PATH)";
  out.kind = GdbSpec::Kind::Tcp;
  out.host = std::string(host);
  return {};
}

std::unique_ptr<cpu::GdbTarget> create_gdb_target(const machine::MachineType& board,
                                                  tcg::exec::Engine& engine, std::string& error) {
  // One case per guest architecture.
  if (board.name == "virt") return cpu::arm64::create_gdb_target(engine.debug());
  if (board.name == "pc") return cpu::x86::create_gdb_target(engine.debug());
  error = "the " + std::string(board.name) + " machine has no gdb support";
  return nullptr;
}

std::unique_ptr<GdbServer> GdbServer::start(const GdbSpec& spec, cpu::GdbTarget& target,
                                            std::function<void()> on_kill, std::string& error) {
  int fd = spec.kind == GdbSpec::Kind::Unix ? listen_unix(spec, error) : listen_tcp(spec, error);
  if (fd < 0) return nullptr;
  int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    error = std::string("cannot create an eventfd: ") + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  std::unique_ptr<GdbServer> s(new GdbServer(target, std::move(on_kill), fd, wake,
                                             spec.kind == GdbSpec::Kind::Unix ? spec.path : ""));
  s->thread_ = std::thread([p = s.get()] {
    hw::name_this_thread("gdbstub");
    p->serve();
  });
  return s;
}

GdbServer::GdbServer(cpu::GdbTarget& target, std::function<void()> on_kill, int listen_fd,
                     int wake_fd, std::string unix_path)
    : target_(target),
      on_kill_(std::move(on_kill)),
      listen_fd_(listen_fd),
      wake_fd_(wake_fd),
      unix_path_(std::move(unix_path)) {}

GdbServer::~GdbServer() {
  quit_.store(true);
  // Wakes a send waiting for a debugger that no longer reads; the eventfd stays readable, so
  // every later wait returns at once too.
  const uint64_t one = 1;
  while (::write(wake_fd_, &one, sizeof one) < 0 && errno == EINTR) {
  }
  if (thread_.joinable()) thread_.join();
  ::close(wake_fd_);
  ::close(listen_fd_);
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
}

void GdbServer::machine_exited(int status) {
  exit_status_.store(status);
  exited_.store(true);
}

uint16_t GdbServer::port() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(ss).sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(ss).sin6_port);
  return 0;
}

bool GdbServer::send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    // Try first even when quitting: a reading debugger still gets its W packet on exit.
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(size_t(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) return false;
    // Full socket: wait for room or for shutdown, whichever comes first.
    pollfd p[2] = {{fd, POLLOUT, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0 && errno != EINTR) return false;
    if (p[1].revents) return false;
  }
  return true;
}

void GdbServer::serve() {
  while (!quit_.load() && !exited_.load()) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(p, 2, 100) <= 0 || !(p[0].revents & POLLIN)) continue;
    // Non-blocking, so a send to a debugger that stops reading can be abandoned (send_all).
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // fails harmlessly on Unix
    connection(fd);
    ::close(fd);
  }
}

void GdbServer::connection(int fd) {
  Session session(target_);
  PacketDecoder decoder;
  std::string last_sent;  // for retransmission on NAK (ack mode)
  auto send_packet = [&](std::string_view payload) {
    last_sent = encode_packet(payload);
    return send_all(fd, last_sent);
  };
  auto exit_packet = [&] {
    char buf[8];
    std::snprintf(buf, sizeof buf, "W%02x", unsigned(exit_status_.load()) & 0xff);
    send_packet(buf);
  };

  // Attaching stops the machine (as QEMU does), so the first '?' has a stopped thread.
  target_.request_stop();
  std::optional<cpu::GdbStopEvent> first;
  while (!(first = target_.wait_stop(50ms))) {
    if (quit_.load() || exited_.load()) return;
  }
  session.stop_reply(*first, /*attach=*/true);

  bool running = false;
  std::vector<PacketEvent> events;
  std::string reply;
  uint8_t buf[4096];
  for (;;) {
    if (exited_.load()) {
      exit_packet();
      return;
    }
    if (quit_.load()) return;
    if (running) {
      if (std::optional<cpu::GdbStopEvent> e = target_.wait_stop(10ms)) {
        running = false;
        if (!send_packet(session.stop_reply(*e))) break;
      }
    }
    pollfd p{fd, POLLIN, 0};
    int pr = ::poll(&p, 1, running ? 0 : 50);
    if (pr < 0 && errno != EINTR) break;
    if (pr <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;  // the debugger went away
    events.clear();
    decoder.feed(std::span<const uint8_t>(buf, size_t(n)), events);
    for (PacketEvent& ev : events) {
      switch (ev.kind) {
        case PacketEvent::Kind::Interrupt:
          if (running) target_.request_stop();
          continue;
        case PacketEvent::Kind::Ack:
          continue;
        case PacketEvent::Kind::Nak:
          if (!session.no_ack() && !last_sent.empty()) send_all(fd, last_sent);
          continue;
        case PacketEvent::Kind::BadPacket:
          if (!session.no_ack()) send_all(fd, "-");
          continue;
        case PacketEvent::Kind::Packet:
          break;
      }
      if (!session.no_ack()) send_all(fd, "+");
      if (running) {
        // All-stop: only an interrupt makes sense while the machine runs.
        if (ev.payload == "vCtrlC") {
          target_.request_stop();
          send_packet("OK");
        }
        continue;
      }
      switch (session.handle(ev.payload, reply)) {
        case Session::Action::Reply:
          send_packet(reply);
          break;
        case Session::Action::Resume:
          running = true;
          break;
        case Session::Action::Detach:
          send_packet(reply);
          return;  // the session already let the target run
        case Session::Action::Kill:
          if (!reply.empty()) send_packet(reply);
          if (on_kill_) on_kill_();
          return;
      }
    }
  }
  // Disconnected: the guest keeps running without breakpoints.
  target_.detach();
}

}  // namespace orrery::ui::gdbstub
