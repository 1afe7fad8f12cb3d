#include "ui/chardev.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "hw/core/thread_name.h"
#include "hw/core/user_file.h"

namespace orrery::ui {

namespace {

constexpr uint8_t kEscapeChar = 0x01;  // Ctrl-A
constexpr int kRetryMs = 5;            // how often to re-offer input the device had no room for
// Input held for a guest that is not reading. stdin is still read beyond this (so Ctrl-A x
// always works), but further data bytes are dropped, as a real UART would overrun.
constexpr size_t kMaxPending = 64 * 1024;

/// Writes all of data to fd, retrying short writes; returns 0 or the errno of the write that
/// failed (the caller decides whether to report it: guest output must never stop the guest).
int write_all(int fd, std::span<const uint8_t> data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 100);
      continue;
    }
    if (n < 0) return errno;
    if (n == 0) return EIO;
    done += size_t(n);
  }
  return 0;
}

/// The first failed write of an output, reported once on stderr: the output is lost from then
/// on and the user must see it (the guest runs on, as in QEMU; main() then exits 1).
class OutputError {
 public:
  explicit OutputError(std::string what) : what_(std::move(what)) {}
  void report(int err) {
    if (failed_.exchange(true)) return;
    std::string line = "orrery: " + what_ + ": write failed: " + std::strerror(err) + "\n";
    write_all(STDERR_FILENO,
              std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(line.data()), line.size()));
  }
  bool failed() const { return failed_.load(); }

 private:
  std::string what_;
  std::atomic<bool> failed_{false};
};

class NullChardev final : public Chardev {
 public:
  void write(std::span<const uint8_t>) override {}
};

class FileChardev final : public Chardev {
 public:
  FileChardev(hw::UniqueFd fd, const std::string& path)
      : fd_(std::move(fd)), error_("-serial file:" + path) {}
  void write(std::span<const uint8_t> data) override {
    if (int err = write_all(fd_.get(), data)) error_.report(err);
  }
  bool output_failed() const override { return error_.failed(); }

 private:
  hw::UniqueFd fd_;
  OutputError error_;
};

