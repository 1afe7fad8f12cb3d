#include "hw/acpi/acpi_pm.h"

namespace orrery::hw::acpi {

namespace {
constexpr int64_t kNsPerSec = 1'000'000'000;
constexpr unsigned kHalfShift = 23;  // TMR_STS: the timer's bit 23 changed
}  // namespace

AcpiPm::AcpiPm(Log& log, EventLoop& loop, std::function<void()> power_off)
    : log_(log),
      loop_(loop),
      power_off_(std::move(power_off)),
      timer_(loop, ClockType::kVirtual, [this] { on_timer(); }) {
  reset();
}

AcpiPm::~AcpiPm() = default;

void AcpiPm::reset() {
  std::lock_guard<std::mutex> g(mu_);
  sts_ = en_ = cnt_ = gpe_sts_ = gpe_en_ = 0;
  apmc_ = apms_ = 0;
  last_half_ = ticks() >> kHalfShift;
  timer_.cancel();
  update_sci();
}

int64_t AcpiPm::ticks() const {
  return int64_t(static_cast<__int128>(loop_.clock().virtual_ns()) * kTimerHz / kNsPerSec);
}

uint32_t AcpiPm::timer_value() {
  std::lock_guard<std::mutex> g(mu_);
  return uint32_t(ticks()) & kTimerMask;
}

void AcpiPm::catch_up() {
  const int64_t half = ticks() >> kHalfShift;
  if (half != last_half_) sts_ |= kTmrSts;
  last_half_ = half;
}

void AcpiPm::update_sci() {
  const bool pm1 = (sts_ & en_ & (kTmrEn | kGblEn | kPwrbtnEn | kRtcEn)) != 0;
  sci_.set(pm1 || (gpe_sts_ & gpe_en_) != 0);
  // The timer is needed only to raise the SCI at the next bit-23 change.
  if ((en_ & kTmrEn) && !(sts_ & kTmrSts)) {
    const __int128 next = static_cast<__int128>(last_half_ + 1) << kHalfShift;
    timer_.arm_at(int64_t((next * kNsPerSec + kTimerHz - 1) / kTimerHz));
  } else {
    timer_.cancel();
  }
}

void AcpiPm::on_timer() {
  std::lock_guard<std::mutex> g(mu_);
  catch_up();
  update_sci();
}

void AcpiPm::press_power_button() {
  std::lock_guard<std::mutex> g(mu_);
  sts_ |= kPwrbtnSts;
  update_sci();
}

void AcpiPm::raise_gpe(unsigned bit) {
  if (bit >= 16) return;
  std::lock_guard<std::mutex> g(mu_);
  gpe_sts_ |= uint16_t(1u << bit);
  update_sci();
}

uint8_t AcpiPm::read_byte(Block::Kind kind, uint64_t offset, uint32_t tmr) {
  const unsigned shift = (offset & 1) * 8;
  switch (kind) {
    case Block::Kind::Gpe:
      return uint8_t((offset < 2 ? gpe_sts_ : gpe_en_) >> shift);
    case Block::Kind::Apm:
      return offset == 0 ? apmc_ : apms_;
    case Block::Kind::Pm:
      break;
  }
  switch (offset & ~uint64_t(1)) {
    case PM1_STS:
      catch_up();
      return uint8_t(sts_ >> shift);
    case PM1_EN:
      return uint8_t(en_ >> shift);
    case PM1_CNT:
      return uint8_t(cnt_ >> shift);  // SLP_EN and GBL_RLS read 0
    case PM_TMR:
    case PM_TMR + 2:
      return uint8_t(tmr >> ((offset - PM_TMR) * 8));
    default:
      return 0;  // 6-7: reserved
  }
}

int AcpiPm::write_byte(Block::Kind kind, uint64_t offset, uint8_t v) {
  const unsigned shift = (offset & 1) * 8;
  const uint16_t mask = uint16_t(0xff << shift), val = uint16_t(v << shift);
  switch (kind) {
    case Block::Kind::Gpe:
      if (offset < 2)
        gpe_sts_ &= uint16_t(~val);  // write 1 to clear
      else
        gpe_en_ = uint16_t((gpe_en_ & ~mask) | val);
      update_sci();
      return -1;
    case Block::Kind::Apm:
      if (offset == 1) {
        apms_ = v;
        return -1;
      }
      apmc_ = v;
      if (v == kAcpiEnable)
        cnt_ |= kSciEn;
      else if (v == kAcpiDisable)
        cnt_ &= uint16_t(~kSciEn);
      else
        log_.log(kLogUnimp, "acpi-pm: APM command 0x%02x (no SMM to handle it)\n", v);
      return -1;
    case Block::Kind::Pm:
      break;
  }
  switch (offset & ~uint64_t(1)) {
    case PM1_STS:
      catch_up();
      sts_ &= uint16_t(~val);  // write 1 to clear
      update_sci();
      return -1;
    case PM1_EN:
      catch_up();
      en_ = uint16_t((en_ & ~mask) | (val & kEnWritable));
      update_sci();
      return -1;
    case PM1_CNT:
      if (val & kGblRls)
        log_.log(kLogUnimp, "acpi-pm: GBL_RLS (no SMM BIOS to release the global lock to)\n");
      cnt_ = uint16_t((cnt_ & ~mask) | (val & kCntWritable));
      if (val & kSlpEn) return (cnt_ & kSlpTypMask) >> kSlpTypShift;
      return -1;
    default:
      log_.log(kLogGuestErrors, "acpi-pm: write 0x%02x to read-only PM offset %u\n", v,
               unsigned(offset));
      return -1;
  }
}

MemResult AcpiPm::Block::read(uint64_t offset, unsigned size, uint64_t& value) {
  std::lock_guard<std::mutex> g(pm_.mu_);
  const uint32_t tmr = uint32_t(pm_.ticks()) & kTimerMask;  // one value for the whole access
  value = 0;
  for (unsigned i = 0; i < size; ++i)
    value |= uint64_t(pm_.read_byte(kind_, offset + i, tmr)) << (8 * i);
  return MemResult::Ok;
}

MemResult AcpiPm::Block::write(uint64_t offset, unsigned size, uint64_t value) {
  int sleep = -1;
  {
    std::lock_guard<std::mutex> g(pm_.mu_);
    for (unsigned i = 0; i < size; ++i) {
      const int s = pm_.write_byte(kind_, offset + i, uint8_t(value >> (8 * i)));
      if (s >= 0) sleep = s;
    }
  }
  switch (sleep) {
    case -1:
      break;
    case kSlpTypS5:
    case kSlpTypS4:
      if (pm_.power_off_) pm_.power_off_();
      break;
    default:
      pm_.log_.log(kLogUnimp, "acpi-pm: sleep type %d (only S5 and S4, power-off, exist)\n", sleep);
      break;
  }
  return MemResult::Ok;
}

}  // namespace orrery::hw::acpi
