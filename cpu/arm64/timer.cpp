#include "cpu/arm64/timer.h"

#include <limits>

namespace orrery::cpu::arm64 {

namespace {
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
constexpr uint64_t kEnable = 1, kImask = 2;
}  // namespace

GenericTimer::GenericTimer(uint64_t frequency_hz, hw::EventLoop& loop, int64_t epoch_ns)
    : frequency_(frequency_hz),
      clock_(loop.clock()),
      epoch_ns_(epoch_ns),
      deadline_(loop, hw::ClockType::kVirtual, [this] { fire(); }) {}

uint64_t GenericTimer::counter_at(int64_t now_ns) const {
  int64_t ns = now_ns - epoch_ns_;
  if (ns < 0) ns = 0;
  return uint64_t((unsigned __int128)uint64_t(ns) * frequency_ / 1'000'000'000u);
}

int64_t GenericTimer::time_of_count(uint64_t count) const {
  const unsigned __int128 ns =
      ((unsigned __int128)count * 1'000'000'000u + frequency_ - 1) / frequency_;
  if (ns > (unsigned __int128)(kNever - epoch_ns_)) return kNever;  // beyond any lifetime
  return epoch_ns_ + int64_t(ns);
}

void GenericTimer::evaluate_locked(int64_t now_ns) {
  const uint64_t now = counter_at(now_ns);
  int64_t next = kNever;
  for (unsigned i = 0; i < 2; ++i) {
    const Channel& c = ch_[i];
    const bool live = (c.ctl & kEnable) && !(c.ctl & kImask);
    const bool level = live && now >= c.cval;
    if (level != lines_[i].level()) lines_[i].set(level);
    // One already firing needs no wake-up: only a CTL/CVAL write can lower it.
    if (live && !level) next = std::min(next, time_of_count(c.cval));
  }
  if (next == kNever) {
    if (armed_for_ >= 0) deadline_.cancel();
    armed_for_ = -1;
  } else if (next != armed_for_) {
    deadline_.arm_at(next);
    armed_for_ = next;
  }
  next_deadline_.store(next, std::memory_order_release);
}

void GenericTimer::poll() {
  std::lock_guard lk(mu_);
  evaluate_locked(clock_.virtual_ns());
}

void GenericTimer::update(TimerId t, uint64_t ctl, uint64_t cval) {
  std::lock_guard lk(mu_);
  ch_[unsigned(t)] = Channel{ctl, cval};
  evaluate_locked(clock_.virtual_ns());
}

void GenericTimer::fire() {
  std::lock_guard lk(mu_);
  armed_for_ = -1;  // it fired; evaluation re-arms if the counter is not there yet
  evaluate_locked(clock_.virtual_ns());
}

void GenericTimer::reset(int64_t epoch_ns) {
  std::lock_guard lk(mu_);
  epoch_ns_ = epoch_ns;
  ch_[0] = ch_[1] = Channel{};
  evaluate_locked(clock_.virtual_ns());
}

}  // namespace orrery::cpu::arm64
