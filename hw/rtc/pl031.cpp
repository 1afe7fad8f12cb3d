#include "hw/rtc/pl031.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <utility>

namespace orrery::hw::rtc {

namespace {
// RTCPeriphID0..3 then RTCPCellID0..3 (TRM section 3.3.10-3.3.11).
constexpr uint8_t kIds[8] = {0x31, 0x10, 0x04, 0x00, 0x0D, 0xF0, 0x05, 0xB1};

constexpr int64_t kNsPerSec = 1'000'000'000;

int64_t host_wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - (a % b < 0);
}
}  // namespace

Pl031::Pl031(Log& log, EventLoop& loop, std::optional<int64_t> wall_base_ns)
    : log_(log),
      clock_(loop.clock()),
      wall_base_(wall_base_ns ? *wall_base_ns : host_wall_ns() - loop.clock().virtual_ns()),
      alarm_(loop, ClockType::kVirtual, [this] { alarm(); }) {
  reset();
}

void Pl031::reset() {
  std::lock_guard<std::mutex> g(mu_);
  offset_ = 0;
  mr_ = imsc_ = ris_ = 0;
  last_checked_ = counter();
  update_irq();
}

int64_t Pl031::now_ns() const {
  return wall_base_ + clock_.virtual_ns();
}

uint32_t Pl031::counter() const {
  return uint32_t(floor_div(now_ns(), kNsPerSec) + offset_);
}

void Pl031::check_match() {
  // The match fires when the counter passes RTCMR: compare in the wrapped 32-bit space.
  uint32_t now = counter();
  if (now != last_checked_ && uint32_t(mr_ - last_checked_ - 1) < uint32_t(now - last_checked_))
    ris_ |= RTCIntr;
  last_checked_ = now;
}

void Pl031::update_irq() {
  intr_.set((ris_ & imsc_) != 0);
  if (!imsc_ || (ris_ & RTCIntr)) {
    // Nothing can change RTCINTR until the guest writes a register: while masked the raw
    // status is brought up to date on access, and a set RIS stays set.
    alarm_.cancel();
    return;
  }
  // The start of the second in which the counter next equals RTCMR; when it equals RTCMR now,
  // that match has been taken: the next is a wrap away.
  const int64_t sec = floor_div(now_ns(), kNsPerSec);
  const uint32_t delta = mr_ - uint32_t(sec + offset_);
  const int64_t seconds = delta ? int64_t(delta) : int64_t(1) << 32;
  alarm_.arm_at((sec + seconds) * kNsPerSec - wall_base_);
}

void Pl031::alarm() {
  std::lock_guard<std::mutex> g(mu_);
  check_match();
  update_irq();
}

namespace {

// What valid() lets through the bus: naturally aligned 1, 2, 4 and 8-byte accesses. Anything
// else is refused; sizes other than 4 are logged but work.
bool access_ok(Log& log, const char* what, uint64_t off, unsigned size) {
  if (off >= Pl031::kMmioSize || (size != 1 && size != 2 && size != 4 && size != 8) ||
      (off & (size - 1))) {
    log.log(kLogGuestErrors, "pl031: bad %s at offset 0x%" PRIx64 " size %u\n", what, off, size);
    return false;
  }
  if (size != 4)
    log.log(kLogGuestErrors,
            "pl031: %u-bit %s at offset 0x%" PRIx64 " (the PL031 takes 32-bit accesses)\n",
            size * 8, what, off);
  return true;
}

}  // namespace

// Accesses other than 32-bit are guest errors but work, as on QEMU: a narrow one sees the byte
// lanes of its register's word (APB has no byte strobes), a 64-bit one two registers.
MemResult Pl031::read(uint64_t off, unsigned size, uint64_t& value) {
  value = 0;
  if (!access_ok(log_, "read", off, size)) return MemResult::DeviceError;
  std::lock_guard<std::mutex> g(mu_);
  check_match();
  if (size == 8) {
    uint64_t lo = read_reg(off);
    value = lo | uint64_t(read_reg(off + 4)) << 32;
  } else {
    value = uint64_t(read_reg(off & ~uint64_t(3))) >> ((off & 3) * 8);
    if (size < 4) value &= (uint64_t(1) << (size * 8)) - 1;
  }
  update_irq();
  return MemResult::Ok;
}

uint32_t Pl031::read_reg(uint64_t off) {
  uint32_t value = 0;
  switch (off) {
    case RTCDR:
      value = counter();
      break;
    case RTCMR:
      value = mr_;
      break;
    case RTCLR:
      value = counter();  // reads return the current counter (TRM: last loaded value in HW)
      break;
    case RTCCR:
      value = RTCCR_RTCStart;  // always running
      break;
    case RTCIMSC:
      value = imsc_;
      break;
    case RTCRIS:
      value = ris_;
      break;
    case RTCMIS:
      value = ris_ & imsc_;
      break;
    case RTCICR:
      log_.log(kLogGuestErrors, "pl031: read of write-only RTCICR\n");
      break;
    default:
      if (off >= RTCPeriphID0 && off < kMmioSize)
        value = kIds[(off - RTCPeriphID0) / 4];
      else
        log_.log(kLogGuestErrors, "pl031: read of reserved offset 0x%03" PRIx64 "\n", off);
      break;
  }
  return value;
}

MemResult Pl031::write(uint64_t off, unsigned size, uint64_t value) {
  if (!access_ok(log_, "write", off, size)) return MemResult::DeviceError;
  std::lock_guard<std::mutex> g(mu_);
  check_match();
  if (size == 8) {
    write_reg(off, uint32_t(value));
    write_reg(off + 4, uint32_t(value >> 32));
  } else {
    if (size < 4) value &= (uint64_t(1) << (size * 8)) - 1;
    write_reg(off & ~uint64_t(3), uint32_t(value << ((off & 3) * 8)));
  }
  update_irq();  // also re-arms the alarm: the next match time may have changed
  return MemResult::Ok;
}

void Pl031::write_reg(uint64_t off, uint32_t v) {
  switch (off) {
    case RTCMR:
      mr_ = v;
      // As QEMU does: a match for the current second fires now rather than a wrap later.
      if (counter() == mr_) ris_ |= RTCIntr;
      break;
    case RTCLR:
      offset_ = int64_t(v) - floor_div(now_ns(), kNsPerSec);
      last_checked_ = counter();
      if (last_checked_ == mr_) ris_ |= RTCIntr;
      break;
    case RTCCR:
      break;  // the clock cannot be stopped; writing 0 has no effect (as in the TRM: RTCStart)
    case RTCIMSC:
      imsc_ = v & RTCIntr;
      break;
    case RTCICR:
      ris_ &= ~(v & RTCIntr);
      break;
    case RTCDR:
    case RTCRIS:
    case RTCMIS:
      log_.log(kLogGuestErrors, "pl031: write to read-only offset 0x%03" PRIx64 "\n", off);
      break;
    default:
      log_.log(kLogGuestErrors, "pl031: write to %s offset 0x%03" PRIx64 "\n",
               off >= RTCPeriphID0 && off < kMmioSize ? "read-only ID" : "reserved", off);
      break;
  }
}

}  // namespace orrery::hw::rtc
