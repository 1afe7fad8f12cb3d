// virtio-rng (virtio 1.2, 5.4): one request queue whose writable buffers the device fills with
// random bytes from the host's getrandom.
#pragma once

#include "hw/virtio/virtio_device.h"

namespace orrery::hw::virtio {

class VirtioRng : public VirtioDevice {
 public:
  static constexpr uint16_t kDeviceId = 4;
  VirtioRng(const GuestMemory& mem, Log& log, std::string name)
      : VirtioDevice(mem, log, std::move(name), kDeviceId, 1, 256) {}

 protected:
  void queue_kicked(unsigned q) override;
};

}  // namespace orrery::hw::virtio
