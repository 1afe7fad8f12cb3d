#include "hw/virtio/virtio_rng.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>

namespace orrery::hw::virtio {

void VirtioRng::queue_kicked(unsigned q) {
  // The device may fill less than a buffer offers (virtio 1.2, 5.4.6); capping each keeps a
  // driver offering huge buffers from holding a vCPU thread long.
  constexpr uint64_t kMaxPerBuffer = 64 * 1024;
  Virtqueue& vq = queue(q);
  VirtqElement e;
  while (vq.pop(e) == Virtqueue::Pop::Element) {
    uint64_t written = 0;
    for (const iovec& v : e.in) {
      const size_t want = std::min<uint64_t>(v.iov_len, kMaxPerBuffer - written);
      ssize_t n;
      do n = getrandom(v.iov_base, want, 0);
      while (n < 0 && errno == EINTR);
      if (n <= 0) break;
      written += uint64_t(n);
      if (size_t(n) < v.iov_len || written == kMaxPerBuffer) break;
    }
    vq.push(e, uint32_t(written));
  }
  finish_queue(q);
}

}  // namespace orrery::hw::virtio
