// ELF64 kernel loading: validates an in-memory ELF file (header, program headers, every offset
// and size against the file) and copies its PT_LOAD segments into guest RAM by physical address
// (p_paddr, as hardware boot loaders and QEMU's -kernel do), zero-filling memsz beyond filesz.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace orrery::hw {
class AddressSpace;
}

namespace orrery::machine::loader {

/// ELF e_machine values the boards use.
inline constexpr uint16_t kEmX86_64 = 62;
inline constexpr uint16_t kEmAarch64 = 183;

/// One PT_LOAD segment, already checked against the file.
struct ElfSegment {
  uint64_t paddr = 0;
  uint64_t offset = 0;  // in the file
  uint64_t filesz = 0;
  uint64_t memsz = 0;
};

struct ElfImage {
  uint64_t entry = 0;
  std::vector<ElfSegment> segments;  // PT_LOAD only, memsz > 0
};

/// Guest-physical window the image must fit in (the board's RAM).
struct RamWindow {
  uint64_t base = 0;
  uint64_t size = 0;
  bool contains(uint64_t addr, uint64_t len) const {
    return addr >= base && len <= size && addr - base <= size - len;
  }
};

/// True when data starts with the ELF magic (so the caller should treat it as ELF, even if
/// it turns out malformed).
bool is_elf(std::span<const uint8_t> data);

/// How e_entry is read: a virtual address translated through the segment that holds it (the
/// CPU starts with the MMU off), or already physical (x86 vmlinux: ENTRY(phys_startup_64)).
enum class ElfEntry : uint8_t { Virtual, Physical };

/// Validates a little-endian ELF64 executable for machine; empty string on success, else why
/// not ("not a 64-bit ELF", "program header 2 extends past the end of the file", ...).
std::string parse_elf64(std::span<const uint8_t> data, uint16_t machine, ElfImage& out,
                        ElfEntry entry_is = ElfEntry::Virtual);

/// Checks that every segment lies inside ram, then copies them in; empty string on success.
/// Nothing is written unless every segment fits.
std::string load_elf64(std::span<const uint8_t> data, const ElfImage& image, RamWindow ram,
                       hw::AddressSpace& as);

/// The name of an e_machine value for messages ("x86-64", "AArch64", or "machine 40").
std::string elf_machine_name(uint16_t machine);

}  // namespace orrery::machine::loader
