// The ACPI power-management registers of the PIIX4's function 3 (Intel 82371AB datasheet,
// section 7 "Power Management") as QEMU's pc presents them: the PM1a event block (PM1_STS,
// write 1 to clear, and PM1_EN), the PM1a control block (SCI_EN, SLP_TYP and SLP_EN), the
// 24-bit ACPI PM timer at 3.579545 MHz, QEMU's 4-byte GPE0 block (GPE0_STS, GPE0_EN) and the
// APM control and status ports (0xb2, 0xb3) through which the OS turns ACPI mode on (SCI_EN)
// by writing the FADT's ACPI_ENABLE value to SMI_CMD.
//
// Ports, as QEMU's pc and its ACPI tables put them (pc_map.h holds them; the FADT agrees):
// PM1a_EVT_BLK 0x600 (4 bytes), PM1a_CNT_BLK 0x604 (2), PM_TMR_BLK 0x608 (4), GPE0_BLK 0xafe0
// (4), SMI_CMD 0xb2 with ACPI_ENABLE 0xf1 and ACPI_DISABLE 0xf0. Sleep types (the DSDT's _Sx
// packages, QEMU's piix4 values): SLP_TYP 0 is S5 soft-off, 1 is S3, 2 is S4, which QEMU also
// treats as power-off.
//
// The PM timer is the virtual clock counted at 3.579545 MHz; TMR_STS is set whenever its bit
// 23 changes, and one Timer fires only while TMR_EN asks for the SCI. The SCI (ISA IRQ 9,
// level, active high) is raised by an enabled PM1 or GPE0 event, whatever SCI_EN says, as in
// QEMU: without SMM there is no SMI for it to go to instead.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>

#include "hw/core/event_loop.h"
#include "hw/core/irq.h"
#include "hw/core/log.h"
#include "hw/core/mmio.h"
#include "hw/core/resettable.h"

namespace orrery::hw::acpi {

class AcpiPm final : public Resettable {
 public:
  static constexpr int64_t kTimerHz = 3579545;
  static constexpr uint32_t kTimerMask = 0xffffff;  // 24 bits (the FADT's TMR_VAL_EXT is 0)
  static constexpr uint64_t kPmIoSize = 12;         // PM1a_EVT, PM1a_CNT (and 2 reserved), PM_TMR
  static constexpr uint64_t kGpe0Size = 4, kApmSize = 2;
  // Offsets in the PM block.
  static constexpr uint64_t PM1_STS = 0, PM1_EN = 2, PM1_CNT = 4, PM_TMR = 8;
  // PM1_STS and PM1_EN bits.
  static constexpr uint16_t kTmrSts = 1u << 0, kBmSts = 1u << 4, kGblSts = 1u << 5,
                            kPwrbtnSts = 1u << 8, kRtcSts = 1u << 10, kWakSts = 1u << 15;
  static constexpr uint16_t kTmrEn = 1u << 0, kGblEn = 1u << 5, kPwrbtnEn = 1u << 8,
                            kRtcEn = 1u << 10;
  static constexpr uint16_t kEnWritable = kTmrEn | kGblEn | kPwrbtnEn | kRtcEn;
  // PM1_CNT bits.
  static constexpr uint16_t kSciEn = 1u << 0, kBmRld = 1u << 1, kGblRls = 1u << 2,
                            kSlpTypShift = 10, kSlpTypMask = 7u << 10, kSlpEn = 1u << 13;
  static constexpr uint16_t kCntWritable = kSciEn | kBmRld | kSlpTypMask;
  static constexpr unsigned kSlpTypS5 = 0, kSlpTypS3 = 1, kSlpTypS4 = 2;
  // APM control values (the FADT's ACPI_ENABLE / ACPI_DISABLE).
  static constexpr uint8_t kAcpiEnable = 0xf1, kAcpiDisable = 0xf0;

  /// power_off runs (on the writing vCPU's thread) when the guest enters S5 (or S4).
  AcpiPm(Log& log, EventLoop& loop, std::function<void()> power_off);
  ~AcpiPm() override;
  AcpiPm(const AcpiPm&) = delete;
  AcpiPm& operator=(const AcpiPm&) = delete;

  MmioDevice& pm_block() { return pm_; }
  MmioDevice& gpe0() { return gpe_; }
  MmioDevice& apm() { return apm_; }
  /// The SCI: ISA IRQ 9.
  IrqLine& sci() { return sci_; }

  /// The power button: sets PWRBTN_STS (an SCI if PWRBTN_EN).
  void press_power_button();
  /// A general-purpose event (bit < 16): sets its GPE0_STS bit.
  void raise_gpe(unsigned bit);
  /// The PM timer's value now.
  uint32_t timer_value();

  void reset() override;

 private:
  /// A port block of this device: byte-addressed registers, accesses of one to four bytes.
  class Block final : public MmioDevice {
   public:
    enum class Kind : uint8_t { Pm, Gpe, Apm };
    Block(AcpiPm& pm, Kind kind) : pm_(pm), kind_(kind) {}
    MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
    MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
    AccessRules valid() const override { return {1, 4, true}; }
    AccessRules impl() const override { return {1, 4, true}; }

   private:
    AcpiPm& pm_;
    const Kind kind_;
  };

  // mu_ held by all of these.
  int64_t ticks() const;
  void catch_up();  // sets TMR_STS for bit-23 changes since the last look
  void update_sci();
  uint8_t read_byte(Block::Kind kind, uint64_t offset, uint32_t tmr);
  /// Returns the sleep type entered, or -1.
  int write_byte(Block::Kind kind, uint64_t offset, uint8_t v);
  void on_timer();

  Log& log_;
  EventLoop& loop_;
  std::function<void()> power_off_;
  IrqLine sci_;
  Block pm_{*this, Block::Kind::Pm}, gpe_{*this, Block::Kind::Gpe}, apm_{*this, Block::Kind::Apm};
  std::mutex mu_;
  uint16_t sts_ = 0, en_ = 0, cnt_ = 0;
  uint16_t gpe_sts_ = 0, gpe_en_ = 0;
  uint8_t apmc_ = 0, apms_ = 0;
  int64_t last_half_ = 0;  // the PM timer's count >> 23 when last looked at
  Timer timer_;            // last: its handler uses the members above
};

}  // namespace orrery::hw::acpi
