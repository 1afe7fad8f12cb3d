#include "hw/virtio/virtio_mmio.h"

#include <cinttypes>
#include <cstring>

namespace orrery::hw::virtio {

namespace {

// Register offsets (virtio 1.2, 4.2.2).
enum : uint64_t {
  kMagicValue = 0x000,
  kVersion = 0x004,
  kDeviceId = 0x008,
  kVendorId = 0x00c,
  kDeviceFeatures = 0x010,
  kDeviceFeaturesSel = 0x014,
  kDriverFeatures = 0x020,
  kDriverFeaturesSel = 0x024,
  kQueueSel = 0x030,
  kQueueNumMax = 0x034,
  kQueueNum = 0x038,
  kQueueReady = 0x044,
  kQueueNotify = 0x050,
  kInterruptStatus = 0x060,
  kInterruptAck = 0x064,
  kStatus = 0x070,
  kQueueDescLow = 0x080,
  kQueueDescHigh = 0x084,
  kQueueDriverLow = 0x090,
  kQueueDriverHigh = 0x094,
  kQueueDeviceLow = 0x0a0,
  kQueueDeviceHigh = 0x0a4,
  kShmSel = 0x0ac,
  kShmLenLow = 0x0b0,
  kShmLenHigh = 0x0b4,
  kShmBaseLow = 0x0b8,
  kShmBaseHigh = 0x0bc,
  kConfigGeneration = 0x0fc,
  kConfig = 0x100,
};

constexpr uint32_t kMagic = 0x74726976;       // "virt"
constexpr uint32_t kVendorQemu = 0x554d4551;  // "QEMU", what QEMU's transports report
constexpr uint32_t kInterruptUsed = 1, kInterruptConfig = 2;

void set_half(uint64_t& v, bool high, uint32_t x) {
  v = high ? (v & 0xffffffffull) | (uint64_t(x) << 32) : (v & ~0xffffffffull) | x;
}

}  // namespace

void VirtioMmio::plug(VirtioDevice* dev) {
  dev_ = dev;
  if (dev_) dev_->attach(*this);
}

void VirtioMmio::reset() {
  if (!dev_) return;
  auto held = dev_->lock();
  write_reg(kStatus, 0, held);
}

MemResult VirtioMmio::read(uint64_t offset, unsigned size, uint64_t& value) {
  value = 0;
  if (!dev_) {
    // An empty slot still identifies itself as a transport with no device behind it.
    if (size == 4 && offset == kMagicValue) value = kMagic;
    if (size == 4 && offset == kVersion) value = 2;
    if (size == 4 && offset == kVendorId) value = kVendorQemu;
    return MemResult::Ok;
  }
  auto held = dev_->lock();
  if (offset >= kConfig) {
    uint8_t buf[8];
    dev_->read_config(offset - kConfig, {buf, size});
    std::memcpy(&value, buf, size);
    return MemResult::Ok;
  }
  if (size != 4 || (offset & 3)) {
    log_.log(kLogGuestErrors, "virtio-mmio: %s: %u-byte read of register 0x%03" PRIx64 "\n",
             dev_->name().c_str(), size, offset);
    return MemResult::Ok;
  }
  value = read_reg(offset);
  return MemResult::Ok;
}

uint32_t VirtioMmio::read_reg(uint64_t offset) {
  const unsigned q = queue_sel_;
  const bool have_q = q < dev_->num_queues();
  switch (offset) {
    case kMagicValue:
      return kMagic;
    case kVersion:
      return 2;
    case kDeviceId:
      return dev_->device_id();
    case kVendorId:
      return kVendorQemu;
    case kDeviceFeatures:
      return device_features_sel_ < 2
                 ? uint32_t(dev_->offered_features() >> (32 * device_features_sel_))
                 : 0;
    case kQueueNumMax:
      return have_q ? dev_->queue_max() : 0;
    case kQueueReady:
      return have_q && dev_->queue_config(q).ready;
    case kInterruptStatus:
      return interrupt_status_;
    case kStatus:
      return dev_->status();
    case kShmLenLow:
    case kShmLenHigh:
      return 0xffffffff;  // no shared memory regions: length -1
    case kConfigGeneration:
      return dev_->config_generation();
    case kQueueNum:
    case kQueueDescLow:
    case kQueueDescHigh:
    case kQueueDriverLow:
    case kQueueDriverHigh:
    case kQueueDeviceLow:
    case kQueueDeviceHigh: {
      // Write-only in the spec; reading back what was written is harmless and helps debugging.
      if (!have_q) return 0;
      const QueueConfig& c = dev_->queue_config(q);
      switch (offset) {
        case kQueueNum:
          return c.size;
        case kQueueDescLow:
          return uint32_t(c.layout.desc);
        case kQueueDescHigh:
          return uint32_t(c.layout.desc >> 32);
        case kQueueDriverLow:
          return uint32_t(c.layout.avail);
        case kQueueDriverHigh:
          return uint32_t(c.layout.avail >> 32);
        case kQueueDeviceLow:
          return uint32_t(c.layout.used);
        default:
          return uint32_t(c.layout.used >> 32);
      }
    }
    default:
      log_.log(kLogGuestErrors, "virtio-mmio: %s: read of register 0x%03" PRIx64 "\n",
               dev_->name().c_str(), offset);
      return 0;
  }
}

MemResult VirtioMmio::write(uint64_t offset, unsigned size, uint64_t value) {
  if (!dev_) {
    log_.log(kLogGuestErrors, "virtio-mmio: write to register 0x%03" PRIx64 " of an empty slot\n",
             offset);
    return MemResult::Ok;
  }
  auto held = dev_->lock();
  if (offset >= kConfig) {
    uint8_t buf[8];
    std::memcpy(buf, &value, size);
    dev_->write_config(offset - kConfig, {buf, size});
    return MemResult::Ok;
  }
  if (size != 4 || (offset & 3)) {
    log_.log(kLogGuestErrors, "virtio-mmio: %s: %u-byte write of register 0x%03" PRIx64 "\n",
             dev_->name().c_str(), size, offset);
    return MemResult::Ok;
  }
  write_reg(offset, uint32_t(value), held);
  return MemResult::Ok;
}

void VirtioMmio::write_reg(uint64_t offset, uint32_t value, std::unique_lock<std::mutex>& held) {
  const unsigned q = queue_sel_;
  const bool have_q = q < dev_->num_queues();
  // Queue registers may only change while the queue is disabled (virtio 1.2, 4.2.3.2).
  auto queue_config = [&]() -> QueueConfig* {
    if (!have_q) {
      log_.log(kLogGuestErrors,
               "virtio-mmio: %s: queue register 0x%03" PRIx64
               " for queue %u, which does not exist\n",
               dev_->name().c_str(), offset, q);
      return nullptr;
    }
    QueueConfig& c = dev_->queue_config(q);
    if (c.ready) {
      log_.log(kLogGuestErrors, "virtio-mmio: %s: queue %u reconfigured while enabled\n",
               dev_->name().c_str(), q);
      return nullptr;
    }
    return &c;
  };
  switch (offset) {
    case kDeviceFeaturesSel:
      device_features_sel_ = value;
      return;
    case kDriverFeatures:
      dev_->set_driver_features_word(driver_features_sel_, value);
      return;
    case kDriverFeaturesSel:
      driver_features_sel_ = value;
      return;
    case kQueueSel:
      queue_sel_ = value;
      return;
    case kQueueNum:
      if (QueueConfig* c = queue_config()) {
        if (value == 0 || value > dev_->queue_max() || (value & (value - 1))) {
          log_.log(kLogGuestErrors, "virtio-mmio: %s: queue %u size %u (max %u)\n",
                   dev_->name().c_str(), q, value, dev_->queue_max());
        }
        c->size = uint16_t(value > 0xffff ? 0 : value);  // a bad size breaks the queue at enable
      }
      return;
    case kQueueReady:
      if (!have_q) return void(queue_config());
      if (value & 1) {
        dev_->enable_queue(q);
      } else {
        // Disabling one queue is not in virtio-mmio's model; the driver resets the device.
        log_.log(kLogUnimp, "virtio-mmio: %s: QueueReady cleared for queue %u\n",
                 dev_->name().c_str(), q);
      }
      return;
    case kQueueNotify:
      dev_->kick(value & 0xffff);
      return;
    case kInterruptAck:
      interrupt_status_ &= ~value;
      update_irq();
      return;
    case kStatus:
      dev_->set_status(uint8_t(value), held);
      if (value == 0) {
        interrupt_status_ = 0;
        device_features_sel_ = driver_features_sel_ = queue_sel_ = 0;
        update_irq();
      }
      return;
    case kQueueDescLow:
    case kQueueDescHigh:
      if (QueueConfig* c = queue_config())
        set_half(c->layout.desc, offset == kQueueDescHigh, value);
      return;
    case kQueueDriverLow:
    case kQueueDriverHigh:
      if (QueueConfig* c = queue_config())
        set_half(c->layout.avail, offset == kQueueDriverHigh, value);
      return;
    case kQueueDeviceLow:
    case kQueueDeviceHigh:
      if (QueueConfig* c = queue_config())
        set_half(c->layout.used, offset == kQueueDeviceHigh, value);
      return;
    case kShmSel:
      return;
    default:
      log_.log(kLogGuestErrors, "virtio-mmio: %s: write of register 0x%03" PRIx64 "\n",
               dev_->name().c_str(), offset);
      return;
  }
}

void VirtioMmio::notify_used(unsigned) {
  interrupt_status_ |= kInterruptUsed;
  update_irq();
}

void VirtioMmio::notify_config() {
  interrupt_status_ |= kInterruptConfig;
  update_irq();
}

void VirtioMmio::update_irq() {
  irq_.set(interrupt_status_ != 0);
}

}  // namespace orrery::hw::virtio
