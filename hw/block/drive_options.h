// QEMU's -drive option spelling, parsed into DriveOptions (a pure function: no files opened).
#pragma once

#include <string>
#include <string_view>

#include "hw/block/block.h"
#include "hw/block/image.h"
#include "hw/block/raw.h"

namespace orrery::hw::block {

enum class DriveInterface { kDefault, kNone, kVirtio, kIde };
enum class DriveMedia { kDisk, kCdrom };
enum class DiscardMode { kIgnore, kUnmap };

struct DriveOptions {
  std::string file;
  ImageFormat format = ImageFormat::kProbe;
  DriveInterface interface = DriveInterface::kDefault;
  std::string id;
  bool read_only = false;
  bool snapshot = false;
  CacheMode cache = CacheMode::kWriteback;
  DiscardMode discard = DiscardMode::kIgnore;
  std::string serial;
  int index = -1;  // index= (if=ide: 2 * bus + unit); -1: not given
  DriveMedia media = DriveMedia::kDisk;
};

/// IDE drives on a PC: index 0..3 is bus index / 2, unit index % 2 (QEMU's -hda..-hdd, -cdrom).
inline constexpr int kIdeMaxIndex = 3;

/// Parses "file=F,format=qcow2,if=virtio,..." with ",," standing for a comma inside a value.
/// Unknown keys, bad values, duplicates and a missing file= give one error line.
Expected<DriveOptions> parse_drive_options(std::string_view text);

}  // namespace orrery::hw::block