/// The terminal (or whatever stdin/stdout are). Output goes straight to fd 1 with write(2),
/// so nothing sits in a stdio buffer when Orrery exits.
class StdioChardev final : public Chardev {
 public:
  explicit StdioChardev(const StdioOptions& opt) : opt_(opt) {
    is_tty_ = ::isatty(STDIN_FILENO) == 1;
    if (is_tty_) {
      // Termination signals would leave the terminal raw: receive them on the input thread
      // instead. Blocked here, in the creating thread, so threads created afterwards inherit
      // the mask; a signal arriving before attach_input waits and is handled then.
      sigemptyset(&signals_);
      for (int s : {SIGTERM, SIGHUP, SIGINT, SIGQUIT}) sigaddset(&signals_, s);
      if (::pthread_sigmask(SIG_BLOCK, &signals_, nullptr) == 0) {
        signals_blocked_ = true;
        sig_fd_ = ::signalfd(-1, &signals_, SFD_CLOEXEC | SFD_NONBLOCK);
      }
    }
    if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) wake_[0] = wake_[1] = -1;
  }

  ~StdioChardev() override {
    close();
    if (sig_fd_ >= 0) ::close(sig_fd_);
    // A still-pending signal is delivered now, with its default action.
    if (signals_blocked_) ::pthread_sigmask(SIG_UNBLOCK, &signals_, nullptr);
    for (int fd : wake_)
      if (fd >= 0) ::close(fd);
  }

  void write(std::span<const uint8_t> data) override {
    // A reader that went away (EPIPE) is not an error worth reporting: the output is unwanted.
    int err = write_all(STDOUT_FILENO, data);
    if (err != 0 && err != EPIPE) error_.report(err);
  }
  bool output_failed() const override { return error_.failed(); }

  void attach_input(hw::CharReceiver& rx) override {
    if (thread_.joinable() || wake_[0] < 0) return;
    rx_ = &rx;
    if (is_tty_) enter_raw_mode();
    thread_ = std::thread([this] {
      hw::name_this_thread("stdio input");
      input_loop();
    });
  }

  void close() override {
    std::lock_guard<std::mutex> g(close_mu_);
    if (thread_.joinable()) {
      stopping_.store(true);
      uint8_t b = 0;
      [[maybe_unused]] ssize_t n = ::write(wake_[1], &b, 1);
      thread_.join();
    }
    restore_terminal();
  }

 private:
  void enter_raw_mode() {
    if (::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    // Raw input like QEMU's stdio: no line editing or echo, 8-bit clean. Output processing
    // (OPOST, so "\n" still returns the carriage) stays on.
    raw.c_iflag &= ~tcflag_t(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    raw.c_lflag &= ~tcflag_t(ECHO | ECHONL | ICANON | IEXTEN);
    if (!opt_.pass_signals) raw.c_lflag &= ~tcflag_t(ISIG);
    raw.c_cflag &= ~tcflag_t(CSIZE | PARENB);
    raw.c_cflag |= CS8;
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    if (::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) raw_ = true;
  }

  void restore_terminal() {
    if (raw_) {
      ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
      raw_ = false;
    }
  }

  void quit(int status, const char* why) {
    restore_terminal();
    // "\n" alone: the terminal keeps output processing, so it returns the carriage itself.
    std::string msg = std::string("\norrery: ") + why + "\n";
    write_all(STDERR_FILENO,
              std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(msg.data()), msg.size()));
    if (opt_.on_quit) opt_.on_quit(status);
  }

  // Turns raw input into bytes for the device, handling the Ctrl-A prefix.
  void filter(const uint8_t* in, size_t n, std::vector<uint8_t>& pending) {
    for (size_t i = 0; i < n; ++i) {
      uint8_t c = in[i];
      if (!opt_.escapes) {
        pending.push_back(c);
        continue;
      }
      if (!escape_) {
        if (c == kEscapeChar)
          escape_ = true;
        else
          pending.push_back(c);
        continue;
      }
      escape_ = false;
      switch (c) {
        case 'x':
        case 'X':
          quit(0, "terminated (Ctrl-A x)");
          quitting_ = true;
          return;
        case 'b':
        case 'B':
          rx_->receive_break();
          break;
        case 'h':
        case 'H':
        case '?': {
          static constexpr char kHelp[] =
              "\nC-a h    print this help\nC-a x    exit emulator\n"
              "C-a b    send break\nC-a C-a  send C-a\n";
          write_all(STDERR_FILENO, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(kHelp),
                                                            sizeof kHelp - 1));
          break;
        }
        case kEscapeChar:
          pending.push_back(kEscapeChar);
          break;
        default:
          break;  // unknown commands are ignored, as in QEMU
      }
    }
  }

  void input_loop() {
    std::vector<uint8_t> pending;
    bool eof = false;
    while (!stopping_.load() && !quitting_) {
      // Offer what the device has not taken yet.
      if (!pending.empty()) {
        size_t took = rx_->receive(std::span<const uint8_t>(pending.data(), pending.size()));
        pending.erase(pending.begin(), pending.begin() + ptrdiff_t(took));
      }
      pollfd fds[3];
      nfds_t nfds = 0;
      fds[nfds++] = {wake_[0], POLLIN, 0};
      int sig_slot = -1, in_slot = -1;
      if (sig_fd_ >= 0) {
        sig_slot = int(nfds);
        fds[nfds++] = {sig_fd_, POLLIN, 0};
      }
      if (!eof) {
        in_slot = int(nfds);
        fds[nfds++] = {STDIN_FILENO, POLLIN, 0};
      }
      if (eof && pending.empty() && sig_fd_ < 0) return;  // nothing left to do
      int r = ::poll(fds, nfds, pending.empty() ? -1 : kRetryMs);
      if (r < 0 && errno != EINTR) return;
      if (r <= 0) continue;
      if (fds[0].revents) return;  // close()
      if (sig_slot >= 0 && fds[sig_slot].revents) {
        signalfd_siginfo si;
        if (::read(sig_fd_, &si, sizeof si) == ssize_t(sizeof si)) {
          std::string why = "terminating on signal " + std::to_string(si.ssi_signo);
          quit(128 + int(si.ssi_signo), why.c_str());
          return;
        }
      }
      if (in_slot >= 0 && fds[in_slot].revents) {
        uint8_t buf[256];
        ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) {
          eof = true;  // stdin closed (e.g. </dev/null): the guest just sees no more input
          continue;
        }
        filter(buf, size_t(n), pending);
      }
    }
  }

  StdioOptions opt_;
  bool is_tty_ = false;
  bool raw_ = false;
  termios saved_{};
  sigset_t signals_{};
  bool signals_blocked_ = false;
  int sig_fd_ = -1;
  int wake_[2] = {-1, -1};
  hw::CharReceiver* rx_ = nullptr;
  std::thread thread_;
  std::mutex close_mu_;
  std::atomic<bool> stopping_{false};
  bool escape_ = false;    // input thread only
  bool quitting_ = false;  // input thread only
  OutputError error_{"-serial stdio"};
};

}  // namespace

std::string parse_chardev_spec(std::string_view text, ChardevSpec& out) {
  out = {};
  if (text == "stdio") {
    out.kind = ChardevSpec::Kind::Stdio;
  } else if (text == "none" || text == "null") {
    out.kind = ChardevSpec::Kind::Null;
  } else if (text.starts_with("file:")) {
    out.kind = ChardevSpec::Kind::File;
    out.path = std::string(text.substr(5));
    if (out.path.empty()) return "missing file name after 'file:'";
  } else {
    return "unknown character device (expected stdio, file:PATH or none)";
  }
  return {};
}

std::unique_ptr<Chardev> create_chardev(const ChardevSpec& spec, const StdioOptions& stdio,
                                        std::string& error) {
  error.clear();
  switch (spec.kind) {
    case ChardevSpec::Kind::Null:
      return std::make_unique<NullChardev>();
    case ChardevSpec::Kind::File: {
      hw::UniqueFd fd = hw::open_user_file(spec.path, hw::UserFileUse::Output, error);
      if (!fd.valid()) {
        error = "cannot open " + spec.path + ": " + error;
        return nullptr;
      }
      return std::make_unique<FileChardev>(std::move(fd), spec.path);
    }
    case ChardevSpec::Kind::Stdio:
      return std::make_unique<StdioChardev>(stdio);
  }
  error = "unknown character device";
  return nullptr;
}

}  // namespace orrery::ui
