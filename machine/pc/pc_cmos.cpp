// The CMOS bytes QEMU's pc fills (hw/i386/pc.c, pc_cmos_init) and SeaBIOS and Linux read:
// checked byte for byte against qemu-system-x86_64 by tests/guest/pc/cmos.asm.
#include "machine/pc/pc_devices.h"

#include <algorithm>
#include <utility>

namespace orrery::machine::pc {

namespace {

// CMOS indexes of the IBM PC/AT map and its later extensions (QEMU's and SeaBIOS's names).
constexpr uint8_t kFloppyTypes = 0x10, kHardDisks = 0x12, kEquipment = 0x14, kBaseMemLo = 0x15,
                  kBaseMemHi = 0x16, kExtMemLo = 0x17, kExtMemHi = 0x18, kExtMem2Lo = 0x30,
                  kExtMem2Hi = 0x31, kMem16MLo = 0x34, kMem16MHi = 0x35, kPs2Century = 0x37,
                  kBootFlags2 = 0x38, kBootFlags1 = 0x3d, kMem4GLo = 0x5b, kMem4GMid = 0x5c,
                  kMem4GHi = 0x5d, kCpuCount = 0x5f;
// Equipment byte: a math coprocessor and a PS/2 mouse (no floppy drive).
constexpr uint8_t kEquipFpu = 0x02, kEquipMouse = 0x04;

constexpr uint64_t kKiB = 1024, k64K = 65536, k1M = 1 << 20, k16M = 16 << 20;

uint8_t boot_device(char c) {
  switch (c) {
    case 'a':
    case 'b':
      return 1;  // floppy
    case 'c':
      return 2;  // hard disk
    case 'd':
      return 3;  // CD-ROM
    case 'n':
      return 4;  // network
    default:
      return 0;
  }
}

}  // namespace

void fill_pc_cmos(hw::rtc::Mc146818& rtc, const PcCmosConfig& c) {
  rtc.set_cmos(kFloppyTypes, 0);
  rtc.set_cmos(kHardDisks, 0);
  rtc.set_cmos(kEquipment, kEquipFpu | kEquipMouse);
  // Base memory in KiB, up to 640.
  const uint64_t base_kib = std::min<uint64_t>(c.ram_below_4g / kKiB, 640);
  rtc.set_cmos(kBaseMemLo, uint8_t(base_kib));
  rtc.set_cmos(kBaseMemHi, uint8_t(base_kib >> 8));
  // Extended memory above 1 MiB in KiB, capped at 0xffff (the same in both places).
  const uint64_t ext_kib =
      c.ram_below_4g > k1M ? std::min<uint64_t>((c.ram_below_4g - k1M) / kKiB, 0xffff) : 0;
  for (auto [lo, hi] : {std::pair{kExtMemLo, kExtMemHi}, std::pair{kExtMem2Lo, kExtMem2Hi}}) {
    rtc.set_cmos(lo, uint8_t(ext_kib));
    rtc.set_cmos(hi, uint8_t(ext_kib >> 8));
  }
  // Memory from 16 MiB up to the end of RAM below 4 GiB, in 64 KiB units, capped at 0xffff.
  const uint64_t mem16 =
      c.ram_below_4g > k16M ? std::min<uint64_t>((c.ram_below_4g - k16M) / k64K, 0xffff) : 0;
  rtc.set_cmos(kMem16MLo, uint8_t(mem16));
  rtc.set_cmos(kMem16MHi, uint8_t(mem16 >> 8));
  // Memory above 4 GiB in 64 KiB units.
  const uint64_t mem4g = c.ram_above_4g / k64K;
  rtc.set_cmos(kMem4GLo, uint8_t(mem4g));
  rtc.set_cmos(kMem4GMid, uint8_t(mem4g >> 8));
  rtc.set_cmos(kMem4GHi, uint8_t(mem4g >> 16));
  rtc.set_cmos(kCpuCount, uint8_t(c.cpus - 1));
  // Boot order: the first two devices in 0x3d, the third in 0x38's high nibble, with bit 0 of
  // 0x38 set to skip the floppy boot-signature check.
  uint8_t dev[3] = {};
  for (size_t i = 0; i < 3 && i < c.boot_order.size(); ++i) dev[i] = boot_device(c.boot_order[i]);
  rtc.set_cmos(kBootFlags1, uint8_t(dev[1] << 4 | dev[0]));
  rtc.set_cmos(kBootFlags2, uint8_t(dev[2] << 4 | (c.floppy_boot_signature_check ? 0 : 1)));
  // The IBM PS/2 copy of the century, which QEMU sets once at start.
  rtc.set_cmos(kPs2Century, rtc.cmos(hw::rtc::Mc146818::kCentury));
  // QEMU leaves the AT checksum (0x2e-0x2f over 0x10-0x2d) at zero, and SeaBIOS does not check
  // it, so neither is it computed here.
}

}  // namespace orrery::machine::pc
