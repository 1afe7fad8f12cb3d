#include "machine/virt/virt.h"

#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <thread>

#include "hw/core/log.h"
#include "hw/core/user_file.h"
#include "hw/net/netdev_options.h"
#include "hw/pci/pci_testdev.h"
#include "hw/virtio/virtio_blk.h"
#include "hw/virtio/virtio_net.h"
#include "hw/virtio/virtio_pci.h"
#include "hw/virtio/virtio_rng.h"
#include "machine/virt/fdt.h"
#include "tcg/exec/engine.h"

namespace orrery::machine::virt {

namespace {

constexpr std::string_view kGicVersions[] = {"2", "3", "max", "host"};
constexpr MachineProperty kVirtProperties[] = {
    {"gic-version", kGicVersions, "GIC architecture version: 2 (default), 3 or max (= 3)"},
    {"dumpdtb", {}, "write the generated device tree to FILE and exit"},
};

}  // namespace

VirtMachine::VirtMachine(const MachineConfig& config, MachineContext& ctx)
    : config_(config),
      ctx_(ctx),
      uart_(ctx.log),
      rtc_(ctx.log),
      pci_bus_(ctx.log, virt_region(VirtRegion::PcieMmio).base,
               virt_region(VirtRegion::PcieMmio).size, virt_region(VirtRegion::PciePio).size),
      pci_ecam_(pci_bus_, ctx.log, kPcieBuses),
      pci_host_fn_(as_, ctx.log) {
  as_.set_write_observer(&ctx_.engine);
  as_.add_listener(&ctx_.engine);  // region changes flush every vCPU's TLB
}

VirtMachine::~VirtMachine() {
  ctx_.engine.set_code_full_hook(nullptr);
}

std::unique_ptr<Machine> VirtMachine::create(const MachineConfig& config, MachineContext& ctx,
                                             std::string& error) {
  if (config.ram_size == 0 || config.ram_size > kVirtMaxRam) {
    error = "RAM size " + std::to_string(config.ram_size) + " is outside 1 byte.." +
            std::to_string(kVirtMaxRam / GiB) + " GiB";
    return nullptr;
  }
  if (config.cpus == 0 || config.cpus > kVirtMaxCpus) {
    error = "the virt machine supports 1.." + std::to_string(kVirtMaxCpus) + " CPUs, not " +
            std::to_string(config.cpus);
    return nullptr;
  }
  auto m = std::make_unique<VirtMachine>(config, ctx);
  error = m->parse_properties();
  if (error.empty()) error = m->build();
  if (!error.empty()) return nullptr;
  return m;
}

std::string VirtMachine::build_devices() {
  std::vector<const hw::block::BlockBackend*> used;
  std::vector<const hw::net::NetBackend*> used_net;
  unsigned next_slot = kVirtioMmioSlots;
  for (const DeviceSpec& spec : config_.devices) {
    const std::string what = "-device " + spec.driver;
    std::string drive_id, id, addr;
    unsigned num_queues = 1;
    const bool pci = spec.driver.ends_with("-pci") || spec.driver == "pci-testdev";
    const bool blk = spec.driver == "virtio-blk-device" || spec.driver == "virtio-blk-pci";
    const bool rng = spec.driver == "virtio-rng-device" || spec.driver == "virtio-rng-pci";
    const bool net = spec.driver == "virtio-net-device" || spec.driver == "virtio-net-pci";
    std::string netdev_id;
    hw::virtio::VirtioNet::Mac mac = hw::virtio::VirtioNet::kDefaultMac;
    if (!blk && !rng && !net && spec.driver != "pci-testdev")
      return what +
             ": not a device of this machine (virtio-blk-device, virtio-rng-device, "
             "virtio-net-device, virtio-blk-pci, virtio-rng-pci, virtio-net-pci, pci-testdev)";
    for (const auto& [name, value] : spec.props) {
      if (name == "id") {
        id = value;
      } else if (pci && name == "addr") {
        addr = value;
      } else if (blk && name == "drive") {
        drive_id = value;
      } else if (blk && name == "num-queues") {
        char* end = nullptr;
        unsigned long n = std::strtoul(value.c_str(), &end, 10);
        if (value.empty() || *end || n < 1 || n > 64)
          return what + ": num-queues=" + value + ": expected 1..64";
        num_queues = unsigned(n);
      } else if (net && name == "netdev") {
        netdev_id = value;
      } else if (net && name == "mac") {
        if (!hw::net::parse_mac(value, mac))
          return what + ": mac=" + value + ": expected a unicast address like 52:54:00:12:34:56";
      } else {
        return what + ": no property '" + name + "'";
      }
    }
    std::shared_ptr<hw::net::NetBackend> net_backend;
    if (net) {
      if (netdev_id.empty()) return what + ": netdev=ID is required";
      for (const auto& [nid, b] : config_.netdevs)
        if (nid == netdev_id) net_backend = b;
      if (!net_backend) return what + ": netdev=" + netdev_id + ": no -netdev with that id";
      for (const auto* u : used_net)
        if (u == net_backend.get()) return what + ": netdev=" + netdev_id + " is already in use";
      used_net.push_back(net_backend.get());
    }
    if (pci) {
      std::string err =
          build_pci_device(spec, drive_id, id, num_queues, addr, used, net_backend, mac);
      if (!err.empty()) return what + ": " + err;
      continue;
    }
    if (next_slot == 0)
      return what + ": all " + std::to_string(kVirtioMmioSlots) + " virtio-mmio slots are in use";
    const std::string name = (id.empty() ? spec.driver : id);
    std::unique_ptr<hw::virtio::VirtioDevice> dev;
    if (rng) {
      dev = std::make_unique<hw::virtio::VirtioRng>(dma_, ctx_.log, name);
    } else if (net) {
      dev = std::make_unique<hw::virtio::VirtioNet>(dma_, ctx_.log, name, net_backend, mac);
    } else {
      if (drive_id.empty()) return what + ": drive=ID is required";
      std::shared_ptr<hw::block::BlockBackend> drive;
      for (const auto& d : config_.drives)
        if (d->id() == drive_id) drive = d;
      if (!drive) return what + ": drive=" + drive_id + ": no -drive with that id";
      for (const auto* u : used)
        if (u == drive.get()) return what + ": drive=" + drive_id + " is already in use";
      used.push_back(drive.get());
      dev = std::make_unique<hw::virtio::VirtioBlk>(dma_, ctx_.log, name, drive, num_queues);
    }
    virtio_mmio_[--next_slot]->plug(dev.get());
    virtio_devices_.push_back(std::move(dev));
  }
  return {};
}

std::string VirtMachine::build_pci_device(const DeviceSpec& spec, const std::string& drive_id,
                                          const std::string& id, unsigned num_queues,
                                          const std::string& addr,
                                          std::vector<const hw::block::BlockBackend*>& used,
                                          std::shared_ptr<hw::net::NetBackend> net_backend,
                                          const hw::virtio::VirtioNet::Mac& mac) {
  // addr=SLOT[.FN], hexadecimal as QEMU spells it; by default the lowest free slot from 1.
  unsigned devfn = 0;
  if (!addr.empty()) {
    char* end = nullptr;
    unsigned long slot = std::strtoul(addr.c_str(), &end, 16), fn = 0;
    if (end != addr.c_str() && *end == '.') {
      const char* f = end + 1;
      fn = std::strtoul(f, &end, 16);
      if (end == f) end = nullptr;
    }
    if (!end || end == addr.c_str() || *end || slot > 31 || fn > 7)
      return "addr=" + addr + ": expected SLOT[.FN] with SLOT 0..1f and FN 0..7";
    devfn = hw::pci::pci_devfn(unsigned(slot), unsigned(fn));
  } else {
    const int slot = pci_bus_.free_slot(1);
    if (slot < 0) return "no free PCI slot";
    devfn = hw::pci::pci_devfn(unsigned(slot), 0);
  }
  const std::string name = id.empty() ? spec.driver : id;
  std::unique_ptr<hw::pci::PciDevice> fn;
  std::unique_ptr<hw::virtio::VirtioDevice> dev;
  if (spec.driver == "pci-testdev") {
    fn = std::make_unique<hw::pci::PciTestdev>(as_, ctx_.log, name);
  } else if (spec.driver == "virtio-rng-pci") {
    auto t = std::make_unique<hw::virtio::VirtioPci>(as_, ctx_.log, name,
                                                     hw::virtio::VirtioRng::kDeviceId, 0x00ff00, 2);
    dev = std::make_unique<hw::virtio::VirtioRng>(t->dma(), ctx_.log, name);
    t->plug(*dev);
    fn = std::move(t);
  } else if (net_backend) {
    // Class 0x0200 (Ethernet); vectors for rx, tx and configuration changes.
    auto t = std::make_unique<hw::virtio::VirtioPci>(as_, ctx_.log, name,
                                                     hw::virtio::VirtioNet::kDeviceId, 0x020000, 3);
    dev = std::make_unique<hw::virtio::VirtioNet>(t->dma(), ctx_.log, name, net_backend, mac);
    t->plug(*dev);
    fn = std::move(t);
  } else {
    if (drive_id.empty()) return "drive=ID is required";
    std::shared_ptr<hw::block::BlockBackend> drive;
    for (const auto& d : config_.drives)
      if (d->id() == drive_id) drive = d;
    if (!drive) return "drive=" + drive_id + ": no -drive with that id";
    for (const auto* u : used)
      if (u == drive.get()) return "drive=" + drive_id + " is already in use";
    used.push_back(drive.get());
    // Class 0x0100 (SCSI storage) and num-queues + 1 vectors, as QEMU's virtio-blk-pci.
    auto t = std::make_unique<hw::virtio::VirtioPci>(
        as_, ctx_.log, name, hw::virtio::VirtioBlk::kDeviceId, 0x010000, num_queues + 1);
    dev = std::make_unique<hw::virtio::VirtioBlk>(t->dma(), ctx_.log, name, drive, num_queues);
    t->plug(*dev);
    fn = std::move(t);
  }
  std::string err = pci_bus_.plug(*fn, devfn);
  if (!err.empty()) return err;
  pci_devices_.push_back(std::move(fn));
  if (dev) virtio_devices_.push_back(std::move(dev));
  return {};
}

std::string VirtMachine::parse_properties() {
  for (const auto& [name, value] : config_.properties) {
    if (name == "gic-version") {
      if (value == "2")
        gic_version_ = 2;
      else if (value == "3" || value == "max" || value == "host")
        gic_version_ = 3;
      else
        return "gic-version=" + value + ": expected 2, 3 or max";
    } else if (name == "dumpdtb") {
      dumpdtb_ = value;
    } else {
      return "unknown machine property '" + name + "'";
    }
  }
  return {};
}

std::string VirtMachine::build() {
  // Regions without a device model (flash, fw_cfg, PCIe, virtio-mmio, ...) stay unmapped:
  // guest accesses there are external aborts, as for any hole in the map.
  auto map = [this](VirtRegion r, hw::MmioDevice& dev, uint64_t size = 0) {
    const MemMapEntry& e = virt_region(r);
    return as_.add_mmio(std::string(e.name), e.base, size ? size : e.size, dev);
  };
  const MemMapEntry& ram = virt_region(VirtRegion::Ram);
  std::string err = config_.ram_backing
                        ? as_.add_ram(std::string(ram.name), ram.base, config_.ram_backing)
                        : as_.add_ram(std::string(ram.name), ram.base, config_.ram_size);
  if (err.empty()) err = map(VirtRegion::Uart, uart_);
  if (err.empty()) err = map(VirtRegion::Rtc, rtc_);
  const MemMapEntry& vmmio = virt_region(VirtRegion::Mmio);
  for (unsigned i = 0; i < kVirtioMmioSlots && err.empty(); ++i) {
    virtio_mmio_.push_back(std::make_unique<hw::virtio::VirtioMmio>(ctx_.log));
    err = as_.add_mmio("virtio-mmio." + std::to_string(i), vmmio.base + i * kVirtioMmioSlotSize,
                       kVirtioMmioSlotSize, *virtio_mmio_.back());
  }
  // PCIe (QEMU's gpex): ECAM, the memory and I/O windows, the host bridge at 00.0.
  if (err.empty()) err = map(VirtRegion::PcieEcam, pci_ecam_);
  if (err.empty()) err = map(VirtRegion::PcieMmio, pci_bus_.mem_window());
  if (err.empty()) err = map(VirtRegion::PciePio, pci_bus_.io_window());
  if (err.empty()) err = pci_bus_.plug(pci_host_fn_, 0);
  if (err.empty()) err = build_devices();
  if (!err.empty()) return err;
  static_assert(virt_region(VirtRegion::Uart).size == hw::Pl011::kMmioSize);
  static_assert(virt_region(VirtRegion::Rtc).size == hw::rtc::Pl031::kMmioSize);

  power_.assign(config_.cpus, PowerState::Off);
  start_entry_.assign(config_.cpus, 0);
  start_context_.assign(config_.cpus, 0);
  std::vector<uint64_t> mpidrs;
  for (unsigned i = 0; i < config_.cpus; ++i) {
    auto cpu = create_virt_cpu(config_.cpu_model, i, as_, ctx_, *this, err);
    if (!cpu) return err.empty() ? "cannot create CPU '" + config_.cpu_model + "'" : err;
    mpidrs.push_back(cpu->mpidr());
    cpus_.push_back(std::move(cpu));
  }
  link_virt_cpus(cpus_);

  hw::intc::GicCore* core = nullptr;
  if (gic_version_ == 3) {
    gicv3_ = std::make_unique<hw::intc::Gicv3>(mpidrs, kVirtGicNumIrqs, ctx_.log);
    const MemMapEntry& rd = virt_region(VirtRegion::GicRedist);
    if (gicv3_->redistributor_size() > rd.size) return "too many CPUs for the redistributor region";
    err = map(VirtRegion::GicDist, gicv3_->distributor());
    if (err.empty())
      err = map(VirtRegion::GicRedist, gicv3_->redistributors(), gicv3_->redistributor_size());
    for (unsigned i = 0; i < config_.cpus; ++i)
      cpus_[i]->set_gic_cpu_interface(&gicv3_->cpu_interface(i));
    core = &gicv3_->core();
  } else {
    gicv2_ = std::make_unique<hw::intc::Gicv2>(config_.cpus, kVirtGicNumIrqs, ctx_.log);
    err = map(VirtRegion::GicDist, gicv2_->distributor(), hw::intc::Gicv2::kDistSize);
    if (err.empty()) err = map(VirtRegion::GicCpu, gicv2_->cpu_interface());
    core = &gicv2_->core();
    // MSI for PCI: a GICv2m frame (GICv3 would need an ITS, which is not modelled).
    gicv2m_ = std::make_unique<hw::intc::Gicv2m>(
        *core, ctx_.log, kGicSpiBase + virt_spi(VirtRegion::GicV2m), kGicV2mSpis);
    if (err.empty()) err = map(VirtRegion::GicV2m, *gicv2m_);
  }
  if (!err.empty()) return err;

  // Devices reset before the GIC, so the lines they lower are seen by a GIC about to clear.
  resettables_ = {&uart_, &rtc_};
  for (auto& t : virtio_mmio_) resettables_.push_back(t.get());
  resettables_.push_back(&pci_bus_);
  resettables_.push_back(gicv3_ ? static_cast<hw::Resettable*>(gicv3_.get()) : gicv2_.get());

  // Interrupt wiring, all from virt_map.h (the device tree is generated from the same tables).
  uart_.irq().connect(*core, kGicSpiBase + virt_spi(VirtRegion::Uart));
  rtc_.irq().connect(*core, kGicSpiBase + virt_spi(VirtRegion::Rtc));
  for (unsigned i = 0; i < kVirtioMmioSlots; ++i)
    virtio_mmio_[i]->irq().connect(*core, kGicSpiBase + virt_spi(VirtRegion::Mmio) + i);
  for (unsigned i = 0; i < 4; ++i)
    pci_bus_.intx(i).connect(*core, kGicSpiBase + virt_spi(VirtRegion::PcieMmio) + i);
  for (unsigned i = 0; i < config_.cpus; ++i) {
    core->irq_out(i).connect(*cpus_[i], VirtCpu::kIrqInput);
    core->fiq_out(i).connect(*cpus_[i], VirtCpu::kFiqInput);
    cpus_[i]
        ->timer_irq(CpuTimer::Phys)
        .connect(*core, core->ppi_input(i, kGicPpiBase + kPpiTimerPhys));
    cpus_[i]
        ->timer_irq(CpuTimer::Virt)
        .connect(*core, core->ppi_input(i, kGicPpiBase + kPpiTimerVirt));
  }
  return {};
}

hw::CharReceiver& VirtMachine::serial_port(unsigned i, hw::CharSink* sink) {
  (void)i;  // one UART
  uart_.set_sink(sink);
  return uart_;
}

std::string VirtMachine::load_boot(const BootImages& images) {
  reload_kernel_ = images.reload_kernel;
  kernel_.clear();
  if (!reload_kernel_) kernel_.assign(images.kernel.begin(), images.kernel.end());
  initrd_.assign(images.initrd.begin(), images.initrd.end());
  user_dtb_.assign(images.dtb.begin(), images.dtb.end());
  cmdline_ = images.cmdline;
  std::string err = boot(images.kernel);
  booted_ = err.empty();
  return err;
}

std::string VirtMachine::reboot() {
  if (!reload_kernel_) return boot(kernel_);
  std::vector<uint8_t> kernel;
  std::string err = reload_kernel_(kernel);
  if (!err.empty()) return "-kernel: " + err;
  return boot(kernel);
}

std::string VirtMachine::boot(std::span<const uint8_t> kernel) {
  std::string err = loader::load_arm64_kernel(kernel, ram(), as_, boot_info_);
  if (!err.empty()) return err;
  uint64_t initrd_start = 0, initrd_end = 0;
  if (!initrd_.empty()) {
    err = loader::place_initrd(initrd_, boot_info_, ram(), as_, initrd_start, initrd_end);
    if (!err.empty()) return "-initrd: " + err;
  }
  if (!user_dtb_.empty()) {
    dtb_ = user_dtb_;
    err = patch_chosen(dtb_, cmdline_, initrd_start, initrd_end);
    if (!err.empty()) return "-dtb: " + err;
  } else {
    FdtConfig fc;
    fc.gic_version = gic_version_;
    for (const auto& c : cpus_) fc.mpidrs.push_back(c->mpidr());
    fc.cpu_compatible = cpu_compatible(config_.cpu_model);
    fc.ram_size = config_.ram_size;
    fc.bootargs = cmdline_;
    fc.initrd_start = initrd_start;
    fc.initrd_end = initrd_end;
    fc.redist_size = gicv3_ ? gicv3_->redistributor_size() : 0;
    fc.gicv2m = gicv2m_ != nullptr;
    err = build_virt_fdt(fc, dtb_);
    if (!err.empty()) return err;
  }
  if (!dumpdtb_.empty()) {
    // The path is the user's -machine option, not the kernel: blame it by name.
    std::string what = "-machine dumpdtb=" + dumpdtb_ + ": ";
    hw::UniqueFd fd = hw::open_user_file(dumpdtb_, hw::UserFileUse::Output, err);
    if (!fd.valid()) return what + "cannot open: " + err;
    size_t done = 0;
    while (done < dtb_.size()) {
      ssize_t n = ::write(fd.get(), dtb_.data() + done, dtb_.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return what + "write failed: " + std::strerror(n < 0 ? errno : EIO);
      done += size_t(n);
    }
    if (::close(fd.release()) != 0) return what + "write failed: " + std::strerror(errno);
  }
  err = loader::place_dtb(dtb_, boot_info_, ram(), initrd_start, initrd_end, as_, dtb_addr_);
  if (!err.empty()) return err;
  // booting.rst: x0 = physical address of the device tree, x1..x3 = 0. Other images get the
  // same registers; they may ignore x0.
  cpus_[0]->reset(boot_info_.entry, {dtb_addr_, 0, 0, 0});
  std::lock_guard<std::mutex> g(mu_);
  for (unsigned i = 0; i < power_.size(); ++i)
    power_[i] = i == 0 ? PowerState::On : PowerState::Off;
  return {};
}

void VirtMachine::reset_devices() {
  for (hw::Resettable* d : resettables_) d->reset();
}

int32_t VirtMachine::cpu_on(uint64_t target, uint64_t entry, uint64_t context_id) {
  for (unsigned i = 0; i < cpus_.size(); ++i) {
    if (hw::intc::mpidr_affinity(cpus_[i]->mpidr()) != target) continue;
    // The entry must be RAM or ROM (which also keeps it inside the PA range); PSCI says
    // INVALID_ADDRESS rather than start a CPU that can only fault.
    if (!as_.host_ptr(entry, 4)) {
      ctx_.log.log(hw::kLogGuestErrors,
                   "virt: PSCI CPU_ON entry 0x%" PRIx64 " is not in RAM or ROM\n", entry);
      return psci::INVALID_ADDRESS;
    }
    std::lock_guard<std::mutex> g(mu_);
    if (power_[i] == PowerState::On) return psci::ALREADY_ON;
    if (power_[i] == PowerState::OnPending) return -5;  // ON_PENDING
    power_[i] = PowerState::OnPending;
    start_entry_[i] = entry;
    start_context_[i] = context_id;
    cv_.notify_all();
    return psci::SUCCESS;
  }
  return psci::INVALID_PARAMETERS;
}

int32_t VirtMachine::affinity_info(uint64_t target) {
  for (unsigned i = 0; i < cpus_.size(); ++i) {
    if (hw::intc::mpidr_affinity(cpus_[i]->mpidr()) != target) continue;
    std::lock_guard<std::mutex> g(mu_);
    switch (power_[i]) {
      case PowerState::On:
        return psci::kAffinityOn;
      case PowerState::Off:
        return psci::kAffinityOff;
      case PowerState::OnPending:
        return psci::kAffinityOnPending;
    }
  }
  return psci::INVALID_PARAMETERS;
}

void VirtMachine::post(Event e, std::string message) {
  std::lock_guard<std::mutex> g(mu_);
  // The first event of a run wins, except that a code flush gives way to any other: a vCPU may
  // power off, reset or fail while the others are being stopped for the flush, and that must
  // not be lost (reset flushes anyway).
  if (event_ == Event::None || (event_ == Event::FlushCode && e != Event::FlushCode)) {
    event_ = e;
    event_message_ = std::move(message);
  }
  cv_.notify_all();
}

void VirtMachine::cpu_thread(unsigned i) {
  for (;;) {
    bool start = false;
    uint64_t entry = 0, context = 0;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return stopping_ || power_[i] != PowerState::Off; });
      if (stopping_) return;
      if (power_[i] == PowerState::OnPending) {
        start = true;
        entry = start_entry_[i];
        context = start_context_[i];
        power_[i] = PowerState::On;
      }
    }
    // PSCI CPU_ON: the target starts at entry with X0 = context_id, MMU off, DAIF masked.
    if (start) cpus_[i]->reset(entry, {context, 0, 0, 0}, cpus_[0]->counter_epoch());
    CpuRunResult r = cpus_[i]->run();
    switch (r.stop) {
      case CpuStop::PowerOff:
        post(Event::PowerOff);
        return;
      case CpuStop::Reset:
        post(Event::Reset);
        return;
      case CpuStop::Error:
        post(Event::Error, r.message.empty() ? "the CPU stopped" : r.message);
        return;
      case CpuStop::Requested: {
        std::lock_guard<std::mutex> g(mu_);
        if (stopping_) return;
        break;
      }
      case CpuStop::CpuOff: {
        bool any_on = false;
        {
          std::lock_guard<std::mutex> g(mu_);
          power_[i] = PowerState::Off;
          for (PowerState p : power_) any_on |= p != PowerState::Off;
        }
        if (!any_on) {
          // Nothing can ever run again: the machine is off.
          ctx_.log.log(hw::kLogGuestErrors, "virt: PSCI CPU_OFF on the last running CPU\n");
          post(Event::PowerOff);
          return;
        }
        break;
      }
    }
  }
}

