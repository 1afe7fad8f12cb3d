// One epoll event loop for host I/O and timers: network backends (and, in time, other backends)
// register file descriptors and timers here instead of starting their own threads. The loop runs
// on its own thread (start/stop) or is driven by run_once() in tests.
//
// Thread safety: every method may be called from any thread, including from inside a handler.
// Handlers run on the loop thread only, one at a time. remove_fd / remove_timer called off the
// loop thread wait until a handler of that registration already running has returned, so the
// caller may free what the handler uses once they return (a handler must therefore not block
// on a thread that is removing its own registration). Called on the loop thread (from a
// handler) they return at once; the running handler's state stays alive until it returns.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "hw/core/clock.h"

struct epoll_event;

namespace orrery::hw {

/// Readiness bits for fd interest and for what a handler is told.
enum FdEvent : uint32_t {
  kFdRead = 1u << 0,
  kFdWrite = 1u << 1,
  kFdPriority = 1u << 2,  // urgent (out-of-band) data
  kFdError = 1u << 3,     // reported whatever the interest
  kFdHangup = 1u << 4,    // reported whatever the interest
};

using FdHandler = std::function<void(uint32_t events)>;
using TimerId = uint64_t;

class EventLoop {
 public:
  /// Timers use clock; the clock must outlive the loop.
  explicit EventLoop(Clock& clock);
  /// Stops the loop thread. Must not run on the loop thread.
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  Clock& clock() const { return clock_; }

  /// Watches fd (level-triggered) for the kFd* bits in interest. False (errno set) if fd is
  /// already registered or epoll refuses it (a regular file, a closed fd).
  bool add_fd(int fd, uint32_t interest, FdHandler handler);
  /// Changes what a registered fd is watched for. False if fd is not registered.
  bool modify_fd(int fd, uint32_t interest);
  /// Stops watching fd (see the header comment for what it waits for). Unknown fds are ignored.
  void remove_fd(int fd);

  /// A disarmed timer on one of the clock's clocks; arm it with arm_timer.
  TimerId add_timer(ClockType type, std::function<void()> handler);
  /// (Re-)arms a timer to fire once when its clock reaches deadline_ns.
  void arm_timer(TimerId id, int64_t deadline_ns);
  /// Disarms a timer. A handler already running is not waited for.
  void cancel_timer(TimerId id);
  bool timer_armed(TimerId id) const;
  /// Disarms and forgets a timer (waits like remove_fd).
  void remove_timer(TimerId id);

  /// Runs fn on the loop thread soon, after the current round's fd and timer handlers. Posted
  /// functions run in the order posted.
  void post(std::function<void()> fn);

  /// Starts the loop thread (no-op if it runs).
  void start();
  /// Stops the loop thread. From another thread it returns once the thread has exited; from a
  /// handler it returns at once and the thread exits when the handler returns.
  void stop();
  bool on_loop_thread() const { return loop_thread_.load() == std::this_thread::get_id(); }

  /// One round on the calling thread: waits up to timeout_ns host nanoseconds (-1: until
  /// something happens) for an fd, a due timer, a post or a wake-up, then runs the handlers
  /// that are ready. Returns how many ran, or -1 if the loop thread is running.
  int run_once(int64_t timeout_ns);

  /// Interrupts a wait (used by clock listeners and cross-thread calls).
  void wake();

 private:
  struct FdEntry;
  struct TimerEntry;

  int64_t next_timeout_ns_locked() const;
  /// epoll_pwait2 (nanosecond timeouts) where the kernel has it, else epoll_wait.
  int wait_events(::epoll_event* events, int max, int64_t wait_ns);
  int run_fd(uint64_t key, uint32_t epoll_events);
  int run_due_timers();
  int run_posted();
  void wait_not_dispatching(std::unique_lock<std::mutex>& lock, uint64_t id);

  Clock& clock_;
  int clock_listener_ = 0;
  int epfd_ = -1;
  int wakefd_ = -1;

  mutable std::mutex mu_;
  std::condition_variable dispatch_done_;
  std::map<int, std::shared_ptr<FdEntry>> fds_;           // by fd
  std::map<uint64_t, std::shared_ptr<FdEntry>> fd_keys_;  // by registration key (epoll data)
  std::map<TimerId, std::shared_ptr<TimerEntry>> timers_;
  std::vector<std::function<void()>> posted_;
  uint64_t next_id_ = 1;  // fd keys and timer ids share one sequence; 0 is the wake-up eventfd
  uint64_t arm_seq_ = 0;
  // Host time by which the loop wakes on its own (INT64_MAX: it waits for an event;
  // INT64_MIN: it is running handlers and recomputes its wait before sleeping again). A timer
  // armed for later than this needs no wake-up, which spares the loop a context switch each
  // time a vCPU pushes its timer deadline out.
  int64_t sleeping_until_ = INT64_MAX;
  uint64_t dispatching_ = 0;  // the registration whose handler is running, or 0

  std::mutex thread_mu_;
  std::thread thread_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<std::thread::id> loop_thread_{};
  std::atomic<bool> no_pwait2_{false};
};

/// A timer owned by its user: disarmed and removed when destroyed.
class Timer {
 public:
  Timer(EventLoop& loop, ClockType type, std::function<void()> handler)
      : loop_(loop), type_(type), id_(loop.add_timer(type, std::move(handler))) {}
  ~Timer() { loop_.remove_timer(id_); }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  /// Fires once when the timer's clock reaches deadline_ns (re-arming moves the deadline).
  void arm_at(int64_t deadline_ns) { loop_.arm_timer(id_, deadline_ns); }
  /// Fires once delay_ns from now on the timer's clock.
  void arm_in(int64_t delay_ns) { arm_at(loop_.clock().now(type_) + delay_ns); }
  void cancel() { loop_.cancel_timer(id_); }
  bool armed() const { return loop_.timer_armed(id_); }

 private:
  EventLoop& loop_;
  const ClockType type_;
  const TimerId id_;
};

}  // namespace orrery::hw
