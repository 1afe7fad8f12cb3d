// QEMU's -boot option: the firmware's boot order, its boot menu and what it does when nothing
// boots. Boards with firmware pass these on (the PC: CMOS boot flags and fw_cfg files for
// SeaBIOS); others ignore them, as QEMU's do.
#pragma once

#include <string>
#include <string_view>

namespace orrery::machine {

struct BootOptions {
  /// Drive letters in order: a, b floppies; c first hard disk; d first CD-ROM; n-p network.
  /// QEMU's pc default is "cad".
  std::string order = "cad";
  bool menu = false;        // menu=on: the firmware offers its boot menu
  int splash_time = -1;     // splash-time=MS: how long the menu prompt waits (-1: default)
  int reboot_timeout = -1;  // reboot-timeout=MS: reboot after a failed boot (-1: never)
  bool strict = false;      // strict=on: boot only the bootindex devices
};

/// Parses -boot's argument: [order=]DRIVES[,once=DRIVES][,menu=on|off][,splash-time=MS]
/// [,reboot-timeout=MS][,strict=on|off]; a leading item without "=" is the order (QEMU's old
/// form, "-boot d"). Returns an error line, or empty.
std::string parse_boot_options(std::string_view text, BootOptions& out);

}  // namespace orrery::machine
