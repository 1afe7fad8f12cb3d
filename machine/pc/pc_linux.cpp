// The pc board's direct Linux boot: a bzImage from -kernel enters through the boot protocol's
// 64-bit entry (machine/loader/bzimage.h) with -append as its command line and -initrd (one
// file, as QEMU takes it for a bzImage) as its initramfs. There is no firmware: the zero page
// carries the e820 table that SeaBIOS would report for the board's RAM, and the boot CPU's MTRRs
// are what SeaBIOS leaves (Linux keeps PAT off when it finds the MTRRs disabled). The board
// places its ACPI tables in the BIOS area itself (the zero page's acpi_rsdp_addr points at them),
// as SeaBIOS would from fw_cfg, so Linux finds the local APICs, the IOAPIC, the HPET and the
// ACPI power-off.
#include <map>

#include "hw/acpi/acpi_builder.h"
#include "hw/core/log.h"
#include "machine/loader/kernel.h"
#include "machine/pc/pc.h"
#include "machine/pc/pc_acpi.h"

namespace orrery::machine::pc {

namespace {

constexpr uint64_t kMtrrUc = 0, kMtrrWp = 5, kMtrrWb = 6;
constexpr uint64_t kMtrrEnable = 1u << 11, kMtrrFixedEnable = 1u << 10, kMtrrValid = 1u << 11;
/// A fixed-range MTRR with all eight ranges of type t.
constexpr uint64_t fixed_all(uint64_t t) {
  return t * 0x0101010101010101ull;
}

}  // namespace

void program_firmware_mtrrs(cpu::x86::X86State& s, uint64_t below_4g, unsigned phys_bits) {
  // Fixed ranges: RAM below 640 KiB write-back, the VGA window uncached, option ROMs and the
  // BIOS (0xc0000-0xfffff) write-protected.
  s.msr.mtrr_fixed[0] = fixed_all(kMtrrWb);  // 0x00000-0x7ffff
  s.msr.mtrr_fixed[1] = fixed_all(kMtrrWb);  // 0x80000-0x9ffff
  s.msr.mtrr_fixed[2] = fixed_all(kMtrrUc);  // 0xa0000-0xbffff
  for (unsigned i = 3; i < 11; ++i) s.msr.mtrr_fixed[i] = fixed_all(kMtrrWp);
  // One variable range: SeaBIOS's i440FX PCI window, from its start to 4 GiB, uncached.
  const uint64_t pci_start = below_4g <= 0x80000000   ? 0x80000000
                             : below_4g <= 0xc0000000 ? 0xc0000000
                                                      : 0xe0000000;
  const uint64_t phys_mask = (uint64_t(1) << phys_bits) - 1;
  for (uint64_t& v : s.msr.mtrr_var) v = 0;
  s.msr.mtrr_var[0] = pci_start | kMtrrUc;
  s.msr.mtrr_var[1] = ((0 - ((uint64_t(1) << 32) - pci_start)) & phys_mask) | kMtrrValid;
  s.msr.mtrr_def_type = kMtrrEnable | kMtrrFixedEnable | kMtrrWb;
}

std::string PcMachine::load_linux(const BootImages& images) {
  // The BIOS area (0xe0000-0xfffff) is shadow RAM (open_shadow_ram) that holds the ACPI
  // tables; e820 reserves it.
  initrd_.clear();
  if (images.initrd_path.empty()) return {};
  std::string err = loader::read_file(images.initrd_path, config_.ram_size, initrd_);
  if (!err.empty()) return "-initrd " + images.initrd_path + ": " + err;
  return {};
}

std::string PcMachine::place_acpi_tables() {
  // The tables from the BIOS area's start, the RSDP in its last 64 KiB (16-byte aligned), linked
  // as SeaBIOS links them from fw_cfg.
  constexpr uint64_t kTablesBase = kBiosLowBase, kRsdpBase = kBiosLowBase + 0x10000;
  PcAcpiFiles acpi = build_pc_acpi({config_.cpus, pci_windows()});
  if (acpi.tables.size() > kRsdpBase - kTablesBase)
    return "the ACPI tables do not fit below 0xf0000";
  std::map<std::string, std::vector<uint8_t>> files{{kAcpiTablesFile, std::move(acpi.tables)},
                                                    {kAcpiRsdpFile, std::move(acpi.rsdp)}};
  const std::map<std::string, uint64_t> bases{{kAcpiTablesFile, kTablesBase},
                                              {kAcpiRsdpFile, kRsdpBase}};
  std::string err = hw::acpi::TableLoader::link(acpi.loader, files, bases);
  if (!err.empty()) return "ACPI tables: " + err;
  for (const auto& [name, bytes] : files)
    if (!mem_.write_bytes(bases.at(name), bytes.data(), bytes.size()))
      return "ACPI tables: the BIOS area is not RAM";
  acpi_rsdp_addr_ = kRsdpBase;
  return {};
}

std::string PcMachine::boot_linux(std::span<const uint8_t> kernel) {
  std::string err = place_acpi_tables();
  if (!err.empty()) return err;
  loader::LinuxBootConfig c;
  c.mem = pc_memory();
  c.cmdline = cmdline_;
  c.initrd = initrd_;
  c.acpi_rsdp_addr = acpi_rsdp_addr_;
  c.decompress = kernel_decompress_;
  err = loader::load_bzimage(kernel, c, mem_, linux_boot_);
  if (!err.empty()) return err;
  if (!linux_boot_.fallback.empty() && !logged_fallback_) {
    logged_fallback_ = true;
    ctx_.log.log(linux_boot_.fallback_unsupported ? hw::kLogUnimp : hw::kLogGuestErrors,
                 "pc: -kernel: not decompressed on the host (%s); the kernel's own decompressor "
                 "runs\n",
                 linux_boot_.fallback.c_str());
  }
  cpu::x86::LongModeEntry e;
  e.rip = linux_boot_.entry;
  e.rsi = linux_boot_.zero_page;
  e.rsp = linux_boot_.rsp;
  e.cr3 = linux_boot_.cr3;
  e.gdt_base = linux_boot_.gdt_base;
  e.gdt_limit = linux_boot_.gdt_limit;
  cpus_[0]->reset_long_mode(e);
  init_pic_as_firmware();
  // TCG only for now: a KVM vCPU would need the MTRRs as MSRs.
  auto* tcg_cpu = dynamic_cast<cpu::x86::X86Cpu*>(cpus_[0].get());
  if (tcg_cpu && (model_->leaf1_edx & cpu::x86::feat::kMtrr))
    program_firmware_mtrrs(tcg_cpu->state(), split_.below_4g, model_->phys_bits);
  // The application processors wait for INIT and STARTUP IPIs from the boot CPU's local APIC.
  for (size_t i = 1; i < cpus_.size(); ++i) cpus_[i]->init_wait_for_sipi();
  return {};
}

}  // namespace orrery::machine::pc
