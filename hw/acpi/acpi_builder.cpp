#include "hw/acpi/acpi_builder.h"

#include <cstring>

namespace orrery::hw::acpi {

namespace {

enum Command : uint32_t { kAllocate = 1, kAddPointer = 2, kAddChecksum = 3 };

// Offsets inside a 128-byte loader entry: the command, then its arguments.
constexpr size_t kArgs = 4;
constexpr size_t kName = TableLoader::kMaxFileName;

uint64_t get_le(const uint8_t* p, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; ++i) v |= uint64_t(p[i]) << (8 * i);
  return v;
}

void put_le(uint8_t* p, uint64_t v, unsigned n) {
  for (unsigned i = 0; i < n; ++i) p[i] = uint8_t(v >> (8 * i));
}

std::string name_at(const uint8_t* p) {
  return std::string(reinterpret_cast<const char*>(p),
                     strnlen(reinterpret_cast<const char*>(p), kName));
}

bool inside(const std::vector<uint8_t>& f, uint64_t off, uint64_t len) {
  return off <= f.size() && len <= f.size() - off;
}

}  // namespace

uint8_t checksum(std::span<const uint8_t> bytes) {
  uint8_t sum = 0;
  for (uint8_t b : bytes) sum = uint8_t(sum + b);
  return sum;
}

void Blob::le(uint64_t v, unsigned n) {
  for (unsigned i = 0; i < n; ++i) bytes_.push_back(uint8_t(v >> (8 * i)));
}

void Blob::str(std::string_view s, size_t n) {
  for (size_t i = 0; i < n; ++i) bytes_.push_back(i < s.size() ? uint8_t(s[i]) : uint8_t(' '));
}

void Blob::align(size_t align) {
  while (bytes_.size() % align) bytes_.push_back(0);
}

void Blob::patch(size_t off, uint64_t v, unsigned n) {
  put_le(&bytes_.at(off + n - 1) - (n - 1), v, n);
}

uint64_t Blob::read(size_t off, unsigned n) const {
  return get_le(&bytes_.at(off + n - 1) - (n - 1), n);
}

size_t begin_table(Blob& b, std::string_view signature, uint8_t revision, const Oem& oem) {
  const size_t off = b.size();
  b.str(signature, 4);
  b.u32(0);  // length, set by finish_table
  b.u8(revision);
  b.u8(0);  // checksum
  b.str(oem.id, 6);
  b.str(oem.table_id, 8);
  b.u32(oem.revision);
  b.str(oem.creator_id, 4);
  b.u32(oem.creator_revision);
  return off;
}

void finish_table(Blob& b, size_t off, TableLoader* loader, const std::string& file) {
  const size_t len = b.size() - off;
  b.patch(off + 4, len, 4);
  b.patch(off + 9, 0, 1);
  auto bytes = std::span<const uint8_t>(b.bytes()).subspan(off, len);
  b.patch(off + 9, uint8_t(-checksum(bytes)), 1);
  if (loader) loader->add_checksum(file, uint32_t(off + 9), uint32_t(off), uint32_t(len));
}

void append_gas(Blob& b, const Gas& g) {
  b.u8(uint8_t(g.space));
  b.u8(g.bit_width);
  b.u8(g.bit_offset);
  b.u8(g.access_size);
  b.u64(g.address);
}

void TableLoader::name(const std::string& s) {
  // Callers pass the board's fixed names; a longer one is a programming error, cut here.
  for (size_t i = 0; i < kName; ++i) blob_.u8(i + 1 < kName && i < s.size() ? uint8_t(s[i]) : 0);
}

void TableLoader::allocate(const std::string& file, uint32_t align, Zone zone) {
  const size_t start = blob_.size();
  blob_.u32(kAllocate);
  name(file);
  blob_.u32(align);
  blob_.u8(uint8_t(zone));
  blob_.zeros(start + kEntrySize - blob_.size());
}

void TableLoader::add_pointer(const std::string& dest_file, const std::string& src_file,
                              uint32_t offset, uint8_t size) {
  const size_t start = blob_.size();
  blob_.u32(kAddPointer);
  name(dest_file);
  name(src_file);
  blob_.u32(offset);
  blob_.u8(size);
  blob_.zeros(start + kEntrySize - blob_.size());
}

void TableLoader::add_checksum(const std::string& file, uint32_t offset, uint32_t start_off,
                               uint32_t length) {
  const size_t start = blob_.size();
  blob_.u32(kAddChecksum);
  name(file);
  blob_.u32(offset);
  blob_.u32(start_off);
  blob_.u32(length);
  blob_.zeros(start + kEntrySize - blob_.size());
}

