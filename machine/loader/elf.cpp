#include "machine/loader/elf.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "hw/core/address_space.h"

namespace orrery::machine::loader {

namespace {

// ELF64 layout (System V gABI): the fields Orrery reads, by byte offset.
constexpr size_t kEhdrSize = 64;
constexpr size_t kPhdrSize = 56;
constexpr uint8_t kElfClass64 = 2, kElfData2Lsb = 1, kEvCurrent = 1;
constexpr uint16_t kEtExec = 2, kEtDyn = 3;
constexpr uint16_t kPnXnum = 0xFFFF;
constexpr uint32_t kPtLoad = 1;

uint16_t le16(const uint8_t* p) {
  return uint16_t(p[0] | p[1] << 8);
}
uint32_t le32(const uint8_t* p) {
  return uint32_t(le16(p)) | uint32_t(le16(p + 2)) << 16;
}
uint64_t le64(const uint8_t* p) {
  return uint64_t(le32(p)) | uint64_t(le32(p + 4)) << 32;
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

}  // namespace

bool is_elf(std::span<const uint8_t> data) {
  return data.size() >= 4 && data[0] == 0x7F && data[1] == 'E' && data[2] == 'L' && data[3] == 'F';
}

std::string elf_machine_name(uint16_t machine) {
  switch (machine) {
    case 3:
      return "i386";
    case 40:
      return "32-bit ARM";
    case kEmX86_64:
      return "x86-64";
    case kEmAarch64:
      return "AArch64";
    case 243:
      return "RISC-V";
    default:
      return "machine " + std::to_string(machine);
  }
}

std::string parse_elf64(std::span<const uint8_t> data, uint16_t machine, ElfImage& out,
                        ElfEntry entry_is) {
  out = {};
  if (!is_elf(data)) return "not an ELF file";
  if (data.size() < kEhdrSize) return "truncated ELF header";
  const uint8_t* h = data.data();
  if (h[4] != kElfClass64) return h[4] == 1 ? "32-bit ELF, expected ELF64" : "bad ELF class";
  if (h[5] != kElfData2Lsb)
    return h[5] == 2 ? "big-endian ELF, expected little-endian" : "bad ELF data encoding";
  if (h[6] != kEvCurrent) return "unsupported ELF version " + std::to_string(h[6]);
  uint16_t type = le16(h + 16);
  uint16_t mach = le16(h + 18);
  if (mach != machine)
    return "ELF is for " + elf_machine_name(mach) + ", expected " + elf_machine_name(machine);
  if (type != kEtExec && type != kEtDyn)
    return "ELF type " + std::to_string(type) + " is not an executable";
  uint64_t entry = le64(h + 24);
  uint64_t phoff = le64(h + 32);
  uint16_t phentsize = le16(h + 54);
  uint16_t phnum = le16(h + 56);
  if (phnum == 0) return "ELF has no program headers";
  if (phnum == kPnXnum) return "ELF with more than 65534 program headers is not supported";
  if (phentsize < kPhdrSize)
    return "ELF program header size " + std::to_string(phentsize) + " is too small";
  uint64_t table = uint64_t(phentsize) * phnum;  // at most 0xFFFF * 0xFFFE: no overflow
  if (phoff > data.size() || table > data.size() - phoff)
    return "ELF program headers extend past the end of the file";

  bool entry_found = false;
  for (unsigned i = 0; i < phnum; ++i) {
    const uint8_t* ph = h + phoff + uint64_t(i) * phentsize;
    if (le32(ph) != kPtLoad) continue;
    ElfSegment s;
    s.offset = le64(ph + 8);
    uint64_t vaddr = le64(ph + 16);
    s.paddr = le64(ph + 24);
    s.filesz = le64(ph + 32);
    s.memsz = le64(ph + 40);
    std::string which = "ELF segment " + std::to_string(i);
    if (s.filesz > s.memsz) return which + " has file size larger than memory size";
    if (s.offset > data.size() || s.filesz > data.size() - s.offset)
      return which + " extends past the end of the file";
    if (s.memsz == 0) continue;
    if (s.paddr + (s.memsz - 1) < s.paddr) return which + " wraps around the address space";
    // With the MMU off the CPU starts at a physical address: translate a virtual entry point
    // through the segment that holds it.
    const uint64_t base = entry_is == ElfEntry::Physical ? s.paddr : vaddr;
    if (!entry_found && entry >= base && entry - base < s.memsz) {
      out.entry = s.paddr + (entry - base);
      entry_found = true;
    }
    out.segments.push_back(s);
  }
  if (out.segments.empty()) return "ELF has no loadable segments";
  if (!entry_found) return "ELF entry point " + hex(entry) + " is not inside any loadable segment";
  std::vector<ElfSegment> sorted = out.segments;
  std::sort(sorted.begin(), sorted.end(),
            [](const ElfSegment& a, const ElfSegment& b) { return a.paddr < b.paddr; });
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i].paddr - sorted[i - 1].paddr < sorted[i - 1].memsz)
      return "ELF segments overlap at physical address " + hex(sorted[i].paddr);
  }
  return {};
}

std::string load_elf64(std::span<const uint8_t> data, const ElfImage& image, RamWindow ram,
                       hw::AddressSpace& as) {
  for (const ElfSegment& s : image.segments) {
    if (!ram.contains(s.paddr, s.memsz))
      return "ELF segment at " + hex(s.paddr) + "-" + hex(s.paddr + s.memsz - 1) +
             " lies outside RAM (" + hex(ram.base) + "-" + hex(ram.base + ram.size - 1) + ")";
    if (s.offset > data.size() || s.filesz > data.size() - s.offset)
      return "ELF segment at " + hex(s.paddr) + " extends past the end of the file";
  }
  for (const ElfSegment& s : image.segments) {
    uint8_t* dst = as.host_ptr(s.paddr, s.memsz);
    if (!dst) return "no guest memory at " + hex(s.paddr) + " for an ELF segment";
    std::memcpy(dst, data.data() + s.offset, s.filesz);
    std::memset(dst + s.filesz, 0, s.memsz - s.filesz);
  }
  return {};
}

}  // namespace orrery::machine::loader
