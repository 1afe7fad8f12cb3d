// The PC board's fixed platform devices around the chipset: the PIT with port 0x61, the
// RTC/CMOS, the HPET, the PIIX4 ACPI PM block with its GPE0 and APM ports, the i8042, and
// QEMU's pc-testdev when -device asks for it. PcMachine::build_platform_devices (pc_devices.cpp)
// builds and maps them from pc_map.h; fill_pc_cmos (pc_cmos.cpp) writes the CMOS fields the
// firmware and Linux read.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "hw/acpi/acpi_pm.h"
#include "hw/input/i8042.h"
#include "hw/misc/pc_testdev.h"
#include "hw/rtc/mc146818.h"
#include "hw/timer/hpet.h"
#include "hw/timer/i8254.h"

namespace orrery::machine::pc {

struct PcPlatformDevices {
  std::unique_ptr<hw::timer::I8254> pit;         // IRQ 0 (and port 0x61)
  std::unique_ptr<hw::rtc::Mc146818> rtc;        // IRQ 8
  std::unique_ptr<hw::timer::Hpet> hpet;         // its irq(n) goes to GSI n (0: ISA IRQ 0)
  std::unique_ptr<hw::acpi::AcpiPm> pm;          // SCI: IRQ 9
  std::unique_ptr<hw::input::I8042> kbc;         // IRQ 1 and 12
  std::unique_ptr<hw::misc::PcTestdev> testdev;  // -device pc-testdev: drives ISA IRQ n
};

/// What QEMU's pc writes into the CMOS for the firmware.
struct PcCmosConfig {
  uint64_t ram_below_4g = 0, ram_above_4g = 0;
  unsigned cpus = 1;
  /// QEMU's -boot order letters (a floppy, c disk, d CD-ROM, n network); its default "cad".
  std::string boot_order = "cad";
  bool floppy_boot_signature_check = true;  // QEMU's fd_bootchk
};

/// Fills the RAM sizes, CPU count, boot order, equipment byte and PS/2 century as QEMU's pc does.
void fill_pc_cmos(hw::rtc::Mc146818& rtc, const PcCmosConfig& config);

}  // namespace orrery::machine::pc