std::string TableLoader::link(std::span<const uint8_t> commands,
                              std::map<std::string, std::vector<uint8_t>>& files,
                              const std::map<std::string, uint64_t>& bases) {
  if (commands.size() % kEntrySize) return "table-loader: not a whole number of commands";
  for (size_t at = 0; at < commands.size(); at += kEntrySize) {
    const uint8_t* e = commands.data() + at;
    const uint32_t cmd = uint32_t(get_le(e, 4));
    const uint8_t* a = e + kArgs;
    if (cmd == kAllocate) {
      const std::string f = name_at(a);
      if (!files.count(f) || !bases.count(f)) return "table-loader: no file or address for " + f;
      const uint64_t align = get_le(a + kName, 4);
      if (align && bases.at(f) % align) return "table-loader: " + f + " is misaligned";
    } else if (cmd == kAddPointer) {
      const std::string dst = name_at(a), src = name_at(a + kName);
      const uint32_t off = uint32_t(get_le(a + 2 * kName, 4));
      const unsigned size = a[2 * kName + 4];
      if (!files.count(dst) || !bases.count(src))
        return "table-loader: pointer names unknown files";
      if ((size != 1 && size != 2 && size != 4 && size != 8) || !inside(files[dst], off, size))
        return "table-loader: pointer outside " + dst;
      uint8_t* p = files[dst].data() + off;
      put_le(p, get_le(p, size) + bases.at(src), size);
    } else if (cmd == kAddChecksum) {
      const std::string f = name_at(a);
      const uint32_t off = uint32_t(get_le(a + kName, 4));
      const uint32_t start = uint32_t(get_le(a + kName + 4, 4));
      const uint32_t len = uint32_t(get_le(a + kName + 8, 4));
      if (!files.count(f) || !inside(files[f], off, 1) || !inside(files[f], start, len))
        return "table-loader: checksum outside " + f;
      std::vector<uint8_t>& v = files[f];
      v[off] = uint8_t(v[off] - checksum(std::span<const uint8_t>(v).subspan(start, len)));
    }
    // Other commands (WRITE_POINTER, ...) are not generated by Orrery's boards.
  }
  return {};
}

std::vector<uint8_t> build_rsdp(const Oem& oem, uint32_t rsdt_off, uint64_t xsdt_off,
                                TableLoader& loader, const std::string& rsdp_file,
                                const std::string& tables_file) {
  Blob b;
  b.str("RSD PTR ", 8);
  b.u8(0);  // checksum of the first 20 bytes
  b.str(oem.id, 6);
  b.u8(2);  // revision: ACPI 2.0+, with the XSDT
  b.u32(rsdt_off);
  b.u32(36);  // length
  b.u64(xsdt_off);
  b.u8(0);  // extended checksum
  b.zeros(3);
  auto bytes = std::span<const uint8_t>(b.bytes());
  b.patch(8, uint8_t(-checksum(bytes.first(20))), 1);
  b.patch(32, uint8_t(-checksum(bytes)), 1);
  loader.allocate(rsdp_file, 16, TableLoader::Zone::Fseg);
  loader.add_pointer(rsdp_file, tables_file, 16, 4);
  loader.add_pointer(rsdp_file, tables_file, 24, 8);
  loader.add_checksum(rsdp_file, 8, 0, 20);
  loader.add_checksum(rsdp_file, 32, 0, 36);
  return std::move(b.bytes());
}

namespace {

size_t build_sdt(Blob& b, std::string_view sig, unsigned entry_size, std::span<const uint32_t> offs,
                 const Oem& oem, TableLoader& loader, const std::string& file) {
  const size_t off = begin_table(b, sig, 1, oem);
  for (uint32_t t : offs) {
    loader.add_pointer(file, file, uint32_t(b.size()), uint8_t(entry_size));
    entry_size == 4 ? b.u32(t) : b.u64(t);
  }
  finish_table(b, off, &loader, file);
  return off;
}

}  // namespace

size_t build_rsdt(Blob& b, std::span<const uint32_t> offs, const Oem& oem, TableLoader& loader,
                  const std::string& file) {
  return build_sdt(b, "RSDT", 4, offs, oem, loader, file);
}

size_t build_xsdt(Blob& b, std::span<const uint32_t> offs, const Oem& oem, TableLoader& loader,
                  const std::string& file) {
  return build_sdt(b, "XSDT", 8, offs, oem, loader, file);
}

}  // namespace orrery::hw::acpi
