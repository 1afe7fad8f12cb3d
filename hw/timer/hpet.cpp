#include "hw/timer/hpet.h"

#include <algorithm>
#include <limits>

namespace orrery::hw::timer {

Hpet::Hpet(Log& log, EventLoop& loop, std::function<void(bool)> on_legacy, uint32_t route_cap)
    : log_(log), loop_(loop), on_legacy_(std::move(on_legacy)), route_cap_(route_cap) {
  for (unsigned i = 0; i < kTimers; ++i)
    events_[i] = std::make_unique<Timer>(loop, ClockType::kVirtual, [this, i] { on_timer(i); });
  reset();
}

Hpet::~Hpet() {
  for (auto& e : events_) e.reset();  // before the state their handlers use
}

void Hpet::reset() {
  bool was_legacy;
  {
    std::lock_guard<std::mutex> g(mu_);
    was_legacy = (config_ & kLegRtCnf) != 0;
    config_ = isr_ = counter_ = 0;
    for (unsigned i = 0; i < kTimers; ++i) {
      timers_[i] = Comparator{};
      timers_[i].cmp = ~uint64_t(0);  // comparators reset to all ones
      events_[i]->cancel();
    }
    update_lines();
  }
  if (was_legacy && on_legacy_) on_legacy_(false);
}

uint64_t Hpet::counter(int64_t tick) const {
  return config_ & kEnableCnf ? counter_ + uint64_t(tick) : counter_;
}

uint64_t Hpet::timer_config(unsigned i) const {
  return timers_[i].config | kTnPerIntCap | kTnSizeCap | uint64_t(route_cap_) << 32;
}

unsigned Hpet::route(unsigned i) const {
  if ((config_ & kLegRtCnf) && i < 2) return i == 0 ? 0 : 8;
  return unsigned((timers_[i].config & kTnRouteMask) >> kTnRouteShift);
}

void Hpet::update_lines() {
  // A level-triggered timer holds its line while its status bit is set, it is enabled and the
  // counter runs; several timers may share a line.
  bool level[kIrqLines] = {};
  if (config_ & kEnableCnf) {
    for (unsigned i = 0; i < kTimers; ++i) {
      const uint64_t c = timers_[i].config;
      if ((c & kTnIntTypeLevel) && (c & kTnIntEnb) && (isr_ & (1u << i))) level[route(i)] = true;
    }
  }
  for (unsigned n = 0; n < kIrqLines; ++n)
    if (lines_[n].level() != level[n]) lines_[n].set(level[n]);
}

void Hpet::arm_in(unsigned i, int64_t tick, int64_t diff, bool wrap) {
  Comparator& t = timers_[i];
  t.wrap_due = wrap;
  // A 64-bit comparator may lie thousands of years ahead: past what the clock's nanoseconds
  // hold, it never comes due (clamped instead of overflowing into the past).
  const int64_t max_tick = std::numeric_limits<int64_t>::max() / kTickNs;
  t.due_tick = diff > max_tick - tick ? max_tick : tick + diff;
  events_[i]->arm_at(t.due_tick * kTickNs);
}

void Hpet::arm(unsigned i, int64_t tick) {
  Comparator& t = timers_[i];
  t.wrap_due = false;
  t.due_tick = -1;
  if (!(config_ & kEnableCnf)) {
    events_[i]->cancel();
    return;
  }
  const uint64_t now = counter(tick);
  int64_t diff = t.config & kTn32Mode ? int64_t(int32_t(uint32_t(t.cmp) - uint32_t(now)))
                                      : int64_t(t.cmp - now);
  if (diff < 0) diff = 0;  // written in the recent past: due now
  bool wrap = false;
  if ((t.config & kTn32Mode) && !(t.config & kTnPeriodic)) {
    // A 32-bit one-shot comparator also fires when the low half wraps to zero.
    const int64_t to_wrap = int64_t(uint64_t(1) << 32) - int64_t(uint32_t(now));
    if (to_wrap < diff) {
      diff = to_wrap;
      wrap = true;
    }
  }
  arm_in(i, tick, diff, wrap);
}

uint64_t Hpet::accumulated(const Comparator& t, uint64_t now) const {
  // The accumulator rule: each match moves the comparator on by the period, so once the
  // counter has reached it the comparator is the first multiple of the period past the counter.
  if (!(t.config & kTnPeriodic) || !t.period || !(config_ & kEnableCnf))
    return t.config & kTn32Mode ? uint32_t(t.cmp) : t.cmp;
  if (t.config & kTn32Mode) {
    const uint32_t c = uint32_t(t.cmp), p = uint32_t(t.period), n = uint32_t(now);
    if (p == 0 || int32_t(n - c) < 0) return c;
    return uint32_t(c + p * ((n - c) / p + 1));
  }
  if (int64_t(now - t.cmp) < 0) return t.cmp;
  return t.cmp + t.period * ((now - t.cmp) / t.period + 1);
}

uint64_t Hpet::comparator(unsigned i, int64_t tick) const {
  // The value a read sees: matches the handler has not run for yet (it runs at most every
  // kMinRearmNs) have already moved a periodic comparator on.
  return accumulated(timers_[i], counter(tick));
}

void Hpet::fire(unsigned i, int64_t tick) {
  Comparator& t = timers_[i];
  if (!t.wrap_due) t.cmp = accumulated(t, counter(tick));
  if (t.config & kTnIntTypeLevel) {
    isr_ |= uint64_t(1) << i;
    update_lines();
  } else if ((t.config & kTnIntEnb) && (config_ & kEnableCnf)) {
    // An edge: a pulse, unless a level-triggered timer holds the shared line high anyway.
    IrqLine& line = lines_[route(i)];
    if (!line.level()) {
      line.set(true);
      line.set(false);
    }
  }
}

void Hpet::on_timer(unsigned i) {
  std::lock_guard<std::mutex> g(mu_);
  const int64_t tick = loop_.clock().virtual_ns() / kTickNs;
  Comparator& t = timers_[i];
  if (!(config_ & kEnableCnf) || t.due_tick < 0) return;
  if (tick < t.due_tick) {
    events_[i]->arm_at(t.due_tick * kTickNs);
    return;
  }
  fire(i, tick);
  if ((t.config & kTnPeriodic) && t.period) {
    arm(i, tick);
    events_[i]->arm_at(std::max(t.due_tick * kTickNs, tick * kTickNs + kMinRearmNs));
    return;
  }
  if (!(t.config & kTn32Mode)) {
    t.due_tick = -1;  // a 64-bit one-shot comparator matches again only after 2^64 ticks
    return;
  }
  // A 32-bit one-shot comparator: after a match the wrap comes next, after a wrap the match.
  const uint32_t low = uint32_t(counter(tick));
  if (t.wrap_due) {
    const uint32_t to_match = uint32_t(t.cmp) - low;
    arm_in(i, tick, to_match ? int64_t(to_match) : int64_t(1) << 32, false);
  } else {
    arm_in(i, tick, int64_t(uint64_t(1) << 32) - int64_t(low), true);
  }
}

uint64_t Hpet::read64(uint64_t reg, int64_t tick) {
  switch (reg) {
    case GCAP_ID:
      return uint64_t(kPeriodFs) << 32 | kVendorIntel << kCapVendorShift | kCapLegRt |
             kCapCountSize | uint64_t(kTimers - 1) << kCapNumTimShift | kCapRevId;
    case GEN_CONF:
      return config_;
    case GEN_INT_STS:
      return isr_;
    case MAIN_CNT:
      return counter(tick);
    default:
      break;
  }
  if (reg >= TIMER_BASE && reg < TIMER_BASE + kTimers * TIMER_STRIDE) {
    const unsigned i = unsigned((reg - TIMER_BASE) / TIMER_STRIDE);
    switch ((reg - TIMER_BASE) % TIMER_STRIDE) {
      case TN_CONF:
        return timer_config(i);
      case TN_CMP:
        return comparator(i, tick);
      default:
        return 0;  // Tn_FSB_INT_ROUTE: no FSB delivery
    }
  }
  return 0;  // reserved
}

void Hpet::write64(uint64_t reg, uint64_t value, uint64_t mask, int64_t tick) {
  auto merge = [&](uint64_t old) { return (old & ~mask) | (value & mask); };
  switch (reg) {
    case GEN_CONF: {
      const uint64_t old = config_;
      const uint64_t now = counter(tick);
      config_ = merge(config_) & (kEnableCnf | kLegRtCnf);
      if ((old ^ config_) & kEnableCnf) {
        // Starting keeps the counter's value from where it stopped; stopping freezes it.
        counter_ = config_ & kEnableCnf ? now - uint64_t(tick) : now;
      }
      for (unsigned i = 0; i < kTimers; ++i) arm(i, tick);
      if ((old ^ config_) & kLegRtCnf) {
        // Lines the old routing drove drop; update_lines raises the new ones.
        for (unsigned n : {0u, 8u}) lines_[n].set(false);
        if (on_legacy_) on_legacy_((config_ & kLegRtCnf) != 0);
      }
      update_lines();
      return;
    }
    case GEN_INT_STS:
      isr_ &= ~(value & mask & ((uint64_t(1) << kTimers) - 1));  // write 1 to clear
      update_lines();
      return;
    case MAIN_CNT: {
      if (config_ & kEnableCnf)
        log_.log(kLogGuestErrors, "hpet: main counter written while the HPET is enabled\n");
      const uint64_t v = merge(counter(tick));
      counter_ = config_ & kEnableCnf ? v - uint64_t(tick) : v;
      for (unsigned i = 0; i < kTimers; ++i) arm(i, tick);
      return;
    }
    default:
      break;
  }
  if (reg < TIMER_BASE || reg >= TIMER_BASE + kTimers * TIMER_STRIDE) {
    log_.log(kLogGuestErrors, "hpet: write to reserved register 0x%03x\n", unsigned(reg));
    return;
  }
  const unsigned i = unsigned((reg - TIMER_BASE) / TIMER_STRIDE);
  Comparator& t = timers_[i];
  switch ((reg - TIMER_BASE) % TIMER_STRIDE) {
    case TN_CONF: {
      t.config = merge(t.config) & kTnWritable;
      const unsigned r = unsigned((t.config & kTnRouteMask) >> kTnRouteShift);
      if (!(route_cap_ & (1u << r)))
        log_.log(kLogGuestErrors, "hpet: timer %u routed to IRQ %u, not in Tn_INT_ROUTE_CAP\n", i,
                 r);
      if (t.config & kTn32Mode) {
        t.cmp = uint32_t(t.cmp);
        t.period = uint32_t(t.period);
      }
      if (!(t.config & kTnIntTypeLevel)) isr_ &= ~(uint64_t(1) << i);
      arm(i, tick);
      update_lines();
      return;
    }
    case TN_CMP: {
      uint64_t v = value;
      uint64_t m = mask;
      if (t.config & kTn32Mode) {
        v &= 0xffffffffu;
        m &= 0xffffffffu;
      }
      auto put = [&](uint64_t old) { return (old & ~m) | (v & m); };
      // In periodic mode a write sets the period (the accumulator); with Tn_VAL_SET it also
      // sets the comparator itself. Tn_VAL_SET clears itself after the write.
      if (!(t.config & kTnPeriodic) || (t.config & kTnValSet)) t.cmp = put(t.cmp);
      if (t.config & kTnPeriodic) t.period = put(t.period);
      t.config &= ~kTnValSet;
      arm(i, tick);
      return;
    }
    default:
      return;  // Tn_FSB_INT_ROUTE: no FSB delivery, read-only zero
  }
}

MemResult Hpet::read(uint64_t offset, unsigned size, uint64_t& value) {
  std::lock_guard<std::mutex> g(mu_);
  const int64_t tick = loop_.clock().virtual_ns() / kTickNs;
  const uint64_t v = read64(offset & ~uint64_t(7), tick);
  value = size == 8 ? v : (offset & 4 ? v >> 32 : uint32_t(v));
  return MemResult::Ok;
}

MemResult Hpet::write(uint64_t offset, unsigned size, uint64_t value) {
  std::lock_guard<std::mutex> g(mu_);
  const int64_t tick = loop_.clock().virtual_ns() / kTickNs;
  uint64_t mask = ~uint64_t(0);
  if (size == 4) {
    const unsigned shift = offset & 4 ? 32 : 0;
    mask = uint64_t(0xffffffffu) << shift;
    value = (value & 0xffffffffu) << shift;
  }
  write64(offset & ~uint64_t(7), value, mask, tick);
  return MemResult::Ok;
}

}  // namespace orrery::hw::timer
