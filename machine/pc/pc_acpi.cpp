#include "machine/pc/pc_acpi.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <span>
#include <string>

#include "firmware/dsdt_aml.h"
#include "hw/acpi/acpi_builder.h"
#include "hw/acpi/acpi_pm.h"
#include "machine/pc/pc_map.h"

namespace orrery::machine::pc {

namespace {

using hw::acpi::AddressSpaceId;
using hw::acpi::Blob;
using hw::acpi::Gas;
using hw::acpi::Oem;
using hw::acpi::TableLoader;

const std::string kTables = kAcpiTablesFile;

// FADT flags (ACPI 6.5 table 5.10): the set QEMU's pc reports, plus the reset register.
constexpr uint32_t kFadtWbinvd = 1u << 0, kFadtProcC1 = 1u << 2, kFadtSlpButton = 1u << 5,
                   kFadtRtcS4 = 1u << 7, kFadtResetRegSup = 1u << 10, kFadtPlatformClock = 1u << 15,
                   kFadtApicCluster = 1u << 18;
constexpr uint16_t kBootArch8042 = 1u << 1;
/// xAPIC flat logical mode addresses at most 8 CPUs.
constexpr unsigned kFlatLogicalMaxCpus = 8;

constexpr unsigned kFadtRevision = 3;  // ACPI 2.0's layout, 244 bytes, with X_ fields
constexpr uint16_t kPm1EvtLen = 4, kPm1CntLen = 2, kPmTmrLen = 4, kGpe0Len = 4;
constexpr uint16_t kLatencyDisabled = 0xfff;  // > 100 / > 1000 us: no C2/C3

/// Replaces the value of `Name (NAME, marker)` in aml: a DWordConst (0x0c) or QWordConst (0x0e)
/// holding marker, which iasl keeps at its full width. The test checks each marker is there
/// once; without one the value would stay the marker.
void patch_name(std::vector<uint8_t>& aml, const char (&name)[5], uint64_t marker, unsigned width,
                uint64_t value) {
  std::vector<uint8_t> pattern(name, name + 4);
  pattern.push_back(width == 4 ? 0x0c : 0x0e);
  for (unsigned i = 0; i < width; ++i) pattern.push_back(uint8_t(marker >> (8 * i)));
  auto it = std::search(aml.begin(), aml.end(), pattern.begin(), pattern.end());
  if (it == aml.end()) return;
  for (unsigned i = 0; i < width; ++i) it[5 + i] = uint8_t(value >> (8 * i));
}

/// The DSDT with its PCI windows patched (firmware/dsdt.asl: PMLO, PHLO, PHHI).
std::vector<uint8_t> dsdt(const PcPciWindows& w) {
  std::vector<uint8_t> aml(firmware::kDsdtAml.begin(), firmware::kDsdtAml.end());
  patch_name(aml, "PMLO", 0x5a5a5a5a, 4, w.hole_base);
  // No 64-bit window: PHLO > PHHI leaves the QWordMemory out of _CRS.
  patch_name(aml, "PHLO", 0x5a5a5a5a5a5a5a5a, 8, w.has_hole64() ? w.hole64_base : 1);
  patch_name(aml, "PHHI", 0xa5a5a5a5a5a5a5a5, 8, w.has_hole64() ? w.hole64_end - 1 : 0);
  aml[9] = 0;
  aml[9] = uint8_t(-hw::acpi::checksum(aml));
  return aml;
}

size_t build_facs(Blob& b) {
  b.align(64);  // FACS must be 64-byte aligned; the blob is allocated so
  const size_t off = b.size();
  b.str("FACS", 4);
  b.u32(64);
  b.zeros(56);  // hardware signature, waking vectors, global lock, flags, version: all 0
  return off;
}

size_t build_fadt(Blob& b, const PcAcpiConfig& c, uint32_t facs, uint32_t dsdt_off, const Oem& oem,
                  TableLoader& loader) {
  const size_t off = hw::acpi::begin_table(b, "FACP", kFadtRevision, oem);
  loader.add_pointer(kTables, kTables, uint32_t(b.size()), 4);
  b.u32(facs);  // FIRMWARE_CTRL (and X_FIRMWARE_CTRL stays 0: only one may be set)
  loader.add_pointer(kTables, kTables, uint32_t(b.size()), 4);
  b.u32(dsdt_off);
  b.u8(1);  // INT_MODEL: reserved since ACPI 2.0, 1 (APIC) as QEMU
  b.u8(0);  // preferred PM profile: unspecified
  b.u16(kSciIrq);
  b.u32(kApmCntPort);
  b.u8(hw::acpi::AcpiPm::kAcpiEnable);
  b.u8(hw::acpi::AcpiPm::kAcpiDisable);
  b.u8(0);  // S4BIOS_REQ
  b.u8(0);  // PSTATE_CNT
  b.u32(kPm1aEvtPort);
  b.u32(0);  // PM1b_EVT_BLK
  b.u32(kPm1aCntPort);
  b.u32(0);  // PM1b_CNT_BLK
  b.u32(0);  // PM2_CNT_BLK
  b.u32(kPmTimerPort);
  b.u32(kGpe0Port);
  b.u32(0);  // GPE1_BLK
  b.u8(uint8_t(kPm1EvtLen));
  b.u8(uint8_t(kPm1CntLen));
  b.u8(0);  // PM2_CNT_LEN
  b.u8(uint8_t(kPmTmrLen));
  b.u8(uint8_t(kGpe0Len));
  b.u8(0);  // GPE1_BLK_LEN
  b.u8(0);  // GPE1_BASE
  b.u8(0);  // CST_CNT
  b.u16(kLatencyDisabled);
  b.u16(kLatencyDisabled);
  b.u16(0);  // FLUSH_SIZE
  b.u16(0);  // FLUSH_STRIDE
  b.u8(0);   // DUTY_OFFSET
  b.u8(0);   // DUTY_WIDTH
  b.u8(0);   // DAY_ALRM
  b.u8(0);   // MON_ALRM
  b.u8(kRtcCenturyIndex);
  b.u16(kBootArch8042);
  b.u8(0);
  uint32_t flags = kFadtWbinvd | kFadtProcC1 | kFadtSlpButton | kFadtRtcS4 | kFadtResetRegSup |
                   kFadtPlatformClock;
  if (c.cpus > kFlatLogicalMaxCpus) flags |= kFadtApicCluster;
  b.u32(flags);
  hw::acpi::append_gas(b, {AddressSpaceId::SystemIo, 8, 0, 1, kResetControlPort});
  b.u8(kResetControlValue);
  b.zeros(3);  // reserved (ARM boot flags, minor version in later revisions)
  b.u64(0);    // X_FIRMWARE_CTRL
  loader.add_pointer(kTables, kTables, uint32_t(b.size()), 8);
  b.u64(dsdt_off);  // X_DSDT
  auto io = [&](uint16_t port, uint16_t len) {
    hw::acpi::append_gas(b, {AddressSpaceId::SystemIo, uint8_t(len * 8), 0, 0, port});
  };
  io(kPm1aEvtPort, kPm1EvtLen);
  hw::acpi::append_gas(b, {});  // X_PM1b_EVT_BLK
  io(kPm1aCntPort, kPm1CntLen);
  hw::acpi::append_gas(b, {});  // X_PM1b_CNT_BLK
  hw::acpi::append_gas(b, {});  // X_PM2_CNT_BLK
  io(kPmTimerPort, kPmTmrLen);
  io(kGpe0Port, kGpe0Len);
  hw::acpi::append_gas(b, {});  // X_GPE1_BLK
  hw::acpi::finish_table(b, off, &loader, kTables);
  return off;
}

// MADT interrupt-source-override flags (ACPI 6.5 table 5.26).
constexpr uint16_t kIsoConforming = 0;
constexpr uint16_t kIsoActiveHighLevel = 0x1 | (0x3 << 2);
/// The ISA IRQs that PCI interrupts share through the PIIX3 PIRQ routers (5, 10, 11: the
/// DSDT's link _PRS) and the SCI (9): level-triggered, active high, as QEMU overrides them.
constexpr std::array<unsigned, 4> kLevelIsaIrqs = {5, kSciIrq, 10, 11};

size_t build_madt(Blob& b, const PcAcpiConfig& c, const Oem& oem, TableLoader& loader) {
  const size_t off = hw::acpi::begin_table(b, "APIC", 1, oem);
  b.u32(uint32_t(kLapicBase));
  b.u32(1);  // PCAT_COMPAT: the 8259s are present too
  for (unsigned i = 0; i < c.cpus; ++i) {
    b.u8(0);  // Processor Local APIC
    b.u8(8);
    b.u8(uint8_t(i));  // ACPI processor UID
    b.u8(uint8_t(i));  // APIC ID: vCPU i's initial APIC ID
    b.u32(1);          // enabled
  }
  b.u8(1);  // I/O APIC
  b.u8(12);
  b.u8(kIoApicId);
  b.u8(0);
  b.u32(uint32_t(kIoApicBase));
  b.u32(0);  // GSI base
  auto iso = [&](unsigned irq, unsigned gsi, uint16_t flags) {
    b.u8(2);  // Interrupt Source Override
    b.u8(10);
    b.u8(0);  // bus: ISA
    b.u8(uint8_t(irq));
    b.u32(gsi);
    b.u16(flags);
  };
  iso(kPitIrq, 2, kIsoConforming);  // the PIT reaches IOAPIC pin 2
  for (unsigned irq : kLevelIsaIrqs) iso(irq, irq, kIsoActiveHighLevel);
  b.u8(4);  // Local APIC NMI: every processor's LINT1
  b.u8(6);
  b.u8(0xff);
  b.u16(0);
  b.u8(1);
  hw::acpi::finish_table(b, off, &loader, kTables);
  return off;
}

size_t build_hpet(Blob& b, const Oem& oem, TableLoader& loader) {
  const size_t off = hw::acpi::begin_table(b, "HPET", 1, oem);
  b.u32(kHpetBlockId);
  hw::acpi::append_gas(b, {AddressSpaceId::SystemMemory, 0, 0, 0, kHpetBase});
  b.u8(0);   // HPET number
  b.u16(0);  // minimum clock tick in periodic mode: no restriction stated, as QEMU
  b.u8(0);   // page protection: none
  hw::acpi::finish_table(b, off, &loader, kTables);
  return off;
}

}  // namespace

PcAcpiFiles build_pc_acpi(const PcAcpiConfig& c) {
  const Oem oem;
  TableLoader loader;
  Blob b;
  // One blob in high memory, 64-byte aligned for the FACS at its start.
  loader.allocate(kTables, 64, TableLoader::Zone::High);
  const uint32_t facs = uint32_t(build_facs(b));
  const uint32_t dsdt_off = uint32_t(b.size());
  const std::vector<uint8_t> aml = dsdt(c.pci);
  b.append(aml);
  loader.add_checksum(kTables, dsdt_off + 9, dsdt_off, uint32_t(aml.size()));
  std::vector<uint32_t> tables;
  tables.push_back(uint32_t(build_fadt(b, c, facs, dsdt_off, oem, loader)));
  tables.push_back(uint32_t(build_madt(b, c, oem, loader)));
  tables.push_back(uint32_t(build_hpet(b, oem, loader)));
  const uint32_t rsdt = uint32_t(hw::acpi::build_rsdt(b, tables, oem, loader, kTables));
  const uint32_t xsdt = uint32_t(hw::acpi::build_xsdt(b, tables, oem, loader, kTables));
  PcAcpiFiles f;
  f.rsdp = hw::acpi::build_rsdp(oem, rsdt, xsdt, loader, kAcpiRsdpFile, kTables);
  f.tables = std::move(b.bytes());
  f.loader = loader.bytes();
  return f;
}

}  // namespace orrery::machine::pc
