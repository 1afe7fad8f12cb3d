// virtio-pci, modern only (virtio 1.2, 4.1): one PCI function per device (vendor 0x1af4, device
// 0x1040 + the virtio device ID, revision 1) laid out as QEMU lays it out. BAR 4 (64-bit,
// prefetchable memory) holds the common configuration, ISR, device configuration and notify
// structures, one 4 KiB page each; BAR 1 holds the MSI-X table and PBA. The vendor capabilities
// point at them, and VIRTIO_PCI_CAP_PCI_CFG gives the configuration-space access window.
// Notifications use MSI-X vectors when MSI-X is enabled, else INTx with the read-to-clear ISR.
//
// Under an accelerator that takes doorbells itself (KVM's ioeventfd: use_io_events), each
// enabled queue's notify address signals an eventfd read on the event loop, which kicks the
// queue as the BAR write does; the registrations follow queue enable, device reset and BAR 4's
// address and memory decode.
//
// Locking: the transport's registers are guarded by the device's lock, like VirtioMmio's.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <vector>

#include "hw/pci/msix.h"
#include "hw/pci/pci_device.h"
#include "hw/virtio/virtio_device.h"

namespace orrery::hw {
class EventLoop;
class IoEventHost;
}  // namespace orrery::hw

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
  ~VirtioPci() override;
  void plug(VirtioDevice& dev);
  /// Lets host catch the queues' notify writes (after plug, before the guest runs); the
  /// eventfds are read on loop. False (writes keep reaching the BAR) if eventfds fail.
  bool use_io_events(IoEventHost& host, EventLoop& loop);
  /// Withdraws the doorbells and stops reading their eventfds; call before the device plugged
  /// in goes away (the eventfd handler kicks it).
  void stop_io_events();
  /// Kicks that arrived through an eventfd rather than a BAR write (tests).
  uint64_t io_event_kicks() const { return io_event_kicks_.load(); }
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
  /// Registers each enabled queue's notify address with the host, and withdraws the rest.
  void update_io_events_locked();
  void io_event_ready(unsigned q);
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
  // Doorbells (use_io_events): one eventfd per queue and what it is registered for.
  IoEventHost* io_host_ = nullptr;
  EventLoop* io_loop_ = nullptr;
  std::vector<int> io_fds_;
  std::vector<std::optional<uint64_t>> io_addr_;  // registered notify address, by queue
  std::atomic<uint64_t> io_event_kicks_{0};
};

}  // namespace orrery::hw::virtio
