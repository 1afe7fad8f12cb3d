#include "machine/loader/multiboot.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "hw/core/address_space.h"
#include "machine/loader/elf.h"

namespace orrery::machine::loader {

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t k4G = uint64_t(1) << 32;
// Offsets in the information structure (specification section 3.3).
constexpr uint32_t kMbiFlags = 0, kMbiMemLower = 4, kMbiMemUpper = 8, kMbiBootDevice = 12,
                   kMbiCmdline = 16, kMbiModsCount = 20, kMbiModsAddr = 24, kMbiMmapLength = 44,
                   kMbiMmapAddr = 48, kMbiLoaderName = 64;
// Information flags QEMU sets: memory, boot device, command line, modules, memory map, boot
// loader name.
constexpr uint32_t kMbiFlagsGiven =
    (1u << 0) | (1u << 1) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9);
constexpr uint32_t kBootDevice = 0x8000ffff;  // no BIOS boot drive
constexpr uint32_t kModuleEntrySize = 16;
constexpr uint32_t kMmapEntrySize = 24;  // the size field (20) and the 20 bytes it counts
// QEMU's name: multiboot kernels' expected outputs come from QEMU.
constexpr std::string_view kLoaderName = "qemu";
// The low area the information occupies: [kMultibootMmapAddr, info end).
constexpr uint64_t kInfoLow = kMultibootMmapAddr,
                   kInfoHigh = kMultibootInfoAddr + kMultibootInfoSize;
// SeaBIOS's layout: the EBDA below 640 KiB, the BIOS at 0xf0000, its tables at the top of RAM
// below 4 GiB, the flash image below 4 GiB.
constexpr uint64_t kEbda = 0x9fc00, kLowEnd = 0xa0000, kBiosBase = 0xf0000, kHighMem = 0x100000;
constexpr uint64_t kBiosTables = 0x20000, kFlashBase = 0xfffc0000;
constexpr uint64_t kAmdHtStart = 0xfd00000000, kAmdHtSize = 0x300000000;
constexpr uint16_t kEm386 = 3;

uint32_t le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint16_t le16(const uint8_t* p) {
  return uint16_t(p[0] | p[1] << 8);
}
void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (8 * i));
}
void put64(std::vector<uint8_t>& b, size_t at, uint64_t v) {
  put32(b, at, uint32_t(v));
  put32(b, at + 4, uint32_t(v >> 32));
}
uint64_t page_align(uint64_t v) {
  return (v + kPage - 1) & ~(kPage - 1);
}
std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

/// The kernel image as one buffer: bytes [0, data.size()) at phys, zeros up to size.
struct KernelBuffer {
  uint64_t phys = 0;
  uint64_t size = 0;
  uint32_t entry = 0;
  // Pieces of the file to copy in: (offset in file, length, physical address).
  struct Piece {
    uint64_t file_offset, length, phys;
  };
  std::vector<Piece> pieces;
};

// The a.out kludge: header fields at offsets 12..28 place the file's bytes.
std::string parse_aout(std::span<const uint8_t> f, uint64_t hdr, KernelBuffer& out) {
  if (f.size() - hdr < 32) return "multiboot header with address fields (flag 16) is truncated";
  const uint8_t* h = f.data() + hdr;
  const uint32_t header_addr = le32(h + 12), load_addr = le32(h + 16), load_end = le32(h + 20),
                 bss_end = le32(h + 24);
  out.entry = le32(h + 28);
  if (header_addr < load_addr)
    return "multiboot header_addr " + hex(header_addr) + " is below load_addr " + hex(load_addr);
  if (header_addr - load_addr > hdr)
    return "multiboot header_addr " + hex(header_addr) + " puts the image start before the file";
  const uint64_t text_offset = hdr - (header_addr - load_addr);
  uint64_t load_size;
  if (load_end) {
    if (load_end < load_addr)
      return "multiboot load_end_addr " + hex(load_end) + " is below load_addr " + hex(load_addr);
    load_size = load_end - load_addr;
    if (load_size > f.size() - text_offset)
      return "multiboot load_end_addr " + hex(load_end) + " reaches past the end of the file";
  } else {
    load_size = f.size() - text_offset;
  }
  if (load_addr + load_size > k4G) return "the multiboot image does not fit below 4 GiB";
  uint64_t size = load_size;
  if (bss_end) {
    if (bss_end < load_addr + load_size)
      return "multiboot bss_end_addr " + hex(bss_end) + " is below the end of the loaded image";
    size = bss_end - load_addr;
  }
  out.phys = load_addr;
  out.size = size;
  if (load_size) out.pieces.push_back({text_offset, load_size, load_addr});
  return {};
}

