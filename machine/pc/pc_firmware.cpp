// The PC's firmware side: RAM below 4 GiB around the legacy holes, the BIOS ROM (SeaBIOS by
// default) at the top of 4 GiB with its last 128 KiB below 1 MiB, and fw_cfg with what QEMU
// gives SeaBIOS (RAM size, CPU counts, e820, boot settings, the ACPI tables and their loader).
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "hw/misc/fw_cfg.h"
#include "machine/loader/kernel.h"
#include "machine/pc/pc.h"
#include "machine/pc/pc_acpi.h"

namespace orrery::machine::pc {

namespace {

constexpr uint64_t kLowRamEnd = 0xa0000;      // 640 KiB; the VGA window follows
constexpr uint64_t kOptionRomBase = 0xc0000;  // option ROMs, then the BIOS at kBiosLowBase
constexpr uint64_t kBiosAreaEnd = 0x100000;
/// A BIOS image is a whole number of 64 KiB blocks and lies below 4 GiB (QEMU's rule), at most
/// 16 MiB (the flash window QEMU's pc leaves below the APIC and HPET).
constexpr uint64_t kBiosBlock = 0x10000, kMaxBiosSize = 16 * kMiB;

void put_le(std::vector<uint8_t>& v, uint64_t x, unsigned n) {
  for (unsigned i = 0; i < n; ++i) v.push_back(uint8_t(x >> (8 * i)));
}

}  // namespace

std::string PcMachine::add_ram_below_4g() {
  // RAM stops at the VGA window (0xa0000-0xbffff: nothing answers there until a display
  // exists). 0xc0000-0xfffff is shadow RAM that the i440FX's PAM registers switch against the
  // ROM (pc_pam.h).
  struct Piece {
    const char* name;
    uint64_t base, end;
  };
  const Piece pieces[] = {{"pc.ram-low", 0, kLowRamEnd}, {"pc.ram", kBiosAreaEnd, split_.below_4g}};
  for (const Piece& p : pieces) {
    if (p.end <= p.base) continue;
    std::string err = config_.ram_backing ? mem_.add_ram(p.name, p.base, config_.ram_backing,
                                                         p.base, p.end - p.base)
                                          : mem_.add_ram(p.name, p.base, p.end - p.base);
    if (!err.empty()) return err;
  }
  std::string err;
  auto shadow = config_.ram_backing
                    ? hw::MemoryRegion::ram("pc.ram-shadow", config_.ram_backing,
                                            PcShadowRam::kBase, PcShadowRam::kSize, err)
                    : hw::MemoryRegion::ram("pc.ram-shadow", PcShadowRam::kSize, err);
  if (!shadow) return err;
  shadow_ = std::make_unique<PcShadowRam>(mem_, std::move(shadow));
  return shadow_->map();
}

void PcMachine::open_shadow_ram() {
  // Without firmware: the whole shadow read-write, so the BIOS area holds RAM (ACPI tables).
  const unsigned host = hw::pci::pci_devfn(kPciHostSlot, 0);
  pci_->bus.config_write(host, hw::pci::I440fxFunction::kPam0, 1, 0x30);
  for (unsigned i = 1; i < hw::pci::I440fxFunction::kPamCount; ++i)
    pci_->bus.config_write(host, hw::pci::I440fxFunction::kPam0 + i, 1, 0x33);
}

void PcMachine::add_boot_device(int bootindex, unsigned devfn) {
  // The OpenFirmware path QEMU gives a virtio-blk-pci disk; SeaBIOS matches the PCI part
  // ("/pci@i0cf8/*@SLOT[,FN]").
  char path[64];
  const unsigned slot = devfn >> 3, fn = devfn & 7;
  if (fn)
    std::snprintf(path, sizeof path, "/pci@i0cf8/scsi@%x,%x/disk@0,0", slot, fn);
  else
    std::snprintf(path, sizeof path, "/pci@i0cf8/scsi@%x/disk@0,0", slot);
  boot_devices_.emplace_back(bootindex, path);
}

std::vector<uint8_t> PcMachine::boot_order_file() const {
  // QEMU's "bootorder": the bootindex devices' paths by ascending index (ties in command-line
  // order), one a line, "HALT" last under -boot strict=on, NUL-terminated; empty without any.
  std::vector<std::pair<int, std::string>> devs = boot_devices_;
  std::stable_sort(devs.begin(), devs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  if (config_.boot.strict) devs.emplace_back(0, "HALT");
  std::string text;
  for (const auto& d : devs) text += (text.empty() ? "" : "\n") + d.second;
  std::vector<uint8_t> out(text.begin(), text.end());
  if (!out.empty()) out.push_back(0);
  return out;
}

std::string PcMachine::build_fw_cfg() {
  // The CMOS holds three boot devices of kinds a/b (floppy), c, d and n (QEMU's rule).
  const std::string& order = config_.boot.order;
  if (order.size() > 3) return "-boot order=" + order + ": too many boot devices for PC";
  for (char c : order)
    if (!std::strchr("abcdn", c))
      return "-boot order=" + order + ": invalid boot device for PC: '" + c + "'";
  fw_cfg_ = std::make_unique<hw::FwCfg>(mem_, ctx_.log);
  hw::FwCfg& f = *fw_cfg_;
  std::string err = io_.add_mmio("fw_cfg", kFwCfgPort, hw::FwCfg::kIoSize, f.io());
  if (err.empty()) err = io_.add_mmio("fw_cfg-dma", kFwCfgDmaPort, hw::FwCfg::kDmaSize, f.dma());
  if (!err.empty()) return err;
  f.add_u64(hw::FwCfg::kRamSize, config_.ram_size);
  f.add_u16(hw::FwCfg::kNbCpus, uint16_t(config_.cpus));
  f.add_u16(hw::FwCfg::kMaxCpus, uint16_t(config_.cpus));
  f.add_u16(hw::FwCfg::kNographic, config_.nographic ? 1 : 0);
  // SeaBIOS reads this key as "etc/show-boot-menu": 0 (QEMU's default, -boot menu=off), no
  // "Press ESC" prompt and no wait.
  f.add_u16(hw::FwCfg::kBootMenu, config_.boot.menu ? 1 : 0);
  // x86 key 0x8002: IRQ 0 reaches IOAPIC pin 2 (SeaBIOS's MP table says so, as the MADT).
  f.add_u32(hw::FwCfg::kArchLocal | 2, 1);

  std::vector<uint8_t> e820;  // QEMU's "etc/e820": {le64 address, le64 length, le32 type}
  loader::PcMemory pm{split_.below_4g, split_.above_4g, false};
  pm.amd_ht_hole = std::strcmp(model_->vendor, "AuthenticAMD") == 0 && model_->phys_bits >= 40;
  // SeaBIOS reserves the legacy holes itself: QEMU lists RAM as whole ranges.
  const uint64_t ranges[][3] = {{0, split_.below_4g, 1}, {k4G, split_.above_4g, 1}};
  for (const auto& r : ranges) {
    if (!r[1]) continue;
    put_le(e820, r[0], 8);
    put_le(e820, r[1], 8);
    put_le(e820, r[2], 4);
  }
  if (pm.amd_ht_hole) {
    for (const loader::MemoryMapEntry& e : loader::pc_memory_map(pm)) {
      if (e.type != 2 || e.base < k4G) continue;
      put_le(e820, e.base, 8);
      put_le(e820, e.length, 8);
      put_le(e820, e.type, 4);
    }
  }
  PcAcpiFiles acpi = build_pc_acpi({config_.cpus, pci_windows()});
  // -boot reboot-timeout: how long SeaBIOS waits after a failed boot before rebooting (-1:
  // never, QEMU's default).
  std::vector<uint8_t> fail_wait;
  put_le(fail_wait, uint32_t(config_.boot.reboot_timeout), 4);
  struct File {
    const char* name;
    std::vector<uint8_t> data;
  };
  std::vector<File> files = {
      {"etc/e820", std::move(e820)},         {"bootorder", boot_order_file()},
      {"etc/boot-fail-wait", fail_wait},     {kAcpiTablesFile, std::move(acpi.tables)},
      {kAcpiRsdpFile, std::move(acpi.rsdp)}, {kTableLoaderFile, std::move(acpi.loader)}};
  // With the menu on, splash-time is how long its prompt waits (QEMU's "etc/boot-menu-wait").
  if (config_.boot.menu && config_.boot.splash_time >= 0) {
    std::vector<uint8_t> wait;
    put_le(wait, uint16_t(config_.boot.splash_time), 2);
    files.push_back({"etc/boot-menu-wait", std::move(wait)});
  }
  // Under -nographic SeaBIOS mirrors its screen output on COM1 (its serial console).
  if (config_.nographic) files.push_back({"etc/sercon-port", {uint8_t(kCom1Base), kCom1Base >> 8}});
  for (File& file : files) {
    err = f.add_file(file.name, std::move(file.data));
    if (!err.empty()) return err;
  }
  return {};
}

std::string PcMachine::load_firmware() {
  const std::string path = config_.bios.empty() ? std::string(kDefaultBios) : config_.bios;
  std::vector<uint8_t> rom;
  std::string err = loader::read_file(path, kMaxBiosSize, rom);
  if (err.empty() && (rom.size() % kBiosBlock || rom.size() < kBiosLowSize))
    err = "not a BIOS image (its size is not a whole number of 64 KiB blocks of at least 128 KiB)";
  if (!err.empty()) return "-bios " + path + ": " + err;
  const uint64_t base = k4G - rom.size();
  // As QEMU's pc: the ROM at the top of 4 GiB, its last 128 KiB aliased below 1 MiB
  // ("isa-bios"), and the read-only option-ROM area "pc.rom" under 0xc0000-0xdffff. The shadow
  // RAM's PAM segments cover them; firmware enables them and copies itself down (SeaBIOS from
  // the top of 4 GiB, so its code below 0xe0000 lands too).
  auto bios = hw::MemoryRegion::rom("pc.bios", rom.size(), err);
  auto option_rom =
      bios ? hw::MemoryRegion::rom("pc.rom", kBiosLowBase - kOptionRomBase, err) : nullptr;
  if (!option_rom) return "-bios " + path + ": " + err;
  hw::MemoryRegion& b = *bios;
  const uint8_t* option_host = option_rom->host();
  err = mem_.add_owned(std::move(bios), base);
  if (err.empty()) err = mem_.add_owned(std::move(option_rom), kOptionRomBase);
  if (err.empty())
    err = mem_.add_owned(
        hw::MemoryRegion::alias("isa-bios", b, rom.size() - kBiosLowSize, kBiosLowSize),
        kBiosLowBase);
  if (!err.empty()) return "-bios " + path + ": " + err;
  mem_.write_bytes(base, rom.data(), rom.size());
  shadow_->set_rom(kOptionRomBase, kBiosLowBase - kOptionRomBase, option_host);
  shadow_->set_rom(kBiosLowBase, kBiosLowSize, b.host() + rom.size() - kBiosLowSize);
  firmware_boot_ = true;
  reset_firmware();
  return {};
}

void PcMachine::reset_firmware() {
  // The PAM registers are reset (every segment shows the ROM): the firmware shadows itself.
  cpus_[0]->reset_power_on();
  for (size_t i = 1; i < cpus_.size(); ++i) cpus_[i]->init_wait_for_sipi();
}

}  // namespace orrery::machine::pc
