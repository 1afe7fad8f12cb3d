// ARM PrimeCell Real Time Clock (PL031), after the PL031 TRM (ARM DDI 0224). The 32-bit
// counter RTCDR counts seconds from host wall-clock time plus the offset set by RTCLR. The match
// interrupt (RTCMR) is raised when the counter reaches RTCMR: every register access evaluates
// it, and while the interrupt is unmasked a host thread (started the first time the guest
// unmasks it) sleeps on a condition variable until the counter's next match, so RTCINTR rises
// on time even if the guest never touches the device.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "hw/core/resettable.h"
#include "hw/core/irq.h"
#include "hw/core/log.h"
#include "hw/core/mmio.h"

namespace orrery::hw::rtc {

class Pl031 final : public MmioDevice, public Resettable {
 public:
  static constexpr uint64_t kMmioSize = 0x1000;
  // Registers (TRM table 3-1).
  static constexpr uint64_t RTCDR = 0x00, RTCMR = 0x04, RTCLR = 0x08, RTCCR = 0x0C, RTCIMSC = 0x10,
                            RTCRIS = 0x14, RTCMIS = 0x18, RTCICR = 0x1C, RTCPeriphID0 = 0xFE0;
  static constexpr uint32_t RTCCR_RTCStart = 1u << 0, RTCIntr = 1u << 0;

  /// now_ns: the host wall clock in nanoseconds since the epoch (injectable for tests). The
  /// alarm thread assumes it advances at the rate of the host's steady clock.
  Pl031(Log& log, std::function<int64_t()> now_ns = {});
  ~Pl031() override;
  Pl031(const Pl031&) = delete;
  Pl031& operator=(const Pl031&) = delete;

  /// RTCINTR, the combined interrupt output (RTCMIS). The alarm thread drives it too, so the
  /// sink it is connected to must outlive this device.
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
  uint32_t counter() const;
  void check_match();
  void update_irq();
  /// Host nanoseconds until the counter next equals RTCMR, capped (see pl031.cpp).
  int64_t ns_until_match() const;
  void alarm_main();

  Log& log_;
  std::function<int64_t()> now_;
  IrqLine intr_;
  std::mutex mu_;
  std::condition_variable cv_;  // wakes the alarm thread after a register change or on stop
  int64_t offset_ = 0;          // RTCDR = host seconds + offset_ (mod 2^32)
  uint32_t mr_ = 0, imsc_ = 0, ris_ = 0;
  uint32_t last_checked_ = 0;  // counter value when the match was last evaluated
  bool stop_ = false;
  std::thread alarm_;  // declared last: started lazily, joined in the destructor
};

}  // namespace orrery::hw::rtc
