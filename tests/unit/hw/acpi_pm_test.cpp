// ACPI PM block: the PM timer's rate and TMR_STS, the SCI, write-1-to-clear status, S5 through
// SLP_EN, SCI_EN through the APM port, the power button and GPE0.
#include "hw/acpi/acpi_pm.h"

#include <gtest/gtest.h>

#include "hw/core/address_space.h"
#include "tests/unit/hw/irq_recorder.h"

namespace orrery::hw::acpi {
namespace {

using test::IrqRecorder;
using test::ManualTime;

constexpr int64_t kSec = 1'000'000'000;
constexpr uint16_t kPm = 0x600, kGpe = 0xafe0, kApm = 0xb2;

class AcpiPmTest : public ::testing::Test {
 protected:
  AcpiPmTest() {
    EXPECT_EQ(io.add_mmio("pm", kPm, AcpiPm::kPmIoSize, pm.pm_block()), "");
    EXPECT_EQ(io.add_mmio("gpe0", kGpe, AcpiPm::kGpe0Size, pm.gpe0()), "");
    EXPECT_EQ(io.add_mmio("apm", kApm, AcpiPm::kApmSize, pm.apm()), "");
    pm.sci().connect(irqs, 9);
  }
  uint64_t in(uint16_t port, unsigned size) {
    uint64_t v = 0;
    EXPECT_EQ(io.read(port, size, v), MemResult::Ok);
    return v;
  }
  void out(uint16_t port, unsigned size, uint64_t v) {
    EXPECT_EQ(io.write(port, size, v), MemResult::Ok);
  }

  Log log;
  ManualTime t;
  AddressSpace io{"io", kIoPortSpaceSize};
  IrqRecorder irqs;
  int power_offs = 0;
  AcpiPm pm{log, t.loop, [this] { ++power_offs; }};
};

TEST_F(AcpiPmTest, PmTimerCountsAt3579545Hz) {
  EXPECT_EQ(in(kPm + 8, 4), 0u);
  t.advance(kSec);
  EXPECT_EQ(in(kPm + 8, 4), 3579545u);
  t.advance(4 * kSec);  // 24 bits wrap every 4.69 s
  EXPECT_EQ(in(kPm + 8, 4), (5 * 3579545u) & 0xffffff);
  EXPECT_EQ(in(kPm + 10, 2), ((5 * 3579545u) & 0xffffff) >> 16);
}

TEST_F(AcpiPmTest, TimerStatusAtBit23ChangesAndSciWhenEnabled) {
  // The first nanosecond of PM timer count 2^23 (~2.34 s).
  const int64_t half_period = ((int64_t(1) << 23) * kSec + AcpiPm::kTimerHz - 1) / AcpiPm::kTimerHz;
  t.advance(half_period - 1000);
  EXPECT_EQ(in(kPm, 2) & AcpiPm::kTmrSts, 0u);
  t.advance(1000);
  EXPECT_EQ(in(kPm, 2) & AcpiPm::kTmrSts, AcpiPm::kTmrSts);
  EXPECT_FALSE(irqs.level(9));   // TMR_EN clear
  out(kPm, 2, AcpiPm::kTmrSts);  // write 1 to clear
  EXPECT_EQ(in(kPm, 2) & AcpiPm::kTmrSts, 0u);
  out(kPm + 2, 2, AcpiPm::kTmrEn);
  EXPECT_EQ(in(kPm + 2, 2), AcpiPm::kTmrEn);
  t.advance_to(2 * half_period - 1000);
  EXPECT_FALSE(irqs.level(9));
  t.advance_to(2 * half_period);  // the Timer raises the SCI without the guest looking
  EXPECT_TRUE(irqs.level(9));
  out(kPm, 2, AcpiPm::kTmrSts);
  EXPECT_FALSE(irqs.level(9));
}

TEST_F(AcpiPmTest, SlpEnWithS5PowersOff) {
  out(kPm + 4, 2, AcpiPm::kSlpTypS3 << AcpiPm::kSlpTypShift);  // no SLP_EN: nothing
  EXPECT_EQ(power_offs, 0);
  EXPECT_EQ(in(kPm + 4, 2), AcpiPm::kSlpTypS3 << AcpiPm::kSlpTypShift);
  out(kPm + 4, 2, AcpiPm::kSlpEn | AcpiPm::kSlpTypS3 << AcpiPm::kSlpTypShift);
  EXPECT_EQ(power_offs, 0);  // S3 is not offered
  out(kPm + 4, 2, AcpiPm::kSlpEn | AcpiPm::kSlpTypS5 << AcpiPm::kSlpTypShift | AcpiPm::kSciEn);
  EXPECT_EQ(power_offs, 1);
  EXPECT_EQ(in(kPm + 4, 2), AcpiPm::kSciEn);  // SLP_EN reads 0
  out(kPm + 5, 1, (AcpiPm::kSlpEn | AcpiPm::kSlpTypS4 << AcpiPm::kSlpTypShift) >> 8);
  EXPECT_EQ(power_offs, 2);  // a byte write to the high half; S4 powers off as in QEMU
}

TEST_F(AcpiPmTest, AcpiEnableThroughSmiCmd) {
  EXPECT_EQ(in(kPm + 4, 2) & AcpiPm::kSciEn, 0u);
  out(kApm, 1, AcpiPm::kAcpiEnable);
  EXPECT_EQ(in(kPm + 4, 2) & AcpiPm::kSciEn, AcpiPm::kSciEn);
  EXPECT_EQ(in(kApm, 1), AcpiPm::kAcpiEnable);
  out(kApm, 1, AcpiPm::kAcpiDisable);
  EXPECT_EQ(in(kPm + 4, 2) & AcpiPm::kSciEn, 0u);
  out(kApm + 1, 1, 0x5a);
  EXPECT_EQ(in(kApm + 1, 1), 0x5au);
}

TEST_F(AcpiPmTest, PowerButtonAndGpeRaiseTheSci) {
  pm.press_power_button();
  EXPECT_EQ(in(kPm, 2) & AcpiPm::kPwrbtnSts, AcpiPm::kPwrbtnSts);
  EXPECT_FALSE(irqs.level(9));
  out(kPm + 2, 2, AcpiPm::kPwrbtnEn);
  EXPECT_TRUE(irqs.level(9));
  out(kPm, 2, AcpiPm::kPwrbtnSts);
  EXPECT_FALSE(irqs.level(9));

  pm.raise_gpe(3);
  EXPECT_EQ(in(kGpe, 2), 8u);
  EXPECT_FALSE(irqs.level(9));
  out(kGpe + 2, 1, 8);
  EXPECT_TRUE(irqs.level(9));
  EXPECT_EQ(in(kGpe, 4), 0x00080008u);
  out(kGpe, 1, 8);
  EXPECT_FALSE(irqs.level(9));
}

TEST_F(AcpiPmTest, ResetClearsTheRegisters) {
  out(kApm, 1, AcpiPm::kAcpiEnable);
  out(kPm + 2, 2, AcpiPm::kPwrbtnEn);
  pm.press_power_button();
  EXPECT_TRUE(irqs.level(9));
  pm.reset();
  EXPECT_FALSE(irqs.level(9));
  EXPECT_EQ(in(kPm, 4), 0u);
  EXPECT_EQ(in(kPm + 4, 2), 0u);
}

}  // namespace
}  // namespace orrery::hw::acpi
