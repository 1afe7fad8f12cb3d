// Direct Linux boot of an x86 bzImage through the boot protocol's 64-bit entry
// (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol", and zero-page.rst), as Firecracker
// and cloud-hypervisor boot: no BIOS and no real-mode setup code.
//  - The setup header at 0x1f1 must carry "HdrS" (version 2.06 or later) and XLF_KERNEL_64.
//  - The protected-mode kernel (the file after its (setup_sects + 1) * 512 setup bytes) goes to
//    pref_address rounded up to kernel_alignment when relocatable, else to pref_address
//    (0x100000 before protocol 2.10); init_size bytes from there must be RAM.
//  - The zero page (struct boot_params) holds a copy of the setup header with type_of_loader
//    0xff, the command line and initrd pointers, the board's e820 table and acpi_rsdp_addr.
//  - The initrd lies page-aligned as high as possible below initrd_addr_max and the end of the
//    RAM that the e820 table reports usable below 4 GiB, where QEMU places it.
//  - Low memory holds the GDT (__BOOT_CS 0x10, __BOOT_DS 0x18), the boot stack, the zero page,
//    4-level page tables identity-mapping the first 4 GiB with 2 MiB pages, and the command
//    line at 0x20000.
//  - By default the payload is decompressed on the host and the boot CPU enters the kernel
//    proper at its ELF entry (machine/loader/kernel_payload.h: no KASLR); a payload the host
//    cannot decompress, or one that fails a check, falls back to the protected-mode kernel as
//    it is, whose startup_64 runs the kernel's own decompressor.
// Every field taken from the image is checked against the file and the board's RAM before
// anything is written; errors are one line.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "machine/loader/multiboot.h"

namespace orrery::hw {
class AddressSpace;
}

namespace orrery::machine::loader {

/// "HdrS" at offset 0x202 identifies a bzImage (boot protocol 2.00 and later).
inline constexpr uint32_t kBzImageMagic = 0x53726448;
inline constexpr uint64_t kBzImageMagicOffset = 0x202;
/// The oldest protocol accepted (2.06: cmdline_size, initrd_addr_max, relocatable fields).
inline constexpr uint16_t kBzImageMinVersion = 0x0206;

/// Fixed places in low memory (all below the EBDA at 0x9fc00, in usable RAM the kernel reclaims).
inline constexpr uint64_t kLinuxGdtAddr = 0x500;
inline constexpr uint64_t kLinuxStackTop = 0x7000;  // grows down, below the zero page
inline constexpr uint64_t kLinuxZeroPage = 0x7000;
inline constexpr uint64_t kLinuxPml4 = 0x9000;  // then the PDPT and four page directories
inline constexpr uint64_t kLinuxCmdline = 0x20000;

/// The setup header fields the loader uses (offsets in boot.rst's table).
struct BzImageHeader {
  uint16_t version = 0;
  uint8_t loadflags = 0;
  uint16_t xloadflags = 0;
  uint64_t setup_size = 0;  // the boot sector and setup code: (setup_sects + 1) * 512
  uint64_t header_end = 0;  // one past the setup header: 0x202 + the byte at 0x201
  uint32_t initrd_addr_max = 0;
  uint32_t kernel_alignment = 0;
  bool relocatable = false;
  uint32_t cmdline_size = 0;  // without the terminating NUL
  uint64_t pref_address = 0;
  uint32_t init_size = 0;
  /// The compressed kernel within the protected-mode kernel (protocol 2.08+; else 0).
  uint32_t payload_offset = 0, payload_length = 0;
};

inline constexpr uint16_t kXlfKernel64 = 1u << 0;  // xloadflags: the 64-bit entry exists

/// True when data has the bzImage magic at 0x202.
bool is_bzimage(std::span<const uint8_t> data);

/// Reads and checks the setup header; empty on success, else why the image cannot be booted.
std::string parse_bzimage_header(std::span<const uint8_t> data, BzImageHeader& out);

/// Who decompresses the kernel: the host (the default), or the guest (the bzImage's own
/// decompressor, with KASLR).
enum class KernelDecompress : uint8_t { Host, Guest };

/// What the board gives the loader.
struct LinuxBootConfig {
  KernelDecompress decompress = KernelDecompress::Host;
  PcMemory mem;
  std::string_view cmdline;         // -append
  std::span<const uint8_t> initrd;  // empty: none
  uint64_t acpi_rsdp_addr = 0;      // 0: the board has no ACPI tables
};

/// Where load_bzimage put things and the state the boot CPU starts in.
struct LinuxBoot {
  uint64_t kernel_addr = 0, kernel_end = 0;  // [addr, addr + max(file size, init_size))
  /// The compressed kernel's startup_64 (kernel_addr + 0x200), or the kernel proper's ELF
  /// entry when the host decompressed it.
  uint64_t entry = 0;
  bool host_decompressed = false;
  /// Why the host did not decompress the kernel although asked to (empty otherwise), and whether
  /// that is a format it lacks (true) or a payload that failed a check (false).
  std::string fallback;
  bool fallback_unsupported = false;
  uint64_t zero_page = kLinuxZeroPage;
  uint64_t cmdline_addr = kLinuxCmdline;
  uint64_t initrd_addr = 0, initrd_size = 0;
  uint64_t cr3 = kLinuxPml4, rsp = kLinuxStackTop;
  uint64_t gdt_base = kLinuxGdtAddr;
  uint16_t gdt_limit = 0;
};

/// Validates the bzImage and everything the configuration adds and writes it all to as; empty
/// on success, else one line saying why (nothing is written then).
std::string load_bzimage(std::span<const uint8_t> image, const LinuxBootConfig& config,
                         hw::AddressSpace& as, LinuxBoot& out);

}  // namespace orrery::machine::loader
