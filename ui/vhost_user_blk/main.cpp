// orrery-vhost-user-blk: serves one disk image (raw or qcow2, through Orrery's block layer) to
// a vhost-user frontend such as QEMU over a unix socket.
//
//   orrery-vhost-user-blk --socket-path PATH --drive file=F[,format=raw|qcow2][,readonly=on]
//                         [--num-queues N]
//
// One frontend is served at a time; when it disconnects the next one may connect. SIGTERM or
// SIGINT finishes the requests in flight, flushes the image and exits 0.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "hw/block/backend.h"
#include "hw/block/drive_options.h"
#include "hw/core/clock.h"
#include "hw/core/event_loop.h"
#include "hw/core/log.h"
#include "hw/virtio/vhost_user/blk_server.h"

namespace {

using namespace orrery;

constexpr const char* kUsage =
    "usage: orrery-vhost-user-blk --socket-path PATH --drive file=F[,format=raw|qcow2]"
    "[,readonly=on] [--num-queues N] [-d unimp,guest_errors]\n";
constexpr unsigned kMaxQueues = 64;

int bad(const std::string& why) {
  std::fprintf(stderr, "orrery-vhost-user-blk: %s\n", why.c_str());
  return 1;
}

struct Options {
  std::string socket_path;
  std::string drive;
  unsigned num_queues = 1;
  std::string log_items;
};

/// Parses argv; returns an empty string or the error line.
std::string parse_args(int argc, char** argv, Options& o, bool& help) {
  bool have_queues = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    std::string value;
    std::string_view key = a;
    bool inline_value = false;
    if (auto eq = a.find('='); a.starts_with("--") && eq != std::string_view::npos) {
      key = a.substr(0, eq);
      value = std::string(a.substr(eq + 1));
      inline_value = true;
    }
    if (key == "-h" || key == "--help") {
      help = true;
      return {};
    }
    if (key != "--socket-path" && key != "--drive" && key != "--num-queues" && key != "-d")
      return "unknown option '" + std::string(a) + "'";
    if (!inline_value) {
      if (i + 1 >= argc) return "option '" + std::string(key) + "' needs a value";
      value = argv[++i];
    }
    if (key == "--socket-path") {
      if (!o.socket_path.empty()) return "--socket-path is given twice";
      if (value.empty()) return "--socket-path is empty";
      if (value.size() >= sizeof(sockaddr_un{}.sun_path)) return "--socket-path is too long";
      o.socket_path = value;
    } else if (key == "--drive") {
      if (!o.drive.empty()) return "--drive is given twice";
      o.drive = value;
    } else if (key == "-d") {
      o.log_items = value;
    } else {
      if (have_queues) return "--num-queues is given twice";
      have_queues = true;
      unsigned n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || end != value.data() + value.size() || n < 1 || n > kMaxQueues)
        return "--num-queues must be 1.." + std::to_string(kMaxQueues) + ", not '" + value + "'";
      o.num_queues = n;
    }
  }
  if (o.socket_path.empty()) return "--socket-path is required";
  if (o.drive.empty()) return "--drive is required";
  return {};
}

hw::UniqueFd listen_on(const std::string& path, std::string& error) {
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    // A stale socket from an earlier run is replaced; anything else is the user's file.
    if (!S_ISSOCK(st.st_mode)) {
      error = path + " exists and is not a socket";
      return {};
    }
    unlink(path.c_str());
  }
  hw::UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (!fd.valid() || bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(fd.get(), 1) != 0) {
    error = "cannot listen on " + path + ": " + std::strerror(errno);
    return {};
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  bool help = false;
  if (std::string e = parse_args(argc, argv, o, help); !e.empty()) return bad(e);
  if (help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  auto drive = hw::block::parse_drive_options(o.drive);
  if (!drive.ok()) return bad(drive.status().message);
  hw::Log log;
  if (std::string unknown = log.set_mask(o.log_items); !unknown.empty())
    return bad("unknown -d item '" + unknown + "'");
  std::vector<std::string> warnings;
  auto disk = hw::block::open_drive(drive.value(), warnings);
  if (!disk.ok()) return bad(disk.status().message);
  for (const std::string& w : warnings)
    std::fprintf(stderr, "orrery-vhost-user-blk: %s\n", w.c_str());
  std::shared_ptr<hw::block::BlockBackend> backend = std::move(disk.value());
  std::string error;
  hw::UniqueFd listener = listen_on(o.socket_path, error);
  if (!listener.valid()) return bad(error);

  // Signals go to this thread's sigwait, never to the loop or the block workers.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  hw::Clock clock;
  hw::EventLoop loop(clock);
  int result = 0;
  {
    hw::virtio::vhost_user::BlkServer server(backend, o.num_queues, loop, log);
    const int lfd = listener.get();
    auto accept_one = [&](uint32_t) {
      hw::UniqueFd c(accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC));
      if (!c.valid()) return;
      // One frontend at a time: the listener sleeps until this one leaves.
      loop.remove_fd(lfd);
      server.attach(std::move(c));
    };
    server.on_disconnect([&] { loop.add_fd(lfd, hw::kFdRead, accept_one); });
    loop.add_fd(lfd, hw::kFdRead, accept_one);
    loop.start();
    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0) {
    }
    loop.post([&] {
      server.on_disconnect(nullptr);
      loop.remove_fd(lfd);
    });
    server.disconnect();
    loop.stop();
    hw::block::Request flush;
    flush.type = hw::block::RequestType::kFlush;
    if (hw::block::Status s = backend->execute(flush); !s.ok()) {
      std::fprintf(stderr, "orrery-vhost-user-blk: flush: %s\n", s.message.c_str());
      result = 1;
    }
  }
  unlink(o.socket_path.c_str());
  return result;
}
