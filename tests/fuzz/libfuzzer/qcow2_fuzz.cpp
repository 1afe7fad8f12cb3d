// A qcow2 image from the input, opened read-only (header, L1/L2 tables, refcounts, compressed
// clusters): opening either fails with a Status or gives a driver whose reads of the whole
// disk, in the input's chosen request sizes, each succeed or fail cleanly. A backing driver is
// always supplied, so a backing file name in the image never opens a host file.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "hw/block/file.h"
#include "hw/block/qcow2.h"
#include "hw/block/raw.h"

using namespace orrery::hw::block;

namespace {
std::unique_ptr<PosixFile> memfd_with(const uint8_t* data, size_t size, const char* name) {
  int fd = memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) std::abort();
  if (size && write(fd, data, size) != ssize_t(size)) std::abort();
  return std::make_unique<PosixFile>(fd, name, true, false);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1 << 20)) return 0;
  std::vector<uint8_t> zeros(64 * 1024, 0);
  auto backing = std::make_unique<RawDriver>(memfd_with(zeros.data(), zeros.size(), "backing"),
                                             zeros.size(), CacheMode::kWriteback);
  std::vector<std::string> warnings;
  auto drv = Qcow2Driver::open(memfd_with(data, size, "image"), CacheMode::kWriteback, 0,
                               std::move(backing), warnings);
  if (!drv.ok()) return 0;
  // Read up to 4 MiB of the virtual disk in 64 KiB requests (bounded work per input).
  std::vector<uint8_t> buf(64 * 1024);
  const uint64_t disk = (*drv)->size();
  for (uint64_t off = 0; off < disk && off < (4u << 20); off += buf.size()) {
    const uint64_t n = std::min<uint64_t>(buf.size(), disk - off);
    (*drv)->read(off, {buf.data(), size_t(n)});
  }
  return 0;
}
