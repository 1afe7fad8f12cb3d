// Multiboot 1 (the GNU Multiboot Specification 0.6.96) for the pc board's -kernel, placing
// things where QEMU's loader and its option ROM do, so a kernel sees the same boot information
// under Orrery as under qemu-system-x86_64 -M pc:
//  - the header is searched in the first 8 KiB (32-bit aligned) and its checksum checked;
//  - with header flag 16 (the "a.out kludge") the header's address fields place the image,
//    otherwise it must be a 32-bit i386 ELF (segments by physical address; a 64-bit ELF is
//    refused as QEMU refuses it);
//  - behind the kernel, from its page-aligned end: the module list, the module command lines,
//    the kernel command line ("<kernel path> <-append>"), the boot loader name, and then each
//    module on its own page;
//  - the memory map (SeaBIOS's e820 table for the board's RAM) at 0x9000 and the information
//    structure at 0x9500; EAX = 0x2BADB002, EBX = 0x9500 at entry.
// Every offset, length and address taken from the image is checked against the file and the
// board's RAM below 4 GiB before anything is written.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace orrery::hw {
class AddressSpace;
}

namespace orrery::machine::loader {

inline constexpr uint32_t kMultibootHeaderMagic = 0x1BADB002;
inline constexpr uint32_t kMultibootBootMagic = 0x2BADB002;
/// The header must start in the first kMultibootSearch bytes.
inline constexpr uint64_t kMultibootSearch = 8192;
inline constexpr uint32_t kMultibootAoutKludge = 1u << 16;
/// Where the memory map and the information structure go (below the kernel, as QEMU).
inline constexpr uint32_t kMultibootMmapAddr = 0x9000;
inline constexpr uint32_t kMultibootInfoAddr = 0x9500;
inline constexpr uint32_t kMultibootInfoSize = 0x58;

/// The board's RAM, for the memory map and mem_lower/mem_upper.
struct PcMemory {
  uint64_t below_4g = 0;  // RAM from 0
  uint64_t above_4g = 0;  // RAM from 4 GiB
  /// The reserved AMD HyperTransport range at 0xfd00000000 (QEMU lists it for AMD CPU models
  /// with at least 40 physical address bits).
  bool amd_ht_hole = false;
};

/// One e820 / multiboot memory-map entry.
struct MemoryMapEntry {
  uint64_t base = 0;
  uint64_t length = 0;
  uint32_t type = 0;  // 1 usable, 2 reserved
};

/// The memory map a PC with mem gives (what SeaBIOS reports through INT 15h E820).
std::vector<MemoryMapEntry> pc_memory_map(const PcMemory& mem);

/// One module from -initrd: its command line ("file args") and contents.
struct MultibootModule {
  std::string cmdline;
  std::span<const uint8_t> data;
};

/// Splits -initrd "file1 args,file2" into module command lines (",," is a literal comma);
/// the file of each is the part before its first space. Empty pieces are dropped.
std::vector<std::string> split_multiboot_modules(std::string_view list);
/// The file name part of a module command line.
std::string multiboot_module_file(std::string_view cmdline);

/// Where the multiboot header is: true and offset set if the first 8 KiB hold one with a
/// valid checksum.
bool find_multiboot_header(std::span<const uint8_t> kernel, uint64_t& offset);

/// What load_multiboot placed and the CPU state the kernel starts with.
struct MultibootBoot {
  uint32_t entry = 0;
  uint32_t eax = kMultibootBootMagic;
  uint32_t ebx = kMultibootInfoAddr;
  uint64_t low = 0, high = 0;  // the kernel's buffer, information and modules: [low, high)
};

/// Validates kernel (and everything the modules add) against mem.below_4g and writes it all to
/// as; empty on success, else one line saying why (nothing is written then).
std::string load_multiboot(std::span<const uint8_t> kernel, std::string_view kernel_path,
                           std::string_view append, std::span<const MultibootModule> modules,
                           const PcMemory& mem, hw::AddressSpace& as, MultibootBoot& out);

}  // namespace orrery::machine::loader
