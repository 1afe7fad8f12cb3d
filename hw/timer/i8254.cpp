#include "hw/timer/i8254.h"

#include <algorithm>

namespace orrery::hw::timer {

namespace {

constexpr int64_t kNsPerSec = 1'000'000'000;

/// Whole PIT clocks in ns nanoseconds of virtual time (ns >= 0).
int64_t ns_to_tick(int64_t ns) {
  return int64_t(static_cast<__int128>(ns) * I8254::kClockHz / kNsPerSec);
}
/// The first nanosecond at which tick t has happened.
int64_t tick_to_ns(int64_t t) {
  return int64_t((static_cast<__int128>(t) * kNsPerSec + I8254::kClockHz - 1) / I8254::kClockHz);
}

uint16_t to_bcd(uint32_t v) {
  return uint16_t((v % 10) | (v / 10 % 10) << 4 | (v / 100 % 10) << 8 | (v / 1000 % 10) << 12);
}
uint32_t from_bcd(uint16_t v) {
  // Digits above 9 are not BCD; the counter takes them at their binary weight.
  return (v & 0xf) + (v >> 4 & 0xf) * 10 + (v >> 8 & 0xf) * 100 + (v >> 12 & 0xf) * 1000;
}

}  // namespace

I8254::I8254(Log& log, EventLoop& loop)
    : log_(log), loop_(loop), timer_(loop, ClockType::kVirtual, [this] { on_timer(); }) {
  reset();
}

I8254::~I8254() = default;

int64_t I8254::now_tick() const {
  return ns_to_tick(loop_.clock().virtual_ns());
}

void I8254::reset() {
  std::lock_guard<std::mutex> g(mu_);
  const int64_t now = now_tick();
  p61_ = 0;
  irq_enabled_ = true;
  // As QEMU resets it (the guest-visible reference; the datasheet leaves it undefined): every
  // counter in mode 3 with a count of 65536 (18.2 Hz), gates 0 and 1 high and 2 low.
  for (unsigned i = 0; i < kCounters; ++i) {
    Counter& c = counters_[i];
    c = Counter{};
    c.cw = 3 << kCwRwShift | 3 << kCwModeShift;
    c.mode = 3;
    c.gate = i != 2;
    load(c, 0, now);
  }
  update_irq(now);
}

int64_t I8254::elapsed(const Counter& c, int64_t now) const {
  return c.running ? now - c.start : c.frozen;
}

uint32_t I8254::value(const Counter& c, int64_t now) const {
  const int64_t modulus = c.bcd ? 10000 : 65536;
  if (!c.triggered) return c.hold % modulus;
  const int64_t d = elapsed(c, now);
  const int64_t n = c.count;
  switch (c.mode) {
    case 2:
      return uint32_t((n - d % n) % modulus);  // n..1, never 0
    case 3: {
      // Decrements by two: the high half of an odd count lasts one clock longer.
      const int64_t p = d % n, high = (n + 1) / 2;
      const int64_t v = (n & ~int64_t(1)) - 2 * (p < high ? p : p - high);
      return uint32_t(((v % modulus) + modulus) % modulus);
    }
    default:  // 0, 1, 4, 5: count down and wrap
      return uint32_t((((n - d) % modulus) + modulus) % modulus);
  }
}

bool I8254::out_at(const Counter& c, int64_t d) const {
  const int64_t n = c.count;
  switch (c.mode) {
    case 0:
    case 1:
      return d >= n;  // goes high at terminal count
    case 2:
      return n < 2 || d % n != n - 1;  // low for the clock in which the count is 1
    case 3:
      return d % n < (n + 1) / 2;
    default:  // 4, 5: a one-clock low strobe after terminal count
      return d != n;
  }
}

bool I8254::out_now(const Counter& c, int64_t now) const {
  if (!c.triggered) return c.mode != 0;  // mode 0 goes low at the control word and first byte
  if ((c.mode == 2 || c.mode == 3) && !c.running) return true;  // a low gate forces OUT high
  return out_at(c, elapsed(c, now));
}

int64_t I8254::next_change(const Counter& c, int64_t d) const {
  const int64_t n = c.count;
  switch (c.mode) {
    case 0:
    case 1:
      return d < n ? n : -1;
    case 2: {
      if (n < 2) return -1;
      const int64_t p = d % n;
      return p < n - 1 ? d + (n - 1 - p) : d + 1;
    }
    case 3: {
      const int64_t p = d % n, high = (n + 1) / 2;
      if (high == n) return -1;  // a count of 1 never goes low
      return p < high ? d + (high - p) : d + (n - p);
    }
    default:
      return d < n ? n : d == n ? n + 1 : -1;
  }
}

void I8254::latch_count(Counter& c, int64_t now) {
  if (c.count_latched) return;  // a second latch before the first is read is ignored
  const uint32_t v = value(c, now);
  c.latched = c.bcd ? to_bcd(v) : uint16_t(v);
  c.count_latched = true;
  c.latch_msb = false;
}

void I8254::latch_status(Counter& c, int64_t now) {
  if (c.status_latched) return;
  c.status = uint8_t((out_now(c, now) ? kStOutput : 0) | (c.null_count ? kStNullCount : 0) | c.cw);
  c.status_latched = true;
}

void I8254::write_control(uint8_t v, int64_t now) {
  const unsigned sc = v >> kCwSelectShift;
  if (sc == kCwReadBack) {
    for (unsigned i = 0; i < kCounters; ++i) {
      if (!(v & (2u << i))) continue;
      if (!(v & kRbNoCount)) latch_count(counters_[i], now);
      if (!(v & kRbNoStatus)) latch_status(counters_[i], now);
    }
    return;
  }
  Counter& c = counters_[sc];
  const uint8_t rw = v >> kCwRwShift & 3;
  if (rw == 0) {  // counter latch command
    latch_count(c, now);
    return;
  }
  c.hold = uint16_t(value(c, now));
  c.cw = v & 0x3f;
  c.rw = rw;
  c.mode = v >> kCwModeShift & 7;
  if (c.mode > 5) c.mode -= 4;  // 6 and 7 are modes 2 and 3
  c.bcd = (v & kCwBcd) != 0;
  c.loaded = c.triggered = c.running = false;
  c.null_count = true;
  c.write_msb = c.read_msb = false;
  if (sc == 0) update_irq(now);
}

void I8254::load(Counter& c, uint16_t raw, int64_t now) {
  uint32_t n = c.bcd ? from_bcd(raw) : raw;
  if (n == 0) n = c.bcd ? 10000 : 65536;
  c.count = n;
  c.loaded = true;
  c.null_count = false;  // the count reaches the counting element on the next clock
  switch (c.mode) {
    case 0:
    case 4:
      c.triggered = true;
      c.running = c.gate;
      c.start = now;
      c.frozen = 0;
      break;
    case 2:
    case 3:
      c.triggered = c.running = c.gate;
      c.start = now;
      c.frozen = 0;
      break;
    default:  // 1, 5: counting starts at the next rising edge of GATE
      break;
  }
}

void I8254::write_count(Counter& c, uint8_t v, int64_t now) {
  switch (c.rw) {
    case 1:
      load(c, v, now);
      break;
    case 2:
      load(c, uint16_t(v << 8), now);
      break;
    default:
      if (!c.write_msb) {
        c.write_lsb = v;
        c.write_msb = true;
        if (c.mode == 0) {  // the first byte of a new count stops a mode 0 counter
          c.hold = uint16_t(value(c, now));
          c.triggered = c.running = c.loaded = false;
        }
      } else {
        c.write_msb = false;
        load(c, uint16_t(c.write_lsb | v << 8), now);
      }
      break;
  }
}

uint8_t I8254::read_counter(Counter& c, int64_t now) {
  if (c.status_latched) {
    c.status_latched = false;
    return c.status;
  }
  uint16_t v;
  bool msb;
  if (c.count_latched) {
    v = c.latched;
    msb = c.rw == 2 || (c.rw == 3 && c.latch_msb);
    if (c.rw == 3 && !c.latch_msb) {
      c.latch_msb = true;
    } else {
      c.count_latched = false;
      c.latch_msb = false;
    }
  } else {
    const uint32_t b = value(c, now);
    v = c.bcd ? to_bcd(b) : uint16_t(b);
    msb = c.rw == 2 || (c.rw == 3 && c.read_msb);
    if (c.rw == 3) c.read_msb = !c.read_msb;
  }
  return uint8_t(msb ? v >> 8 : v);
}

void I8254::gate_locked(unsigned i, bool level, int64_t now) {
  Counter& c = counters_[i];
  if (c.gate == level) return;
  c.gate = level;
  switch (c.mode) {
    case 0:
    case 4:  // the gate enables counting
      if (!c.triggered) break;
      if (!level) {
        c.frozen = now - c.start;
        c.running = false;
      } else {
        c.start = now - c.frozen;
        c.running = true;
      }
      break;
    case 2:
    case 3:  // low stops counting; a rising edge reloads
      if (!level) {
        if (c.running) c.frozen = now - c.start;
        c.running = false;
        break;
      }
      [[fallthrough]];
    default:  // 1, 5: a rising edge (re)triggers
      if (level && c.loaded) {
        c.triggered = c.running = true;
        c.start = now;
      }
      break;
  }
  if (i == 0) update_irq(now);
}

void I8254::set_gate(unsigned counter, bool level) {
  if (counter >= kCounters) return;
  std::lock_guard<std::mutex> g(mu_);
  gate_locked(counter, level, now_tick());
}

bool I8254::out(unsigned counter) {
  if (counter >= kCounters) return false;
  std::lock_guard<std::mutex> g(mu_);
  return out_now(counters_[counter], now_tick());
}

void I8254::set_irq_enabled(bool enabled) {
  std::lock_guard<std::mutex> g(mu_);
  irq_enabled_ = enabled;
  update_irq(now_tick());
}

void I8254::update_irq(int64_t now, int64_t not_before_ns) {
  const Counter& c = counters_[0];
  irq0_.set(irq_enabled_ && out_now(c, now));
  const int64_t next =
      irq_enabled_ && c.triggered && c.running ? next_change(c, elapsed(c, now)) : -1;
  irq_due_ = next;
  if (next < 0)
    timer_.cancel();
  else
    timer_.arm_at(std::max(tick_to_ns(c.start + next), not_before_ns));
}

void I8254::on_timer() {
  std::lock_guard<std::mutex> g(mu_);
  const int64_t now = now_tick();
  const Counter& c = counters_[0];
  if (irq_due_ >= 0 && irq_enabled_ && c.triggered && c.running) {
    const int64_t d = now - c.start;
    if (irq_due_ <= d) {
      // Show the change the timer was set for, and the one after it if the loop ran so late
      // that it has passed too (a mode 2 strobe is one clock long), so no edge is lost.
      irq0_.set(out_at(c, irq_due_));
      const int64_t after = next_change(c, irq_due_);
      if (after >= 0 && after <= d) irq0_.set(out_at(c, after));
    }
  }
  update_irq(now, loop_.clock().virtual_ns() + kMinRearmNs);
}

MemResult I8254::read(uint64_t offset, unsigned size, uint64_t& value) {
  (void)size;
  std::lock_guard<std::mutex> g(mu_);
  if (offset >= kCounters) {
    log_.log(kLogGuestErrors, "i8254: read of the write-only control word register\n");
    value = 0;
    return MemResult::Ok;
  }
  value = read_counter(counters_[offset], now_tick());
  return MemResult::Ok;
}

MemResult I8254::write(uint64_t offset, unsigned size, uint64_t value) {
  (void)size;
  std::lock_guard<std::mutex> g(mu_);
  const int64_t now = now_tick();
  if (offset == 3) {
    write_control(uint8_t(value), now);
  } else if (offset < kCounters) {
    write_count(counters_[offset], uint8_t(value), now);
    if (offset == 0) update_irq(now);
  }
  return MemResult::Ok;
}

MemResult I8254::Port61::read(uint64_t offset, unsigned size, uint64_t& value) {
  (void)offset;
  (void)size;
  std::lock_guard<std::mutex> g(pit_.mu_);
  const int64_t ns = pit_.loop_.clock().virtual_ns();
  const bool refresh = (ns / kRefreshNs) & 1;
  const bool out2 = pit_.out_now(pit_.counters_[2], ns_to_tick(ns));
  value = (pit_.p61_ & kP61Writable) | (refresh ? kP61Refresh : 0) | (out2 ? kP61Out2 : 0);
  return MemResult::Ok;
}

MemResult I8254::Port61::write(uint64_t offset, unsigned size, uint64_t value) {
  (void)offset;
  (void)size;
  std::lock_guard<std::mutex> g(pit_.mu_);
  pit_.p61_ = uint8_t(value & kP61Writable);
  pit_.gate_locked(2, (value & kP61Gate2) != 0, pit_.now_tick());
  return MemResult::Ok;
}

}  // namespace orrery::hw::timer
