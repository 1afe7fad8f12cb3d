// Intel 8254 programmable interval timer (datasheet 231164) as the PC wires it: three 16-bit
// down-counters clocked at 1.193182 MHz at ports 0x40-0x42 with the control word register at
// 0x43; modes 0-5, binary or BCD counting, LSB/MSB/both access, counter latch and read-back
// (count and status). Counter 0's gate is tied high and its OUT is ISA IRQ 0; counter 1 (DRAM
// refresh) has its gate tied high and its OUT unconnected; counter 2's gate and OUT go through
// the NMI status and control port 0x61 (port61()), with the speaker data bit and the refresh
// toggle, which Linux and SeaBIOS use to calibrate their delay loops.
//
// Counters are not ticked: their value and OUT are computed from the virtual clock on every
// access. Only counter 0's OUT drives a line, so one Timer fires at its next transition.
// Deviation kept from QEMU (the guest-visible reference): a new count written while a mode 2 or
// 3 counter runs restarts it at once instead of at the end of the current period.
#pragma once

#include <cstdint>
#include <mutex>

#include "hw/core/event_loop.h"
#include "hw/core/irq.h"
#include "hw/core/log.h"
#include "hw/core/mmio.h"
#include "hw/core/resettable.h"

namespace orrery::hw::timer {

class I8254 final : public MmioDevice, public Resettable {
 public:
  static constexpr uint64_t kIoSize = 4;  // counters 0-2, control word
  static constexpr int64_t kClockHz = 1193182;
  static constexpr unsigned kCounters = 3;

  // Control word (port 3): SC1:SC0 RW1:RW0 M2:M0 BCD.
  static constexpr uint8_t kCwSelectShift = 6, kCwRwShift = 4, kCwModeShift = 1, kCwBcd = 1u << 0;
  static constexpr uint8_t kCwReadBack = 3;  // SC = 11
  // Read-back command: bit 5 COUNT#, bit 4 STATUS# (active low), bits 3:1 counters 2..0.
  static constexpr uint8_t kRbNoCount = 1u << 5, kRbNoStatus = 1u << 4;
  // Status byte: OUTPUT, NULL COUNT, then the counter's RW, mode and BCD as programmed.
  static constexpr uint8_t kStOutput = 1u << 7, kStNullCount = 1u << 6;
  // Port 0x61 (NMI status and control).
  static constexpr uint8_t kP61Gate2 = 1u << 0, kP61SpeakerData = 1u << 1,
                           kP61Writable = 0x0f,  // also PCI SERR# and IOCHK# NMI enables
      kP61Refresh = 1u << 4, kP61Out2 = 1u << 5;
  /// The refresh request toggle's half period (DRAM refresh every 15.085 us, counter 1's
  /// default programming of 18 PIT clocks).
  static constexpr int64_t kRefreshNs = 15085;
  /// The timer handler re-arms no sooner than this after it runs: a guest that programs a tiny
  /// period gets its edges at most this often (the late handler still shows each one it
  /// covers as a pulse) instead of keeping the event loop busy.
  static constexpr int64_t kMinRearmNs = 5000;

  I8254(Log& log, EventLoop& loop);
  ~I8254() override;
  I8254(const I8254&) = delete;
  I8254& operator=(const I8254&) = delete;

  /// Counter 0's OUT: ISA IRQ 0.
  IrqLine& irq() { return irq0_; }
  /// Port 0x61 as a one-byte device.
  MmioDevice& port61() { return port61_; }
  /// Drives a counter's GATE input (port 0x61 drives counter 2's; 0 and 1 are tied high).
  void set_gate(unsigned counter, bool level);
  /// A counter's OUT now (tests, and port 0x61's bit 5).
  bool out(unsigned counter);
  /// Keeps counter 0 from driving IRQ 0 (the HPET's legacy replacement route takes it over).
  void set_irq_enabled(bool enabled);

  void reset() override;
  MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
  MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
  AccessRules valid() const override { return {1, 4, true}; }
  AccessRules impl() const override { return {1, 1, false}; }

 private:
  struct Counter {
    uint8_t cw = 0;  // the control word's low six bits, as the status byte returns them
    uint8_t mode = 0, rw = 3;
    bool bcd = false;
    uint32_t count = 0x10000;  // the count as loaded, 1..65536 (1..10000 in BCD)
    bool loaded = false;       // a whole count was written after the control word
    bool triggered = false;    // counting began (load, or a gate trigger in modes 1, 2, 3, 5)
    bool running = false;      // counting now (d = now - start); else d = frozen
    int64_t start = 0, frozen = 0;
    uint16_t hold = 0;  // the value read before counting began
    bool gate = true;
    bool null_count = false;
    bool write_msb = false;  // the next count byte written is the MSB (RW = 3)
    uint8_t write_lsb = 0;
    bool read_msb = false;  // the next live read returns the MSB (RW = 3)
    bool count_latched = false, latch_msb = false;
    uint16_t latched = 0;
    bool status_latched = false;
    uint8_t status = 0;
  };

  class Port61 final : public MmioDevice {
   public:
    explicit Port61(I8254& pit) : pit_(pit) {}
    MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
    MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
    AccessRules valid() const override { return {1, 4, true}; }
    AccessRules impl() const override { return {1, 1, false}; }

   private:
    I8254& pit_;
  };

  // mu_ held by all of these.
  int64_t now_tick() const;
  int64_t elapsed(const Counter& c, int64_t now) const;
  uint32_t value(const Counter& c, int64_t now) const;  // binary, 0..modulus-1
  bool out_at(const Counter& c, int64_t d) const;
  bool out_now(const Counter& c, int64_t now) const;
  /// The first elapsed count after d at which OUT changes, or -1 if it never does.
  int64_t next_change(const Counter& c, int64_t d) const;
  void latch_count(Counter& c, int64_t now);
  void latch_status(Counter& c, int64_t now);
  void write_control(uint8_t v, int64_t now);
  void write_count(Counter& c, uint8_t v, int64_t now);
  void load(Counter& c, uint16_t raw, int64_t now);
  uint8_t read_counter(Counter& c, int64_t now);
  void gate_locked(unsigned i, bool level, int64_t now);
  /// Drives IRQ 0 from counter 0's OUT now and arms the timer for its next change, not before
  /// virtual time not_before_ns.
  void update_irq(int64_t now, int64_t not_before_ns = 0);
  void on_timer();

  Log& log_;
  EventLoop& loop_;
  IrqLine irq0_;
  Port61 port61_{*this};
  std::mutex mu_;
  Counter counters_[kCounters];
  uint8_t p61_ = 0;  // port 0x61's writable bits
  bool irq_enabled_ = true;
  int64_t irq_due_ = -1;  // counter 0's elapsed count at which the timer fires
  Timer timer_;           // last: its handler uses the members above
};

}  // namespace orrery::hw::timer