// A 32-bit little-endian i386 ELF executable: PT_LOAD segments by physical address.
std::string parse_elf32(std::span<const uint8_t> f, KernelBuffer& out) {
  if (!is_elf(f))
    return "the multiboot header has no address fields (flag 16), so the kernel must be an ELF";
  if (f.size() < 52) return "truncated ELF header";
  const uint8_t* h = f.data();
  if (h[4] == 2 || (f.size() >= 20 && le16(h + 18) == kEmX86_64))
    return "cannot load a 64-bit ELF with multiboot; give a 32-bit one (as QEMU)";
  if (h[4] != 1) return "bad ELF class";
  if (h[5] != 1) return "ELF is not little-endian";
  if (le16(h + 18) != kEm386)
    return "ELF is for " + elf_machine_name(le16(h + 18)) + ", expected i386";
  out.entry = le32(h + 24);
  const uint64_t phoff = le32(h + 28);
  const uint16_t phentsize = le16(h + 42), phnum = le16(h + 44);
  if (phnum == 0) return "ELF has no program headers";
  if (phentsize < 32) return "ELF program header size " + std::to_string(phentsize) + " < 32";
  if (phoff > f.size() || uint64_t(phnum) * phentsize > f.size() - phoff)
    return "ELF program headers extend past the end of the file";
  uint64_t low = UINT64_MAX, high = 0;
  for (unsigned i = 0; i < phnum; ++i) {
    const uint8_t* p = f.data() + phoff + uint64_t(i) * phentsize;
    if (le32(p) != 1) continue;  // PT_LOAD
    const uint64_t off = le32(p + 4), paddr = le32(p + 12), filesz = le32(p + 16),
                   memsz = le32(p + 20);
    const std::string what = "ELF program header " + std::to_string(i);
    if (filesz > memsz) return what + " has filesz > memsz";
    if (off > f.size() || filesz > f.size() - off)
      return what + " extends past the end of the file";
    if (paddr + memsz > k4G) return what + " reaches past 4 GiB";
    if (memsz == 0) continue;
    low = std::min(low, paddr);
    high = std::max(high, paddr + memsz);
    if (filesz) out.pieces.push_back({off, filesz, paddr});
  }
  if (high == 0) return "ELF has no loadable segments";
  out.phys = low;
  out.size = high - low;
  return {};
}

}  // namespace

std::vector<MemoryMapEntry> pc_memory_map(const PcMemory& mem) {
  std::vector<MemoryMapEntry> m;
  m.push_back({0, kEbda, 1});
  m.push_back({kEbda, kLowEnd - kEbda, 2});
  m.push_back({kBiosBase, kHighMem - kBiosBase, 2});
  if (mem.below_4g >= kHighMem + kBiosTables) {
    m.push_back({kHighMem, mem.below_4g - kBiosTables - kHighMem, 1});
    m.push_back({mem.below_4g - kBiosTables, kBiosTables, 2});
  }
  m.push_back({kFlashBase, k4G - kFlashBase, 2});
  if (mem.above_4g) m.push_back({k4G, mem.above_4g, 1});
  if (mem.amd_ht_hole) m.push_back({kAmdHtStart, kAmdHtSize, 2});
  return m;
}

