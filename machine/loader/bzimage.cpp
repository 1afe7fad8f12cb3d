#include "machine/loader/bzimage.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <vector>

#include "hw/core/address_space.h"
#include "machine/loader/kernel_payload.h"

namespace orrery::machine::loader {

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t k1M = uint64_t(1) << 20;
constexpr uint64_t k2M = uint64_t(2) << 20;
constexpr uint64_t k1G = uint64_t(1) << 30;
constexpr uint64_t kEbda = 0x9fc00;  // the end of usable low memory in the e820 table

// Setup header offsets (boot.rst, "The Real-Mode Kernel Header").
constexpr size_t kSetupSects = 0x1f1, kBootFlag = 0x1fe, kHeaderLen = 0x201, kVersion = 0x206,
                 kTypeOfLoader = 0x210, kLoadflags = 0x211, kCode32Start = 0x214,
                 kRamdiskImage = 0x218, kRamdiskSize = 0x21c, kCmdLinePtr = 0x228,
                 kInitrdAddrMax = 0x22c, kKernelAlignment = 0x230, kRelocatable = 0x234,
                 kXloadflags = 0x236, kCmdlineSize = 0x238, kPayloadOffset = 0x248,
                 kPayloadLength = 0x24c, kPrefAddress = 0x258, kInitSize = 0x260;
// Zero-page offsets (zero-page.rst).
constexpr size_t kAcpiRsdpAddr = 0x070, kExtRamdiskImage = 0x0c0, kExtRamdiskSize = 0x0c4,
                 kExtCmdLinePtr = 0x0c8, kE820Entries = 0x1e8, kE820Table = 0x2d0;
constexpr size_t kZeroPageSize = 4096;
constexpr size_t kE820Max = 128, kE820EntrySize = 20;
/// Where struct boot_params' setup header ends (edd_mbr_sig_buffer follows at 0x290).
constexpr size_t kHeaderLimit = 0x290;
constexpr uint8_t kLoaderUndefined = 0xff;  // type_of_loader: no assigned boot loader ID
/// Protocol 2.06 before 2.10 has no pref_address: kernels load at 1 MiB.
constexpr uint64_t kLegacyLoadAddr = 0x100000;
/// The 64-bit entry, startup_64, at this offset in the protected-mode kernel.
constexpr uint64_t kStartup64 = 0x200;
/// Before protocol 2.03, initrd_addr_max is not in the header.
constexpr uint32_t kLegacyInitrdMax = 0x37ffffff;

// The boot GDT: null, null, __BOOT_CS (64-bit code), __BOOT_DS (flat data).
constexpr uint64_t kGdt[] = {0, 0, 0x00af9b000000ffff, 0x00cf93000000ffff};
constexpr uint64_t kPteP = 1, kPteRw = 2, kPtePs = 0x80;

uint16_t le16(std::span<const uint8_t> d, size_t at) {
  return uint16_t(d[at] | d[at + 1] << 8);
}
uint32_t le32(std::span<const uint8_t> d, size_t at) {
  return uint32_t(le16(d, at)) | uint32_t(le16(d, at + 2)) << 16;
}
uint64_t le64(std::span<const uint8_t> d, size_t at) {
  return uint64_t(le32(d, at)) | uint64_t(le32(d, at + 4)) << 32;
}
void put(std::vector<uint8_t>& b, size_t at, uint64_t v, unsigned size) {
  for (unsigned i = 0; i < size; ++i) b[at + i] = uint8_t(v >> (8 * i));
}
std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

/// The host's decompression of the kernel for load_bzimage (kernel_payload.h), straight into
/// guest RAM at pref_address; on failure says why in boot.fallback.
void host_decompress(std::span<const uint8_t> pm, const BzImageHeader& h, hw::AddressSpace& as,
                     LinuxBoot& boot) {
  auto fall_back = [&](bool unsupported, std::string why) {
    boot.fallback = std::move(why);
    boot.fallback_unsupported = unsupported;
  };
  if (h.payload_length == 0 || h.init_size == 0)
    return fall_back(true, "the setup header gives no payload or no init_size");
  if (h.payload_offset > pm.size() || h.payload_length > pm.size() - h.payload_offset)
    return fall_back(false, "the payload (" + std::to_string(h.payload_length) + " bytes at " +
                                hex(h.payload_offset) + ") extends past the end of the file");
  // Nothing relocates the kernel: it must run where it was linked (LOAD_PHYSICAL_ADDR, which
  // the setup header gives as pref_address).
  if (boot.kernel_addr != h.pref_address)
    return fall_back(false, "pref_address " + hex(h.pref_address) + " is not aligned to " +
                                "kernel_alignment " + hex(h.kernel_alignment));
  uint8_t* window = as.host_ptr(h.pref_address, h.init_size);
  if (!window) return fall_back(false, "the kernel's memory is not one block of RAM");
  HostKernel k;
  std::string why;
  const HostKernelResult r =
      place_host_kernel(pm.subspan(h.payload_offset, h.payload_length), h.pref_address,
                        std::span<uint8_t>(window, h.init_size), k, why);
  // Written behind the address space's back: whatever was translated from there is stale.
  if (k.touched) as.notify_written(h.pref_address, h.init_size);
  if (r != HostKernelResult::Ready) return fall_back(r == HostKernelResult::Unsupported, why);
  boot.host_decompressed = true;
  boot.entry = k.elf.entry;
}

/// The e820 range of usable RAM from 1 MiB: [1 MiB, end); 0 when there is none.
uint64_t high_usable_end(const std::vector<MemoryMapEntry>& map) {
  for (const MemoryMapEntry& e : map)
    if (e.type == 1 && e.base == k1M) return e.base + e.length;
  return 0;
}

}  // namespace

