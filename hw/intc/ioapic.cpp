#include "hw/intc/ioapic.h"

namespace orrery::hw {

namespace {
// Writable bits of a redirection entry: everything but delivery status and remote IRR, and
// the reserved bits 55:17.
constexpr uint64_t kRedirWritable = 0xff0000000001afffull;
}  // namespace

IoApic::IoApic(Log& log, ApicBus& bus) : log_(log), bus_(bus) {
  bus_.add_eoi_listener(*this);
  reset();
}

void IoApic::reset() {
  std::lock_guard lk(mu_);
  regsel_ = 0;
  id_ = 0;
  for (uint64_t& e : redir_) e = kMasked;
  // Input levels belong to the devices and survive the reset.
}

uint64_t IoApic::entry(unsigned pin) const {
  std::lock_guard lk(mu_);
  return pin < kPins ? redir_[pin] : 0;
}

MemResult IoApic::read(uint64_t offset, unsigned size, uint64_t& value) {
  std::lock_guard lk(mu_);
  value = 0;
  switch (offset) {
    case kIoRegSel:
      value = regsel_;
      return MemResult::Ok;
    case kIoWin:
      break;
    default:
      log_.log(kLogGuestErrors, "ioapic: read at reserved offset 0x%llx\n",
               (unsigned long long)offset);
      return MemResult::Ok;
  }
  (void)size;
  if (regsel_ == kRegId) {
    value = id_ << 24;
  } else if (regsel_ == kRegVersion) {
    value = kVersion | ((kPins - 1) << 16);
  } else if (regsel_ == kRegArb) {
    value = 0;  // as QEMU (the arbitration ID is not modelled)
  } else if (regsel_ >= kRegRedir && regsel_ < kRegRedir + 2 * kPins) {
    const uint64_t e = redir_[(regsel_ - kRegRedir) / 2];
    value = uint32_t((regsel_ & 1) ? e >> 32 : e);
  } else {
    log_.log(kLogGuestErrors, "ioapic: read of reserved register 0x%x\n", regsel_);
  }
  return MemResult::Ok;
}

MemResult IoApic::write(uint64_t offset, unsigned size, uint64_t value) {
  std::lock_guard lk(mu_);
  (void)size;
  const uint32_t v = uint32_t(value);
  switch (offset) {
    case kIoRegSel:
      regsel_ = uint8_t(v);
      return MemResult::Ok;
    case kEoi:
      eoi_locked(uint8_t(v));
      return MemResult::Ok;
    case kIoWin:
      break;
    default:
      log_.log(kLogGuestErrors, "ioapic: write at reserved offset 0x%llx\n",
               (unsigned long long)offset);
      return MemResult::Ok;
  }
  if (regsel_ == kRegId) {
    id_ = (v >> 24) & 0xf;
  } else if (regsel_ >= kRegRedir && regsel_ < kRegRedir + 2 * kPins) {
    const unsigned pin = (regsel_ - kRegRedir) / 2;
    uint64_t& e = redir_[pin];
    const uint64_t nv =
        (regsel_ & 1) ? (e & 0xffffffffull) | (uint64_t(v) << 32) : (e & ~0xffffffffull) | v;
    e = (nv & kRedirWritable) | (e & (kDeliveryStatus | kRemoteIrr));
    if (!(e & kLevel)) e &= ~kRemoteIrr;  // remote IRR is undefined for edge pins
    // Unmasking a still-asserted level pin delivers it (an edge is never replayed).
    if (e & kLevel) service_locked(pin);
  } else if (regsel_ != kRegVersion && regsel_ != kRegArb) {
    log_.log(kLogGuestErrors, "ioapic: write of 0x%x to reserved register 0x%x\n", v, regsel_);
  }
  return MemResult::Ok;
}

void IoApic::set_irq(unsigned pin, bool level) {
  if (pin >= kPins) return;
  std::lock_guard lk(mu_);
  const bool rising = level && !level_[pin];
  level_[pin] = level;
  const uint64_t e = redir_[pin];
  if (e & kMasked) return;
  if (e & kLevel) {
    if (level) service_locked(pin);
  } else if (rising) {
    service_locked(pin);
  }
}

void IoApic::service_locked(unsigned pin) {
  uint64_t& e = redir_[pin];
  const bool level_trig = e & kLevel;
  if ((e & kMasked) || !level_[pin]) return;
  if (level_trig && (e & kRemoteIrr)) return;
  ApicMessage m;
  m.dest = uint32_t(e >> 56);
  m.logical = (e >> 11) & 1;
  m.mode = ApicDelivery((e >> 8) & 7);
  m.vector = uint8_t(e);
  m.level_trigger = level_trig;
  if (level_trig) e |= kRemoteIrr;
  bus_.deliver(m);
}

void IoApic::apic_eoi(uint8_t vector) {
  std::lock_guard lk(mu_);
  eoi_locked(vector);
}

void IoApic::eoi_locked(uint8_t vector) {
  for (unsigned pin = 0; pin < kPins; ++pin) {
    uint64_t& e = redir_[pin];
    if (uint8_t(e) != vector || !(e & kRemoteIrr)) continue;
    e &= ~kRemoteIrr;
    service_locked(pin);  // still asserted: deliver again
  }
}

}  // namespace orrery::hw
