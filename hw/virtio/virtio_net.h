// virtio-net (virtio 1.2, 5.1) over a NetBackend: one receive and one transmit queue, the MAC
// address and link status in the configuration space, and mergeable receive buffers. No
// offloads are offered (no checksum or segmentation offload, no control queue): every frame
// crosses whole and checksummed, which is simpler and always correct; slirp gains nothing from
// offloads anyway.
//
// Threads: kicks arrive on vCPU threads with the device lock held (transmit: frames go to the
// backend, which only queues them; receive: the driver added buffers). Frames for the guest
// arrive through the backend's frame sink on its own thread, which takes the device lock. The
// backend never runs the sink on a thread that calls it, so calling it under the lock is safe.
#pragma once

#include <array>
#include <memory>
#include <vector>

#include "hw/net/net_backend.h"
#include "hw/virtio/virtio_device.h"

namespace orrery::hw::virtio {

class VirtioNet : public VirtioDevice {
 public:
  static constexpr uint16_t kDeviceId = 1;
  static constexpr uint16_t kQueueSize = 256;
  static constexpr unsigned kRxQueue = 0, kTxQueue = 1;
  /// virtio_net_hdr with VERSION_1 (num_buffers always present).
  static constexpr size_t kHeaderSize = 12;
  /// The largest frame (after the header) a guest may send; longer ones are dropped and logged.
  static constexpr size_t kMaxFrame = 65535;
  using Mac = std::array<uint8_t, 6>;
  /// QEMU's first NIC.
  static constexpr Mac kDefaultMac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

  /// Registers the device as the backend's frame sink.
  VirtioNet(const GuestMemory& mem, Log& log, std::string name,
            std::shared_ptr<net::NetBackend> backend, const Mac& mac = kDefaultMac);
  /// Unregisters the sink (waiting for a delivery in progress); must not hold the lock.
  ~VirtioNet() override;

 protected:
  uint64_t device_features() const override;
  std::span<const uint8_t> config_space() const override { return config_; }
  void queue_kicked(unsigned q) override;

 private:
  void transmit();
  /// The frame sink: true if the frame was written to the guest (or dropped for good).
  bool receive(std::span<const uint8_t> frame);
  enum class Rx : uint8_t { Delivered, NoRoom, Dropped };
  Rx try_receive(std::span<const uint8_t> frame);

  std::shared_ptr<net::NetBackend> backend_;
  std::array<uint8_t, 10> config_{};
  bool rx_waiting_ = false;      // the backend holds frames until the driver adds buffers
  std::vector<uint8_t> tx_buf_;  // one frame being gathered
  std::vector<VirtqElement> rx_elems_;
};

}  // namespace orrery::hw::virtio
