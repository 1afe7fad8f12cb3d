// The 8259A pair through its ports, as a PC BIOS and Linux program it: ICW1-4, masks, the
// acknowledge cycle, EOIs, priority rotation, special mask mode, poll mode, auto-EOI, the
// cascade, spurious IRQ 7/15 and the ELCR's level mode.
#include "hw/intc/i8259.h"

#include <gtest/gtest.h>

#include "hw/core/address_space.h"

namespace orrery::hw {
namespace {

struct Rig : IrqSink {
  Log log;
  I8259 pic{log};
  AddressSpace io{"io", kIoPortSpaceSize};
  bool intr = false;
  void set_irq(unsigned, bool level) override { intr = level; }
  Rig() {
    pic.intr().connect(*this, 0);
    EXPECT_EQ(io.add_mmio("pic1", 0x20, 2, pic.master_ports()), "");
    EXPECT_EQ(io.add_mmio("pic2", 0xa0, 2, pic.slave_ports()), "");
    EXPECT_EQ(io.add_mmio("elcr", 0x4d0, 2, pic.elcr_ports()), "");
  }
  void out(uint16_t port, uint8_t v) { ASSERT_EQ(io.write(port, 1, v), MemResult::Ok); }
  uint8_t in(uint16_t port) {
    uint64_t v = 0;
    EXPECT_EQ(io.read(port, 1, v), MemResult::Ok);
    return uint8_t(v);
  }
  /// What Linux's init_8259A does: master at 0x20, slave at 0x28, cascade on IR2.
  void init(uint8_t icw4 = 0x01) {
    out(0x20, 0x11);
    out(0x21, 0x20);
    out(0x21, 0x04);
    out(0x21, icw4);
    out(0xa0, 0x11);
    out(0xa1, 0x28);
    out(0xa1, 0x02);
    out(0xa1, icw4);
    out(0x21, 0x00);
    out(0xa1, 0x00);
  }
};

TEST(I8259, InitialisationAndMasks) {
  Rig r;
  r.init();
  EXPECT_EQ(r.in(0x21), 0x00);
  r.out(0x21, 0xfb);
  r.out(0xa1, 0xff);
  EXPECT_EQ(r.in(0x21), 0xfb);
  EXPECT_EQ(r.in(0xa1), 0xff);
  r.pic.set_irq(1, true);  // masked
  EXPECT_FALSE(r.intr);
  EXPECT_EQ(r.in(0x20), 0x02);  // IRR reads by default
  r.out(0x21, 0xf9);            // unmask IRQ 1: the latched edge is delivered
  EXPECT_TRUE(r.intr);
}

TEST(I8259, AcknowledgeAndNonSpecificEoi) {
  Rig r;
  r.init();
  r.pic.set_irq(4, true);
  EXPECT_TRUE(r.intr);
  EXPECT_EQ(r.pic.acknowledge(), 0x24);
  EXPECT_FALSE(r.intr);
  r.out(0x20, 0x0b);  // OCW3: read ISR
  EXPECT_EQ(r.in(0x20), 0x10);
  r.out(0x20, 0x0a);            // read IRR
  EXPECT_EQ(r.in(0x20), 0x00);  // edge: cleared by the acknowledge
  // A higher-priority request nests; a lower one waits for the EOI.
  r.pic.set_irq(3, true);
  r.pic.set_irq(5, true);
  EXPECT_TRUE(r.intr);
  EXPECT_EQ(r.pic.acknowledge(), 0x23);
  EXPECT_FALSE(r.intr);
  r.out(0x20, 0x20);     // EOI: IR3
  EXPECT_FALSE(r.intr);  // IR4 still in service blocks IR5
  r.out(0x20, 0x20);     // EOI: IR4
  EXPECT_TRUE(r.intr);
  EXPECT_EQ(r.pic.acknowledge(), 0x25);
  r.out(0x20, 0x65);  // specific EOI for IR5
  EXPECT_EQ(r.pic.isr(0), 0);
}

TEST(I8259, CascadeThroughIr2AndSpuriousVectors) {
  Rig r;
  r.init();
  r.pic.set_irq(12, true);
  EXPECT_TRUE(r.intr);
  EXPECT_EQ(r.pic.acknowledge(), 0x2c);
  EXPECT_EQ(r.pic.isr(0), 0x04);
  EXPECT_EQ(r.pic.isr(1), 0x10);
  r.out(0xa0, 0x20);
  r.out(0x20, 0x20);
  EXPECT_EQ(r.pic.isr(0) | r.pic.isr(1), 0);
  // Nothing pending: IRQ 7's vector, nothing in service.
  EXPECT_EQ(r.pic.acknowledge(), 0x27);
  EXPECT_EQ(r.pic.isr(0), 0);
}

TEST(I8259, AWithdrawnRequestIsSpuriousIrq7) {
  Rig r;
  r.init();
  r.pic.set_irq(5, true);
  EXPECT_TRUE(r.intr);
  r.pic.set_irq(5, false);  // falls before the acknowledge (datasheet: default IR7)
  EXPECT_FALSE(r.intr);
  EXPECT_EQ(r.pic.acknowledge(), 0x27);
  EXPECT_EQ(r.pic.isr(0), 0);
  r.pic.set_irq(11, true);
  r.pic.set_irq(11, false);
  EXPECT_EQ(r.pic.irr(0) | r.pic.irr(1), 0);  // the cascade input fell with it
}

TEST(I8259, ElcrLevelModeKeepsTheRequest) {
  Rig r;
  r.init();
  r.out(0x4d0, 0xff);
  r.out(0x4d1, 0xff);
  EXPECT_EQ(r.in(0x4d0), 0xf8);  // IRQ 0-2 are always edge
  EXPECT_EQ(r.in(0x4d1), 0xde);  // IRQ 8 and 13 too
  EXPECT_EQ(r.pic.trigger(9), IrqTrigger::kLevel);
  EXPECT_EQ(r.pic.trigger(8), IrqTrigger::kEdge);
  r.pic.set_irq(9, true);
  EXPECT_EQ(r.pic.acknowledge(), 0x29);
  EXPECT_EQ(r.pic.irr(1) & 0x02, 0x02);  // still asserted
  r.out(0xa0, 0x20);
  r.out(0x20, 0x20);
  EXPECT_TRUE(r.intr);  // requested again
  EXPECT_EQ(r.pic.acknowledge(), 0x29);
  r.pic.set_irq(9, false);
  EXPECT_FALSE(r.intr);
}

TEST(I8259, PollMode) {
  Rig r;
  r.init();
  r.out(0x20, 0x0c);  // poll
  EXPECT_EQ(r.in(0x20), 0x00);
  r.pic.set_irq(6, true);
  r.out(0x20, 0x0c);
  EXPECT_EQ(r.in(0x20), 0x86);
  EXPECT_EQ(r.pic.isr(0), 0x40);
  EXPECT_EQ(r.in(0x20), 0x00);  // poll is one read; then IRR
}

TEST(I8259, AutoEoiAndRotation) {
  Rig r;
  r.init(0x03);  // 8086 mode, auto-EOI
  r.pic.set_irq(3, true);
  EXPECT_EQ(r.pic.acknowledge(), 0x23);
  EXPECT_EQ(r.pic.isr(0), 0);
  // Rotate on auto-EOI: the acknowledged IR3 becomes the lowest priority (4,5,6,7,0,1,2,3).
  r.out(0x20, 0x80);
  r.pic.set_irq(3, false);
  r.pic.set_irq(3, true);
  EXPECT_EQ(r.pic.acknowledge(), 0x23);
  r.pic.set_irq(1, true);
  r.pic.set_irq(4, true);
  EXPECT_EQ(r.pic.acknowledge(), 0x24);
  EXPECT_EQ(r.pic.acknowledge(), 0x21);
}

TEST(I8259, SetPriorityAndSpecificRotate) {
  Rig r;
  r.init();
  r.out(0x20, 0xc4);  // set priority: IR4 lowest, IR5 highest
  r.pic.set_irq(0, true);
  r.pic.set_irq(6, true);
  EXPECT_EQ(r.pic.acknowledge(), 0x26);
  r.out(0x20, 0xe6);  // rotate on specific EOI 6: IR7 highest
  EXPECT_EQ(r.pic.isr(0), 0);
  EXPECT_EQ(r.pic.acknowledge(), 0x20);
}

TEST(I8259, SpecialMaskModeLetsLowerPrioritiesIn) {
  Rig r;
  r.init();
  r.pic.set_irq(2 + 1, true);
  EXPECT_EQ(r.pic.acknowledge(), 0x23);
  r.pic.set_irq(5, true);
  EXPECT_FALSE(r.intr);  // IR3 in service
  r.out(0x21, 0x08);     // mask IR3
  r.out(0x20, 0x68);     // OCW3: set special mask mode
  EXPECT_TRUE(r.intr);
  EXPECT_EQ(r.pic.acknowledge(), 0x25);
  r.out(0x20, 0x48);  // reset special mask
}

TEST(I8259, ResetClearsEverything) {
  Rig r;
  r.init();
  r.out(0x4d0, 0x20);
  r.pic.set_irq(5, true);
  r.pic.reset();
  EXPECT_EQ(r.in(0x4d0), 0);
  EXPECT_EQ(r.pic.irr(0), 0);
  EXPECT_FALSE(r.intr);
}

}  // namespace
}  // namespace orrery::hw
