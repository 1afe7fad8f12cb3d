// Opening an image file with the right driver (raw or qcow2), probing the format when asked.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "hw/block/block.h"
#include "hw/block/raw.h"

namespace orrery::hw::block {

enum class ImageFormat { kProbe, kRaw, kQcow2 };

/// Backing chains deeper than this are refused, so a loop of backing files ends in an error.
inline constexpr int kMaxBackingDepth = 16;

/// Opens (and locks) one image and, for qcow2, its backing chain read-only. depth counts the
/// overlays above this image. Probing that guesses raw adds a warning, as QEMU does.
Expected<std::unique_ptr<BlockDriver>> open_image(const std::string& path, ImageFormat format,
                                                  bool read_only, CacheMode cache, int depth,
                                                  std::vector<std::string>& warnings);

}  // namespace orrery::hw::block
