#include "hw/rtc/pl031.h"

#include <chrono>

namespace orrery::hw::rtc {

namespace {
// RTCPeriphID0..3 then RTCPCellID0..3 (TRM section 3.3.10-3.3.11).
constexpr uint8_t kIds[8] = {0x31, 0x10, 0x04, 0x00, 0x0D, 0xF0, 0x05, 0xB1};

int64_t host_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Pl031::Pl031(Log& log, std::function<int64_t()> now_seconds)
    : log_(log), now_(now_seconds ? std::move(now_seconds) : host_seconds) {
  reset();
}

void Pl031::reset() {
  std::lock_guard<std::mutex> g(mu_);
  offset_ = 0;
  mr_ = imsc_ = ris_ = 0;
  last_checked_ = counter();
  update_irq();
}

uint32_t Pl031::counter() const {
  return uint32_t(now_() + offset_);
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
}

MemResult Pl031::read(uint64_t off, unsigned size, uint64_t& value) {
  (void)size;
  std::lock_guard<std::mutex> g(mu_);
  check_match();
  value = 0;
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
      if (off >= RTCPeriphID0 && off < 0x1000)
        value = kIds[(off - RTCPeriphID0) / 4];
      else
        log_.log(kLogGuestErrors, "pl031: read of reserved offset 0x%03llx\n",
                 (unsigned long long)off);
      break;
  }
  update_irq();
  return MemResult::Ok;
}

MemResult Pl031::write(uint64_t off, unsigned size, uint64_t value) {
  (void)size;
  std::lock_guard<std::mutex> g(mu_);
  check_match();
  uint32_t v = uint32_t(value);
  switch (off) {
    case RTCMR:
      mr_ = v;
      break;
    case RTCLR:
      offset_ = int64_t(v) - now_();
      last_checked_ = counter();
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
      log_.log(kLogGuestErrors, "pl031: write to read-only offset 0x%03llx\n",
               (unsigned long long)off);
      break;
    default:
      log_.log(kLogGuestErrors, "pl031: write to %s offset 0x%03llx\n",
               off >= RTCPeriphID0 ? "read-only ID" : "reserved", (unsigned long long)off);
      break;
  }
  update_irq();
  return MemResult::Ok;
}

}  // namespace orrery::hw::rtc
