#include "machine/run_loop.h"

#include <string>
#include <thread>
#include <vector>

#include "cpu/common/accel.h"
#include "cpu/common/vcpu.h"
#include "hw/core/address_space.h"
#include "hw/core/clock.h"
#include "hw/core/log.h"
#include "hw/core/thread_name.h"
#include "machine/machine.h"

namespace orrery::machine {

namespace {

/// vCPU messages carry the terminal prefix; the caller adds its own.
std::string strip_prefix(std::string msg) {
  constexpr std::string_view kPrefix = "orrery: ";
  if (msg.compare(0, kPrefix.size(), kPrefix) == 0) msg.erase(0, kPrefix.size());
  return msg;
}

}  // namespace

RunLoop::RunLoop(std::string_view board, MachineContext& ctx, cpu::Accelerator& accel,
                 hw::AddressSpace& memory)
    : board_(board), ctx_(ctx), accel_(accel), memory_(memory) {
  memory_.set_write_observer(accel_.write_observer());
  // Region changes flush every vCPU's TLB (TCG).
  if (hw::MemoryListener* l = accel_.memory_listener()) memory_.add_listener(l);
  // Guest time stands still while a debugger holds the machine: timers run on the virtual
  // clock, so a long stop does not make every timer expire at once.
  accel_.set_debug_stop_listener([&clock = ctx_.clock](bool stopped) {
    if (stopped)
      clock.pause();
    else
      clock.resume();
  });
}

RunLoop::~RunLoop() {
  if (ram_mapped_)
    if (hw::RamListener* l = accel_.ram_listener()) memory_.remove_ram_listener(l);
  accel_.set_code_full_hook(nullptr);
  accel_.set_debug_stop_listener({});
  ctx_.clock.resume();
}

int RunLoop::fail(std::string message) {
  error_ = std::move(message);
  return 1;
}

void RunLoop::post(Event e, std::string message, int status) {
  std::lock_guard<std::mutex> g(mu_);
  // The first event of a run wins, except that a code flush gives way to any other: a vCPU may
  // power off, reset or fail while the others are being stopped for the flush, and that must
  // not be lost (reset flushes anyway).
  if (event_ == Event::None || (event_ == Event::FlushCode && e != Event::FlushCode)) {
    event_ = e;
    event_message_ = std::move(message);
    event_status_ = status;
  }
  cv_.notify_all();
}

void RunLoop::guest_exit(int status) {
  post(Event::GuestExit, {}, status);
}

void RunLoop::power_off() {
  post(Event::PowerOff);
}

void RunLoop::request_stop(int exit_status) {
  std::lock_guard<std::mutex> g(mu_);
  if (stop_requested_) return;
  stop_requested_ = true;
  stop_status_ = exit_status;
  if (event_ == Event::None) event_ = Event::Stop;
  cv_.notify_all();
}

void RunLoop::vcpu_thread(cpu::Vcpu& v) {
  for (;;) {
    const cpu::ExitKind k = v.run();
    switch (k) {
      case cpu::ExitKind::Kicked:
        // Kicks are sticky, so one sent before run() started still ends up here.
        if (stopping_.load()) return;
        continue;
      case cpu::ExitKind::Halted:  // no debugger decides; WFI/HLT sleep inside run()
      case cpu::ExitKind::Step:
        continue;
      case cpu::ExitKind::Shutdown:
        post(Event::PowerOff);
        return;
      case cpu::ExitKind::Reset:
        post(Event::Reset);
        return;
      case cpu::ExitKind::Breakpoint:
      case cpu::ExitKind::Watchpoint:
      case cpu::ExitKind::Error: {
        std::string msg = strip_prefix(v.exit_message());
        if (msg.empty()) msg = "vCPU stopped: " + std::string(cpu::exit_kind_name(k));
        post(Event::Error, msg);
        return;
      }
    }
  }
}

int RunLoop::run(std::span<cpu::Vcpu* const> vcpus, bool no_reboot,
                 const std::function<std::string()>& reset) {
  if (!ram_mapped_) {
    // Every RAM and ROM region exists once the boot images are placed; the accelerator
    // follows later changes (PAM, BARs) itself.
    if (hw::RamListener* l = accel_.ram_listener()) {
      memory_.add_ram_listener(l);
      ram_mapped_ = true;
      if (std::string err = accel_.ram_error(); !err.empty()) return fail(err);
    }
  }
  accel_.set_code_full_hook([this] { post(Event::FlushCode); });
  for (;;) {
    {
      std::lock_guard<std::mutex> g(mu_);
      if (stop_requested_) return stop_status_;
      event_ = Event::None;
    }
    stopping_.store(false);
    // One host thread per vCPU; this thread waits for the first event that ends the run.
    std::vector<std::thread> threads;
    for (size_t i = 0; i < vcpus.size(); ++i)
      threads.emplace_back([this, v = vcpus[i], i] {
        hw::name_this_thread(("vcpu " + std::to_string(i)).c_str());
        vcpu_thread(*v);
      });
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return event_ != Event::None; });
    }
    stopping_.store(true);
    for (cpu::Vcpu* v : vcpus) v->kick();
    for (auto& t : threads) t.join();
    Event e;
    std::string message;
    int status;
    {
      std::lock_guard<std::mutex> g(mu_);
      if (stop_requested_) return stop_status_;
      // With every vCPU joined the event is final (a weightier one may have replaced a flush).
      e = event_;
      message = event_message_;
      status = event_status_;
    }
    switch (e) {
      case Event::None:
      case Event::PowerOff:
        return 0;
      case Event::Stop:
        return stop_status_;
      case Event::GuestExit:
        return status;
      case Event::Error:
        return fail(message);
      case Event::FlushCode:
        // The code cache is full: with every vCPU stopped, drop all translations and run on
        // (they are retranslated as they run again).
        ctx_.log.log(hw::kLogTier, "%s: code cache full, flushing translations\n", board_.c_str());
        accel_.flush_code();
        break;
      case Event::Reset: {
        if (no_reboot) return 0;
        ctx_.log.log(hw::kLogInt, "%s: system reset\n", board_.c_str());
        // Like a power cycle without clearing RAM: the board resets its devices and places its
        // images again; translations go first (the reloaded kernel is written behind the
        // softmmu's back).
        accel_.flush_code();
        if (std::string err = reset(); !err.empty()) return fail("reset: " + err);
        break;
      }
    }
  }
}

}  // namespace orrery::machine