std::vector<std::string> split_multiboot_modules(std::string_view list) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i] == ',') {
      if (i + 1 < list.size() && list[i + 1] == ',') {
        cur += ',';
        ++i;
        continue;
      }
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
      continue;
    }
    cur += list[i];
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::string multiboot_module_file(std::string_view cmdline) {
  return std::string(cmdline.substr(0, cmdline.find(' ')));
}

bool find_multiboot_header(std::span<const uint8_t> kernel, uint64_t& offset) {
  // As QEMU: 4-byte steps, the header (magic, flags, checksum) wholly inside the file.
  for (uint64_t i = 0; i + 12 <= kernel.size() && i < kMultibootSearch - 48; i += 4) {
    const uint8_t* h = kernel.data() + i;
    if (le32(h) != kMultibootHeaderMagic) continue;
    if (uint32_t(le32(h) + le32(h + 4) + le32(h + 8)) != 0) continue;
    offset = i;
    return true;
  }
  return false;
}

std::string load_multiboot(std::span<const uint8_t> kernel, std::string_view kernel_path,
                           std::string_view append, std::span<const MultibootModule> modules,
                           const PcMemory& mem, hw::AddressSpace& as, MultibootBoot& out) {
  out = {};
  uint64_t hdr = 0;
  if (!find_multiboot_header(kernel, hdr))
    return "neither a bzImage nor a multiboot kernel (no \"HdrS\" at 0x202, no multiboot "
           "header in the first 8 KiB)";
  const uint32_t flags = le32(kernel.data() + hdr + 4);
  KernelBuffer kb;
  std::string err =
      (flags & kMultibootAoutKludge) ? parse_aout(kernel, hdr, kb) : parse_elf32(kernel, kb);
  if (!err.empty()) return err;

  // The buffer behind the kernel: module list, command lines, loader name (QEMU's order).
  const std::string cmdline = std::string(kernel_path) + " " + std::string(append);
  const uint64_t info_off = page_align(kb.size);
  const uint64_t mods_off = info_off;
  uint64_t strings_off = mods_off + uint64_t(modules.size()) * kModuleEntrySize;
  std::vector<uint64_t> mod_cmdline_off;
  for (const MultibootModule& m : modules) {
    mod_cmdline_off.push_back(strings_off);
    strings_off += m.cmdline.size() + 1;
  }
  const uint64_t cmdline_off = strings_off;
  const uint64_t loader_off = cmdline_off + cmdline.size() + 1;
  const uint64_t buf_size = page_align(loader_off + kLoaderName.size() + 1);
  std::vector<uint64_t> mod_off;
  uint64_t end_off = buf_size;
  for (const MultibootModule& m : modules) {
    mod_off.push_back(end_off);
    end_off = page_align(end_off + m.data.size());
    if (end_off > k4G) break;
  }
  // Everything lies in RAM below 4 GiB and clear of the information at 0x9000.
  const uint64_t low = kb.phys;
  const uint64_t high =
      modules.empty() ? kb.phys + buf_size : kb.phys + mod_off.back() + modules.back().data.size();
  if (end_off > k4G || high > k4G || high > mem.below_4g)
    return "the multiboot image and its modules (" + hex(low) + ".." + hex(high) +
           ") do not fit in RAM below " + hex(std::min(mem.below_4g, k4G));
  if (low < kInfoHigh && kInfoLow < high)
    return "the multiboot image (" + hex(low) + ".." + hex(high) +
           ") overlaps the boot information at " + hex(kInfoLow) + ".." + hex(kInfoHigh);
  if (mem.below_4g < kInfoHigh) return "RAM below 4 GiB is too small for the boot information";

  // The information in one buffer (kernel bytes are copied separately, straight from the file).
  std::vector<uint8_t> info(buf_size - info_off, 0);
  for (size_t i = 0; i < modules.size(); ++i) {
    const size_t e = size_t(mods_off - info_off + i * kModuleEntrySize);
    put32(info, e, uint32_t(kb.phys + mod_off[i]));
    put32(info, e + 4, uint32_t(kb.phys + mod_off[i] + modules[i].data.size()));
    put32(info, e + 8, uint32_t(kb.phys + mod_cmdline_off[i]));
    std::memcpy(info.data() + (mod_cmdline_off[i] - info_off), modules[i].cmdline.data(),
                modules[i].cmdline.size());
  }
  std::memcpy(info.data() + (cmdline_off - info_off), cmdline.data(), cmdline.size());
  std::memcpy(info.data() + (loader_off - info_off), kLoaderName.data(), kLoaderName.size());

  const std::vector<MemoryMapEntry> map = pc_memory_map(mem);
  std::vector<uint8_t> mmap(map.size() * kMmapEntrySize, 0);
  for (size_t i = 0; i < map.size(); ++i) {
    put32(mmap, i * kMmapEntrySize, kMmapEntrySize - 4);
    put64(mmap, i * kMmapEntrySize + 4, map[i].base);
    put64(mmap, i * kMmapEntrySize + 12, map[i].length);
    put32(mmap, i * kMmapEntrySize + 20, map[i].type);
  }
  std::vector<uint8_t> mbi(kMultibootInfoSize, 0);
  put32(mbi, kMbiFlags, kMbiFlagsGiven);
  put32(mbi, kMbiMemLower, uint32_t(kEbda / 1024));
  // Extended memory from 1 MiB to the BIOS tables (what INT 15h E801 reports).
  const uint64_t upper_end =
      mem.below_4g >= kHighMem + kBiosTables ? mem.below_4g - kBiosTables : kHighMem;
  put32(mbi, kMbiMemUpper, uint32_t((upper_end - kHighMem) / 1024));
  put32(mbi, kMbiBootDevice, kBootDevice);
  put32(mbi, kMbiCmdline, uint32_t(kb.phys + cmdline_off));
  put32(mbi, kMbiModsCount, uint32_t(modules.size()));
  put32(mbi, kMbiModsAddr, uint32_t(kb.phys + mods_off));
  put32(mbi, kMbiMmapLength, uint32_t(mmap.size()));
  put32(mbi, kMbiMmapAddr, kMultibootMmapAddr);
  put32(mbi, kMbiLoaderName, uint32_t(kb.phys + loader_off));
  if (kMultibootMmapAddr + mmap.size() > kMultibootInfoAddr)
    return "internal error: the memory map does not fit below the information structure";

  // All checked: write. The kernel's buffer is zeroed first (bss, gaps between segments).
  std::vector<uint8_t> zeros(std::min<uint64_t>(info_off, 1 << 20), 0);
  for (uint64_t done = 0; done < info_off;) {
    const uint64_t n = std::min<uint64_t>(zeros.size(), info_off - done);
    if (!as.write_bytes(kb.phys + done, zeros.data(), n)) return "cannot write guest RAM";
    done += n;
  }
  for (const KernelBuffer::Piece& p : kb.pieces)
    if (!as.write_bytes(p.phys, kernel.data() + p.file_offset, p.length))
      return "cannot write guest RAM";
  bool ok = as.write_bytes(kb.phys + info_off, info.data(), info.size());
  for (size_t i = 0; i < modules.size() && ok; ++i)
    ok = as.write_bytes(kb.phys + mod_off[i], modules[i].data.data(), modules[i].data.size());
  ok = ok && as.write_bytes(kMultibootMmapAddr, mmap.data(), mmap.size()) &&
       as.write_bytes(kMultibootInfoAddr, mbi.data(), mbi.size());
  if (!ok) return "cannot write guest RAM";
  out.entry = kb.entry;
  out.low = low;
  out.high = high;
  return {};
}

}  // namespace orrery::machine::loader
