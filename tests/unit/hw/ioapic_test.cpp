// The IOAPIC's registers (QEMU's version 0x20, 24 pins) and its delivery: edge and level pins,
// remote IRR with the EOI broadcast and the EOI register, masking, logical destinations.
#include "hw/intc/ioapic.h"

#include <gtest/gtest.h>

#include "apic_test_rig.h"

namespace orrery::hw {
namespace {

using test::ApicRig;

struct IoRig : ApicRig {
  IoApic io{log, bus};
  IoRig() : ApicRig(2) {
    enable(0);
    enable(1);
  }
  void reg_write(uint8_t index, uint32_t v) {
    ASSERT_EQ(io.write(IoApic::kIoRegSel, 4, index), MemResult::Ok);
    ASSERT_EQ(io.write(IoApic::kIoWin, 4, v), MemResult::Ok);
  }
  uint32_t reg_read(uint8_t index) {
    uint64_t v = 0;
    EXPECT_EQ(io.write(IoApic::kIoRegSel, 1, index), MemResult::Ok);
    EXPECT_EQ(io.read(IoApic::kIoWin, 4, v), MemResult::Ok);
    return uint32_t(v);
  }
  void route(unsigned pin, uint32_t lo, uint8_t dest) {
    reg_write(uint8_t(0x11 + 2 * pin), uint32_t(dest) << 24);
    reg_write(uint8_t(0x10 + 2 * pin), lo);
  }
  bool irr(unsigned cpu, uint8_t v) {
    return (r(cpu, LocalApic::kRegIrr + (v >> 5) * 0x10) >> (v & 31)) & 1;
  }
};

TEST(IoApic, IdVersionAndResetState) {
  IoRig t;
  EXPECT_EQ(t.reg_read(0x01), 0x00170020u);
  EXPECT_EQ(t.reg_read(0x00), 0u);
  t.reg_write(0x00, 0x0f000000);
  EXPECT_EQ(t.reg_read(0x00), 0x0f000000u);
  EXPECT_EQ(t.reg_read(0x02), 0u);
  for (unsigned pin = 0; pin < 24; ++pin) {
    EXPECT_EQ(t.reg_read(uint8_t(0x10 + 2 * pin)), 0x00010000u);
    EXPECT_EQ(t.reg_read(uint8_t(0x11 + 2 * pin)), 0u);
  }
  uint64_t v = 0;
  EXPECT_EQ(t.io.read(IoApic::kIoRegSel, 4, v), MemResult::Ok);
  EXPECT_EQ(v, 0x11u + 2 * 23);
}

TEST(IoApic, ReadOnlyAndReservedBitsOfAnEntry) {
  IoRig t;
  t.reg_write(0x10, 0xffffffff);
  EXPECT_EQ(t.reg_read(0x10), 0x0001afffu);  // no delivery status, no remote IRR
  t.reg_write(0x11, 0xffffffff);
  EXPECT_EQ(t.reg_read(0x11), 0xff000000u);
}

TEST(IoApic, EdgePinDeliversOncePerRisingEdge) {
  IoRig t;
  t.route(4, 0x31, 1);  // fixed, physical, edge, vector 0x31 to APIC 1
  t.io.set_irq(4, true);
  EXPECT_TRUE(t.irr(1, 0x31));
  EXPECT_FALSE(t.irr(0, 0x31));
  EXPECT_TRUE(t.pins[1]->intr);
  EXPECT_EQ(t.l(1).acknowledge(), 0x31);
  t.io.set_irq(4, true);  // no new edge
  EXPECT_FALSE(t.irr(1, 0x31));
  t.io.set_irq(4, false);
  t.io.set_irq(4, true);
  EXPECT_TRUE(t.irr(1, 0x31));
}

TEST(IoApic, MaskedEdgeIsLost) {
  IoRig t;
  t.route(3, 0x10033, 0);
  t.io.set_irq(3, true);
  t.route(3, 0x33, 0);
  EXPECT_FALSE(t.irr(0, 0x33));
}

TEST(IoApic, LevelPinRemoteIrrAndEoiBroadcast) {
  IoRig t;
  t.route(9, 0x8041, 0);  // level, vector 0x41
  EXPECT_EQ(t.io.trigger(9), IrqTrigger::kLevel);
  EXPECT_EQ(t.io.trigger(8), IrqTrigger::kEdge);
  t.io.set_irq(9, true);
  EXPECT_NE(t.io.entry(9) & IoApic::kRemoteIrr, 0u);
  EXPECT_EQ(t.l(0).acknowledge(), 0x41);
  EXPECT_NE(t.r(0, LocalApic::kRegTmr + 0x20) & 2, 0u);  // TMR bit 0x41
  // EOI with the line still high: delivered again.
  t.w(0, LocalApic::kRegEoi, 0);
  EXPECT_NE(t.io.entry(9) & IoApic::kRemoteIrr, 0u);
  EXPECT_TRUE(t.irr(0, 0x41));
  EXPECT_EQ(t.l(0).acknowledge(), 0x41);
  t.io.set_irq(9, false);
  t.w(0, LocalApic::kRegEoi, 0);
  EXPECT_EQ(t.io.entry(9) & IoApic::kRemoteIrr, 0u);
  EXPECT_FALSE(t.irr(0, 0x41));
}

TEST(IoApic, EoiRegisterClearsRemoteIrr) {
  IoRig t;
  t.route(10, 0x8052, 0);
  t.io.set_irq(10, true);
  t.io.set_irq(10, false);
  EXPECT_NE(t.io.entry(10) & IoApic::kRemoteIrr, 0u);
  ASSERT_EQ(t.io.write(IoApic::kEoi, 4, 0x52), MemResult::Ok);
  EXPECT_EQ(t.io.entry(10) & IoApic::kRemoteIrr, 0u);
}

TEST(IoApic, UnmaskingAnAssertedLevelPinDelivers) {
  IoRig t;
  t.io.set_irq(16, true);
  t.route(16, 0x18061, 1);  // masked level
  EXPECT_FALSE(t.irr(1, 0x61));
  t.route(16, 0x8061, 1);
  EXPECT_TRUE(t.irr(1, 0x61));
}

TEST(IoApic, LogicalFlatDestinationAndNmi) {
  IoRig t;
  t.w(0, LocalApic::kRegLdr, 0x01000000);
  t.w(1, LocalApic::kRegLdr, 0x02000000);
  t.route(5, 0x0871, 0x03);  // fixed, logical: both
  t.io.set_irq(5, true);
  EXPECT_TRUE(t.irr(0, 0x71));
  EXPECT_TRUE(t.irr(1, 0x71));
  t.route(6, 0x0c00, 0x02);  // NMI, logical: APIC 1
  t.io.set_irq(6, true);
  EXPECT_EQ(t.pins[0]->nmis, 0);
  EXPECT_EQ(t.pins[1]->nmis, 1);
}

TEST(IoApic, LowestPriorityPicksTheLowestTpr) {
  IoRig t;
  t.w(0, LocalApic::kRegLdr, 0x01000000);
  t.w(1, LocalApic::kRegLdr, 0x02000000);
  t.w(0, LocalApic::kRegTpr, 0x20);
  t.route(7, 0x0981, 0x03);  // lowest priority, logical: both
  t.io.set_irq(7, true);
  EXPECT_FALSE(t.irr(0, 0x81));
  EXPECT_TRUE(t.irr(1, 0x81));
}

TEST(IoApic, MsiDecodesToAnApicMessage) {
  IoRig t;
  EXPECT_TRUE(t.bus.deliver_msi({0xfee01000, 0x4091}));  // APIC 1, vector 0x91
  EXPECT_TRUE(t.irr(1, 0x91));
  EXPECT_FALSE(t.bus.deliver_msi({0xfed00000, 0x91}));
}

}  // namespace
}  // namespace orrery::hw
