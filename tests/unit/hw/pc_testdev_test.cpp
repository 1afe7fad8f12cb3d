// pc-testdev: the scratch register through both of its ports, the IRQ ports and the memory.
#include "hw/misc/pc_testdev.h"

#include <gtest/gtest.h>

#include "hw/core/address_space.h"
#include "tests/unit/hw/irq_recorder.h"

namespace orrery::hw::misc {
namespace {

class PcTestdevTest : public ::testing::Test {
 protected:
  PcTestdevTest() {
    EXPECT_EQ(io.add_mmio("ioport", 0xe0, 4, dev.ioport()), "");
    EXPECT_EQ(io.add_mmio("flush", 0xe4, 4, dev.flush()), "");
    EXPECT_EQ(io.add_mmio("ioport-byte", 0xe8, 4, dev.ioport_byte()), "");
    EXPECT_EQ(io.add_mmio("irq", 0x2000, 24, dev.irq_ports()), "");
    EXPECT_EQ(mem.add_mmio("iomem", PcTestdev::kIomemBase, PcTestdev::kIomemSize, dev.iomem()), "");
    for (unsigned n = 0; n < PcTestdev::kIsaIrqs; ++n) dev.irq(n).connect(irqs, n);
  }
  uint64_t in(uint16_t port, unsigned size) {
    uint64_t v = 0;
    EXPECT_EQ(io.read(port, size, v), MemResult::Ok);
    return v;
  }

  Log log;
  AddressSpace io{"io", kIoPortSpaceSize};
  AddressSpace mem{"mem", uint64_t(1) << 32};
  test::IrqRecorder irqs;
  PcTestdev dev{log};
};

TEST_F(PcTestdevTest, ScratchRegisterByOffsetAndSize) {
  EXPECT_EQ(io.write(0xe0, 4, 0x12345678), MemResult::Ok);
  EXPECT_EQ(in(0xe0, 4), 0x12345678u);
  EXPECT_EQ(in(0xe1, 1), 0x56u);
  EXPECT_EQ(in(0xe2, 2), 0x1234u);
  EXPECT_EQ(in(0xe3, 1), 0x12u);
  EXPECT_EQ(io.write(0xe2, 1, 0xab), MemResult::Ok);
  EXPECT_EQ(in(0xe0, 4), 0x12ab5678u);
  // 0xe8 is the same register, one byte at a time.
  EXPECT_EQ(in(0xe8, 4), 0x12ab5678u);
  EXPECT_EQ(io.write(0xe8, 2, 0xcdef), MemResult::Ok);
  EXPECT_EQ(in(0xe0, 4), 0x12abcdefu);
}

TEST_F(PcTestdevTest, IrqPortsDriveIsaLines) {
  EXPECT_EQ(io.write(0x2000 + 10, 1, 1), MemResult::Ok);
  EXPECT_TRUE(irqs.level(10));
  EXPECT_EQ(io.write(0x2000 + 10, 1, 0), MemResult::Ok);
  EXPECT_FALSE(irqs.level(10));
  EXPECT_EQ(io.write(0x2000 + 20, 1, 1), MemResult::Ok);      // no such ISA line: ignored
  EXPECT_EQ(io.write(0x2000, 2, 1), MemResult::DeviceError);  // bytes only
  EXPECT_EQ(in(0x2000 + 10, 1), 0u);
}

TEST_F(PcTestdevTest, FlushPortTakesDwordsAndMemoryKeepsData) {
  EXPECT_EQ(io.write(0xe4, 4, 0x1000), MemResult::Ok);
  EXPECT_EQ(io.write(0xe4, 1, 0), MemResult::DeviceError);
  EXPECT_EQ(mem.write(PcTestdev::kIomemBase + 0x100, 8, 0x1122334455667788u), MemResult::Ok);
  uint64_t v = 0;
  EXPECT_EQ(mem.read(PcTestdev::kIomemBase + 0x104, 4, v), MemResult::Ok);
  EXPECT_EQ(v, 0x11223344u);
}

}  // namespace
}  // namespace orrery::hw::misc
