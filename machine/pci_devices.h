// The -device lines both boards take, parsed and built in one place: virtio-blk/net/rng on
// virtio-pci (or virtio-mmio on virt) and pci-testdev. A board lists the drivers it accepts, lets
// DeviceParser check each line's properties against its drives and netdevs, and creates the PCI
// ones with add_pci_device on its bus.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hw/core/address_space.h"
#include "hw/core/log.h"
#include "hw/pci/pci_bus.h"
#include "hw/pci/pci_device.h"
#include "hw/virtio/virtio_device.h"
#include "hw/virtio/virtio_net.h"
#include "machine/machine.h"

namespace orrery::machine {

/// One checked -device line.
struct DeviceRequest {
  enum class Kind : uint8_t { Blk, Rng, Net, PciTestdev, VhostUserBlk };
  std::string driver;
  Kind kind = Kind::Blk;
  bool pci = false;  // a PCI function (otherwise a virtio-mmio device)
  std::string name;  // id= or the driver's name
  std::string addr;  // addr=SLOT[.FN] (PCI); empty: the first free slot
  unsigned num_queues = 1;
  /// bootindex=N (firmware boot priority, lowest first); -1: none. The board lists the device
  /// in its firmware's boot order.
  int bootindex = -1;
  std::shared_ptr<hw::block::BlockBackend> drive;  // Blk
  std::shared_ptr<hw::net::NetBackend> net;        // Net
  std::string socket_path;                         // VhostUserBlk: the chardev's socket
  hw::virtio::VirtioNet::Mac mac = hw::virtio::VirtioNet::kDefaultMac;
  uint64_t membar = 0;  // PciTestdev: membar=SIZE, its 64-bit prefetchable BAR 2
};

/// Checks -device lines in command-line order; each drive and netdev serves one device.
class DeviceParser {
 public:
  explicit DeviceParser(const MachineConfig& config) : config_(config) {}
  /// drivers: what this board accepts (named in the error for any other). The error starts
  /// with "-device DRIVER: ".
  std::string parse(const DeviceSpec& spec, std::span<const std::string_view> drivers,
                    DeviceRequest& out);

 private:
  const MachineConfig& config_;
  std::vector<const hw::block::BlockBackend*> used_drives_;
  std::vector<const hw::net::NetBackend*> used_nets_;
};

/// The virtio device a blk, net, rng or vhost-user-blk request names, doing DMA through mem, for
/// either transport. nullptr with err set when it cannot be made (a vhost-user backend that does
/// not answer).
std::unique_ptr<hw::virtio::VirtioDevice> make_virtio_device(const DeviceRequest& req,
                                                             const hw::GuestMemory& mem,
                                                             hw::Log& log, std::string& err);

/// Creates a PCI request's function (and the virtio device behind it) on bus at its addr=, or
/// in the lowest free slot from first_slot. as: the function's DMA and MSI view. Error or
/// empty (without the "-device" prefix).
std::string add_pci_device(const DeviceRequest& req, hw::pci::PciBus& bus,
                           const hw::AddressSpace& as, hw::Log& log, unsigned first_slot,
                           std::vector<std::unique_ptr<hw::pci::PciDevice>>& functions,
                           std::vector<std::unique_ptr<hw::virtio::VirtioDevice>>& devices);

}  // namespace orrery::machine
