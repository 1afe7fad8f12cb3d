// The PC board's PCI: the i440FX host bridge (configuration mechanism #1 at 0xcf8/0xcfc), the
// PIIX3 ISA bridge with its reset control register at 0xcf9, its IDE function (legacy ports
// and -hda..-hdd/-cdrom drives), the PIIX4 PM function, and the
// -device functions the command line adds from slot 2, as QEMU's "pc" has them. The bus's
// memory space shows through two windows (pc_pci_windows: the 32-bit hole from the top of low
// RAM to kPciHoleEnd, and the 64-bit hole above RAM); its I/O window is the ports from
// kPciIoWindowBase, around QEMU's fixed ACPI ports.
#pragma once

#include <memory>
#include <vector>

#include "hw/core/address_space.h"
#include "hw/core/log.h"
#include "hw/ide/piix_ide.h"
#include "hw/pci/i440fx.h"
#include "hw/pci/pci_bus.h"
#include "hw/pci/piix3.h"
#include "hw/pci/piix4_pm.h"
#include "hw/virtio/virtio_device.h"
#include "machine/pc/pc_map.h"

namespace orrery::machine::pc {

struct PcPci {
  PcPci(const hw::AddressSpace& mem, hw::Log& log, const PcPciWindows& windows);
  /// Stops the virtio functions' doorbell eventfds while their devices still exist.
  ~PcPci();
  PcPci(const PcPci&) = delete;
  PcPci& operator=(const PcPci&) = delete;

  PcPciWindows windows;
  // The bus's memory container covers bus addresses hole_base..hole64_end; only what the two
  // aliases show is reachable, so a BAR over RAM or the APIC range between them decodes nothing.
  hw::pci::PciBus bus;
  std::unique_ptr<hw::MemoryRegion> hole, hole64;
  hw::pci::I440fxConfigPorts config_ports;
  hw::pci::Piix3ResetControl reset_control;
  hw::pci::I440fxFunction host;
  hw::pci::Piix3IsaFunction isa;
  hw::pci::Piix4PmFunction pm;
  hw::ide::PiixIde ide;
  // The bus's I/O window in pieces around the board's fixed ports (aliases of its container).
  std::unique_ptr<hw::MemoryRegion> io_low, io_mid, io_high;
  // -device functions, then the virtio devices behind them (destroyed first).
  std::vector<std::unique_ptr<hw::pci::PciDevice>> functions;
  std::vector<std::unique_ptr<hw::virtio::VirtioDevice>> devices;
};

}  // namespace orrery::machine::pc