bool is_bzimage(std::span<const uint8_t> data) {
  return data.size() >= kBzImageMagicOffset + 4 && le32(data, kBzImageMagicOffset) == kBzImageMagic;
}

std::string parse_bzimage_header(std::span<const uint8_t> d, BzImageHeader& h) {
  h = {};
  if (!is_bzimage(d)) return "not a bzImage (no \"HdrS\" at offset 0x202)";
  if (d.size() < kCmdlineSize + 4) return "truncated bzImage setup header";
  h.version = le16(d, kVersion);
  char ver[16];
  std::snprintf(ver, sizeof ver, "%u.%02u", h.version >> 8, h.version & 0xff);
  if (h.version < kBzImageMinVersion)
    return "boot protocol " + std::string(ver) + " is too old (2.06 or later needed)";
  const unsigned sects = d[kSetupSects] ? d[kSetupSects] : 4;  // 0 means 4 (boot.rst)
  h.setup_size = uint64_t(sects + 1) * 512;
  h.header_end = 0x202 + uint64_t(d[kHeaderLen]);
  const uint64_t needed = h.version >= 0x020a ? kInitSize + 4 : kCmdlineSize + 4;
  if (h.header_end < needed)
    return "the setup header ends at " + hex(h.header_end) + ", before the fields of protocol " +
           ver;
  if (h.header_end > kHeaderLimit)
    return "the setup header ends at " + hex(h.header_end) + ", past the zero page's " +
           hex(kHeaderLimit);
  if (h.header_end > h.setup_size) return "the setup header extends past the setup code";
  if (d.size() <= h.setup_size + kStartup64)
    return "the bzImage ends before its protected-mode kernel's 64-bit entry (" +
           std::to_string(d.size()) + " bytes, setup " + std::to_string(h.setup_size) + ")";
  if (le16(d, kBootFlag) != 0xaa55) return "bad boot_flag (not 0xAA55) in the setup header";
  h.loadflags = d[kLoadflags];
  h.initrd_addr_max = h.version >= 0x0203 ? le32(d, kInitrdAddrMax) : kLegacyInitrdMax;
  h.kernel_alignment = le32(d, kKernelAlignment);
  h.relocatable = d[kRelocatable] != 0;
  h.xloadflags = h.version >= 0x020c ? le16(d, kXloadflags) : 0;
  h.cmdline_size = le32(d, kCmdlineSize);
  h.pref_address = h.version >= 0x020a ? le64(d, kPrefAddress) : kLegacyLoadAddr;
  h.init_size = h.version >= 0x020a ? le32(d, kInitSize) : 0;
  if (h.version >= 0x0208 && h.header_end >= kPayloadLength + 4) {
    h.payload_offset = le32(d, kPayloadOffset);
    h.payload_length = le32(d, kPayloadLength);
  }
  if (!(h.xloadflags & kXlfKernel64))
    return "the kernel has no 64-bit entry point (xloadflags XLF_KERNEL_64 clear, protocol " +
           std::string(ver) + "); give a 64-bit kernel of protocol 2.12 or later";
  if (!(h.loadflags & 1)) return "a zImage (loadflags LOADED_HIGH clear) cannot be booted";
  if (h.relocatable &&
      (h.kernel_alignment == 0 || (h.kernel_alignment & (h.kernel_alignment - 1)) != 0))
    return "kernel_alignment " + hex(h.kernel_alignment) + " is not a power of two";
  return {};
}

