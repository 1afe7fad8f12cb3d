// i8042: controller self-test and commands, the configuration byte, keyboard and mouse
// replies with their interrupts, and the system reset through 0xFE and the output port.
#include "hw/input/i8042.h"

#include <gtest/gtest.h>

#include <vector>

#include "hw/core/address_space.h"
#include "tests/unit/hw/irq_recorder.h"

namespace orrery::hw::input {
namespace {

using test::IrqRecorder;

class I8042Test : public ::testing::Test {
 protected:
  I8042Test() {
    EXPECT_EQ(io.add_mmio("kbd-data", 0x60, 1, kbc.data_port()), "");
    EXPECT_EQ(io.add_mmio("kbd-cmd", 0x64, 1, kbc.command_port()), "");
    kbc.kbd_irq().connect(irqs, 1);
    kbc.aux_irq().connect(irqs, 12);
  }
  uint8_t in(uint16_t port) {
    uint64_t v = 0;
    EXPECT_EQ(io.read(port, 1, v), MemResult::Ok);
    return uint8_t(v);
  }
  void out(uint16_t port, uint8_t v) { EXPECT_EQ(io.write(port, 1, v), MemResult::Ok); }
  /// Reads every byte waiting in the output buffer.
  std::vector<uint8_t> drain() {
    std::vector<uint8_t> v;
    while (in(0x64) & I8042::kStObf) v.push_back(in(0x60));
    return v;
  }

  Log log;
  AddressSpace io{"io", kIoPortSpaceSize};
  IrqRecorder irqs;
  int resets = 0;
  std::vector<bool> a20;
  I8042 kbc{log, [this] { ++resets; }, [this](bool on) { a20.push_back(on); }};
};

TEST_F(I8042Test, PowerOnStatusAndSelfTest) {
  EXPECT_EQ(in(0x64), I8042::kStCmd | I8042::kStUnlocked);
  out(0x64, I8042::kCmdSelfTest);
  EXPECT_EQ(in(0x64), I8042::kStObf | I8042::kStSys | I8042::kStCmd | I8042::kStUnlocked);
  EXPECT_TRUE(irqs.level(1));  // the configuration byte enables IRQ 1
  EXPECT_EQ(in(0x60), 0x55);
  EXPECT_FALSE(irqs.level(1));
  EXPECT_EQ(in(0x64) & I8042::kStObf, 0);
  EXPECT_EQ(in(0x60), 0x55);  // an empty buffer reads its last byte
}

TEST_F(I8042Test, ConfigurationByteAndInterfaceTests) {
  out(0x64, I8042::kCmdReadRam);
  EXPECT_EQ(drain(), std::vector<uint8_t>{0x03});
  out(0x64, I8042::kCmdWriteRam);
  out(0x60, I8042::kCfgXlate | I8042::kCfgSys);  // no interrupts
  EXPECT_EQ(in(0x64) & I8042::kStCmd, 0);        // the last write was data
  EXPECT_NE(in(0x64) & I8042::kStSys, 0);
  out(0x64, I8042::kCmdReadRam);
  EXPECT_FALSE(irqs.level(1));
  EXPECT_EQ(drain(), std::vector<uint8_t>{0x44});
  out(0x64, I8042::kCmdTestKbd);
  out(0x64, I8042::kCmdTestAux);
  out(0x64, I8042::kCmdReadOutput);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0x00, 0x00, 0xdf}));  // OBF shows in the port
  out(0x64, I8042::kCmdDisableKbd);
  out(0x64, I8042::kCmdReadRam);
  EXPECT_EQ(drain(), std::vector<uint8_t>{0x54});
}

