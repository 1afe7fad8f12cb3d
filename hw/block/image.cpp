#include "hw/block/image.h"

#include <cerrno>

#include "hw/block/qcow2.h"

namespace orrery::hw::block {

Expected<std::unique_ptr<BlockDriver>> open_image(const std::string& path, ImageFormat format,
                                                  bool read_only, CacheMode cache, int depth,
                                                  std::vector<std::string>& warnings) {
  auto file = PosixFile::open(path, read_only, cache_is_direct(cache));
  if (!file.ok()) return file.status();
  if (Status s = (*file)->lock(!read_only); !s.ok()) return s;
  auto len = (*file)->length();
  if (!len.ok()) return len.status();

  uint8_t magic[4] = {};
  if (Status s = (*file)->pread(0, magic); !s.ok()) return s;
  const bool is_qcow2 = *len >= 4 && qcow2::has_magic(magic);
  if (format == ImageFormat::kProbe) {
    if (is_qcow2) {
      format = ImageFormat::kQcow2;
    } else {
      format = ImageFormat::kRaw;
      warnings.push_back("Image format was not specified for '" + path +
                         "' and probing guessed raw; specify format=raw to silence this");
    }
  }
  if (format == ImageFormat::kQcow2) {
    if (!is_qcow2) {
      return error_status(EINVAL, "image '" + path + "' is not in qcow2 format");
    }
    auto d = Qcow2Driver::open(std::move(*file), cache, depth, nullptr, warnings);
    if (!d.ok()) return d.status();
    return std::unique_ptr<BlockDriver>(std::move(*d));
  }
  return std::unique_ptr<BlockDriver>(std::make_unique<RawDriver>(std::move(*file), *len, cache));
}

}  // namespace orrery::hw::block
