// The vhost-user message parser on arbitrary bytes: the first byte says how many fds came with
// the message (0..8, real descriptors of /dev/null), the rest is header and payload. parse()
// must accept or refuse without reading past the payload, and every accepted message must be
// consistent with what the parser promises (regions within the limit, fds where expected).
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "hw/virtio/vhost_user/protocol.h"

using namespace orrery::hw;
using namespace orrery::hw::virtio::vhost_user;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 + kHeaderSize) return 0;
  const unsigned nfds = data[0] % (kMaxFds + 2);
  Header h;
  std::memcpy(&h.request, data + 1, 4);
  std::memcpy(&h.flags, data + 5, 4);
  std::memcpy(&h.size, data + 9, 4);
  // The payload in a buffer of its own size, so ASan sees any read past it.
  std::vector<uint8_t> payload(data + 1 + kHeaderSize, data + size);
  std::vector<UniqueFd> fds;
  for (unsigned i = 0; i < nfds; ++i) fds.emplace_back(open("/dev/null", O_RDONLY | O_CLOEXEC));
  Message m;
  const std::string err = parse(h, payload, std::move(fds), m);
  if (!err.empty()) return 0;
  if (m.regions.size() > kMaxRegions) std::abort();
  if (m.request == Request::kSetMemTable && m.fds.size() != m.regions.size()) std::abort();
  if (m.config.data.size() > kMaxConfigSize) std::abort();
  if ((m.request == Request::kSetVringKick || m.request == Request::kSetVringCall) &&
      m.fds.size() != (m.vring_has_fd() ? 1u : 0u))
    std::abort();
  return 0;
}
