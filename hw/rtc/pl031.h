// ARM PrimeCell Real Time Clock (PL031), after the PL031 TRM (ARM DDI 0224). The 32-bit
// counter RTCDR counts seconds from host wall-clock time plus the offset set by RTCLR. The match
// interrupt (RTCMR) is evaluated whenever the guest touches the device: there is no host timer
// behind it, so an alarm is seen late if the guest does not poll (Linux only uses it for wake
// alarms, which a virtual machine never sleeps for).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>

#include "hw/core/irq.h"
#include "hw/core/log.h"
#include "hw/core/mmio.h"

namespace orrery::hw::rtc {

class Pl031 final : public MmioDevice {
 public:
  static constexpr uint64_t kMmioSize = 0x1000;
  // Registers (TRM table 3-1).
  static constexpr uint64_t RTCDR = 0x00, RTCMR = 0x04, RTCLR = 0x08, RTCCR = 0x0C, RTCIMSC = 0x10,
                            RTCRIS = 0x14, RTCMIS = 0x18, RTCICR = 0x1C, RTCPeriphID0 = 0xFE0;
  static constexpr uint32_t RTCCR_RTCStart = 1u << 0, RTCIntr = 1u << 0;

  /// now_seconds: the host clock in seconds since the epoch (injectable for tests).
  Pl031(Log& log, std::function<int64_t()> now_seconds = {});

  /// RTCINTR, the combined interrupt output (RTCMIS).
  IrqLine& irq() { return intr_; }
  void reset();

  MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
  MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
  AccessRules valid() const override { return {4, 4, false}; }
  AccessRules impl() const override { return {4, 4, false}; }

 private:
  uint32_t counter() const;
  void check_match();
  void update_irq();

  Log& log_;
  std::function<int64_t()> now_;
  IrqLine intr_;
  std::mutex mu_;
  int64_t offset_ = 0;  // RTCDR = host seconds + offset_ (mod 2^32)
  uint32_t mr_ = 0, imsc_ = 0, ris_ = 0;
  uint32_t last_checked_ = 0;  // counter value when the match was last evaluated
};

}  // namespace orrery::hw::rtc
