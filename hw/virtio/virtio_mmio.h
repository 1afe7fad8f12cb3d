// virtio-mmio, version 2 (virtio 1.2, 4.2): one 0x200-byte register window per transport and
// one interrupt line. A transport without a device answers DeviceID 0, as on QEMU's virt, so
// the driver skips it.
#pragma once

#include <cstdint>

#include "hw/core/resettable.h"
#include "hw/core/irq.h"
#include "hw/core/log.h"
#include "hw/core/mmio.h"
#include "hw/virtio/virtio_device.h"

namespace orrery::hw::virtio {

class VirtioMmio : public MmioDevice, public VirtioTransport, public Resettable {
 public:
  static constexpr uint64_t kMmioSize = 0x200;

  explicit VirtioMmio(Log& log) : log_(log) {}
  /// Plugs a device in (before the guest runs); null leaves the slot empty.
  void plug(VirtioDevice* dev);
  VirtioDevice* device() const { return dev_; }
  IrqLine& irq() { return irq_; }
  /// A machine reset: the device and the transport registers return to their reset state.
  void reset() override;

  // MmioDevice
  MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
  MemResult write(uint64_t offset, unsigned size, uint64_t value) override;

  // VirtioTransport
  void notify_used(unsigned q) override;
  void notify_config() override;

 private:
  uint32_t read_reg(uint64_t offset);
  void write_reg(uint64_t offset, uint32_t value, std::unique_lock<std::mutex>& held);
  void update_irq();

  Log& log_;
  VirtioDevice* dev_ = nullptr;
  IrqLine irq_;
  // Transport registers; guarded by the device's lock.
  uint32_t device_features_sel_ = 0;
  uint32_t driver_features_sel_ = 0;
  uint32_t queue_sel_ = 0;
  uint32_t interrupt_status_ = 0;
};

}  // namespace orrery::hw::virtio