void VirtMachine::request_stop(int exit_status) {
  std::lock_guard<std::mutex> g(mu_);
  if (stop_requested_) return;
  stop_requested_ = true;
  stop_status_ = exit_status;
  if (event_ == Event::None) event_ = Event::Stop;
  cv_.notify_all();
}

int VirtMachine::run() {
  if (!booted_) {
    error_ = "no kernel loaded";
    return 1;
  }
  if (!dumpdtb_.empty()) return 0;  // QEMU's dumpdtb: write the tree, do not run
  ctx_.engine.set_code_full_hook([this] { post(Event::FlushCode); });
  for (;;) {
    {
      std::lock_guard<std::mutex> g(mu_);
      if (stop_requested_) return stop_status_;
      stopping_ = false;
      event_ = Event::None;
    }
    for (auto& c : cpus_) c->resume();
    // MTTCG: one host thread per vCPU; this thread waits for the first event that ends the run.
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < cpus_.size(); ++i)
      threads.emplace_back(&VirtMachine::cpu_thread, this, i);
    Event e;
    std::string message;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return event_ != Event::None; });
      e = event_;
      message = event_message_;
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& c : cpus_) c->request_stop();
    for (auto& t : threads) t.join();
    {
      std::lock_guard<std::mutex> g(mu_);
      if (stop_requested_) return stop_status_;
      // A vCPU may have posted a weightier event (power off after a code-flush request) while
      // the others stopped; with every vCPU joined, event_ is final.
      e = event_;
      message = event_message_;
    }
    switch (e) {
      case Event::None:
      case Event::PowerOff:
        return 0;
      case Event::Stop:
        return stop_status_;
      case Event::Error:
        error_ = message;
        return 1;
      case Event::FlushCode:
        // The baseline code cache is full: with every vCPU stopped, drop all translations and
        // run on (they are retranslated as they run again).
        ctx_.log.log(hw::kLogTier, "virt: code cache full, flushing translations\n");
        ctx_.engine.flush();
        break;
      case Event::Reset: {
        if (config_.no_reboot) return 0;
        ctx_.log.log(hw::kLogInt, "virt: system reset\n");
        // Like a power cycle without clearing RAM: devices to reset state, code caches dropped
        // (the reloaded kernel is written behind the softmmu's back), images placed again.
        reset_devices();
        ctx_.engine.flush();
        std::string err = reboot();
        if (!err.empty()) {
          error_ = "reset: " + err;
          return 1;
        }
        break;
      }
    }
  }
}

const MachineType& virt_machine_type() {
  static const MachineType kType{
      .name = "virt",
      .description = "AArch64 virtual platform (QEMU virt memory map)",
      .cpus = virt_cpu_models(),
      .default_cpu = virt_default_cpu(),
      .default_ram = kVirtDefaultRam,
      .max_ram = kVirtMaxRam,
      .serial_ports = 1,
      .create = &VirtMachine::create,
      .max_cpus = kVirtMaxCpus,
      .properties = kVirtProperties,
  };
  return kType;
}

}  // namespace orrery::machine::virt
