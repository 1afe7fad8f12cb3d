#include "hw/core/clock.h"

#include <time.h>

#include <utility>

namespace orrery::hw {

Clock::Clock(ClockSource source) : source_(source) {
  // The virtual clock starts at 0 when the machine is built, as QEMU's does.
  virtual_offset_ = -host_now_locked();
}

int64_t Clock::host_now_locked() const {
  if (source_ == ClockSource::kManual) return manual_ns_;
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int64_t Clock::now(ClockType type) const {
  std::lock_guard<std::mutex> g(mu_);
  const int64_t host = host_now_locked();
  if (type == ClockType::kRealtime) return host;
  return paused_ ? frozen_ : host + virtual_offset_;
}

void Clock::pause() {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (paused_) return;
    frozen_ = host_now_locked() + virtual_offset_;
    paused_ = true;
  }
  notify();
}

void Clock::resume() {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (!paused_) return;
    virtual_offset_ = frozen_ - host_now_locked();
    paused_ = false;
  }
  notify();
}

bool Clock::paused() const {
  std::lock_guard<std::mutex> g(mu_);
  return paused_;
}

void Clock::advance(int64_t ns) {
  if (source_ != ClockSource::kManual || ns <= 0) return;
  {
    std::lock_guard<std::mutex> g(mu_);
    manual_ns_ += ns;
  }
  notify();
}

int64_t Clock::host_wait_ns(ClockType type, int64_t deadline) const {
  std::lock_guard<std::mutex> g(mu_);
  const int64_t host = host_now_locked();
  const bool is_virtual = type == ClockType::kVirtual;
  const int64_t now = !is_virtual ? host : paused_ ? frozen_ : host + virtual_offset_;
  if (deadline <= now) return 0;
  if (source_ == ClockSource::kManual || (is_virtual && paused_)) return -1;
  return deadline - now;  // both clocks run at the host's rate
}

int Clock::add_listener(std::function<void()> fn) {
  std::lock_guard<std::mutex> g(listeners_mu_);
  const int id = next_listener_++;
  listeners_.emplace(id, std::move(fn));
  return id;
}

void Clock::remove_listener(int id) {
  std::lock_guard<std::mutex> g(listeners_mu_);
  listeners_.erase(id);
}

void Clock::notify() {
  std::lock_guard<std::mutex> g(listeners_mu_);
  for (auto& [id, fn] : listeners_) fn();
}

}  // namespace orrery::hw
