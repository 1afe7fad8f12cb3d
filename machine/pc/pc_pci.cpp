// The PC board's PCI wiring (see pc_pci.h).
#include "machine/pc/pc_pci.h"

#include "machine/pc/pc.h"

#include "hw/block/backend.h"
#include "hw/core/io_event.h"
#include "hw/virtio/virtio_pci.h"
#include "machine/pci_devices.h"

namespace orrery::machine::pc {

namespace {
uint64_t bus_mem_end(const PcPciWindows& w) {
  return w.has_hole64() ? w.hole64_end : w.hole_end;
}
}  // namespace

PcPci::PcPci(const hw::AddressSpace& mem, hw::Log& log, const PcPciWindows& w)
    : windows(w),
      bus(log, w.hole_base, bus_mem_end(w) - w.hole_base, hw::kIoPortSpaceSize - kPciIoWindowBase,
          kPciIoWindowBase),
      hole(hw::MemoryRegion::alias("pci-hole", bus.mem_window(), 0, w.hole_end - w.hole_base)),
      hole64(w.has_hole64() ? hw::MemoryRegion::alias("pci-hole64", bus.mem_window(),
                                                      w.hole64_base - w.hole_base,
                                                      w.hole64_end - w.hole64_base)
                            : nullptr),
      config_ports(bus, log),
      reset_control(log),
      host(mem, log),
      isa(mem, log),
      pm(mem, log),
      ide(mem, log),
      io_low(
          hw::MemoryRegion::alias("pci-io", bus.io_window(), 0, kPciIoIsaBase - kPciIoWindowBase)),
      io_mid(hw::MemoryRegion::alias("pci-io-mid", bus.io_window(), kPciIoIsaEnd - kPciIoWindowBase,
                                     kPciIoFixedBase - kPciIoIsaEnd)),
      io_high(hw::MemoryRegion::alias("pci-io-high", bus.io_window(),
                                      kPciIoFixedEnd - kPciIoWindowBase,
                                      hw::kIoPortSpaceSize - kPciIoFixedEnd)) {}

std::string PcMachine::build_pci() {
  pci_ = std::make_unique<PcPci>(mem_, ctx_.log, pci_windows());
  PcPci& p = *pci_;
  std::string err = io_.add_mmio("pci-conf", kPciConfigAddrPort, hw::pci::I440fxConfigPorts::kSize,
                                 p.config_ports);
  if (err.empty()) err = io_.root().add_subregion(*p.io_low, kPciIoWindowBase);
  if (err.empty()) err = io_.root().add_subregion(*p.io_mid, kPciIoIsaEnd);
  if (err.empty()) err = io_.root().add_subregion(*p.io_high, kPciIoFixedEnd);
  // The bus's memory space shows through the 32-bit and the 64-bit hole.
  if (err.empty()) err = mem_.root().add_subregion(*p.hole, p.windows.hole_base);
  if (err.empty() && p.hole64) err = mem_.root().add_subregion(*p.hole64, p.windows.hole64_base);
  using hw::pci::pci_devfn;
  if (err.empty()) err = p.bus.plug(p.host, pci_devfn(kPciHostSlot, 0));
  if (err.empty()) err = p.bus.plug(p.isa, pci_devfn(kPiixSlot, kPiixIsaFn));
  if (err.empty()) err = p.bus.plug(p.ide, pci_devfn(kPiixSlot, kPiixIdeFn));
  if (err.empty()) err = p.bus.plug(p.pm, pci_devfn(kPiixSlot, kPiixPmFn));
  if (err.empty()) err = build_ide();
  if (!err.empty()) return err;
  // 0xcf9 shares CONFIG_ADDRESS's dword; a reset through it is the CPU's reset request.
  p.config_ports.set_reset_control(p.reset_control);
  p.reset_control.set_reset_callback([this](bool) { cpus_.at(0)->request_reset(); });
  // PCI INTA-D -> PIIX3 PIRQA-D -> ISA IRQs (p.isa.isa_irq(n), wired by connect_irqs).
  for (unsigned i = 0; i < 4; ++i) p.bus.intx(i).connect(p.isa, i);
  // Shadow RAM: each PAM segment switches 0xc0000-0xfffff between the ROM and RAM.
  p.host.set_pam_callback(
      [this](unsigned i, const hw::pci::PamSegment& s) { shadow_->set_segment(i, s); });
  // The ACPI PM block (hw/acpi, fixed at kPmBase for direct boot) moves where firmware puts it.
  p.pm.set_pm_base_callback([this](uint16_t base, bool enabled) {
    ctx_.log.log(hw::kLogUnimp, "pc: PIIX4 PM block at 0x%x %s: not moved\n", base,
                 enabled ? "enabled" : "disabled");
  });
  return {};
}

std::string PcMachine::build_ide() {
  hw::ide::PiixIde& ide = pci_->ide;
  struct Legacy {
    const char* name;
    uint16_t cmd, ctl;
  };
  static constexpr Legacy kChannels[] = {{"ide0", kIde0Port, kIde0CtlPort},
                                         {"ide1", kIde1Port, kIde1CtlPort}};
  for (unsigned c = 0; c < 2; ++c) {
    std::string err =
        io_.add_mmio(kChannels[c].name, kChannels[c].cmd, 8, ide.channel(c).command_block());
    if (err.empty())
      err = io_.add_mmio(std::string(kChannels[c].name) + "-ctl", kChannels[c].ctl, 1,
                         ide.channel(c).control_block());
    if (!err.empty()) return err;
  }
  // The lead connects ide.channel(0).irq() to ISA IRQ 14 (kIde0Irq) and ide.channel(1).irq()
  // to ISA IRQ 15 (kIde1Irq) on the PC's interrupt router.
  for (const auto& d : config_.drives) {
    const hw::block::DriveOptions& o = d->options();
    if (o.interface != hw::block::DriveInterface::kIde) continue;
    if (o.index < 0 || o.index > hw::block::kIdeMaxIndex)
      return "-drive " + o.file + ": IDE index out of range";
    // Serial numbers as QEMU numbers its IDE devices: QM00001 for index 0, ...
    const std::string serial = o.serial.empty() ? "QM0000" + std::to_string(o.index + 1) : o.serial;
    const auto media = o.media == hw::block::DriveMedia::kCdrom ? hw::ide::IdeMedia::Cdrom
                                                                : hw::ide::IdeMedia::Disk;
    std::string err =
        ide.channel(unsigned(o.index) / 2).attach(unsigned(o.index) % 2, d, media, serial);
    if (!err.empty())
      return "-drive " + o.file + ": IDE index " + std::to_string(o.index) + ": " + err;
  }
  return {};
}

PcPci::~PcPci() {
  for (auto& f : functions)
    if (auto* v = dynamic_cast<hw::virtio::VirtioPci*>(f.get())) v->stop_io_events();
}

std::string PcMachine::build_pci_device(DeviceParser& parser, const DeviceSpec& spec) {
  static constexpr std::string_view kDrivers[] = {"isa-debug-exit", "virtio-blk-pci",
                                                  "virtio-rng-pci", "virtio-net-pci",
                                                  "pci-testdev",    "vhost-user-blk-pci"};
  DeviceRequest req;
  std::string err = parser.parse(spec, kDrivers, req);
  if (!err.empty()) return err;
  err = add_pci_device(req, pci_->bus, mem_, ctx_.log, kPciFirstFreeSlot, pci_->functions,
                       pci_->devices);
  if (!err.empty()) return "-device " + spec.driver + ": " + err;
  // Under KVM the queue doorbells become ioeventfds read on the event loop.
  if (hw::IoEventHost* host = accel_->io_events())
    if (auto* v = dynamic_cast<hw::virtio::VirtioPci*>(pci_->functions.back().get()))
      v->use_io_events(*host, ctx_.loop);
  if (req.bootindex >= 0) add_boot_device(req.bootindex, pci_->functions.back()->devfn());
  return {};
}

}  // namespace orrery::machine::pc
