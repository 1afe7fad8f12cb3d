#include "hw/block/drive_options.h"

#include <cerrno>
#include <set>
#include <utility>
#include <vector>

#include "hw/core/option_list.h"

namespace orrery::hw::block {
namespace {

Status bad(const std::string& what) {
  return error_status(EINVAL, "-drive: " + what);
}

template <class T>
bool pick(std::string_view value, std::initializer_list<std::pair<const char*, T>> choices,
          T& out) {
  for (const auto& [name, v] : choices) {
    if (value == name) {
      out = v;
      return true;
    }
  }
  return false;
}

}  // namespace

Expected<DriveOptions> parse_drive_options(std::string_view text) {
  DriveOptions o;
  std::set<std::string> seen;
  bool have_file = false;
  for (const std::string& item : split_option_list(text)) {
    if (item.empty()) continue;  // a trailing comma
    const size_t eq = item.find('=');
    if (eq == std::string::npos) return bad("option '" + item + "' needs a value (key=value)");
    const std::string key = item.substr(0, eq);
    const std::string value = item.substr(eq + 1);
    if (!seen.insert(key).second) return bad("option '" + key + "' is given twice");
    auto invalid = [&](const char* allowed) {
      return bad("invalid value '" + value + "' for '" + key + "' (expected " + allowed + ")");
    };
    bool ok = true;
    const char* allowed = "";
    if (key == "file") {
      if (value.empty()) return bad("file= is empty");
      o.file = value;
      have_file = true;
    } else if (key == "format") {
      allowed = "raw or qcow2";
      ok = pick<ImageFormat>(value, {{"raw", ImageFormat::kRaw}, {"qcow2", ImageFormat::kQcow2}},
                             o.format);
    } else if (key == "if") {
      allowed = "none, virtio or ide";
      ok = pick<DriveInterface>(value,
                                {{"none", DriveInterface::kNone},
                                 {"virtio", DriveInterface::kVirtio},
                                 {"ide", DriveInterface::kIde}},
                                o.interface);
    } else if (key == "media") {
      allowed = "disk or cdrom";
      ok = pick<DriveMedia>(value, {{"disk", DriveMedia::kDisk}, {"cdrom", DriveMedia::kCdrom}},
                            o.media);
    } else if (key == "index") {
      allowed = "0..3";
      ok = value.size() == 1 && value[0] >= '0' && value[0] <= '0' + kIdeMaxIndex;
      if (ok) o.index = value[0] - '0';
    } else if (key == "id") {
      if (value.empty()) return bad("id= is empty");
      o.id = value;
    } else if (key == "readonly" || key == "snapshot") {
      allowed = "on or off";
      ok = pick<bool>(value, {{"on", true}, {"off", false}},
                      key == "readonly" ? o.read_only : o.snapshot);
    } else if (key == "cache") {
      allowed = "none, writeback, writethrough, unsafe or directsync";
      ok = pick<CacheMode>(value,
                           {{"none", CacheMode::kNone},
                            {"writeback", CacheMode::kWriteback},
                            {"writethrough", CacheMode::kWritethrough},
                            {"unsafe", CacheMode::kUnsafe},
                            {"directsync", CacheMode::kDirectSync}},
                           o.cache);
    } else if (key == "discard") {
      allowed = "ignore or unmap";
      ok = pick<DiscardMode>(value,
                             {{"ignore", DiscardMode::kIgnore},
                              {"off", DiscardMode::kIgnore},
                              {"unmap", DiscardMode::kUnmap},
                              {"on", DiscardMode::kUnmap}},
                             o.discard);
    } else if (key == "serial") {
      o.serial = value;
    } else {
      return bad("unknown option '" + key + "'");
    }
    if (!ok) return invalid(allowed);
  }
  if (!have_file) return bad("file= is required");
  if (o.media == DriveMedia::kCdrom) o.read_only = true;  // QEMU opens CD media read-only
  return o;
}

}  // namespace orrery::hw::block
