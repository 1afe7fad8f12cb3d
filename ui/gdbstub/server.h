// The gdbstub's network side: -gdb DEV parsing, a listening socket (TCP on localhost by
// default, or a Unix socket), and one thread that serves one debugger at a time. Attaching
// stops the machine; detaching or disconnecting lets it run again.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "cpu/common/gdb_target.h"

namespace orrery::machine {
struct MachineType;
}
namespace orrery::tcg::exec {
class Engine;
}

namespace orrery::ui::gdbstub {

/// Where the stub listens.
struct GdbSpec {
  enum class Kind : uint8_t { None, Tcp, Unix };
  Kind kind = Kind::None;
  std::string host;  // Tcp: empty means localhost
  uint16_t port = 0;
  std::string path;  // Unix
};

/// The port -s listens on.
constexpr uint16_t kDefaultGdbPort = 1234;

/// Parses -gdb DEV: tcp::PORT, tcp:HOST:PORT, unix:PATH or none (QEMU's ",server,nowait"
/// suffixes are accepted and ignored). Empty on success, else why not.
std::string parse_gdb_spec(std::string_view text, GdbSpec& out);

/// The gdb target for a board's CPUs; null (and error set) for a board without one.
std::unique_ptr<cpu::GdbTarget> create_gdb_target(const machine::MachineType& board,
                                                  tcg::exec::Engine& engine, std::string& error);

class GdbServer {
 public:
  /// Listens on spec and starts serving target. on_kill runs (on the server thread) when the
  /// debugger sends 'k'. Null and error set if the socket cannot be set up.
  static std::unique_ptr<GdbServer> start(const GdbSpec& spec, cpu::GdbTarget& target,
                                          std::function<void()> on_kill, std::string& error);
  ~GdbServer();
  GdbServer(const GdbServer&) = delete;
  GdbServer& operator=(const GdbServer&) = delete;

  /// The machine stopped for good with exit status: a connected debugger gets W/X, and the
  /// server stops serving.
  void machine_exited(int status);

  /// The TCP port listened on (useful when started on port 0); 0 for a Unix socket.
  uint16_t port() const;

 private:
  GdbServer(cpu::GdbTarget& target, std::function<void()> on_kill, int listen_fd, int wake_fd,
            std::string unix_path);
  void serve();
  void connection(int fd);
  /// Sends all of data on the non-blocking fd; false if the peer went away or the server is
  /// shutting down (a debugger that stops reading must not hold up exit).
  bool send_all(int fd, std::string_view data);

  cpu::GdbTarget& target_;
  std::function<void()> on_kill_;
  int listen_fd_;
  int wake_fd_;            // eventfd, readable once the destructor wants the thread gone
  std::string unix_path_;  // removed on shutdown
  std::atomic<bool> quit_{false};
  std::atomic<bool> exited_{false};
  std::atomic<int> exit_status_{0};
  std::thread thread_;
};

}  // namespace orrery::ui::gdbstub
