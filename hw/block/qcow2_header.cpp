#include "hw/block/qcow2_header.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <vector>

namespace orrery::hw::block::qcow2 {
namespace {

std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

bool has_magic(std::span<const uint8_t> first_bytes) {
  return first_bytes.size() >= 4 && load_be32(first_bytes.data()) == kMagic;
}

Expected<Header> read_header(PosixFile& file) {
  const std::string& name = file.name();
  auto bad = [&](const std::string& what) {
    return error_status(EINVAL, "qcow2 image '" + name + "': " + what);
  };
  auto file_len = file.length();
  if (!file_len.ok()) return file_len.status();
  const uint64_t len = *file_len;
  if (len < kV2HeaderLength) return bad("file is truncated (shorter than the header)");

  std::vector<uint8_t> h(kV2HeaderLength);
  if (Status s = file.pread(0, h); !s.ok()) return s;
  if (load_be32(&h[0]) != kMagic) return bad("bad magic (not a qcow2 image)");

  Header hd;
  hd.version = load_be32(&h[4]);
  if (hd.version != 2 && hd.version != 3) {
    return bad("unsupported version " + std::to_string(hd.version) + " (2 and 3 are supported)");
  }
  hd.backing_file_offset = load_be64(&h[8]);
  hd.backing_file_size = load_be32(&h[16]);
  hd.cluster_bits = load_be32(&h[20]);
  hd.size = load_be64(&h[24]);
  const uint32_t crypt_method = load_be32(&h[32]);
  hd.l1_size = load_be32(&h[36]);
  hd.l1_table_offset = load_be64(&h[40]);
  hd.refcount_table_offset = load_be64(&h[48]);
  hd.refcount_table_clusters = load_be32(&h[56]);
  hd.nb_snapshots = load_be32(&h[60]);
  hd.snapshots_offset = load_be64(&h[64]);

  if (hd.cluster_bits < 9 || hd.cluster_bits > 21) {
    return bad("cluster_bits " + std::to_string(hd.cluster_bits) + " outside 9..21");
  }
  const uint64_t cs = hd.cluster_size();
  // The header and its extensions live in the first cluster.
  std::vector<uint8_t> c0(cs);
  if (Status s = file.pread(0, c0); !s.ok()) return s;

  uint8_t compression_type = 0;
  if (hd.version == 3) {
    if (len < kV3HeaderLength) return bad("file is truncated (shorter than the v3 header)");
    hd.incompatible_features = load_be64(&c0[72]);
    hd.compatible_features = load_be64(&c0[80]);
    hd.autoclear_features = load_be64(&c0[88]);
    hd.refcount_order = load_be32(&c0[96]);
    hd.header_length = load_be32(&c0[100]);
    if (hd.header_length < kV3HeaderLength || hd.header_length > cs) {
      return bad("header_length " + std::to_string(hd.header_length) + " is invalid");
    }
    if (hd.header_length > kV3HeaderLength) compression_type = c0[104];
  }
  if (hd.refcount_order > 6) {
    return bad("refcount_order " + std::to_string(hd.refcount_order) + " is invalid (max 6)");
  }
  if (crypt_method != 0) return bad("encrypted images are not supported");

  const uint64_t unknown = hd.incompatible_features & ~kIncompatKnown;
  if (unknown) return bad("unsupported incompatible feature bits " + hex(unknown));
  if (hd.incompatible_features & kIncompatDataFile) {
    return bad("external data files are not supported");
  }
  if (hd.incompatible_features & kIncompatExtendedL2) {
    return bad("extended L2 entries (subclusters) are not supported");
  }
  if (hd.incompatible_features & kIncompatCompression) {
    return bad("compression type " + std::to_string(compression_type) +
               " is not supported (only zlib)");
  }
  if (compression_type != 0) return bad("compression type set without its feature bit");

  // L1 must map the whole virtual disk, and stay below QEMU's limit.
  const uint64_t bytes_per_l1 = cs * (cs / 8);
  const uint64_t needed_l1 = hd.size / bytes_per_l1 + (hd.size % bytes_per_l1 != 0);
  if (needed_l1 > kMaxL1Bytes / 8)
    return bad("virtual size " + std::to_string(hd.size) + " is too large");
  if (uint64_t(hd.l1_size) * 8 > kMaxL1Bytes) {
    return bad("L1 table size " + std::to_string(hd.l1_size) + " is too large");
  }
  if (hd.l1_size < needed_l1) return bad("L1 table is too small for the virtual size");
  if (hd.l1_table_offset % cs) return bad("L1 table offset is not cluster-aligned");
  if (hd.l1_size && (hd.l1_table_offset == 0 || hd.l1_table_offset > len ||
                     uint64_t(hd.l1_size) * 8 > len - hd.l1_table_offset)) {
    return bad("L1 table lies outside the file");
  }
  if (hd.refcount_table_offset == 0 || hd.refcount_table_offset % cs) {
    return bad("refcount table offset is not cluster-aligned");
  }
  if (hd.refcount_table_clusters == 0 ||
      uint64_t(hd.refcount_table_clusters) * cs > kMaxRefcountTableBytes) {
    return bad("refcount table size " + std::to_string(hd.refcount_table_clusters) +
               " clusters is invalid");
  }
  if (hd.refcount_table_offset > len ||
      uint64_t(hd.refcount_table_clusters) * cs > len - hd.refcount_table_offset) {
    return bad("refcount table lies outside the file");
  }
  if (hd.nb_snapshots && (hd.snapshots_offset % cs || hd.snapshots_offset >= len)) {
    return bad("snapshot table lies outside the file");
  }

  if (hd.backing_file_offset) {
    if (hd.backing_file_size == 0 || hd.backing_file_size > kMaxBackingNameLength ||
        hd.backing_file_offset > cs || hd.backing_file_size > cs - hd.backing_file_offset ||
        hd.backing_file_offset + hd.backing_file_size > len) {
      return bad("backing file name lies outside the header cluster");
    }
    hd.backing_file.assign(reinterpret_cast<const char*>(&c0[hd.backing_file_offset]),
                           hd.backing_file_size);
  }

  // Header extensions: between the header and the backing file name (or the cluster end).
  const uint64_t ext_end = hd.backing_file_offset ? hd.backing_file_offset : cs;
  uint64_t pos = hd.header_length;
  while (pos + 8 <= ext_end) {
    const uint32_t type = load_be32(&c0[pos]);
    const uint32_t ext_len = load_be32(&c0[pos + 4]);
    pos += 8;
    if (type == kExtEnd) break;
    if (ext_len > ext_end - pos)
      return bad("header extension " + hex(type) + " overruns the header");
    if (type == kExtBackingFormat) {
      hd.backing_format.assign(reinterpret_cast<const char*>(&c0[pos]), ext_len);
    } else if (type == kExtDataFile) {
      return bad("external data files are not supported");
    }
    // Others (feature names, bitmaps...) carry nothing this driver needs.
    pos += (uint64_t(ext_len) + 7) & ~uint64_t(7);
  }
  return hd;
}

Status create_image(PosixFile& file, uint64_t size) {
  constexpr uint32_t kClusterBits = 16;
  constexpr uint64_t cs = 1ull << kClusterBits;
  const uint64_t bytes_per_l1 = cs * (cs / 8);
  const uint64_t l1_size = std::max<uint64_t>(1, (size + bytes_per_l1 - 1) / bytes_per_l1);
  const uint64_t l1_clusters = (l1_size * 8 + cs - 1) / cs;
  // Layout: header, refcount table, one refcount block, L1 table.
  const uint64_t used = 3 + l1_clusters;
  if (used > cs / 2)
    return error_status(EINVAL, "overlay size " + std::to_string(size) + " is too large");
  if (::ftruncate(file.fd(), off_t(used * cs)) < 0) {
    return error_status(errno, "cannot size the overlay '" + file.name() + "'");
  }
  std::vector<uint8_t> h(cs, 0);
  store_be32(&h[0], kMagic);
  store_be32(&h[4], 3);
  store_be32(&h[20], kClusterBits);
  store_be64(&h[24], size);
  store_be32(&h[36], uint32_t(l1_size));
  store_be64(&h[40], 3 * cs);
  store_be64(&h[48], 1 * cs);
  store_be32(&h[56], 1);
  store_be32(&h[96], 4);
  store_be32(&h[100], kV3HeaderLength);
  std::vector<uint8_t> table(cs, 0);
  store_be64(&table[0], 2 * cs);
  std::vector<uint8_t> block(cs, 0);
  for (uint64_t i = 0; i < used; ++i) block[2 * i + 1] = 1;
  if (Status s = file.pwrite(2 * cs, block); !s.ok()) return s;
  if (Status s = file.pwrite(1 * cs, table); !s.ok()) return s;
  return file.pwrite(0, h);
}

}  // namespace orrery::hw::block::qcow2
