// The local APIC of one x86 vCPU (Intel SDM vol. 3 ch. 11), as QEMU's "apic" presents it:
// version 0x14 with six LVT entries (timer, thermal, performance counters, LINT0, LINT1, error),
// the xAPIC registers at the APIC base and the x2APIC MSRs 0x800-0x8ff, TPR/PPR, ISR/TMR/IRR,
// EOI (broadcast to the IOAPICs for level-triggered vectors), LDR/DFR (flat and cluster
// logical destinations), SVR, ESR, the ICR (fixed, lowest priority, SMI, NMI, INIT, INIT level
// de-assert, STARTUP; shorthands) and the timer in one-shot, periodic and TSC-deadline modes.
//
// The timer counts on the machine's virtual clock at 1 GHz before the divider (QEMU's APIC bus
// cycle of 1 ns); the TSC runs at 1 GHz on the same clock, so a TSC deadline converts to a
// virtual-clock time by subtracting the vCPU's TSC offset (the caller does).
//
// As QEMU's pc board, the boot processor's LINT0 comes out of reset as ExtINT, unmasked (what
// firmware sets up for the "virtual wire" mode), so the PIC reaches the BSP without a BIOS.
//
// Threading: every method may be called from any thread; one mutex guards the state. Outputs
// to the vCPU (LapicOutputs) are called with that mutex held and must not call back in; bus
// deliveries (IPIs, EOI broadcasts) are made after it is released.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>

#include "hw/core/clock.h"
#include "hw/core/event_loop.h"
#include "hw/core/irq.h"
#include "hw/core/log.h"
#include "hw/core/mmio.h"
#include "hw/core/resettable.h"
#include "hw/intc/apic_bus.h"

namespace orrery::hw {

/// The vCPU pins a local APIC drives (implemented by the board for its vCPU).
class LapicOutputs {
 public:
  virtual ~LapicOutputs() = default;
  /// The INTR request to the core: the acknowledge cycle then calls LocalApic::acknowledge.
  virtual void set_intr(bool level) = 0;
  virtual void nmi() = 0;
  virtual void smi() {}
  /// INIT: the core resets and (an application processor) waits for STARTUP.
  virtual void init() = 0;
  virtual void startup(uint8_t vector) = 0;
};

class LocalApic final : public IrqSink, public Resettable {
 public:
  // IrqSink inputs.
  static constexpr unsigned kLint0 = 0, kLint1 = 1;
  /// acknowledge(): the interrupt comes from the 8259 (LINT0 in ExtINT mode, or the APIC is
  /// globally disabled): the board runs the PIC's acknowledge cycle.
  static constexpr int kAckExtInt = -2;

  static constexpr uint32_t kVersion = 0x14, kLvtCount = 6;
  static constexpr uint64_t kDefaultBase = 0xfee00000;
  // IA32_APIC_BASE bits.
  static constexpr uint64_t kBaseBsp = 1u << 8, kBaseExtd = 1u << 10, kBaseEnable = 1u << 11;

  // xAPIC register offsets (x2APIC MSR = 0x800 + offset / 16).
  enum Reg : uint32_t {
    kRegId = 0x20,
    kRegVersion = 0x30,
    kRegTpr = 0x80,
    kRegApr = 0x90,
    kRegPpr = 0xa0,
    kRegEoi = 0xb0,
    kRegRrd = 0xc0,
    kRegLdr = 0xd0,
    kRegDfr = 0xe0,
    kRegSvr = 0xf0,
    kRegIsr = 0x100,
    kRegTmr = 0x180,
    kRegIrr = 0x200,
    kRegEsr = 0x280,
    kRegIcrLo = 0x300,
    kRegIcrHi = 0x310,
    kRegLvtTimer = 0x320,
    kRegLvtThermal = 0x330,
    kRegLvtPerf = 0x340,
    kRegLvtLint0 = 0x350,
    kRegLvtLint1 = 0x360,
    kRegLvtError = 0x370,
    kRegTimerInit = 0x380,
    kRegTimerCurrent = 0x390,
    kRegTimerDivide = 0x3e0,
    kRegSelfIpi = 0x3f0,  // x2APIC only
  };
  // LVT indices.
  enum Lvt : unsigned { kLvtTimer, kLvtThermal, kLvtPerf, kLvtLint0, kLvtLint1, kLvtError };
  // LVT bits.
  static constexpr uint32_t kLvtMasked = 1u << 16, kLvtLevel = 1u << 15, kLvtRemoteIrr = 1u << 14,
                            kLvtPolarity = 1u << 13, kLvtPending = 1u << 12;
  static constexpr uint32_t kTimerPeriodic = 1u << 17, kTimerTscDeadline = 2u << 17;
  // SVR bits.
  static constexpr uint32_t kSvrEnable = 1u << 8, kSvrFocusOff = 1u << 9;
  // ESR bits.
  static constexpr uint32_t kEsrSendIllegal = 1u << 5, kEsrRecvIllegal = 1u << 6,
                            kEsrIllegalReg = 1u << 7;

  /// index: the vCPU number (initial APIC ID). The timer runs on loop's virtual clock.
  LocalApic(Log& log, ApicBus& bus, EventLoop& loop, unsigned index, LapicOutputs& out);
  ~LocalApic() override;
  LocalApic(const LocalApic&) = delete;
  LocalApic& operator=(const LocalApic&) = delete;

