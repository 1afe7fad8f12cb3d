// The virt board's memory and IRQ maps, and the board table behind -M.
#include <gtest/gtest.h>

#include "machine/machine.h"
#include "machine/virt/virt_map.h"

namespace orrery::machine::virt {
namespace {

TEST(VirtMap, QemuCompatibleAddresses) {
  EXPECT_EQ(virt_region(VirtRegion::Uart).base, 0x0900'0000u);
  EXPECT_EQ(virt_region(VirtRegion::Uart).size, 0x1000u);
  EXPECT_EQ(virt_region(VirtRegion::Rtc).base, 0x0901'0000u);
  EXPECT_EQ(virt_region(VirtRegion::FwCfg).base, 0x0902'0000u);
  EXPECT_EQ(virt_region(VirtRegion::GicDist).base, 0x0800'0000u);
  EXPECT_EQ(virt_region(VirtRegion::Flash).base, 0u);
  EXPECT_EQ(kVirtRamBase, 0x4000'0000u);
  EXPECT_EQ(kVirtRamBase + kVirtMaxRam, 256 * GiB);
}

TEST(VirtMap, RegionsSortedAndDisjoint) {
  for (size_t i = 1; i < std::size(kVirtMemMap); ++i)
    EXPECT_LE(kVirtMemMap[i - 1].base + kVirtMemMap[i - 1].size, kVirtMemMap[i].base)
        << kVirtMemMap[i].name;
}

TEST(VirtMap, IrqMap) {
  EXPECT_EQ(virt_spi(VirtRegion::Uart), 1u);
  EXPECT_EQ(virt_spi(VirtRegion::Rtc), 2u);
  EXPECT_EQ(virt_spi(VirtRegion::Mmio), 16u);
  EXPECT_EQ(virt_spi(VirtRegion::Ram), kNoSpi);
  // No two devices share an SPI.
  for (size_t i = 0; i < std::size(kVirtIrqMap); ++i)
    for (size_t j = i + 1; j < std::size(kVirtIrqMap); ++j) {
      const IrqMapEntry& a = kVirtIrqMap[i];
      const IrqMapEntry& b = kVirtIrqMap[j];
      EXPECT_TRUE(a.spi + a.count <= b.spi || b.spi + b.count <= a.spi) << i << " " << j;
    }
}

TEST(MachineTable, VirtIsRegisteredAndDefault) {
  const MachineType* m = find_machine_type("virt");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(&default_machine_type(), m);
  EXPECT_EQ(m->default_ram, 128 * MiB);
  EXPECT_EQ(m->max_ram, 255 * GiB);
  EXPECT_EQ(m->serial_ports, 1u);
  EXPECT_EQ(find_machine_type("nosuch"), nullptr);
  bool has_a57 = false, has_max = false;
  for (const CpuModelInfo& c : m->cpus) {
    has_a57 |= c.name == "cortex-a57";
    has_max |= c.name == "max";
  }
  EXPECT_TRUE(has_a57);
  EXPECT_TRUE(has_max);
  EXPECT_EQ(m->default_cpu, "cortex-a57");
}

}  // namespace
}  // namespace orrery::machine::virt
