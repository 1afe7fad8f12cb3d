// The "virt" board's physical memory map and interrupt map: the single source of truth for
// wiring devices (and, later, for generating the device tree). Addresses follow QEMU's AArch64
// virt machine so guests and firmware built for it run unchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace orrery::machine::virt {

inline constexpr uint64_t KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;

enum class VirtRegion : uint8_t {
  Flash,        // two 64 MiB pflash banks (reserved: no flash device yet)
  GicDist,      // GIC distributor (next issue)
  GicCpu,       // GICv2 CPU interface
  GicV2m,       // GICv2m MSI frame
  GicIts,       // GICv3 ITS
  GicRedist,    // GICv3 redistributors
  Uart,         // PL011, the console
  Rtc,          // PL031 (next issue)
  FwCfg,        // QEMU firmware configuration (not modelled)
  Gpio,         // PL061 (not modelled)
  Mmio,         // virtio-mmio transports, 32 x 0x200
  PlatformBus,  // dynamic sysbus devices (not modelled)
  PcieMmio,     // PCIe 32-bit memory window (BARs)
  PciePio,      // PCIe I/O window
  PcieEcam,     // PCIe config space
  Ram,          // -m bytes from here; size below is the largest RAM the map allows
  PcieMmio64,   // PCIe 64-bit memory window (QEMU's highmem VIRT_HIGH_PCIE_MMIO)
  kCount,
};

struct MemMapEntry {
  VirtRegion id;
  std::string_view name;
  uint64_t base;
  uint64_t size;
};

