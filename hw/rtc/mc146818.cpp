#include "hw/rtc/mc146818.h"

#include <ctime>

namespace orrery::hw::rtc {

namespace {

constexpr int64_t kNsPerSec = 1'000'000'000;
constexpr int64_t kCrystalHz = 32768;
constexpr int64_t kSecPerDay = 86400;

int64_t floor_div(__int128 a, int64_t b) {
  __int128 q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return int64_t(q);
}

int to_bin(uint8_t v) {
  return (v >> 4) * 10 + (v & 0xf);
}

bool is_time_index(uint8_t idx) {
  switch (idx) {
    case Mc146818::kSeconds:
    case Mc146818::kMinutes:
    case Mc146818::kHours:
    case Mc146818::kDayOfWeek:
    case Mc146818::kDayOfMonth:
    case Mc146818::kMonth:
    case Mc146818::kYear:
    case Mc146818::kCentury:
      return true;
    default:
      return false;
  }
}

}  // namespace

Mc146818::Mc146818(Log& log, EventLoop& loop, int64_t wall_ns)
    : log_(log), loop_(loop), timer_(loop, ClockType::kVirtual, [this] { on_timer(); }) {
  std::lock_guard<std::mutex> g(mu_);
  const int64_t vns = loop_.clock().virtual_ns();
  base_ns_ = wall_ns - vns;
  // Power-on values as the PC firmware leaves them (and QEMU starts with): 32.768 kHz time
  // base with a 1024 Hz periodic rate; BCD, 24-hour.
  ram_[kRegA] = kADivider32k | 0x06;
  ram_[kRegB] = kB24h;
  resync(vns);
}

Mc146818::~Mc146818() = default;

void Mc146818::reset() {
  std::lock_guard<std::mutex> g(mu_);
  ram_[kRegB] &= uint8_t(~(kBPie | kBAie | kBUie | kBSqwe));
  flags_ = 0;
  const int64_t vns = loop_.clock().virtual_ns();
  resync(vns);
  update_irq();
  rearm(vns);
}

bool Mc146818::running() const {
  return (ram_[kRegA] & kADividerMask) <= kADivider32k;
}

int64_t Mc146818::rtc_ns(int64_t vns) const {
  return running() ? base_ns_ + vns : frozen_ns_;
}

uint8_t Mc146818::format(int v) const {
  if (ram_[kRegB] & kBBinary) return uint8_t(v);
  return uint8_t((v / 10 % 10) << 4 | v % 10);
}

int Mc146818::parse(uint8_t v) const {
  return ram_[kRegB] & kBBinary ? v : to_bin(v);
}

uint8_t Mc146818::format_hours(int h) const {
  if (ram_[kRegB] & kB24h) return format(h);
  const int h12 = h % 12 == 0 ? 12 : h % 12;
  return uint8_t(format(h12) | (h >= 12 ? 0x80 : 0));
}

uint8_t Mc146818::time_reg(uint8_t idx, int64_t sec) const {
  const time_t t = time_t(sec);
  struct tm tm {};
  gmtime_r(&t, &tm);
  const int year = tm.tm_year + 1900;
  switch (idx) {
    case kSeconds:
      return format(tm.tm_sec);
    case kMinutes:
      return format(tm.tm_min);
    case kHours:
      return format_hours(tm.tm_hour);
    case kDayOfWeek:
      return format(tm.tm_wday + 1);  // 1 = Sunday
    case kDayOfMonth:
      return format(tm.tm_mday);
    case kMonth:
      return format(tm.tm_mon + 1);
    case kYear:
      return format(year % 100);
    default:  // kCentury
      return format(year / 100 % 100);
  }
}

void Mc146818::snapshot(int64_t sec) {
  for (uint8_t idx : {kSeconds, kMinutes, kHours, kDayOfWeek, kDayOfMonth, kMonth, kYear, kCentury})
    ram_[idx] = time_reg(idx, sec);
}

void Mc146818::set_time_from_regs(int64_t vns) {
  struct tm tm {};
  tm.tm_sec = parse(ram_[kSeconds]);
  tm.tm_min = parse(ram_[kMinutes]);
  const uint8_t h = ram_[kHours];
  tm.tm_hour = ram_[kRegB] & kB24h ? parse(h) : parse(h & 0x7f) % 12 + (h & 0x80 ? 12 : 0);
  tm.tm_mday = parse(ram_[kDayOfMonth]);
  tm.tm_mon = parse(ram_[kMonth]) - 1;
  tm.tm_year = parse(ram_[kCentury]) * 100 + parse(ram_[kYear]) - 1900;
  // Out-of-range fields (a guest's garbage) are normalised by timegm, as a date overflows.
  const int64_t sec = int64_t(timegm(&tm));
  const int64_t old = rtc_ns(vns);
  const int64_t phase = old - floor_div(old, kNsPerSec) * kNsPerSec;
  const int64_t now = sec * kNsPerSec + phase;
  if (running())
    base_ns_ = now - vns;
  else
    frozen_ns_ = now;
}

bool Mc146818::alarm_matches(int64_t sec) const {
  // The chip compares register bytes: each alarm byte matches its time byte or is don't-care.
  const int64_t sod = sec - floor_div(sec, kSecPerDay) * kSecPerDay;
  const int h = int(sod / 3600), m = int(sod / 60 % 60), s = int(sod % 60);
  auto ok = [](uint8_t alarm, uint8_t now) {
    return (alarm & kAlarmDontCare) == kAlarmDontCare || alarm == now;
  };
  return ok(ram_[kSecondsAlarm], format(s)) && ok(ram_[kMinutesAlarm], format(m)) &&
         ok(ram_[kHoursAlarm], format_hours(h));
}

int64_t Mc146818::next_alarm(int64_t after) const {
  // The alarm only looks at the time of day, so it matches within a day or never; search by
  // hour, then minute, then second, skipping whole hours and minutes that cannot match.
  const int64_t day0 = floor_div(after, kSecPerDay) * kSecPerDay;
  auto dont_care = [](uint8_t a) { return (a & kAlarmDontCare) == kAlarmDontCare; };
  const uint8_t ah = ram_[kHoursAlarm], am = ram_[kMinutesAlarm], as = ram_[kSecondsAlarm];
  // An alarm byte no time can match (0x60 seconds, say) never fires: say so before searching.
  auto possible = [&](uint8_t a, int n, auto fmt) {
    if (dont_care(a)) return true;
    for (int v = 0; v < n; ++v)
      if (fmt(v) == a) return true;
    return false;
  };
  auto plain = [this](int v) { return format(v); };
  auto hours = [this](int v) { return format_hours(v); };
  if (!possible(as, 60, plain) || !possible(am, 60, plain) || !possible(ah, 24, hours)) return -1;
  for (int64_t day = day0; day <= day0 + kSecPerDay; day += kSecPerDay) {
    for (int h = 0; h < 24; ++h) {
      if (!dont_care(ah) && ah != format_hours(h)) continue;
      if (day + h * 3600 + 3599 <= after) continue;
      for (int m = 0; m < 60; ++m) {
        if (!dont_care(am) && am != format(m)) continue;
        if (day + h * 3600 + m * 60 + 59 <= after) continue;
        for (int s = 0; s < 60; ++s) {
          const int64_t t = day + h * 3600 + m * 60 + s;
          if (t > after && (dont_care(as) || as == format(s))) return t;
        }
      }
    }
  }
  return -1;
}

int64_t Mc146818::period_cycles() const {
  const int rs = ram_[kRegA] & kARateMask;
  if (rs == 0) return 0;
  return rs <= 2 ? int64_t(1) << (rs + 6) : int64_t(1) << (rs - 1);  // 256 Hz, 128 Hz, 8 kHz..2 Hz
}

int64_t Mc146818::period_index(int64_t rns) const {
  return floor_div(static_cast<__int128>(rns) * kCrystalHz, kNsPerSec * period_cycles());
}

void Mc146818::resync(int64_t vns) {
  const int64_t rns = rtc_ns(vns);
  last_sec_ = floor_div(rns, kNsPerSec);
  last_period_ = period_cycles() ? period_index(rns) : 0;
}

void Mc146818::catch_up(int64_t vns) {
  if (!running()) return;
  const int64_t rns = rtc_ns(vns);
  if (period_cycles()) {
    const int64_t p = period_index(rns);
    if (p > last_period_) flags_ |= kCPf;
    last_period_ = p;
  }
  const int64_t sec = floor_div(rns, kNsPerSec);
  if (!(ram_[kRegB] & kBSet) && sec > last_sec_) {
    flags_ |= kCUf;
    const int64_t a = next_alarm(last_sec_);
    if (a >= 0 && a <= sec) flags_ |= kCAf;
  }
  last_sec_ = sec;
  update_irq();
}

void Mc146818::update_irq() {
  if (flags_ & ram_[kRegB] & (kCPf | kCAf | kCUf))
    flags_ |= kCIrqf;
  else
    flags_ &= uint8_t(~kCIrqf);
  irq_.set(irq_enabled_ && (flags_ & kCIrqf));
}

void Mc146818::rearm(int64_t vns) {
  // Nothing changes the line until register C is read once IRQF is set.
  const uint8_t b = ram_[kRegB];
  if (!running() || (flags_ & kCIrqf)) {
    timer_.cancel();
    return;
  }
  const int64_t rns = rtc_ns(vns);
  int64_t due = -1;  // in RTC nanoseconds
  auto consider = [&due](int64_t t) {
    if (t >= 0 && (due < 0 || t < due)) due = t;
  };
  if ((b & kBPie) && period_cycles()) {
    const __int128 next = static_cast<__int128>(last_period_ + 1) * period_cycles() * kNsPerSec;
    consider(int64_t((next + kCrystalHz - 1) / kCrystalHz));
  }
  if (!(b & kBSet)) {
    if (b & kBUie) consider((last_sec_ + 1) * kNsPerSec);
    if (b & kBAie) {
      const int64_t a = next_alarm(last_sec_);
      if (a >= 0) consider(a * kNsPerSec);
    }
  }
  if (due < 0) {
    timer_.cancel();
    return;
  }
  timer_.arm_at(vns + (due > rns ? due - rns : 0));
}

void Mc146818::on_timer() {
  std::lock_guard<std::mutex> g(mu_);
  const int64_t vns = loop_.clock().virtual_ns();
  catch_up(vns);
  rearm(vns);
}

uint8_t Mc146818::read_reg(uint8_t idx, int64_t vns) {
  catch_up(vns);
  if (is_time_index(idx)) {
    if (ram_[kRegB] & kBSet) return ram_[idx];
    return time_reg(idx, floor_div(rtc_ns(vns), kNsPerSec));
  }
  switch (idx) {
    case kRegA: {
      const int64_t rns = rtc_ns(vns);
      const bool uip = running() && !(ram_[kRegB] & kBSet) &&
                       rns - floor_div(rns, kNsPerSec) * kNsPerSec >= kNsPerSec - kUipNs;
      return uint8_t((ram_[kRegA] & ~kAUip) | (uip ? kAUip : 0));
    }
    case kRegC: {
      const uint8_t v = flags_;
      flags_ = 0;  // reading C clears every flag and IRQF
      update_irq();
      rearm(vns);
      return v;
    }
    case kRegD:
      return kDVrt;  // the battery is good
    default:
      return ram_[idx];
  }
}

void Mc146818::write_reg(uint8_t idx, uint8_t v, int64_t vns) {
  catch_up(vns);
  if (is_time_index(idx)) {
    if (ram_[kRegB] & kBSet) {
      ram_[idx] = v;  // takes effect when SET is cleared
    } else {
      // A running clock takes a written field at once (the rest keep their values).
      snapshot(floor_div(rtc_ns(vns), kNsPerSec));
      ram_[idx] = v;
      set_time_from_regs(vns);
      resync(vns);
    }
    rearm(vns);
    return;
  }
  switch (idx) {
    case kRegA: {
      const bool was_running = running();
      const int64_t rns = rtc_ns(vns);
      ram_[kRegA] = v & uint8_t(~kAUip);
      if (was_running && !running()) {
        frozen_ns_ = rns;  // the divider held in reset stops the clock
      } else if (!was_running && running()) {
        // Out of divider reset, the first update comes half a second later.
        base_ns_ = floor_div(frozen_ns_, kNsPerSec) * kNsPerSec + kNsPerSec / 2 - vns;
      }
      resync(vns);
      break;
    }
    case kRegB: {
      const uint8_t old = ram_[kRegB];
      if (v & kBSet) v &= uint8_t(~kBUie);  // SET clears UIE
      if ((v & kBDse) && !(old & kBDse))
        log_.log(kLogUnimp, "mc146818: daylight saving (DSE) is not applied\n");
      if (!(old & kBSet) && (v & kBSet)) snapshot(floor_div(rtc_ns(vns), kNsPerSec));
      ram_[kRegB] = v;
      if ((old & kBSet) && !(v & kBSet)) {
        set_time_from_regs(vns);
        resync(vns);
      }
      update_irq();
      break;
    }
    case kRegC:
    case kRegD:
      log_.log(kLogGuestErrors, "mc146818: write 0x%02x to read-only register %c\n", v,
               idx == kRegC ? 'C' : 'D');
      return;
    default:
      ram_[idx] = v;
      break;
  }
  rearm(vns);
}

MemResult Mc146818::read(uint64_t offset, unsigned size, uint64_t& value) {
  (void)size;
  std::lock_guard<std::mutex> g(mu_);
  if (offset == 0) {
    value = 0xff;  // the index register is write-only
    return MemResult::Ok;
  }
  value = read_reg(index_, loop_.clock().virtual_ns());
  return MemResult::Ok;
}

MemResult Mc146818::write(uint64_t offset, unsigned size, uint64_t value) {
  (void)size;
  std::lock_guard<std::mutex> g(mu_);
  if (offset == 0) {
    index_ = uint8_t(value & kIndexMask);
    nmi_masked_ = (value & kNmiDisable) != 0;
    return MemResult::Ok;
  }
  write_reg(index_, uint8_t(value), loop_.clock().virtual_ns());
  return MemResult::Ok;
}

void Mc146818::set_irq_enabled(bool enabled) {
  std::lock_guard<std::mutex> g(mu_);
  irq_enabled_ = enabled;
  update_irq();
}

bool Mc146818::nmi_masked() {
  std::lock_guard<std::mutex> g(mu_);
  return nmi_masked_;
}

void Mc146818::set_cmos(uint8_t index, uint8_t value) {
  std::lock_guard<std::mutex> g(mu_);
  if (index >= kCmosSize || index <= kRegD || index == kCentury) return;
  ram_[index] = value;
}

uint8_t Mc146818::cmos(uint8_t index) {
  std::lock_guard<std::mutex> g(mu_);
  if (index >= kCmosSize) return 0xff;
  return read_reg(index, loop_.clock().virtual_ns());
}

}  // namespace orrery::hw::rtc
