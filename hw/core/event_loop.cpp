#include "hw/core/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <tuple>
#include <utility>

#include "hw/core/thread_name.h"

namespace orrery::hw {

struct EventLoop::FdEntry {
  int fd;
  uint64_t key;
  uint32_t interest;
  FdHandler handler;
};

struct EventLoop::TimerEntry {
  ClockType type;
  std::function<void()> handler;
  bool armed = false;
  int64_t deadline = 0;
  uint64_t seq = 0;  // orders timers with equal deadlines by when they were armed
};

namespace {

/// now + wait for a non-negative wait, saturating: a timer centuries away (a guest may set
/// one) is "never", not an overflow into the past.
int64_t deadline_after(int64_t now, int64_t wait) {
  return wait > INT64_MAX - now ? INT64_MAX : now + wait;
}

constexpr uint64_t kWakeKey = 0;

uint32_t to_epoll(uint32_t interest) {
  uint32_t e = 0;
  if (interest & kFdRead) e |= EPOLLIN;
  if (interest & kFdWrite) e |= EPOLLOUT;
  if (interest & kFdPriority) e |= EPOLLPRI;
  return e;
}

uint32_t from_epoll(uint32_t e) {
  uint32_t r = 0;
  if (e & (EPOLLIN | EPOLLRDHUP)) r |= kFdRead;
  if (e & EPOLLOUT) r |= kFdWrite;
  if (e & EPOLLPRI) r |= kFdPriority;
  if (e & EPOLLERR) r |= kFdError;
  if (e & EPOLLHUP) r |= kFdHangup;
  return r;
}

}  // namespace

EventLoop::EventLoop(Clock& clock) : clock_(clock) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  wakefd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeKey;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev);
  // Pause, resume or a manual advance can make a timer due (or not) without any fd activity.
  clock_listener_ = clock_.add_listener([this] { wake(); });
}

EventLoop::~EventLoop() {
  stop();
  clock_.remove_listener(clock_listener_);
  close(wakefd_);
  close(epfd_);
}

void EventLoop::wake() {
  const uint64_t one = 1;
  // EAGAIN means the counter is already non-zero, which wakes the loop just as well.
  [[maybe_unused]] ssize_t n = write(wakefd_, &one, sizeof one);
}

void EventLoop::wait_not_dispatching(std::unique_lock<std::mutex>& lock, uint64_t id) {
  if (on_loop_thread()) return;
  dispatch_done_.wait(lock, [&] { return dispatching_ != id; });
}

bool EventLoop::add_fd(int fd, uint32_t interest, FdHandler handler) {
  std::lock_guard<std::mutex> g(mu_);
  if (fds_.count(fd)) {
    errno = EEXIST;
    return false;
  }
  auto entry = std::make_shared<FdEntry>(FdEntry{fd, next_id_++, interest, std::move(handler)});
  epoll_event ev{};
  ev.events = to_epoll(interest);
  ev.data.u64 = entry->key;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) return false;
  fds_.emplace(fd, entry);
  fd_keys_.emplace(entry->key, std::move(entry));
  return true;
}

bool EventLoop::modify_fd(int fd, uint32_t interest) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = fds_.find(fd);
  if (it == fds_.end()) {
    errno = ENOENT;
    return false;
  }
  FdEntry& e = *it->second;
  e.interest = interest;
  epoll_event ev{};
  ev.events = to_epoll(interest);
  ev.data.u64 = e.key;
  if (epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0) return true;
  // epoll drops a closed file silently; a new file under the same number needs adding again.
  return errno == ENOENT && epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

void EventLoop::remove_fd(int fd) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = fds_.find(fd);
  if (it == fds_.end()) return;
  const uint64_t key = it->second->key;
  fd_keys_.erase(key);
  fds_.erase(it);
  epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);  // fails harmlessly if fd was closed already
  wait_not_dispatching(lock, key);
}

TimerId EventLoop::add_timer(ClockType type, std::function<void()> handler) {
  std::lock_guard<std::mutex> g(mu_);
  const TimerId id = next_id_++;
  auto entry = std::make_shared<TimerEntry>();
  entry->type = type;
  entry->handler = std::move(handler);
  timers_.emplace(id, std::move(entry));
  return id;
}

void EventLoop::arm_timer(TimerId id, int64_t deadline_ns) {
  bool wake_needed;
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = timers_.find(id);
    if (it == timers_.end()) return;
    TimerEntry& t = *it->second;
    t.armed = true;
    t.deadline = deadline_ns;
    t.seq = ++arm_seq_;
    // Wake the loop only if it may be sleeping past the new deadline.
    const int64_t wait = clock_.host_wait_ns(t.type, deadline_ns);
    wake_needed = wait < 0 || deadline_after(clock_.realtime_ns(), wait) < sleeping_until_;
  }
  if (wake_needed && !on_loop_thread()) wake();
}

void EventLoop::cancel_timer(TimerId id) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = timers_.find(id);
  if (it != timers_.end()) it->second->armed = false;
}

bool EventLoop::timer_armed(TimerId id) const {
  std::lock_guard<std::mutex> g(mu_);
  auto it = timers_.find(id);
  return it != timers_.end() && it->second->armed;
}

void EventLoop::remove_timer(TimerId id) {
  std::unique_lock<std::mutex> lock(mu_);
  if (timers_.erase(id) == 0) return;
  wait_not_dispatching(lock, id);
}

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> g(mu_);
    posted_.push_back(std::move(fn));
  }
  wake();
}

