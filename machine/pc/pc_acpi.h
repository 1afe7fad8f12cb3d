// The PC board's ACPI tables, built from its own map (pc_map.h): FACS, the DSDT compiled from
// firmware/dsdt.asl, FADT, MADT (one local APIC per vCPU, the IOAPIC, the ISA overrides), HPET,
// RSDT and XSDT in one blob, the RSDP apart, and the table-loader commands with which firmware
// (SeaBIOS through fw_cfg) places and links them.
#pragma once

#include <cstdint>
#include <vector>

#include "machine/pc/pc_map.h"

namespace orrery::machine::pc {

inline constexpr char kAcpiTablesFile[] = "etc/acpi/tables";
inline constexpr char kAcpiRsdpFile[] = "etc/acpi/rsdp";
inline constexpr char kTableLoaderFile[] = "etc/table-loader";

struct PcAcpiConfig {
  unsigned cpus = 1;
  PcPciWindows pci;  // PCI0._CRS's memory windows
};

/// The three fw_cfg files. Pointers inside tables and rsdp are offsets into tables until the
/// loader's commands are run.
struct PcAcpiFiles {
  std::vector<uint8_t> tables, rsdp, loader;
};

PcAcpiFiles build_pc_acpi(const PcAcpiConfig& config);

}  // namespace orrery::machine::pc
