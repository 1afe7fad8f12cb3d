// The IA-PC High Precision Event Timer (Intel HPET specification 1.0a) as QEMU's pc presents it
// at 0xfed00000: one 64-bit main counter at 100 MHz, three comparators each capable of
// periodic mode and 64-bit operation, legacy replacement routing (timer 0 to ISA IRQ 0, timer 1
// to IRQ 8, taking them from the PIT and the RTC), and per-timer edge or level interrupts with
// the general interrupt status register.
//
// The counter is computed from the virtual clock while enabled; each comparator has one Timer
// armed for its next match. A periodic comparator adds its period when it fires (the
// accumulator rule); a 32-bit one-shot comparator also fires when the counter's low 32 bits
// wrap. Like QEMU (the guest-visible reference), a comparator written up to half the counter's
// range in the past fires at once instead of a counter wrap later. FSB (MSI) delivery is not
// offered, so Tn_FSB_INT_DEL_CAP reads 0.
//
// Interrupt lines: irq(n) for n < kIrqLines is the one the board connects to its GSI n input,
// where GSI 0 means ISA IRQ 0 (the IOAPIC sees it on pin 2): legacy replacement drives irq(0)
// and irq(8); otherwise timer n drives irq(Tn_INT_ROUTE_CNF).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "hw/core/event_loop.h"
#include "hw/core/irq.h"
#include "hw/core/log.h"
#include "hw/core/mmio.h"
#include "hw/core/resettable.h"

namespace orrery::hw::timer {

class Hpet final : public MmioDevice, public Resettable {
 public:
  static constexpr uint64_t kMmioSize = 0x400;
  static constexpr unsigned kTimers = 3;
  static constexpr unsigned kIrqLines = 32;          // Tn_INT_ROUTE_CNF is five bits
  static constexpr uint32_t kPeriodFs = 10'000'000;  // 10 ns: 100 MHz
  static constexpr int64_t kTickNs = 10;
  /// A comparator's handler re-arms no sooner than this after it runs: a tiny period gives at
  /// most one interrupt per interval (the accumulator still counts every period) instead of
  /// keeping the event loop busy.
  static constexpr int64_t kMinRearmNs = 5000;
  /// QEMU's pc (i440FX) advertises only IOAPIC input 2 in Tn_INT_ROUTE_CAP.
  static constexpr uint32_t kPcRouteCap = 1u << 2;

  // Registers (spec table 3).
  static constexpr uint64_t GCAP_ID = 0x000, GEN_CONF = 0x010, GEN_INT_STS = 0x020,
                            MAIN_CNT = 0x0f0, TIMER_BASE = 0x100, TIMER_STRIDE = 0x20,
                            TN_CONF = 0x00, TN_CMP = 0x08, TN_FSB = 0x10;
  // GCAP_ID's low half: REV_ID, NUM_TIM_CAP (timers - 1), COUNT_SIZE_CAP, LEG_RT_CAP, vendor.
  static constexpr uint64_t kCapRevId = 0x01, kCapNumTimShift = 8, kCapCountSize = 1u << 13,
                            kCapLegRt = 1u << 15, kCapVendorShift = 16, kVendorIntel = 0x8086;
  // GEN_CONF.
  static constexpr uint64_t kEnableCnf = 1u << 0, kLegRtCnf = 1u << 1;
  // Tn_CONF.
  static constexpr uint64_t kTnIntTypeLevel = 1u << 1, kTnIntEnb = 1u << 2, kTnPeriodic = 1u << 3,
                            kTnPerIntCap = 1u << 4, kTnSizeCap = 1u << 5, kTnValSet = 1u << 6,
                            kTn32Mode = 1u << 8, kTnRouteShift = 9, kTnRouteMask = 0x1fu << 9,
                            kTnFsbEn = 1u << 14, kTnFsbCap = 1u << 15;
  static constexpr uint64_t kTnWritable =
      kTnIntTypeLevel | kTnIntEnb | kTnPeriodic | kTnValSet | kTn32Mode | kTnRouteMask;

  /// on_legacy(true) when the guest turns legacy replacement on, (false) when off: the board
  /// takes IRQ 0 and 8 away from the PIT and the RTC while it is on.
  Hpet(Log& log, EventLoop& loop, std::function<void(bool)> on_legacy = {},
       uint32_t route_cap = kPcRouteCap);
  ~Hpet() override;
  Hpet(const Hpet&) = delete;
  Hpet& operator=(const Hpet&) = delete;

  IrqLine& irq(unsigned n) { return lines_[n < kIrqLines ? n : 0]; }

  void reset() override;
  MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
  MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
  AccessRules valid() const override { return {4, 8, false}; }
  AccessRules impl() const override { return {4, 8, false}; }

 private:
  struct Comparator {
    uint64_t config = 0;  // the writable Tn_CONF bits
    uint64_t cmp = 0, period = 0;
    bool wrap_due = false;  // the armed event is the 32-bit wrap, not the match
    int64_t due_tick = -1;  // virtual-clock tick (10 ns) of the armed event
  };

  // mu_ held by all of these.
  uint64_t counter(int64_t tick) const;
  uint64_t timer_config(unsigned i) const;
  unsigned route(unsigned i) const;
  uint64_t read64(uint64_t reg, int64_t tick);
  void write64(uint64_t reg, uint64_t value, uint64_t mask, int64_t tick);
  /// Arms timer i for its next match after a register change (QEMU's rule for the past).
  void arm(unsigned i, int64_t tick);
  void arm_in(unsigned i, int64_t tick, int64_t diff, bool wrap);
  uint64_t accumulated(const Comparator& t, uint64_t now) const;
  uint64_t comparator(unsigned i, int64_t tick) const;
  void fire(unsigned i, int64_t tick);
  void update_lines();
  void on_timer(unsigned i);

  Log& log_;
  EventLoop& loop_;
  std::function<void(bool)> on_legacy_;
  const uint32_t route_cap_;
  std::array<IrqLine, kIrqLines> lines_;
  std::mutex mu_;
  uint64_t config_ = 0, isr_ = 0;
  uint64_t counter_ = 0;  // while disabled: the counter; while enabled: counter - tick
  std::array<Comparator, kTimers> timers_;
  std::array<std::unique_ptr<Timer>, kTimers> events_;  // last: their handlers use the above
};

}  // namespace orrery::hw::timer
