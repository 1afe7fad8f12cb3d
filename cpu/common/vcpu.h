// What every vCPU is, whatever runs it (TCG or KVM): something the board runs on a thread and
// can interrupt. run() returns when the board or the user must decide something.
#pragma once

#include <string>
#include <string_view>

namespace orrery::cpu {

/// Why Vcpu::run returned.
enum class ExitKind {
  Halted,      // waiting for an interrupt that nothing can deliver (WFI with no interrupt source)
  Shutdown,    // the guest powered off (exit_status() holds its status)
  Reset,       // the guest asked for a system reset
  Breakpoint,  // a breakpoint (guest BRK, or a debugger's) was hit; the PC is at it
  Watchpoint,  // a debugger watchpoint was hit
  Step,        // a single step completed
  Kicked,      // kick() was called
  Error,       // Orrery cannot continue this vCPU; exit_message() says why
};

std::string_view exit_kind_name(ExitKind k);

class Vcpu {
 public:
  virtual ~Vcpu() = default;
  /// Runs the guest until something needs attention.
  virtual ExitKind run() = 0;
  /// Asks run() to return soon with ExitKind::Kicked; safe from any thread.
  virtual void kick() = 0;

  /// The guest's exit status after ExitKind::Shutdown (0 unless the board set one).
  int exit_status() const { return exit_status_; }
  /// One line for the user after ExitKind::Error (and a note for other kinds), or empty.
  const std::string& exit_message() const { return exit_message_; }

 protected:
  int exit_status_ = 0;
  std::string exit_message_;
};

}  // namespace orrery::cpu
