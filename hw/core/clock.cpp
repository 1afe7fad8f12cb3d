#include "hw/core/clock.h"

#include <time.h>

#include <utility>

namespace orrery::hw {

Clock::Clock(ClockSource source) : source_(source) {
  // The virtual clock starts at 0 when the machine is built, as QEMU's does.
  virtual_offset_.store(-host_now(), std::memory_order_relaxed);
}

int64_t Clock::host_now() const {
  if (source_ == ClockSource::kManual) return manual_ns_.load(std::memory_order_relaxed);
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void Clock::write_begin() {
  seq_.fetch_add(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
}

void Clock::write_end() {
  seq_.fetch_add(1, std::memory_order_release);
}

Clock::Snapshot Clock::read() const {
  for (;;) {
    const uint64_t before = seq_.load(std::memory_order_acquire);
    if (before & 1) continue;  // a writer is between write_begin and write_end
    Snapshot s;
    s.host = host_now();
    s.offset = virtual_offset_.load(std::memory_order_relaxed);
    s.frozen = frozen_.load(std::memory_order_relaxed);
    s.paused = paused_.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (seq_.load(std::memory_order_relaxed) == before) return s;
  }
}

int64_t Clock::now(ClockType type) const {
  const Snapshot s = read();
  if (type == ClockType::kRealtime) return s.host;
  return s.paused ? s.frozen : s.host + s.offset;
}

void Clock::pause() {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (paused_.load(std::memory_order_relaxed)) return;
    write_begin();
    frozen_.store(host_now() + virtual_offset_.load(std::memory_order_relaxed),
                  std::memory_order_relaxed);
    paused_.store(true, std::memory_order_relaxed);
    write_end();
  }
  notify();
}

void Clock::resume() {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (!paused_.load(std::memory_order_relaxed)) return;
    write_begin();
    virtual_offset_.store(frozen_.load(std::memory_order_relaxed) - host_now(),
                          std::memory_order_relaxed);
    paused_.store(false, std::memory_order_relaxed);
    write_end();
  }
  notify();
}

bool Clock::paused() const {
  return read().paused;
}

void Clock::advance(int64_t ns) {
  if (source_ != ClockSource::kManual || ns <= 0) return;
  {
    std::lock_guard<std::mutex> g(mu_);
    write_begin();
    manual_ns_.fetch_add(ns, std::memory_order_relaxed);
    write_end();
  }
  notify();
}

int64_t Clock::host_wait_ns(ClockType type, int64_t deadline) const {
  const Snapshot s = read();
  const bool is_virtual = type == ClockType::kVirtual;
  const int64_t now = !is_virtual ? s.host : s.paused ? s.frozen : s.host + s.offset;
  if (deadline <= now) return 0;
  if (source_ == ClockSource::kManual || (is_virtual && s.paused)) return -1;
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
