#include "hw/virtio/virtio_device.h"

#include <algorithm>
#include <cstring>

namespace orrery::hw::virtio {

VirtioDevice::VirtioDevice(const GuestMemory& mem, Log& log, std::string name, uint16_t device_id,
                           unsigned num_queues, uint16_t queue_max)
    : mem_(mem), log_(log), name_(std::move(name)), device_id_(device_id), queue_max_(queue_max) {
  for (unsigned q = 0; q < num_queues; ++q)
    queues_.push_back(std::make_unique<Virtqueue>(mem, log, name_ + "." + std::to_string(q)));
  configs_.resize(num_queues);
}

uint64_t VirtioDevice::offered_features() const {
  return device_features() | kFeatureVersion1 | kFeatureIndirectDesc | kFeatureEventIdx;
}

void VirtioDevice::set_driver_features_word(unsigned sel, uint32_t value) {
  if (sel > 1 || (status_ & kStatusFeaturesOk)) {
    log_.log(kLogGuestErrors, "virtio: %s: driver features word %u written %s; ignored\n",
             name_.c_str(), sel, sel > 1 ? "(no such word)" : "after FEATURES_OK");
    return;
  }
  const unsigned shift = 32 * sel;
  driver_features_ = (driver_features_ & ~(0xffffffffull << shift)) | (uint64_t(value) << shift);
}

void VirtioDevice::set_status(uint8_t value, std::unique_lock<std::mutex>& held) {
  if (value == 0) {
    reset_locked(held);
    return;
  }
  if ((value & kStatusFeaturesOk) && !(status_ & kStatusFeaturesOk)) {
    const uint64_t extra = driver_features_ & ~offered_features();
    if (extra || !(driver_features_ & kFeatureVersion1)) {
      // The driver reads the status back and sees the features refused (virtio 1.2, 3.1.1).
      log_.log(kLogGuestErrors,
               "virtio: %s: features 0x%llx refused (not offered: 0x%llx, VERSION_1 %s)\n",
               name_.c_str(), (unsigned long long)driver_features_, (unsigned long long)extra,
               (driver_features_ & kFeatureVersion1) ? "set" : "missing");
      value &= uint8_t(~kStatusFeaturesOk);
    }
  }
  // NEEDS_RESET belongs to the device; the driver cannot clear or set it.
  const bool starting = (value & kStatusDriverOk) && !(status_ & kStatusDriverOk);
  status_ = uint8_t((value & ~kStatusNeedsReset) | (status_ & kStatusNeedsReset));
  if (starting) driver_ok();
}

void VirtioDevice::reset() {
  std::unique_lock held(mu_);
  reset_locked(held);
}

void VirtioDevice::reset_locked(std::unique_lock<std::mutex>& held) {
  device_reset(held);
  for (auto& q : queues_) q->stop();
  std::fill(configs_.begin(), configs_.end(), QueueConfig{});
  status_ = 0;
  driver_features_ = 0;
}

void VirtioDevice::enable_queue(unsigned q) {
  QueueConfig& c = configs_[q];
  if (c.ready) return;
  c.ready = true;
  VirtqLayout l = c.layout;
  l.size = c.size;
  if (!queues_[q]->start(l, negotiated(kFeatureEventIdx))) needs_reset();
}

bool VirtioDevice::enable_queue_at(unsigned q, uint16_t last_avail) {
  enable_queue(q);
  if (queues_[q]->broken()) return false;
  queues_[q]->resume(last_avail);
  return true;
}

uint16_t VirtioDevice::stop_queue(unsigned q, std::unique_lock<std::mutex>& held) {
  wait_idle(held);
  const uint16_t base = queues_[q]->last_avail();
  queues_[q]->stop();
  configs_[q].ready = false;
  return base;
}

void VirtioDevice::kick(unsigned q) {
  if (q >= queues_.size() || !configs_[q].ready) {
    log_.log(kLogGuestErrors, "virtio: %s: notify for queue %u, which is not enabled\n",
             name_.c_str(), q);
    return;
  }
  if (!(status_ & kStatusDriverOk) || (status_ & kStatusNeedsReset)) return;
  queue_kicked(q);
}

void VirtioDevice::finish_queue(unsigned q) {
  Virtqueue& vq = *queues_[q];
  if (vq.broken()) {
    needs_reset();
    return;
  }
  if (vq.should_notify() && transport_) transport_->notify_used(q);
}

void VirtioDevice::needs_reset() {
  if (status_ & kStatusNeedsReset) return;
  status_ |= kStatusNeedsReset;
  // Only a driver that finished initialisation expects a notification (virtio 1.2, 2.1.2).
  if ((status_ & kStatusDriverOk) && transport_) transport_->notify_config();
}

void VirtioDevice::config_changed() {
  ++config_generation_;
  if ((status_ & kStatusDriverOk) && transport_) transport_->notify_config();
}

void VirtioDevice::read_config(uint64_t offset, std::span<uint8_t> out) {
  std::span<const uint8_t> cfg = config_space();
  std::fill(out.begin(), out.end(), 0);
  if (offset >= cfg.size()) return;
  const size_t n = std::min<uint64_t>(out.size(), cfg.size() - offset);
  std::memcpy(out.data(), cfg.data() + offset, n);
}

void VirtioDevice::write_config(uint64_t offset, std::span<const uint8_t> in) {
  if (offset >= config_space().size() || in.size() > config_space().size() - offset) {
    log_.log(kLogGuestErrors,
             "virtio: %s: config write at 0x%llx (+%zu) outside the %zu-byte space\n",
             name_.c_str(), (unsigned long long)offset, in.size(), config_space().size());
    return;
  }
  config_written(offset, in);
}

}  // namespace orrery::hw::virtio
