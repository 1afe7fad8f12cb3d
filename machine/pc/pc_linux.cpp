// The pc board's direct Linux boot: a bzImage from -kernel enters through the boot protocol's
// 64-bit entry (machine/loader/bzimage.h) with -append as its command line and -initrd (one
// file, as QEMU takes it for a bzImage) as its initramfs. There is no firmware: the zero page
// carries the e820 table that SeaBIOS would report for the board's RAM.
#include "machine/loader/kernel.h"
#include "machine/pc/pc.h"

namespace orrery::machine::pc {

std::string PcMachine::load_linux(const BootImages& images) {
  initrd_.clear();
  if (images.initrd_path.empty()) return {};
  std::string err = loader::read_file(images.initrd_path, config_.ram_size, initrd_);
  if (!err.empty()) return "-initrd " + images.initrd_path + ": " + err;
  return {};
}

std::string PcMachine::boot_linux(std::span<const uint8_t> kernel) {
  loader::LinuxBootConfig c;
  c.mem = pc_memory();
  c.cmdline = cmdline_;
  c.initrd = initrd_;
  c.acpi_rsdp_addr = acpi_rsdp_addr_;
  std::string err = loader::load_bzimage(kernel, c, mem_, linux_boot_);
  if (!err.empty()) return err;
  cpu::x86::X86Cpu::LongModeEntry e;
  e.rip = linux_boot_.entry;
  e.rsi = linux_boot_.zero_page;
  e.rsp = linux_boot_.rsp;
  e.cr3 = linux_boot_.cr3;
  e.gdt_base = linux_boot_.gdt_base;
  e.gdt_limit = linux_boot_.gdt_limit;
  cpus_[0]->reset_long_mode(e);
  // The application processors wait for INIT and STARTUP IPIs from the boot CPU's local APIC.
  for (size_t i = 1; i < cpus_.size(); ++i) cpus_[i]->init_wait_for_sipi();
  return {};
}

}  // namespace orrery::machine::pc
