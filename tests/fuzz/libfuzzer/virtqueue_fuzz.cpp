// The split virtqueue over guest RAM the input fills: the first bytes choose the ring layout
// and the queue size, the rest is the RAM image (descriptors, rings, indirect tables). Every
// popped buffer must lie inside RAM, and the queue either yields chains or breaks, never more
// chains than were made available.
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "hw/core/guest_memory.h"
#include "hw/core/log.h"
#include "hw/virtio/virtqueue.h"

using namespace orrery::hw;

namespace {
constexpr uint64_t kRam = 0x40000000, kRamSize = 64 * 1024;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  AddressSpace as;
  if (!as.add_ram("ram", kRam, kRamSize).empty()) std::abort();
  // Layout words: offsets inside RAM (some may be unaligned or run off the end on purpose).
  auto word = [&](size_t i) { return uint64_t(data[2 * i] | data[2 * i + 1] << 8); };
  const uint16_t qsize = uint16_t(1u << (data[6] % 10));  // 1..512
  const bool event_idx = data[7] & 1;
  std::memcpy(as.host_ptr(kRam, 1), data + 8, std::min<size_t>(size - 8, kRamSize));
  GuestMemory mem(as);
  Log log;
  virtio::Virtqueue vq(mem, log, "fuzz");
  if (!vq.start({kRam + word(0), kRam + word(1), kRam + word(2), qsize}, event_idx)) return 0;
  const uint8_t* lo = as.host_ptr(kRam, 1);
  virtio::VirtqElement e;
  for (int n = 0; n < 2 * qsize + 2; ++n) {
    const virtio::Virtqueue::Pop p = vq.pop(e);
    if (p != virtio::Virtqueue::Pop::Element) break;
    if (n >= qsize) std::abort();  // more chains than the ring can make available
    for (const auto* list : {&e.out, &e.in})
      for (const iovec& v : *list) {
        auto* b = static_cast<const uint8_t*>(v.iov_base);
        if (b < lo || b + v.iov_len > lo + kRamSize) std::abort();
      }
    vq.push(e, uint32_t(e.in_bytes));
    vq.should_notify();
  }
  return 0;
}