inline constexpr MemMapEntry kVirtMemMap[] = {
    {VirtRegion::Flash, "flash", 0x0000'0000, 0x0800'0000},
    {VirtRegion::GicDist, "gic-dist", 0x0800'0000, 0x0001'0000},
    {VirtRegion::GicCpu, "gic-cpu", 0x0801'0000, 0x0001'0000},
    {VirtRegion::GicV2m, "gic-v2m", 0x0802'0000, 0x0000'1000},
    {VirtRegion::GicIts, "gic-its", 0x0808'0000, 0x0002'0000},
    {VirtRegion::GicRedist, "gic-redist", 0x080A'0000, 0x00F6'0000},
    {VirtRegion::Uart, "pl011", 0x0900'0000, 0x0000'1000},
    {VirtRegion::Rtc, "pl031", 0x0901'0000, 0x0000'1000},
    {VirtRegion::FwCfg, "fw-cfg", 0x0902'0000, 0x0000'0018},
    {VirtRegion::Gpio, "pl061", 0x0903'0000, 0x0000'1000},
    {VirtRegion::Mmio, "virtio-mmio", 0x0A00'0000, 0x0000'4000},
    {VirtRegion::PlatformBus, "platform-bus", 0x0C00'0000, 0x0200'0000},
    {VirtRegion::PcieMmio, "pcie-mmio", 0x1000'0000, 0x2EFF'0000},
    {VirtRegion::PciePio, "pcie-pio", 0x3EFF'0000, 0x0001'0000},
    {VirtRegion::PcieEcam, "pcie-ecam", 0x3F00'0000, 0x0100'0000},
    // RAM may grow up to 256 GiB, where QEMU's high-memory device regions begin.
    {VirtRegion::Ram, "ram", 0x4000'0000, 255 * GiB},
    // Where QEMU's virt puts its high PCIe window with RAM below 256 GiB (the high GICv3
    // redistributors and ECAM between are not modelled); it ends at 1 TiB, within the 40-bit
    // physical address range of the smallest CPU model.
    {VirtRegion::PcieMmio64, "pcie-mmio-high", 0x80'0000'0000, 512 * GiB},
};

constexpr const MemMapEntry& virt_region(VirtRegion r) {
  return kVirtMemMap[size_t(r)];
}

namespace detail {
constexpr bool map_is_consistent() {
  constexpr size_t n = sizeof(kVirtMemMap) / sizeof(kVirtMemMap[0]);
  if (n != size_t(VirtRegion::kCount)) return false;
  for (size_t i = 0; i < n; ++i) {
    if (size_t(kVirtMemMap[i].id) != i) return false;  // indexable by VirtRegion
    if (i > 0 && kVirtMemMap[i - 1].base + kVirtMemMap[i - 1].size > kVirtMemMap[i].base)
      return false;  // sorted, no overlap
  }
  return true;
}
}  // namespace detail
static_assert(detail::map_is_consistent(),
              "kVirtMemMap must be in VirtRegion order, sorted and disjoint");

/// Shared peripheral interrupts (GIC INTID = 32 + spi), as QEMU's virt wires them.
struct IrqMapEntry {
  VirtRegion id;
  unsigned spi;
  unsigned count;
};

inline constexpr unsigned kGicSpiBase = 32;

inline constexpr IrqMapEntry kVirtIrqMap[] = {
    {VirtRegion::Uart, 1, 1},           {VirtRegion::Rtc, 2, 1},    {VirtRegion::PcieMmio, 3, 4},
    {VirtRegion::Gpio, 7, 1},           {VirtRegion::Mmio, 16, 32}, {VirtRegion::GicV2m, 48, 64},
    {VirtRegion::PlatformBus, 112, 64},
};

inline constexpr unsigned kNoSpi = ~0u;

/// The virtio-mmio region holds this many transports of kVirtioMmioSlotSize bytes, transport i
/// on SPI virt_spi(Mmio) + i. As on QEMU, -device fills them from the highest slot down.
inline constexpr unsigned kVirtioMmioSlots = 32;
inline constexpr uint64_t kVirtioMmioSlotSize = 0x200;

/// ECAM buses (1 MiB each) and the PCI slot the host bridge's own function takes.
inline constexpr unsigned kPcieBuses =
    unsigned(kVirtMemMap[size_t(VirtRegion::PcieEcam)].size >> 20);
/// MSI SPIs of the GICv2m frame (QEMU's NUM_GICV2M_SPIS).
inline constexpr unsigned kGicV2mSpis = 64;

/// The first SPI of a device, or kNoSpi.
constexpr unsigned virt_spi(VirtRegion r) {
  for (const IrqMapEntry& e : kVirtIrqMap)
    if (e.id == r) return e.spi;
  return kNoSpi;
}
static_assert(virt_spi(VirtRegion::Uart) == 1 && virt_spi(VirtRegion::Rtc) == 2);
static_assert(kVirtioMmioSlots * kVirtioMmioSlotSize == kVirtMemMap[size_t(VirtRegion::Mmio)].size);

/// Private peripheral interrupts (GIC INTID = 16 + ppi), as QEMU's virt wires them: the generic
/// timer's four outputs (the device tree lists them in this order) and the GIC maintenance IRQ.
inline constexpr unsigned kGicPpiBase = 16;
inline constexpr unsigned kPpiTimerSecurePhys = 13;  // INTID 29
inline constexpr unsigned kPpiTimerPhys = 14;        // INTID 30 (CNTP, what Linux uses at EL1)
inline constexpr unsigned kPpiTimerVirt = 11;        // INTID 27 (CNTV)
inline constexpr unsigned kPpiTimerHyp = 10;         // INTID 26
inline constexpr unsigned kPpiGicMaintenance = 9;    // INTID 25
inline constexpr unsigned kPpiPmu = 7;               // INTID 23: the PMU's overflow interrupt

/// INTIDs the GIC implements: 32 private plus 256 SPIs (QEMU virt's NUM_IRQS).
inline constexpr unsigned kVirtGicNumIrqs = 32 + 256;
/// -smp limit: GICv2's eight CPU interfaces (kept for GICv3 too).
inline constexpr unsigned kVirtMaxCpus = 8;

inline constexpr uint64_t kVirtRamBase = virt_region(VirtRegion::Ram).base;
inline constexpr uint64_t kVirtMaxRam = virt_region(VirtRegion::Ram).size;
inline constexpr uint64_t kVirtDefaultRam = 128 * MiB;

}  // namespace orrery::machine::virt
