// Motorola MC146818A real-time clock with 128 bytes of CMOS RAM, as the PC wires it: an index
// port (0x70, whose bit 7 is the NMI mask) and a data port (0x71). The time and date registers
// read in BCD or binary and in 12- or 24-hour form (register B), with registers A-D: UIP and
// the divider, the periodic rate, the periodic, alarm and update-ended interrupts with their
// flags, and VRT. The interrupt output (IRQF) is ISA IRQ 8. The century lives at 0x32, as the
// PC and QEMU keep it.
//
// Time base: the host's wall clock (UTC) at machine start, advanced by the virtual clock, so
// the guest's time stops while the machine is stopped. Registers are computed from that base
// on every access and the flags catch up lazily; one Timer fires only for an interrupt that is
// enabled and not already pending. As in QEMU (the guest-visible reference), UIP reads set
// during the last 244 us before each update and the update itself takes no time; divider
// settings 000-010 all run the clock at the 32.768 kHz rate the PC's crystal gives.
#pragma once

#include <cstdint>
#include <mutex>

#include "hw/core/event_loop.h"
#include "hw/core/irq.h"
#include "hw/core/log.h"
#include "hw/core/mmio.h"
#include "hw/core/resettable.h"

namespace orrery::hw::rtc {

class Mc146818 final : public MmioDevice, public Resettable {
 public:
  static constexpr uint64_t kIoSize = 2;  // index, data
  static constexpr unsigned kCmosSize = 128;
  // Register indexes (datasheet table 2), and the century byte of the PC's CMOS map.
  static constexpr uint8_t kSeconds = 0x00, kSecondsAlarm = 0x01, kMinutes = 0x02,
                           kMinutesAlarm = 0x03, kHours = 0x04, kHoursAlarm = 0x05,
                           kDayOfWeek = 0x06, kDayOfMonth = 0x07, kMonth = 0x08, kYear = 0x09,
                           kRegA = 0x0a, kRegB = 0x0b, kRegC = 0x0c, kRegD = 0x0d, kCentury = 0x32;
  static constexpr uint8_t kIndexMask = 0x7f, kNmiDisable = 0x80;  // port 0x70
  // Register A.
  static constexpr uint8_t kAUip = 0x80, kADividerMask = 0x70, kADivider32k = 0x20,
                           kARateMask = 0x0f;
  // Register B.
  static constexpr uint8_t kBSet = 0x80, kBPie = 0x40, kBAie = 0x20, kBUie = 0x10, kBSqwe = 0x08,
                           kBBinary = 0x04, kB24h = 0x02, kBDse = 0x01;
  // Register C (the flags sit at the bit of their enable in B).
  static constexpr uint8_t kCIrqf = 0x80, kCPf = 0x40, kCAf = 0x20, kCUf = 0x10;
  // Register D.
  static constexpr uint8_t kDVrt = 0x80;
  /// An alarm byte with its two top bits set matches any value ("don't care").
  static constexpr uint8_t kAlarmDontCare = 0xc0;
  /// UIP is set this long before each update (8 cycles of 32.768 kHz, as QEMU holds it).
  static constexpr int64_t kUipNs = 244140;

  /// wall_ns: the host's wall clock (ns since the Unix epoch, UTC) at the virtual clock's now.
  Mc146818(Log& log, EventLoop& loop, int64_t wall_ns);
  ~Mc146818() override;
  Mc146818(const Mc146818&) = delete;
  Mc146818& operator=(const Mc146818&) = delete;

  /// IRQF: ISA IRQ 8.
  IrqLine& irq() { return irq_; }
  /// Keeps IRQF off the line (the HPET's legacy replacement route takes IRQ 8 over).
  void set_irq_enabled(bool enabled);
  /// True while port 0x70's bit 7 masks NMIs.
  bool nmi_masked();
  /// CMOS RAM for the board's firmware fields (indexes 0x0e-0x7f; the clock's own are ignored).
  void set_cmos(uint8_t index, uint8_t value);
  uint8_t cmos(uint8_t index);

  /// Clears the interrupt enables and flags as the RESET pin does; time and RAM are kept.
  void reset() override;
  MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
  MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
  AccessRules valid() const override { return {1, 4, true}; }
  AccessRules impl() const override { return {1, 1, false}; }

 private:
  // mu_ held by all of these; vns is the virtual clock's now.
  bool running() const;  // the divider chain counts (DV = 000..010)
  int64_t rtc_ns(int64_t vns) const;
  uint8_t format(int v) const;  // binary or BCD, as register B says
  int parse(uint8_t v) const;
  uint8_t format_hours(int h) const;
  /// The time register idx (a time, date or century index) for time `sec`.
  uint8_t time_reg(uint8_t idx, int64_t sec) const;
  /// Copies the time registers for sec into the RAM bytes (SET freezes them there).
  void snapshot(int64_t sec);
  /// Sets the clock from the time registers in RAM, keeping the phase within the second.
  void set_time_from_regs(int64_t vns);
  bool alarm_matches(int64_t sec) const;
  /// The first second after `after` whose time matches the alarm (within a day), or -1.
  int64_t next_alarm(int64_t after) const;
  int64_t period_cycles() const;  // of 32.768 kHz, for register A's rate; 0 if off
  int64_t period_index(int64_t rns) const;
  /// Sets the flags for what happened since the last look, then drives IRQ 8.
  void catch_up(int64_t vns);
  void resync(int64_t vns);  // forgets past periods and updates (after a time or rate change)
  void update_irq();
  void rearm(int64_t vns);
  void on_timer();
  uint8_t read_reg(uint8_t idx, int64_t vns);
  void write_reg(uint8_t idx, uint8_t v, int64_t vns);

  Log& log_;
  EventLoop& loop_;
  IrqLine irq_;
  std::mutex mu_;
  uint8_t ram_[kCmosSize] = {};  // RAM, the alarm bytes, A and B; time bytes while SET
  uint8_t index_ = 0;
  bool nmi_masked_ = false;
  bool irq_enabled_ = true;
  uint8_t flags_ = 0;        // register C
  int64_t base_ns_ = 0;      // RTC time = base_ns_ + virtual time, while running
  int64_t frozen_ns_ = 0;    // RTC time while the divider is held in reset
  int64_t last_sec_ = 0;     // the last second whose update has been accounted for
  int64_t last_period_ = 0;  // the last periodic interval accounted for
  Timer timer_;              // last: its handler uses the members above
};

}  // namespace orrery::hw::rtc
