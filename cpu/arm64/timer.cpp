#include "cpu/arm64/timer.h"

#include <chrono>
#include <limits>

#include "cpu/arm64/helpers.h"

namespace orrery::cpu::arm64 {

namespace {
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
constexpr uint64_t kEnable = 1, kImask = 2;
}  // namespace

GenericTimer::GenericTimer(uint64_t frequency_hz, int64_t epoch_ns)
    : frequency_(frequency_hz), epoch_ns_(epoch_ns) {}

GenericTimer::~GenericTimer() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t GenericTimer::counter_at(int64_t now_ns) const {
  int64_t ns = now_ns - epoch_ns_;
  if (ns < 0) ns = 0;
  return uint64_t((unsigned __int128)uint64_t(ns) * frequency_ / 1'000'000'000u);
}

void GenericTimer::evaluate_locked(int64_t now_ns) {
  const uint64_t now = counter_at(now_ns);
  for (unsigned i = 0; i < 2; ++i) {
    const Channel& c = ch_[i];
    const bool level = (c.ctl & kEnable) && !(c.ctl & kImask) && now >= c.cval;
    if (level != lines_[i].level()) lines_[i].set(level);
  }
}

int64_t GenericTimer::next_deadline_locked(int64_t now_ns) const {
  int64_t best = kNever;
  for (const Channel& c : ch_) {
    if (!(c.ctl & kEnable) || (c.ctl & kImask)) continue;
    // The first host time at which the counter reaches cval (rounded up).
    const unsigned __int128 ns =
        ((unsigned __int128)c.cval * 1'000'000'000u + frequency_ - 1) / frequency_;
    if (ns > (unsigned __int128)(kNever - epoch_ns_)) continue;  // beyond any host lifetime
    const int64_t t = epoch_ns_ + int64_t(ns);
    if (t > now_ns && t < best) best = t;  // one already firing needs no wakeup
  }
  return best;
}

void GenericTimer::update(TimerId t, uint64_t ctl, uint64_t cval) {
  std::unique_lock lk(mu_);
  ch_[unsigned(t)] = Channel{ctl, cval};
  evaluate_locked(host_monotonic_ns());
  if (!thread_.joinable() && (ctl & kEnable)) {
    thread_ = std::thread([this] { thread_main(); });
  }
  lk.unlock();
  cv_.notify_all();
}

void GenericTimer::reset(int64_t epoch_ns) {
  std::lock_guard lk(mu_);
  epoch_ns_ = epoch_ns;
  ch_[0] = ch_[1] = Channel{};
  for (hw::IrqLine& l : lines_)
    if (l.level()) l.set(false);
  cv_.notify_all();
}

void GenericTimer::thread_main() {
  std::unique_lock lk(mu_);
  while (!stop_) {
    const int64_t now = host_monotonic_ns();
    evaluate_locked(now);
    const int64_t deadline = next_deadline_locked(now);
    if (deadline == kNever) {
      cv_.wait(lk);
    } else {
      cv_.wait_until(lk, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline)));
    }
  }
}

}  // namespace orrery::cpu::arm64
