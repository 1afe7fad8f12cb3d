// ARM PrimeCell Real Time Clock (PL031), after the PL031 TRM (ARM DDI 0224). The 32-bit
// counter RTCDR counts seconds of the machine's wall clock, plus the offset set by RTCLR: the
// host's wall-clock time when the machine started plus the virtual clock, so the RTC stands
// still while the machine is stopped (a debugger), as the guest's other clocks do. The match
// interrupt (RTCMR) is raised when the counter reaches RTCMR: every register access evaluates
// it, and while the interrupt is unmasked a timer on the machine's event loop is armed for the
// counter's next match, so RTCINTR rises on time even if the guest never touches the device.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>

#include "hw/core/event_loop.h"
#include "hw/core/irq.h"
#include "hw/core/log.h"
#include "hw/core/mmio.h"
#include "hw/core/resettable.h"

namespace orrery::hw::rtc {

class Pl031 final : public MmioDevice, public Resettable {
 public:
  static constexpr uint64_t kMmioSize = 0x1000;
  // Registers (TRM table 3-1).
  static constexpr uint64_t RTCDR = 0x00, RTCMR = 0x04, RTCLR = 0x08, RTCCR = 0x0C, RTCIMSC = 0x10,
                            RTCRIS = 0x14, RTCMIS = 0x18, RTCICR = 0x1C, RTCPeriphID0 = 0xFE0;
  static constexpr uint32_t RTCCR_RTCStart = 1u << 0, RTCIntr = 1u << 0;

  /// The counter reads wall_base_ns + loop's virtual clock (nanoseconds since the Unix epoch);
  /// by default wall_base_ns makes it the host's wall-clock time now.
  Pl031(Log& log, EventLoop& loop, std::optional<int64_t> wall_base_ns = std::nullopt);
  Pl031(const Pl031&) = delete;
  Pl031& operator=(const Pl031&) = delete;

  /// RTCINTR, the combined interrupt output (RTCMIS). The alarm timer drives it too (on the
  /// loop's thread), so the sink it is connected to must outlive this device.
  IrqLine& irq() { return intr_; }
  void reset() override;

  MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
  MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
  // QEMU's valid sizes; the device handles the odd ones itself so it can log them.
  AccessRules valid() const override { return {1, 8, false}; }
  AccessRules impl() const override { return {1, 8, false}; }

 private:
  // Callers of these hold mu_. off is a word offset.
  uint32_t read_reg(uint64_t off);
  void write_reg(uint64_t off, uint32_t v);
  int64_t now_ns() const;  // the machine's wall clock
  uint32_t counter() const;
  void check_match();
  /// Drives RTCINTR and (re-)arms the alarm for the next match while it could matter.
  void update_irq();
  void alarm();  // the alarm timer's handler

  Log& log_;
  Clock& clock_;
  const int64_t wall_base_;  // wall-clock ns at virtual time 0
  IrqLine intr_;
  std::mutex mu_;
  int64_t offset_ = 0;  // RTCDR = wall-clock seconds + offset_ (mod 2^32)
  uint32_t mr_ = 0, imsc_ = 0, ris_ = 0;
  uint32_t last_checked_ = 0;  // counter value when the match was last evaluated
  Timer alarm_;                // declared last: removed (its handler waited for) first
};

}  // namespace orrery::hw::rtc
