// The stdio character backend with a pipe standing in for stdin: input reaches the device with
// flow control, and the Ctrl-A escapes work.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "hw/char/pl011.h"
#include "ui/chardev.h"

namespace orrery::ui {
namespace {

/// Replaces fd 0 with a pipe for the lifetime of the object.
class PipeStdin {
 public:
  PipeStdin() {
    saved_ = ::dup(STDIN_FILENO);
    int p[2];
    EXPECT_EQ(::pipe(p), 0);
    ::dup2(p[0], STDIN_FILENO);
    ::close(p[0]);
    write_fd_ = p[1];
  }
  ~PipeStdin() {
    if (write_fd_ >= 0) ::close(write_fd_);
    ::dup2(saved_, STDIN_FILENO);
    ::close(saved_);
  }
  void send(const std::string& s) {
    ASSERT_EQ(::write(write_fd_, s.data(), s.size()), ssize_t(s.size()));
  }
  void close_write() {
    ::close(write_fd_);
    write_fd_ = -1;
  }

 private:
  int saved_ = -1;
  int write_fd_ = -1;
};

/// Collects what a receiver is given, with a small capacity to exercise flow control.
class SlowReceiver : public hw::CharReceiver {
 public:
  size_t receive(std::span<const uint8_t> data) override {
    std::lock_guard<std::mutex> g(mu_);
    size_t n = std::min(data.size(), size_t(4));
    got_.append(data.begin(), data.begin() + ptrdiff_t(n));
    return n;
  }
  void receive_break() override { breaks_++; }
  std::string got() {
    std::lock_guard<std::mutex> g(mu_);
    return got_;
  }
  std::atomic<int> breaks_{0};

 private:
  std::mutex mu_;
  std::string got_;
};

/// Polls cond (state inside the backend's input thread and the PL011) until it holds or a
/// 10 s deadline passes; the deadline only guards against a hang.
template <typename F>
bool wait_for(F cond) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return cond();
}

TEST(StdioChardev, InputReachesDeviceWithFlowControl) {
  PipeStdin in;
  std::string err;
  auto dev = create_chardev({ChardevSpec::Kind::Stdio, {}}, {}, err);
  ASSERT_TRUE(dev) << err;
  SlowReceiver rx;
  dev->attach_input(rx);
  std::string msg = "the quick brown fox jumps over the lazy dog";
  in.send(msg);
  EXPECT_TRUE(wait_for([&] { return rx.got() == msg; })) << rx.got();
  in.close_write();  // EOF is not an error
  dev->close();
}

TEST(StdioChardev, PassesThroughPl011Fifo) {
  PipeStdin in;
  hw::Log log;
  hw::Pl011 uart(log);
  uart.write(hw::Pl011::UARTLCR_H, 4, hw::Pl011::LCR_H_FEN);
  std::string err;
  auto dev = create_chardev({ChardevSpec::Kind::Stdio, {}}, {}, err);
  ASSERT_TRUE(dev);
  dev->attach_input(uart);
  std::string msg(100, 'x');
  for (size_t i = 0; i < msg.size(); ++i) msg[i] = char('a' + i % 26);
  in.send(msg);
  std::string got;
  // Drain like a polling driver; 100 bytes through a 16-entry FIFO, nothing lost.
  EXPECT_TRUE(wait_for([&] {
    uint64_t fr = 0, dr = 0;
    while (uart.read(hw::Pl011::UARTFR, 4, fr) == hw::MemResult::Ok && !(fr & hw::Pl011::FR_RXFE)) {
      uart.read(hw::Pl011::UARTDR, 4, dr);
      EXPECT_EQ(dr & 0xF00, 0u);  // no overrun or other error bits
      got.push_back(char(dr));
    }
    return got.size() >= msg.size();
  }));
  EXPECT_EQ(got, msg);
  dev->close();
}

TEST(StdioChardev, CtrlAEscapes) {
  PipeStdin in;
  std::atomic<int> quit_status{-1};
  StdioOptions opt;
  opt.escapes = true;
  opt.on_quit = [&](int s) { quit_status = s; };
  std::string err;
  auto dev = create_chardev({ChardevSpec::Kind::Stdio, {}}, opt, err);
  ASSERT_TRUE(dev);
  SlowReceiver rx;
  dev->attach_input(rx);
  in.send(
      "ab\x01\x01"
      "c\x01"
      "bd\x01zq");  // C-a C-a -> C-a; C-a b -> break; C-a z ignored
  EXPECT_TRUE(wait_for([&] {
    return rx.got() ==
           "ab\x01"
           "cdq";
  })) << rx.got();
  EXPECT_EQ(rx.breaks_.load(), 1);
  EXPECT_EQ(quit_status.load(), -1);
  in.send("\x01x");
  EXPECT_TRUE(wait_for([&] { return quit_status.load() == 0; }));
  dev->close();
}

/// A device that never takes input (a guest that does not read its UART).
class DeafReceiver : public hw::CharReceiver {
 public:
  size_t receive(std::span<const uint8_t>) override { return 0; }
};

TEST(StdioChardev, CtrlAXWorksWhileTheGuestIgnoresInput) {
  PipeStdin in;
  std::atomic<int> quit_status{-1};
  StdioOptions opt;
  opt.escapes = true;
  opt.on_quit = [&](int s) { quit_status = s; };
  std::string err;
  auto dev = create_chardev({ChardevSpec::Kind::Stdio, {}}, opt, err);
  ASSERT_TRUE(dev);
  DeafReceiver rx;
  dev->attach_input(rx);
  in.send(std::string(1000, 'z') + "\x01x");
  EXPECT_TRUE(wait_for([&] { return quit_status.load() == 0; }));
  dev->close();
}

TEST(StdioChardev, WithoutEscapesCtrlAIsData) {
  PipeStdin in;
  std::string err;
  auto dev = create_chardev({ChardevSpec::Kind::Stdio, {}}, {}, err);
  ASSERT_TRUE(dev);
  SlowReceiver rx;
  dev->attach_input(rx);
  in.send("\x01x");
  EXPECT_TRUE(wait_for([&] { return rx.got() == "\x01x"; }));
  dev->close();
}

}  // namespace
}  // namespace orrery::ui
