// Kernel images for -kernel: reading the host file and placing an AArch64 kernel in guest RAM.
// Accepted forms: an ELF64 executable (segments by physical address, entry from the header), a
// Linux arm64 "Image" (identified by its header magic; loaded at RAM base + text_offset) and
// anything else as a raw binary at the RAM base. gzip-compressed kernels (Debian's vmlinuz) are
// inflated first, at most to the size of guest RAM. For Linux, the initrd and the device tree
// are placed after the kernel following Documentation/arch/arm64/booting.rst.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "machine/loader/elf.h"

namespace orrery::hw {
class AddressSpace;
}

namespace orrery::machine::loader {

enum class KernelKind : uint8_t { Elf, LinuxImage, Raw };

/// Where the kernel landed and how the boot CPU should start it.
struct BootInfo {
  KernelKind kind = KernelKind::Raw;
  uint64_t entry = 0;  // physical PC for the boot CPU
  uint64_t low = 0;    // lowest guest-physical byte written
  uint64_t high = 0;   // one past the highest byte the image occupies (incl. its bss)
};

/// Reads a whole regular file (opened with hw::open_user_file, so a FIFO never blocks); fails
/// (with why) for directories, devices, FIFOs, empty files, read errors and files larger than
/// max_size (a guard against reading something absurd into memory; whether the image fits in
/// guest RAM is for the loader to decide).
std::string read_file(const std::string& path, uint64_t max_size, std::vector<uint8_t>& out);

/// read_file from an open regular file, from its start whatever the file offset (so it can
/// read the same file again, e.g. the kernel on a system reset).
std::string read_whole(int fd, uint64_t max_size, std::vector<uint8_t>& out);

/// A whole regular file's bytes for loading. Large files are mapped read-only from the page
/// cache (no zero-filled buffer, no copy: a 33 MB kernel cost ~0.15 s of the boot's start in
/// memset, page faults and pread); small ones, and any the host cannot map, are read.
/// The file must not shrink while this holds it mapped (reading a truncated mapping's pages
/// faults): the caller loads it at start-up and drops it.
class FileBytes {
 public:
  FileBytes() = default;
  FileBytes(FileBytes&& o) noexcept;
  FileBytes& operator=(FileBytes&& o) noexcept;
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;
  ~FileBytes();
  std::span<const uint8_t> bytes() const {
    return map_ ? std::span<const uint8_t>(map_, map_size_) : std::span<const uint8_t>(copy_);
  }
  /// Unmaps or frees the bytes.
  void reset();

 private:
  friend std::string map_whole(int fd, uint64_t max_size, FileBytes& out);
  const uint8_t* map_ = nullptr;
  size_t map_size_ = 0;
  std::vector<uint8_t> copy_;
};

/// read_whole into a FileBytes, mapping the file when it is large; the same checks and errors.
std::string map_whole(int fd, uint64_t max_size, FileBytes& out);

/// Linux arm64 Image header (Documentation/arch/arm64/booting.rst), little-endian.
struct Arm64ImageHeader {
  static constexpr size_t kSize = 64;
  static constexpr uint32_t kMagic = 0x644D5241;  // "ARM\x64" at offset 56
  /// Used when image_size is 0 (kernels before 3.17).
  static constexpr uint64_t kLegacyTextOffset = 0x80000;
  uint64_t text_offset = 0;
  uint64_t image_size = 0;
  uint64_t flags = 0;
};

/// True (and fills hdr) when data carries the arm64 Image magic.
bool parse_arm64_image_header(std::span<const uint8_t> data, Arm64ImageHeader& hdr);

/// True when data starts with the gzip magic.
bool is_gzip(std::span<const uint8_t> data);

/// Inflates a gzip stream into out, failing (with why) on corrupt or truncated data and when
/// the output would exceed max_size bytes (a guard against decompression bombs).
std::string gunzip(std::span<const uint8_t> data, uint64_t max_size, std::vector<uint8_t>& out);

/// Detects the kind of data and places it in ram; empty string on success.
std::string load_arm64_kernel(std::span<const uint8_t> data, RamWindow ram, hw::AddressSpace& as,
                              BootInfo& out);

/// Places an initrd for a Linux kernel: as high as possible in the first GiB of RAM (booting.rst
/// keeps early mappings within it), above the kernel and a 2 MiB slot for the device tree.
/// Sets [start, end).
std::string place_initrd(std::span<const uint8_t> initrd, const BootInfo& kernel, RamWindow ram,
                         hw::AddressSpace& as, uint64_t& start, uint64_t& end);

/// Largest device tree booting.rst allows.
inline constexpr uint64_t kMaxDtbSize = 2 << 20;

/// Places the device tree at the first 2 MiB boundary after the kernel image (8-byte aligned,
/// at most 2 MiB, never overlapping the initrd [initrd_start, initrd_end)); sets addr.
std::string place_dtb(std::span<const uint8_t> dtb, const BootInfo& kernel, RamWindow ram,
                      uint64_t initrd_start, uint64_t initrd_end, hw::AddressSpace& as,
                      uint64_t& addr);

}  // namespace orrery::machine::loader
