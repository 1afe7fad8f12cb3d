// virtio-pci, modern only (virtio 1.2, 4.1): one PCI function per device (vendor 0x1af4, device
// 0x1040 + the virtio device ID, revision 1) laid out as QEMU lays it out. BAR 4 (64-bit,
// prefetchable memory) holds the common configuration, ISR, device configuration and notify
// structures, one 4 KiB page each; BAR 1 holds the MSI-X table and PBA. The vendor capabilities
// point at them, and VIRTIO_PCI_CAP_PCI_CFG gives the configuration-space access window.
// Notifications use MSI-X vectors when MSI-X is enabled, else INTx with the read-to-clear ISR.
//
// Locking: the transport's registers are guarded by the device's lock, like VirtioMmio's.
#pragma once

#include <cstdint>
#include <vector>

#include "hw/pci/msix.h"
#include "hw/pci/pci_device.h"
#include "hw/virtio/virtio_device.h"

namespace orrery::hw::virtio {

class VirtioPci : public pci::PciDevice, public VirtioTransport {
 public:
  // BAR 4 layout (offsets of the four structures) and the notify multiplier, as QEMU's.
  static constexpr uint64_t kCommonOffset = 0x0000, kIsrOffset = 0x1000, kDeviceOffset = 0x2000,
                            kNotifyOffset = 0x3000, kBar4Size = 0x4000;
  static constexpr uint32_t kNotifyMultiplier = 4;
  static constexpr unsigned kMsixBar = 1, kModernBar = 4;
  static constexpr uint32_t kMsixPbaOffset = 0x800;

  /// A transport for a device of type virtio_id with `vectors` MSI-X vectors (QEMU gives
  /// virtio-blk num-queues + 1, virtio-rng 2). Plug the device (built on dma()) before use.
  VirtioPci(const AddressSpace& as, Log& log, std::string name, uint16_t virtio_id,
            uint32_t class_code, unsigned vectors);
  void plug(VirtioDevice& dev);
  VirtioDevice* device() const { return dev_; }
  pci::Msix& msix() { return msix_; }
  unsigned pci_cfg_offset() const { return pci_cfg_cap_; }
  void reset() override;

  // VirtioTransport
  void notify_used(unsigned q) override;
  void notify_config() override;

 protected:
  void config_written(unsigned offset, unsigned size) override;
  bool intercept_config(unsigned offset, unsigned size, bool write, uint32_t& value) override;

 private:
  class ModernBar : public MmioDevice {
   public:
    explicit ModernBar(VirtioPci& p) : p_(p) {}
    MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
    MemResult write(uint64_t offset, unsigned size, uint64_t value) override;

   private:
    VirtioPci& p_;
  };
  uint64_t common_read(uint64_t offset, unsigned size);
  void common_write(uint64_t offset, unsigned size, uint64_t value,
                    std::unique_lock<std::mutex>& held);
  void signal(uint16_t vector, uint8_t isr_bit);
  void reset_transport_locked();
  unsigned add_virtio_cap(uint8_t type, uint8_t bar, uint32_t offset, uint32_t length,
                          unsigned extra);

  ModernBar bar4_{*this};
  pci::Msix msix_;
  VirtioDevice* dev_ = nullptr;
  unsigned msix_cap_ = 0;
  unsigned pci_cfg_cap_ = 0;
  // Under the device's lock.
  uint32_t dfselect_ = 0, gfselect_ = 0;
  uint16_t queue_sel_ = 0;
  uint16_t config_vector_ = pci::Msix::kNoVector;
  std::vector<uint16_t> queue_vector_;
  uint8_t isr_ = 0;
};

}  // namespace orrery::hw::virtio