void EventLoop::start() {
  std::lock_guard<std::mutex> g(thread_mu_);
  if (thread_.joinable()) {
    if (!stop_requested_) return;  // running
    thread_.join();                // stopped from a handler; collect it before restarting
  }
  stop_requested_ = false;
  thread_ = std::thread([this] {
    name_this_thread("event loop");
    loop_thread_ = std::this_thread::get_id();
    while (!stop_requested_) run_once(-1);
    loop_thread_ = std::thread::id();
  });
}

void EventLoop::stop() {
  stop_requested_ = true;
  wake();
  if (on_loop_thread()) return;  // the thread leaves its loop when this handler returns
  std::lock_guard<std::mutex> g(thread_mu_);
  if (thread_.joinable()) thread_.join();
}

int64_t EventLoop::next_timeout_ns_locked() const {
  if (!posted_.empty()) return 0;
  int64_t best = -1;
  for (const auto& [id, t] : timers_) {
    if (!t->armed) continue;
    const int64_t w = clock_.host_wait_ns(t->type, t->deadline);
    if (w >= 0 && (best < 0 || w < best)) best = w;
  }
  return best;
}

int EventLoop::run_once(int64_t timeout_ns) {
  const auto self = std::this_thread::get_id();
  const bool driven = loop_thread_.load() != self;
  if (driven) {
    std::lock_guard<std::mutex> g(thread_mu_);
    if (thread_.joinable() && !stop_requested_) return -1;
    loop_thread_ = self;
  }

  int64_t wait_ns;
  {
    std::lock_guard<std::mutex> g(mu_);
    wait_ns = next_timeout_ns_locked();
    if (timeout_ns >= 0 && (wait_ns < 0 || timeout_ns < wait_ns)) wait_ns = timeout_ns;
    sleeping_until_ = wait_ns < 0 ? INT64_MAX : deadline_after(clock_.realtime_ns(), wait_ns);
  }
  epoll_event events[64];
  int n = wait_events(events, 64, wait_ns);
  {
    std::lock_guard<std::mutex> g(mu_);
    sleeping_until_ = INT64_MIN;  // awake: the next round recomputes its wait
  }
  if (n < 0) n = 0;  // EINTR: timers and posts below still run
  int ran = 0;
  for (int i = 0; i < n; ++i) {
    if (events[i].data.u64 == kWakeKey) {
      uint64_t count;
      [[maybe_unused]] ssize_t r = read(wakefd_, &count, sizeof count);
      continue;
    }
    ran += run_fd(events[i].data.u64, events[i].events);
  }
  ran += run_due_timers();
  ran += run_posted();

  if (driven) loop_thread_ = std::thread::id();
  return ran;
}

int EventLoop::wait_events(epoll_event* events, int max, int64_t wait_ns) {
  if (!no_pwait2_.load(std::memory_order_relaxed)) {
    timespec ts{wait_ns / 1'000'000'000, wait_ns % 1'000'000'000};
    const int n = epoll_pwait2(epfd_, events, max, wait_ns < 0 ? nullptr : &ts, nullptr);
    if (n >= 0 || errno != ENOSYS) return n;
    no_pwait2_ = true;  // a kernel before 5.11: millisecond waits
  }
  // Round up so a timer is never polled for before it is due (which would spin).
  const int ms =
      wait_ns < 0 ? -1 : int(std::min<int64_t>((wait_ns + 999'999) / 1'000'000, 1 << 30));
  return epoll_wait(epfd_, events, max, ms);
}

int EventLoop::run_fd(uint64_t key, uint32_t epoll_events) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = fd_keys_.find(key);
  if (it == fd_keys_.end()) return 0;           // removed by an earlier handler in this round
  std::shared_ptr<FdEntry> entry = it->second;  // keeps the handler alive if it removes itself
  dispatching_ = key;
  lock.unlock();
  entry->handler(from_epoll(epoll_events));
  lock.lock();
  dispatching_ = 0;
  dispatch_done_.notify_all();
  return 1;
}

int EventLoop::run_due_timers() {
  // Timers due at the start of the round fire in deadline order; one re-armed into the past by
  // a handler fires in the next round, so a handler cannot starve the loop.
  std::vector<std::tuple<int64_t, uint64_t, TimerId>> due;
  {
    std::lock_guard<std::mutex> g(mu_);
    for (const auto& [id, t] : timers_) {
      if (t->armed && clock_.host_wait_ns(t->type, t->deadline) == 0)
        due.emplace_back(t->deadline, t->seq, id);
    }
  }
  std::sort(due.begin(), due.end());
  int ran = 0;
  for (const auto& [deadline, seq, id] : due) {
    std::unique_lock<std::mutex> lock(mu_);
    auto it = timers_.find(id);
    // Skip a timer that an earlier handler cancelled, removed or re-armed.
    if (it == timers_.end() || !it->second->armed || it->second->seq != seq) continue;
    std::shared_ptr<TimerEntry> t = it->second;
    t->armed = false;
    dispatching_ = id;
    lock.unlock();
    t->handler();
    lock.lock();
    dispatching_ = 0;
    dispatch_done_.notify_all();
    ++ran;
  }
  return ran;
}

int EventLoop::run_posted() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> g(mu_);
    batch.swap(posted_);
  }
  for (auto& fn : batch) fn();
  return int(batch.size());
}

}  // namespace orrery::hw
