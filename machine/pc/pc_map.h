// The PC board's one map: I/O ports, physical addresses and ISA IRQs of its fixed devices, as
// QEMU's i440FX "pc" places them. Devices, the ACPI tables, the CMOS and the loaders all take
// their numbers from here.
#pragma once

#include <cstdint>

namespace orrery::machine::pc {

// ---- I/O ports ----
inline constexpr uint16_t kPicMasterPort = 0x20, kPicSlavePort = 0xa0;
inline constexpr uint16_t kElcrPort = 0x4d0;      // edge/level control, 2 bytes
inline constexpr uint16_t kPitPort = 0x40;        // 0x40-0x43
inline constexpr uint16_t kNmiStatusPort = 0x61;  // speaker gate, OUT2, refresh toggle
inline constexpr uint16_t kKbdDataPort = 0x60, kKbdCmdPort = 0x64;
inline constexpr uint16_t kRtcPort = 0x70;  // index (bit 7: NMI mask) and 0x71 data
inline constexpr uint16_t kCom1Base = 0x3f8, kCom2Base = 0x2f8, kCom3Base = 0x3e8,
                          kCom4Base = 0x2e8;
inline constexpr uint16_t kIde0Port = 0x1f0, kIde0CtlPort = 0x3f6;
inline constexpr uint16_t kIde1Port = 0x170, kIde1CtlPort = 0x376;
inline constexpr uint16_t kFwCfgPort = 0x510, kFwCfgDmaPort = 0x514;
inline constexpr uint16_t kPciConfigAddrPort = 0xcf8, kPciConfigDataPort = 0xcfc;
inline constexpr uint16_t kResetControlPort = 0xcf9;
/// The PIIX4 ACPI PM block: PM1a event (status, enable) at +0, PM1a control at +4, PM timer at
/// +8; QEMU's pc firmware puts it at 0x600. GPE0 is QEMU's piix4 0xafe0 block.
inline constexpr uint16_t kPmBase = 0x600;
inline constexpr uint16_t kPm1aEvtPort = kPmBase + 0, kPm1aCntPort = kPmBase + 4,
                          kPmTimerPort = kPmBase + 8;
inline constexpr uint16_t kGpe0Port = 0xafe0;
/// APM control (the FADT's SMI_CMD: ACPI_ENABLE 0xf1 / ACPI_DISABLE 0xf0 set and clear SCI_EN)
/// and APM status, as QEMU's piix4 has them.
inline constexpr uint16_t kApmCntPort = 0xb2, kApmStsPort = 0xb3;
/// PIIX3's reset control register at 0xcf9: writing 6 (SYS_RST | RST_CPU) resets the machine.
inline constexpr uint8_t kResetControlValue = 0x06;
/// CMOS index of the century byte (the FADT's CENTURY).
inline constexpr uint8_t kRtcCenturyIndex = 0x32;
// PCI I/O BARs decode in the port space from kPciIoWindowBase (above the ISA range) to the end,
// except kPciIoFixedBase..kPciIoFixedEnd-1, QEMU's fixed ACPI ports (PCI and CPU hotplug, GPE0,
// SMBus), and kPciIoIsaBase..kPciIoIsaEnd-1, pc-testdev's IRQ ports (the ISA decode wins
// there in QEMU). SeaBIOS allocates I/O BARs from 0xc000.
inline constexpr uint16_t kPciIoWindowBase = 0x1000;
inline constexpr uint16_t kPciIoIsaBase = 0x2000, kPciIoIsaEnd = 0x2018;
inline constexpr uint16_t kPciIoFixedBase = 0xae00, kPciIoFixedEnd = 0xc000;

// ---- ISA IRQs (GSI = IRQ, except IRQ 0 which the IOAPIC sees on pin 2) ----
inline constexpr unsigned kPitIrq = 0, kKbdIrq = 1, kCom2Irq = 3, kCom1Irq = 4, kRtcIrq = 8,
                          kSciIrq = 9, kMouseIrq = 12, kIde0Irq = 14, kIde1Irq = 15;
inline constexpr unsigned kIsaIrqCount = 16;
// PCI devices on bus 0 (QEMU's pc): the host bridge at 00.0, the PIIX3 at 01.0 with its IDE at
// 01.1 and PIIX4 PM at 01.3; -device functions from slot 2.
inline constexpr unsigned kPciHostSlot = 0, kPiixSlot = 1, kPiixIsaFn = 0, kPiixIdeFn = 1,
                          kPiixPmFn = 3, kPciFirstFreeSlot = 2;
inline constexpr unsigned kGsiCount = 24;  // IOAPIC pins; 16-23 take PCI INTx (PIRQA-D)

// ---- Physical addresses ----
inline constexpr uint64_t kIoApicBase = 0xfec00000;
inline constexpr uint8_t kIoApicId = 0;  // QEMU's MADT and IOAPIC ID register agree on 0
inline constexpr uint64_t kHpetBase = 0xfed00000;
inline constexpr uint64_t kHpetSize = 0x400;
/// Bits 31:0 of the HPET's capabilities register, which the ACPI HPET table repeats: vendor
/// 0x8086, legacy replacement capable, 64-bit counter, 3 timers, revision 1 (QEMU's).
inline constexpr uint32_t kHpetBlockId = 0x8086a201;
inline constexpr uint64_t kLapicBase = 0xfee00000;
inline constexpr uint64_t kPciHoleEnd = 0xfec00000;  // the 32-bit PCI memory window's end
/// The AMD HyperTransport range (reserved in the e820 map of AMD models); nothing above RAM may
/// reach it.
inline constexpr uint64_t kAmdHtHoleBase = 0xfd00000000;
inline constexpr uint64_t kBiosLowBase = 0xe0000;  // the BIOS's last 128 KiB, below 1 MiB
inline constexpr uint64_t kBiosLowSize = 0x20000;
inline constexpr uint64_t kVgaWindowBase = 0xa0000, kVgaWindowSize = 0x20000;

/// The i440FX's two PCI memory windows (QEMU's "pci-hole" and "pci-hole64"), bus address =
/// physical address. The board maps the bus's BARs through them and the DSDT's PCI0._CRS
/// describes them, so both come from here.
struct PcPciWindows {
  uint64_t hole_base = 0, hole_end = 0;      // top of low RAM .. kPciHoleEnd
  uint64_t hole64_base = 0, hole64_end = 0;  // empty when hole64_base >= hole64_end
  bool has_hole64() const { return hole64_base < hole64_end; }
};

/// The windows for below_4g/above_4g bytes of RAM and a CPU of phys_bits address bits. The
/// 64-bit one starts where QEMU's pc_pci_hole64_start() and SeaBIOS place 64-bit BARs (the end
/// of RAM above 4 GiB, 1 GiB-aligned) and runs to the end of the physical address space or the
/// HyperTransport range: QEMU decodes PCI in all of it, and SeaBIOS may place BARs anywhere
/// there, so the _CRS covers what the firmware can use.
constexpr PcPciWindows pc_pci_windows(uint64_t below_4g, uint64_t above_4g, unsigned phys_bits) {
  constexpr uint64_t k1G = uint64_t(1) << 30, k4G = uint64_t(1) << 32;
  PcPciWindows w;
  w.hole_base = below_4g;
  w.hole_end = kPciHoleEnd;
  w.hole64_base = (k4G + above_4g + k1G - 1) & ~(k1G - 1);
  const uint64_t top = phys_bits >= 64 ? ~uint64_t(0) : uint64_t(1) << phys_bits;
  w.hole64_end = top < kAmdHtHoleBase ? top : kAmdHtHoleBase;
  if (w.hole64_end < w.hole64_base) w.hole64_end = w.hole64_base;
  return w;
}

}  // namespace orrery::machine::pc
