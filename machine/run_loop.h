// The board run loop every board shares, whatever accelerator runs its vCPUs: one host thread
// per vCPU, the first event that ends a run (power-off, reset, error, a requested stop, a
// guest's exit status, a full code cache) stops them all, and this thread acts on it. It also
// binds the accelerator to the board's guest memory and stops the virtual clock while a
// debugger holds the vCPUs.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

namespace orrery::hw {
class AddressSpace;
class Clock;
class Log;
}  // namespace orrery::hw

namespace orrery::cpu {
class Accelerator;
class Vcpu;
}  // namespace orrery::cpu

namespace orrery::machine {

struct MachineContext;

class RunLoop {
 public:
  /// From now on accel hears of guest writes and memory views of memory (TCG) and of the
  /// debugger's stops. board names the board in log lines.
  RunLoop(std::string_view board, MachineContext& ctx, cpu::Accelerator& accel,
          hw::AddressSpace& memory);
  /// Stops the accelerator following memory (the accelerator outlives the board).
  ~RunLoop();
  RunLoop(const RunLoop&) = delete;
  RunLoop& operator=(const RunLoop&) = delete;

  /// Runs vcpus until the guest powers off or exits, a stop request, or an error; returns
  /// Orrery's exit status (error() says why on failure). On a guest reset, with every vCPU
  /// stopped and translations dropped, it calls reset (error or empty) and runs on; with
  /// no_reboot a reset ends the run with status 0.
  int run(std::span<cpu::Vcpu* const> vcpus, bool no_reboot,
          const std::function<std::string()>& reset);
  /// Makes run() return exit_status soon (or at once if it has not started). Thread-safe.
  void request_stop(int exit_status);
  /// The guest asks to end the run with status (isa-debug-exit). Any thread.
  void guest_exit(int status);
  /// A device powered the machine off (ACPI S5): run() returns 0. Any thread.
  void power_off();
  /// Records why the board cannot run; returns 1.
  int fail(std::string message);
  const std::string& error() const { return error_; }

 private:
  enum class Event : uint8_t { None, PowerOff, Reset, Error, Stop, GuestExit, FlushCode };

  void post(Event e, std::string message = {}, int status = 0);
  void vcpu_thread(cpu::Vcpu& v);

  std::string board_;
  MachineContext& ctx_;
  cpu::Accelerator& accel_;
  hw::AddressSpace& memory_;
  bool ram_mapped_ = false;  // the accelerator follows the RAM (its ram_listener)
  std::string error_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stopping_{false};  // vCPU threads must return
  Event event_ = Event::None;
  std::string event_message_;
  int event_status_ = 0;
  bool stop_requested_ = false;
  int stop_status_ = 0;
};

}  // namespace orrery::machine
