// Character backends for serial ports: where guest UART output goes and where its input comes
// from. "stdio" (the terminal, switched to raw mode only when stdin is a tty and restored on
// exit), "file:PATH" (output only) and "none"/"null" (discard).
//
// stdio reads on its own thread and feeds the attached device with flow control: bytes the
// device has no room for are kept and offered again, so fast typing or pasting never overruns
// the guest's FIFO. With escapes enabled (-nographic), Ctrl-A is a prefix as in QEMU:
// Ctrl-A x quits, Ctrl-A b sends a break, Ctrl-A Ctrl-A sends Ctrl-A, Ctrl-A h prints help.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "hw/char/char_backend.h"

namespace orrery::ui {

/// A -serial argument, already checked for syntax.
struct ChardevSpec {
  enum class Kind : uint8_t { Stdio, File, Null };
  Kind kind = Kind::Stdio;
  std::string path;  // File only
};

/// Parses "stdio", "file:PATH", "none", "null"; returns an error message (empty on success).
std::string parse_chardev_spec(std::string_view text, ChardevSpec& out);

class Chardev : public hw::CharSink {
 public:
  ~Chardev() override = default;
  /// Starts delivering input to rx (no-op for output-only backends). At most once.
  virtual void attach_input(hw::CharReceiver& rx) {}
  /// Stops the input thread and restores the terminal; idempotent (the destructor also does it).
  virtual void close() {}
  /// True once a write has failed (already reported on stderr, once): output was lost.
  virtual bool output_failed() const { return false; }
};

/// What the stdio backend does for the user's escape keys and termination signals.
struct StdioOptions {
  bool escapes = false;      // Ctrl-A commands (-nographic)
  bool pass_signals = true;  // keep ^C/^Z as signals; false sends them to the guest (-nographic)
  /// Called on Ctrl-A x or a termination signal (SIGTERM/SIGHUP/SIGINT when not raw), from the
  /// input thread. Must make the machine stop; exit_status is what Orrery should exit with.
  std::function<void(int exit_status)> on_quit;
};

/// Creates a backend; on failure returns null and sets error ("cannot open PATH: why"). A
/// file: backend takes a regular file (truncated) or a character device (/dev/null, a tty);
/// a FIFO is refused rather than waited for.
/// For stdio, call before starting other threads: termination signals are blocked in the
/// calling thread (inherited by threads it creates) and received by the input thread, which
/// restores the terminal before Orrery exits.
std::unique_ptr<Chardev> create_chardev(const ChardevSpec& spec, const StdioOptions& stdio,
                                        std::string& error);

/// A backend that keeps all output in memory (tests).
class StringChardev : public Chardev {
 public:
  void write(std::span<const uint8_t> data) override { out_.append(data.begin(), data.end()); }
  const std::string& output() const { return out_; }

 private:
  std::string out_;
};

}  // namespace orrery::ui
