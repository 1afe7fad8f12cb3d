// Orrery as a vhost-user frontend: -device vhost-user-blk-pci,chardev=ID with
// -chardev socket,id=ID,path=SOCK. The virtio transport (virtio-pci) and the driver's view of
// the device stay Orrery's; the rings are processed by an external backend (Orrery's own
// orrery-vhost-user-blk, qemu-storage-daemon...), which maps guest RAM from the memfd behind
// it (-object memory-backend-memfd,...,share=on -machine memory-backend=ID).
//
// Features and the configuration space come from the backend when the device is created; at
// DRIVER_OK the memory table and the enabled rings go to the backend, whose call eventfds
// become used-buffer notifications on a thread of the device's own. A reset stops the rings
// (GET_VRING_BASE). A backend that goes away makes the device NEEDS_RESET; it never stops
// the machine.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "hw/virtio/vhost_user/protocol.h"
#include "hw/virtio/virtio_device.h"

namespace orrery::hw::virtio::vhost_user {

class BlkFrontend : public VirtioDevice {
 public:
  static constexpr uint16_t kDeviceId = 2;
  static constexpr uint16_t kQueueSize = 256;

  /// Connects to the backend listening on socket_path and negotiates. Null, with one line in
  /// error, if guest RAM is not shared memfd memory, the socket cannot be reached or the
  /// backend refuses (fewer queues than num_queues, no CONFIG).
  static std::unique_ptr<BlkFrontend> connect(const GuestMemory& mem, Log& log, std::string name,
                                              const std::string& socket_path, unsigned num_queues,
                                              std::string& error);
  ~BlkFrontend() override;

 protected:
  uint64_t device_features() const override { return backend_features_; }
  std::span<const uint8_t> config_space() const override { return config_; }
  void queue_kicked(unsigned q) override;
  void device_reset(std::unique_lock<std::mutex>& held) override;
  void driver_ok() override;

 private:
  BlkFrontend(const GuestMemory& mem, Log& log, std::string name, unsigned num_queues);
  std::string handshake(const std::string& socket_path, unsigned num_queues);
  /// Sends a request; with a reply (expected payload size reply_size, or any if
  /// reply_size is SIZE_MAX), waits for it. Error or empty.
  std::string call(Request r, std::span<const uint8_t> payload, std::span<const int> fds = {},
                   std::vector<uint8_t>* reply = nullptr, bool ack = false);
  std::string start_backend();
  void stop_backend();
  void lost(const std::string& why);
  void call_thread();

  UniqueFd sock_;
  uint64_t backend_features_ = 0;  // virtio features, without the vhost-user bit
  bool protocol_ = false;          // VHOST_USER_F_PROTOCOL_FEATURES
  uint64_t protocol_features_ = 0;
  std::vector<uint8_t> config_;
  std::vector<UniqueFd> kick_, call_;
  std::vector<bool> started_;
  bool broken_ = false;
  UniqueFd stop_;  // wakes the call thread to exit
  std::thread thread_;
};

/// Why guest RAM cannot be shared with a backend, or empty: every RAM region must be memfd
/// memory mapped shared.
std::string check_shareable(const AddressSpace& as);

}  // namespace orrery::hw::virtio::vhost_user