std::string load_bzimage(std::span<const uint8_t> image, const LinuxBootConfig& config,
                         hw::AddressSpace& as, LinuxBoot& out) {
  out = {};
  BzImageHeader h;
  std::string err = parse_bzimage_header(image, h);
  if (!err.empty()) return err;
  const std::vector<MemoryMapEntry> map = pc_memory_map(config.mem);
  const uint64_t usable_end = high_usable_end(map);
  if (usable_end == 0) return "RAM below 4 GiB is too small for a Linux kernel";

  // The protected-mode kernel and the room it decompresses in.
  const std::span<const uint8_t> pm = image.subspan(h.setup_size);
  uint64_t addr = h.pref_address;
  if (h.relocatable) addr = (addr + h.kernel_alignment - 1) & ~uint64_t(h.kernel_alignment - 1);
  const uint64_t mem_size = std::max<uint64_t>(pm.size(), h.init_size);
  if (addr < k1M || addr >= usable_end || mem_size > usable_end - addr)
    return "the kernel (" + hex(mem_size) + " bytes at " + hex(addr) +
           ") does not fit in RAM between 1 MiB and " + hex(usable_end);
  out.kernel_addr = addr;
  out.kernel_end = addr + mem_size;
  out.entry = addr + kStartup64;

  // The command line, below the EBDA.
  if (config.cmdline.size() > h.cmdline_size)
    return "-append: the command line is " + std::to_string(config.cmdline.size()) +
           " bytes; this kernel accepts at most " + std::to_string(h.cmdline_size);
  if (config.cmdline.size() + 1 > kEbda - kLinuxCmdline)
    return "-append: the command line is too long (" + std::to_string(config.cmdline.size()) +
           " bytes)";

  // The initrd: page-aligned below the last byte it may use, as QEMU computes it (whose limit
  // is the end of the e820's usable RAM: its firmware's tables lie above).
  if (!config.initrd.empty()) {
    const uint64_t last = std::min<uint64_t>(h.initrd_addr_max, usable_end - 1);
    const uint64_t size = config.initrd.size();
    if (size > last || ((last - size) & ~(kPage - 1)) < out.kernel_end)
      return "-initrd: " + std::to_string(size) + " bytes do not fit in RAM between the kernel's " +
             "end " + hex(out.kernel_end) + " and " + hex(last + 1);
    out.initrd_addr = (last - size) & ~(kPage - 1);
    out.initrd_size = size;
  }
  if (map.size() > kE820Max) return "internal error: too many e820 entries";

  // The zero page.
  std::vector<uint8_t> zp(kZeroPageSize, 0);
  std::memcpy(zp.data() + kSetupSects, image.data() + kSetupSects, h.header_end - kSetupSects);
  zp[kTypeOfLoader] = kLoaderUndefined;
  put(zp, kCode32Start, uint32_t(out.kernel_addr), 4);
  put(zp, kCmdLinePtr, uint32_t(kLinuxCmdline), 4);
  put(zp, kExtCmdLinePtr, kLinuxCmdline >> 32, 4);
  put(zp, kRamdiskImage, uint32_t(out.initrd_addr), 4);
  put(zp, kExtRamdiskImage, out.initrd_addr >> 32, 4);
  put(zp, kRamdiskSize, uint32_t(out.initrd_size), 4);
  put(zp, kExtRamdiskSize, out.initrd_size >> 32, 4);
  put(zp, kAcpiRsdpAddr, config.acpi_rsdp_addr, 8);
  zp[kE820Entries] = uint8_t(map.size());
  for (size_t i = 0; i < map.size(); ++i) {
    const size_t at = kE820Table + i * kE820EntrySize;
    put(zp, at, map[i].base, 8);
    put(zp, at + 8, map[i].length, 8);
    put(zp, at + 16, map[i].type, 4);
  }

  // The GDT and the identity map of the first 4 GiB: PML4, PDPT, four page directories.
  std::vector<uint8_t> gdt(sizeof kGdt);
  for (size_t i = 0; i < std::size(kGdt); ++i) put(gdt, i * 8, kGdt[i], 8);
  std::vector<uint8_t> pt(6 * kPage, 0);
  put(pt, 0, (kLinuxPml4 + kPage) | kPteP | kPteRw, 8);
  for (uint64_t g = 0; g < 4; ++g) {
    put(pt, kPage + g * 8, (kLinuxPml4 + (2 + g) * kPage) | kPteP | kPteRw, 8);
    for (uint64_t j = 0; j < 512; ++j)
      put(pt, (2 + g) * kPage + j * 8, (g * k1G + j * k2M) | kPteP | kPteRw | kPtePs, 8);
  }
  static_assert(kLinuxPml4 + 6 * kPage <= kLinuxCmdline &&
                kLinuxZeroPage + kZeroPageSize <= kLinuxPml4);

  // All checked: write, the kernel first (the host decompresses it in place, or the guest's
  // decompressor will).
  if (config.decompress == KernelDecompress::Host) host_decompress(pm, h, as, out);
  std::string cmdline(config.cmdline);
  const bool ok =
      (out.host_decompressed || as.write_bytes(out.kernel_addr, pm.data(), pm.size())) &&
      (config.initrd.empty() ||
       as.write_bytes(out.initrd_addr, config.initrd.data(), config.initrd.size())) &&
      as.write_bytes(kLinuxGdtAddr, gdt.data(), gdt.size()) &&
      as.write_bytes(kLinuxZeroPage, zp.data(), zp.size()) &&
      as.write_bytes(kLinuxPml4, pt.data(), pt.size()) &&
      as.write_bytes(kLinuxCmdline, cmdline.c_str(), cmdline.size() + 1);
  if (!ok) return "cannot write guest RAM";
  out.gdt_limit = uint16_t(gdt.size() - 1);
  return {};
}

}  // namespace orrery::machine::loader
