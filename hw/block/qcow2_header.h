// qcow2 on-disk format (QEMU docs/interop/qcow2.txt, versions 2 and 3): the header, its
// validation, and creation of an empty image for snapshot=on overlays.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "hw/block/block.h"
#include "hw/block/file.h"

namespace orrery::hw::block::qcow2 {

inline constexpr uint32_t kMagic = 0x514649fb;  // "QFI\xfb"
inline constexpr uint32_t kV2HeaderLength = 72;
inline constexpr uint32_t kV3HeaderLength = 104;

// Header field offsets.
inline constexpr uint64_t kOffRefcountTableOffset = 48;  // u64, followed by u32 clusters
inline constexpr uint64_t kOffIncompatible = 72;
inline constexpr uint64_t kOffAutoclear = 88;

// Incompatible feature bits.
inline constexpr uint64_t kIncompatDirty = 1ull << 0;
inline constexpr uint64_t kIncompatCorrupt = 1ull << 1;
inline constexpr uint64_t kIncompatDataFile = 1ull << 2;
inline constexpr uint64_t kIncompatCompression = 1ull << 3;
inline constexpr uint64_t kIncompatExtendedL2 = 1ull << 4;
inline constexpr uint64_t kIncompatKnown = (1ull << 5) - 1;

// Header extension types.
inline constexpr uint32_t kExtEnd = 0;
inline constexpr uint32_t kExtBackingFormat = 0xe2792aca;
inline constexpr uint32_t kExtFeatureTable = 0x6803f857;
inline constexpr uint32_t kExtDataFile = 0x44415441;

// L1 / L2 entry bits.
inline constexpr uint64_t kOffsetMask = 0x00fffffffffffe00ull;  // bits 9..55
inline constexpr uint64_t kCopied = 1ull << 63;
inline constexpr uint64_t kCompressed = 1ull << 62;
inline constexpr uint64_t kZero = 1ull << 0;
inline constexpr uint64_t kL1Reserved = 0x7f000000000001ffull;
inline constexpr uint64_t kL2Reserved = 0x3f000000000001feull;  // standard clusters

// Limits, as QEMU enforces them, so a hostile header cannot make us allocate gigabytes.
inline constexpr uint64_t kMaxL1Bytes = 32ull << 20;
inline constexpr uint64_t kMaxRefcountTableBytes = 8ull << 20;
inline constexpr uint32_t kMaxBackingNameLength = 1023;

struct Header {
  uint32_t version = 0;
  uint64_t backing_file_offset = 0;
  uint32_t backing_file_size = 0;
  uint32_t cluster_bits = 0;
  uint64_t size = 0;
  uint32_t l1_size = 0;
  uint64_t l1_table_offset = 0;
  uint64_t refcount_table_offset = 0;
  uint32_t refcount_table_clusters = 0;
  uint32_t nb_snapshots = 0;
  uint64_t snapshots_offset = 0;
  uint64_t incompatible_features = 0;
  uint64_t compatible_features = 0;
  uint64_t autoclear_features = 0;
  uint32_t refcount_order = 4;
  uint32_t header_length = kV2HeaderLength;

  std::string backing_file;    // empty: no backing file
  std::string backing_format;  // from the header extension; empty: probe

  uint64_t cluster_size() const { return 1ull << cluster_bits; }
};

/// Reads and validates the header and its extensions. Errors name the file and the field.
Expected<Header> read_header(PosixFile& file);

/// Writes an empty version 3 image of the given size (64 KiB clusters, 16-bit refcounts,
/// no backing file name: the caller attaches the backing driver itself).
Status create_image(PosixFile& file, uint64_t size);

/// True when the first bytes of a file are the qcow2 magic.
bool has_magic(std::span<const uint8_t> first_bytes);

inline uint64_t load_be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}
inline uint32_t load_be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
inline void store_be64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = uint8_t(v);
}
inline void store_be32(uint8_t* p, uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = uint8_t(v);
}

}  // namespace orrery::hw::block::qcow2
