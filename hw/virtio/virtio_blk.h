// virtio-blk (virtio 1.2, 5.2) over a BlockBackend: read, write, flush, get-id, discard and
// write-zeroes, with several request queues (num-queues). Requests run on the backend's
// workers; a flush completes only once the backend's fdatasync has returned.
#pragma once

#include <array>
#include <condition_variable>
#include <memory>

#include "hw/block/backend.h"
#include "hw/virtio/virtio_device.h"

namespace orrery::hw::virtio {

class VirtioBlk : public VirtioDevice {
 public:
  static constexpr uint16_t kDeviceId = 2;
  static constexpr uint16_t kQueueSize = 256;

  VirtioBlk(const GuestMemory& mem, Log& log, std::string name,
            std::shared_ptr<block::BlockBackend> backend, unsigned num_queues);
  /// Waits for requests still running on the backend.
  ~VirtioBlk() override;

 protected:
  uint64_t device_features() const override;
  std::span<const uint8_t> config_space() const override { return config_; }
  void queue_kicked(unsigned q) override;
  void device_reset(std::unique_lock<std::mutex>& held) override;
  void wait_idle(std::unique_lock<std::mutex>& held) override;

 private:
  struct Pending;
  void start(unsigned q, VirtqElement& e);
  void complete(Pending& p, uint8_t status);

  std::shared_ptr<block::BlockBackend> backend_;
  std::array<uint8_t, 60> config_{};
  unsigned in_flight_ = 0;  // under the device lock
  std::condition_variable idle_;
};

}  // namespace orrery::hw::virtio
