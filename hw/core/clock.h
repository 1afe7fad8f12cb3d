// Machine clocks in nanoseconds, after QEMU's: Realtime is the host's monotonic clock and always
// runs; Virtual is the machine's time, which stops while the machine is stopped (debugger, pause)
// and resumes where it left off. A Clock built on ClockSource::kManual never moves by itself: a
// test advances it, so timer tests never sleep.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

namespace orrery::hw {

enum class ClockType { kRealtime, kVirtual };
enum class ClockSource { kHost, kManual };

class Clock {
 public:
  /// kHost reads CLOCK_MONOTONIC; kManual starts at 0 and moves only through advance().
  explicit Clock(ClockSource source = ClockSource::kHost);
  Clock(const Clock&) = delete;
  Clock& operator=(const Clock&) = delete;

  /// Current time on one of the clocks, in nanoseconds. Thread-safe and lock-free.
  int64_t now(ClockType type) const;
  int64_t realtime_ns() const { return now(ClockType::kRealtime); }
  int64_t virtual_ns() const { return now(ClockType::kVirtual); }

  /// Stops the virtual clock (idempotent). Realtime keeps running.
  void pause();
  /// Restarts the virtual clock from the value it had at pause() (idempotent).
  void resume();
  bool paused() const;

  /// Manual clocks only: moves host time forward by ns (the virtual clock follows unless
  /// paused). Ignored on a host clock.
  void advance(int64_t ns);
  bool manual() const { return source_ == ClockSource::kManual; }

  /// How long, in host nanoseconds, until `type` reaches deadline: 0 if it already has, -1 if
  /// waiting on the host cannot get there (a paused virtual clock, or a manual clock).
  int64_t host_wait_ns(ClockType type, int64_t deadline) const;

  /// Called (on the changing thread) after pause, resume or advance, so a waiting event loop
  /// can recompute its deadlines. Returns an id for remove_listener.
  int add_listener(std::function<void()> fn);
  /// After this returns the listener is not running and will not run again.
  void remove_listener(int id);

 private:
  int64_t host_now() const;
  void notify();
  void write_begin();
  void write_end();

  struct Snapshot {
    int64_t host, offset, frozen;
    bool paused;
  };
  // Lock-free for readers (vCPU threads read the counter often): a sequence count, odd while
  // a writer (serialised by mu_) changes the fields below.
  Snapshot read() const;

  const ClockSource source_;
  std::mutex mu_;
  std::atomic<uint64_t> seq_{0};
  std::atomic<int64_t> manual_ns_{0};       // host time of a manual clock
  std::atomic<int64_t> virtual_offset_{0};  // virtual = host + offset while running
  std::atomic<int64_t> frozen_{0};          // virtual time while paused
  std::atomic<bool> paused_{false};

  std::mutex listeners_mu_;  // held while listeners run, so removal waits for them
  std::map<int, std::function<void()>> listeners_;
  int next_listener_ = 1;
};

}  // namespace orrery::hw