  unsigned index() const { return index_; }

  /// Power-on/RESET state (the BSP flag: index 0).
  void reset() override;
  /// The INIT state: everything but the APIC ID and IA32_APIC_BASE (SDM 11.4.7.3).
  void init_reset();
  /// Stops driving the vCPU (before the board destroys it): later timer expiries and messages
  /// reach no one.
  void disconnect();

  // ---- the core's view (X86LocalApic on the CPU side) ----
  uint64_t apic_base() const;
  /// WRMSR IA32_APIC_BASE (reserved bits already checked by the CPU); false: an invalid
  /// xAPIC/x2APIC transition (#GP).
  bool set_apic_base(uint64_t value);
  bool x2apic_mode() const;
  uint8_t read_cr8() const;
  void write_cr8(uint8_t value);
  /// x2APIC MSR 0x800-0x8ff; false: #GP (not in x2APIC mode, absent or write-only register,
  /// reserved bits).
  bool read_msr(uint32_t index, uint64_t& value);
  bool write_msr(uint32_t index, uint64_t value);
  /// IA32_TSC_DEADLINE: tsc as the guest wrote it, at_ns the virtual-clock time it stands for.
  uint64_t tsc_deadline() const;
  void set_tsc_deadline(uint64_t tsc, int64_t at_ns);
  /// The interrupt acknowledge cycle: the vector moved from IRR to ISR, the spurious vector if
  /// the request went away, kAckExtInt, or -1 with nothing pending.
  int acknowledge();

  // ---- the xAPIC page (offset within the 4 KiB page, 4-byte accesses) ----
  MemResult mmio_read(uint64_t offset, unsigned size, uint64_t& value);
  MemResult mmio_write(uint64_t offset, unsigned size, uint64_t value);

  // ---- the bus ----
  /// Whether a message to dest (physical or logical) reaches this APIC.
  bool matches(uint32_t dest, bool logical) const;
  /// Arbitration priority for lowest-priority delivery (the TPR, as QEMU arbitrates).
  uint8_t arbitration_priority() const;
  /// Accepts one message the bus routed here.
  void receive(const ApicMessage& msg);

  // IrqSink: LINT0 (the PIC's INTR) and LINT1.
  void set_irq(unsigned line, bool level) override;

  // For tests.
  bool intr() const;
  uint32_t reg(uint32_t offset);

 private:
  uint32_t read_reg_locked(uint32_t offset, bool& ok);
  /// Returns a message to send after unlocking (ICR writes), or none.
  bool write_reg_locked(uint32_t offset, uint64_t value, bool x2, ApicMessage& send, bool& eoi,
                        uint8_t& eoi_vector, bool& ok);
  void accept_locked(uint8_t vector, bool level);
  void local_deliver_locked(Lvt lvt);
  void update_intr_locked();
  int highest_irr_locked() const;
  int highest_isr_locked() const;
  uint8_t ppr_locked() const;
  bool deliverable_locked() const;
  bool extint_pending_locked() const;
  void error_locked(uint32_t bits);
  bool eoi_locked(uint8_t& vector);
  // Timer.
  void timer_fired();
  void timer_reload_locked(int64_t now);
  uint32_t timer_current_locked(int64_t now) const;
  unsigned timer_mode_locked() const { return (lvt_[kLvtTimer] >> 17) & 3; }
  void set_divide_locked(uint32_t value);
  void init_reset_locked();

  Log& log_;
  ApicBus& bus_;
  Clock& clock_;
  const unsigned index_;
  struct Disconnected final : LapicOutputs {
    void set_intr(bool) override {}
    void nmi() override {}
    void init() override {}
    void startup(uint8_t) override {}
  };
  Disconnected disconnected_;
  LapicOutputs* out_;  // under mu_
  std::unique_ptr<Timer> timer_;

  mutable std::mutex mu_;
  uint64_t base_ = 0;
  uint32_t id_ = 0;  // xAPIC: bits 7:0 of ID[31:24]; x2APIC: the 32-bit x2APIC ID
  uint8_t tpr_ = 0;
  uint32_t ldr_ = 0, dfr_ = 0xffffffff, svr_ = 0xff;
  std::array<uint32_t, 8> isr_{}, tmr_{}, irr_{};
  uint32_t esr_ = 0, esr_pending_ = 0;
  uint32_t icr_lo_ = 0, icr_hi_ = 0;
  std::array<uint32_t, kLvtCount> lvt_{};
  bool lint_level_[2] = {false, false};
  bool intr_ = false;
  // Timer: counting from initial_ at timer_start_ns_, one tick per 1 << divide_shift_ ns.
  uint32_t timer_divide_ = 0, initial_ = 0;
  unsigned divide_shift_ = 1;
  int64_t timer_start_ns_ = 0;
  uint64_t tsc_deadline_ = 0;
  int64_t deadline_ns_ = 0;
  int64_t next_expiry_ = -1;  // virtual time of the armed expiry, -1 when not counting
  bool extint_msg_ = false;   // an ExtINT message awaits its acknowledge cycle
};

}  // namespace orrery::hw
