// Board-neutral ACPI table building: little-endian table blobs with the standard header and
// checksum, the Generic Address Structure, RSDP/RSDT/XSDT, and QEMU's BIOS linker/loader
// commands (fw_cfg "etc/table-loader") with which firmware places the tables in guest memory and
// patches their pointers and checksums. Boards describe their hardware in their own files.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace orrery::hw::acpi {

/// Sum of bytes modulo 256; a valid table sums to 0.
uint8_t checksum(std::span<const uint8_t> bytes);

/// A growing little-endian byte blob (one table, or several tables back to back).
class Blob {
 public:
  size_t size() const { return bytes_.size(); }
  std::vector<uint8_t>& bytes() { return bytes_; }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

  void u8(uint8_t v) { bytes_.push_back(v); }
  void u16(uint16_t v) { le(v, 2); }
  void u32(uint32_t v) { le(v, 4); }
  void u64(uint64_t v) { le(v, 8); }
  /// s padded with spaces (or cut) to exactly n bytes, as ACPI's OEM fields are.
  void str(std::string_view s, size_t n);
  void zeros(size_t n) { bytes_.insert(bytes_.end(), n, 0); }
  void append(std::span<const uint8_t> b) { bytes_.insert(bytes_.end(), b.begin(), b.end()); }
  /// Pads with zeros to a multiple of align.
  void align(size_t align);
  /// Overwrites n (<= 8) little-endian bytes at off, which must lie inside the blob.
  void patch(size_t off, uint64_t v, unsigned n);
  uint64_t read(size_t off, unsigned n) const;

 private:
  void le(uint64_t v, unsigned n);
  std::vector<uint8_t> bytes_;
};

/// Who made the tables: the OEM fields of every header.
struct Oem {
  std::string id = "ORRERY";          // 6 bytes
  std::string table_id = "ORRERYPC";  // 8 bytes
  uint32_t revision = 1;
  std::string creator_id = "ORRY";  // 4 bytes
  uint32_t creator_revision = 1;
};

class TableLoader;

inline constexpr size_t kHeaderSize = 36;

/// Starts a table at the blob's end (its header with length and checksum left 0); returns its
/// offset for finish_table.
size_t begin_table(Blob& b, std::string_view signature, uint8_t revision, const Oem& oem);
/// Sets the length of the table at off (to the blob's end) and its checksum. With a loader, also
/// has firmware redo the checksum after it has patched the table's pointers (which must have
/// been added to the loader already).
void finish_table(Blob& b, size_t off, TableLoader* loader = nullptr, const std::string& file = {});

/// Generic Address Structure (ACPI 6.5 5.2.3.2).
enum class AddressSpaceId : uint8_t { SystemMemory = 0, SystemIo = 1, PciConfig = 2 };
struct Gas {
  AddressSpaceId space = AddressSpaceId::SystemMemory;
  uint8_t bit_width = 0, bit_offset = 0;
  uint8_t access_size = 0;  // 0 undefined, 1 byte, 2 word, 3 dword, 4 qword
  uint64_t address = 0;
};
void append_gas(Blob& b, const Gas& g);

/// QEMU's BIOS linker/loader (fw_cfg "etc/table-loader"): 128-byte little-endian commands that
/// firmware such as SeaBIOS executes in order.
class TableLoader {
 public:
  enum class Zone : uint8_t {
    High = 1,
    Fseg = 2
  };  // anywhere in RAM; the 0xe0000-0xfffff BIOS area
  static constexpr size_t kEntrySize = 128;
  static constexpr size_t kMaxFileName = 56;  // with its NUL, as fw_cfg's names

  /// Allocates file (aligned to align, a power of two) in zone and copies its contents there.
  void allocate(const std::string& file, uint32_t align, Zone zone);
  /// Adds the address where src_file was placed to the size-byte (1, 2, 4 or 8) little-endian
  /// value at offset in dest_file.
  void add_pointer(const std::string& dest_file, const std::string& src_file, uint32_t offset,
                   uint8_t size);
  /// Makes the byte at offset in file the checksum of [start, start+length) (it is added to
  /// what is there, so the byte starts as 0 in a table whose checksum is otherwise right).
  void add_checksum(const std::string& file, uint32_t offset, uint32_t start, uint32_t length);

  const std::vector<uint8_t>& bytes() const { return blob_.bytes(); }

  /// Runs the commands as firmware would, with each allocated file at the address in bases
  /// (e.g. for a board that places tables itself, and for tests): patches files in place.
  /// Empty on success, else why (a file missing, a command outside its file).
  static std::string link(std::span<const uint8_t> commands,
                          std::map<std::string, std::vector<uint8_t>>& files,
                          const std::map<std::string, uint64_t>& bases);

 private:
  void name(const std::string& s);
  Blob blob_;
};

/// RSDP revision 2 (36 bytes) for tables whose RSDT and XSDT lie at the given offsets of
/// tables_file; the loader gets the pointer and checksum commands for the RSDP (which must be
/// allocated in the F segment by the caller's loader, as done here).
std::vector<uint8_t> build_rsdp(const Oem& oem, uint32_t rsdt_off, uint64_t xsdt_off,
                                TableLoader& loader, const std::string& rsdp_file,
                                const std::string& tables_file);

/// RSDT (32-bit entries) or XSDT (64-bit entries) listing the tables at offsets of the blob it
/// is appended to (which is tables_file); returns its offset.
size_t build_rsdt(Blob& b, std::span<const uint32_t> table_offs, const Oem& oem,
                  TableLoader& loader, const std::string& tables_file);
size_t build_xsdt(Blob& b, std::span<const uint32_t> table_offs, const Oem& oem,
                  TableLoader& loader, const std::string& tables_file);

}  // namespace orrery::hw::acpi