TEST_F(I8042Test, KeyboardResetAndIdentify) {
  out(0x60, 0xff);
  EXPECT_TRUE(irqs.level(1));
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xfa, 0xaa}));
  EXPECT_EQ(irqs.rises(1), 2u);  // one edge per byte
  out(0x60, 0xf2);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xfa, 0xab, 0x83}));  // untranslated
  out(0x60, 0xf0);
  out(0x60, 0x00);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xfa, 0xfa, 0x02}));  // scan code set 2
  out(0x60, 0xee);
  out(0x60, 0x12);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xee, 0xfe}));  // echo; unknown: resend
}

TEST_F(I8042Test, MouseRepliesSetAuxObfAndIrq12) {
  out(0x64, I8042::kCmdWriteAux);
  out(0x60, 0xff);
  EXPECT_EQ(in(0x64) & (I8042::kStObf | I8042::kStAuxObf), I8042::kStObf | I8042::kStAuxObf);
  EXPECT_TRUE(irqs.level(12));
  EXPECT_FALSE(irqs.level(1));
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xfa, 0xaa, 0x00}));
  out(0x64, I8042::kCmdWriteAux);
  out(0x60, 0xe9);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xfa, 0x00, 0x02, 0x64}));
  out(0x64, I8042::kCmdWriteAuxObuf);
  out(0x60, 0x42);
  EXPECT_NE(in(0x64) & I8042::kStAuxObf, 0);
  EXPECT_EQ(drain(), std::vector<uint8_t>{0x42});
}

TEST_F(I8042Test, ADisabledPortHoldsItsDeviceBytes) {
  out(0x60, 0xff);  // keyboard reset: 0xfa 0xaa
  EXPECT_EQ(in(0x60), 0xfa);
  EXPECT_NE(in(0x64) & I8042::kStObf, 0);  // 0xaa is in the buffer already
  EXPECT_EQ(in(0x60), 0xaa);
  out(0x64, I8042::kCmdWriteAux);
  out(0x60, 0xff);  // mouse reset: 0xfa 0xaa 0x00
  EXPECT_EQ(in(0x60), 0xfa);
  out(0x64, I8042::kCmdDisableAux);  // 0xaa stays in the buffer; 0x00 waits
  EXPECT_EQ(in(0x60), 0xaa);
  EXPECT_EQ(in(0x64) & I8042::kStObf, 0);
  out(0x64, I8042::kCmdReadRam);  // a controller reply passes the held byte
  EXPECT_EQ(drain(), std::vector<uint8_t>{0x23});
  out(0x64, I8042::kCmdEnableAux);
  EXPECT_EQ(in(0x64) & (I8042::kStObf | I8042::kStAuxObf), I8042::kStObf | I8042::kStAuxObf);
  EXPECT_EQ(drain(), std::vector<uint8_t>{0x00});
}

TEST_F(I8042Test, CommandFeResetsTheSystem) {
  out(0x64, I8042::kCmdReset);
  EXPECT_EQ(resets, 1);
  out(0x64, 0xff);  // pulses no line
  EXPECT_EQ(resets, 1);
  out(0x64, 0xf0);  // pulses all four, reset among them
  EXPECT_EQ(resets, 2);
}

TEST_F(I8042Test, OutputPortResetAndA20) {
  out(0x64, I8042::kCmdWriteOutput);
  out(0x60, 0xcd);  // A20 off, reset line high
  EXPECT_EQ(resets, 0);
  EXPECT_EQ(a20, std::vector<bool>{false});
  out(0x64, I8042::kCmdEnableA20);
  EXPECT_EQ(a20, (std::vector<bool>{false, true}));
  out(0x64, I8042::kCmdWriteOutput);
  out(0x60, 0xce);  // reset line low
  EXPECT_EQ(resets, 1);
}

TEST_F(I8042Test, ResetRestoresPowerOnState) {
  out(0x60, 0xff);
  kbc.reset();
  EXPECT_EQ(in(0x64), I8042::kStCmd | I8042::kStUnlocked);
  EXPECT_FALSE(irqs.level(1));
}

}  // namespace
}  // namespace orrery::hw::input
