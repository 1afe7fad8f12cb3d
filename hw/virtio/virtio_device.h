// The transport-independent half of a virtio device (virtio 1.2, 2 and 3): device status,
// feature negotiation, the virtqueues and their configuration. A transport (virtio-mmio,
// virtio-pci) turns register accesses into calls here and delivers the notifications a device
// raises; device types (blk, rng, net) override the hooks at the bottom.
//
// Locking: one mutex per device. Transports call in with it held (lock()), devices take it on
// their own threads (I/O completions) before touching queues.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "hw/core/guest_memory.h"
#include "hw/core/log.h"
#include "hw/virtio/virtqueue.h"

namespace orrery::hw::virtio {

// Feature bits every device may offer (virtio 1.2, 6).
inline constexpr uint64_t kFeatureIndirectDesc = 1ull << 28;
inline constexpr uint64_t kFeatureEventIdx = 1ull << 29;
inline constexpr uint64_t kFeatureVersion1 = 1ull << 32;

// Device status bits (virtio 1.2, 2.1).
inline constexpr uint8_t kStatusAcknowledge = 1;
inline constexpr uint8_t kStatusDriver = 2;
inline constexpr uint8_t kStatusDriverOk = 4;
inline constexpr uint8_t kStatusFeaturesOk = 8;
inline constexpr uint8_t kStatusNeedsReset = 64;
inline constexpr uint8_t kStatusFailed = 128;

/// How a device signals its driver; implemented by each transport.
class VirtioTransport {
 public:
  virtual ~VirtioTransport() = default;
  /// Used buffers were added to queue q (the device already asked should_notify()).
  virtual void notify_used(unsigned q) = 0;
  /// The configuration space or the device status (NEEDS_RESET) changed.
  virtual void notify_config() = 0;
};

/// The driver's view of one queue before it is enabled.
struct QueueConfig {
  uint16_t size = 0;
  VirtqLayout layout;
  bool ready = false;
};

class VirtioDevice {
 public:
  VirtioDevice(const GuestMemory& mem, Log& log, std::string name, uint16_t device_id,
               unsigned num_queues, uint16_t queue_max);
  virtual ~VirtioDevice() = default;
  VirtioDevice(const VirtioDevice&) = delete;
  VirtioDevice& operator=(const VirtioDevice&) = delete;

  void attach(VirtioTransport& t) { transport_ = &t; }
  std::unique_lock<std::mutex> lock() { return std::unique_lock(mu_); }

  // ---- for transports, with the lock held ----
  const std::string& name() const { return name_; }
  uint16_t device_id() const { return device_id_; }
  /// What the device offers: its own features plus VERSION_1, INDIRECT_DESC and EVENT_IDX.
  uint64_t offered_features() const;
  uint64_t driver_features() const { return driver_features_; }
  /// Bits 32*sel..32*sel+31 of the driver's feature word (ignored after FEATURES_OK).
  void set_driver_features_word(unsigned sel, uint32_t value);
  uint8_t status() const { return status_; }
  /// A driver status write; 0 resets the device (which may wait for in-flight requests,
  /// releasing `held` meanwhile). FEATURES_OK sticks only if the features written are a subset
  /// of those offered and include VERSION_1.
  void set_status(uint8_t value, std::unique_lock<std::mutex>& held);
  /// A machine reset: takes the lock itself.
  void reset();
  /// Bumped on every configuration space change the device makes.
  uint32_t config_generation() const { return config_generation_; }
  unsigned num_queues() const { return unsigned(queues_.size()); }
  uint16_t queue_max() const { return queue_max_; }
  QueueConfig& queue_config(unsigned q) { return configs_[q]; }
  /// The driver enables queue q with its current configuration (QueueReady / queue_enable).
  void enable_queue(unsigned q);
  /// Enables queue q continuing at last_avail (a vhost-user backend's SET_VRING_BASE); false
  /// if the ring is unusable (the device then needs a reset).
  bool enable_queue_at(unsigned q, uint16_t last_avail);
  /// Stops queue q once its requests in flight have completed (the lock is released
  /// meanwhile) and returns the index of the next chain it would have taken.
  uint16_t stop_queue(unsigned q, std::unique_lock<std::mutex>& held);
  /// The driver kicked queue q.
  void kick(unsigned q);
  /// Reads or writes the device-specific configuration space; out-of-range bytes read as 0
  /// and are ignored on write.
  void read_config(uint64_t offset, std::span<uint8_t> out);
  void write_config(uint64_t offset, std::span<const uint8_t> in);

 protected:
  // ---- device types override these; all run with the lock held ----
  virtual uint64_t device_features() const { return 0; }
  virtual std::span<const uint8_t> config_space() const { return {}; }
  virtual void config_written(uint64_t offset, std::span<const uint8_t> in) {}
  virtual void queue_kicked(unsigned q) = 0;
  /// Called on reset; must finish or forget in-flight requests (the lock may be released and
  /// re-acquired through `held`).
  virtual void device_reset(std::unique_lock<std::mutex>& held) {}
  /// Waits until no request is in flight (the lock may be released meanwhile).
  virtual void wait_idle(std::unique_lock<std::mutex>& held) {}
  /// The driver set DRIVER_OK (a vhost-user frontend starts its backend here).
  virtual void driver_ok() {}

  // ---- for device types, with the lock held ----
  Virtqueue& queue(unsigned q) { return *queues_[q]; }
  const GuestMemory& memory() const { return mem_; }
  Log& log() { return log_; }
  bool negotiated(uint64_t feature) const { return (driver_features_ & feature) != 0; }
  /// Publishes pushed buffers: raises the used notification if the driver wants one, and
  /// turns a broken queue into DEVICE_NEEDS_RESET.
  void finish_queue(unsigned q);
  /// Marks the device broken (DEVICE_NEEDS_RESET) and tells the driver.
  void needs_reset();
  void config_changed();
  /// Raises the used notification for q without looking at the ring (its device side runs
  /// elsewhere, in a vhost-user backend, which decided).
  void signal_used(unsigned q) {
    if (transport_) transport_->notify_used(q);
  }
  std::mutex& mutex() { return mu_; }

 private:
  void reset_locked(std::unique_lock<std::mutex>& held);

  std::mutex mu_;
  const GuestMemory& mem_;
  Log& log_;
  std::string name_;
  uint16_t device_id_;
  uint16_t queue_max_;
  VirtioTransport* transport_ = nullptr;
  uint8_t status_ = 0;
  uint64_t driver_features_ = 0;
  uint32_t config_generation_ = 0;
  std::vector<std::unique_ptr<Virtqueue>> queues_;
  std::vector<QueueConfig> configs_;
};

}  // namespace orrery::hw::virtio
