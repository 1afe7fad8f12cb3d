#include "machine/virt/virt.h"

#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <span>

#include "cpu/arm64/cpu_models.h"
#include "cpu/arm64/mte.h"
#include "cpu/arm64/tcg_accel.h"
#include "hw/core/log.h"
#include "hw/core/option_list.h"
#include "hw/core/user_file.h"
#include "hw/net/netdev_options.h"
#include "hw/virtio/vhost_user/blk_frontend.h"
#include "hw/virtio/virtio_blk.h"
#include "hw/virtio/virtio_net.h"
#include "hw/virtio/virtio_rng.h"
#include "machine/pci_devices.h"
#include "machine/virt/fdt.h"

namespace orrery::machine::virt {

namespace {

constexpr std::string_view kGicVersions[] = {"2", "3", "max", "host"};
constexpr std::string_view kOnOff[] = {"on", "off", "yes", "no", "true", "false"};
constexpr MachineProperty kVirtProperties[] = {
    {"gic-version", kGicVersions, "GIC architecture version: 2 (default), 3 or max (= 3)"},
    {"dumpdtb", {}, "write the generated device tree to FILE and exit"},
    {"mte", kOnOff, "FEAT_MTE2/MTE3 with tag storage for RAM (needs -cpu max): on|off"},
    {"dtb-randomness", kOnOff,
     "random rng-seed and kaslr-seed in the device tree's /chosen (default on): on|off"},
    {"dtb-kaslr-seed", kOnOff, "deprecated synonym of dtb-randomness"},
};

// Random bytes from the host (the kernel's own pool: blocks only before it is seeded).
std::string fill_random(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return std::string("cannot get random bytes: ") + std::strerror(n < 0 ? errno : EIO);
    done += size_t(n);
  }
  return {};
}

}  // namespace

VirtMachine::VirtMachine(const MachineConfig& config, MachineContext& ctx)
    : config_(config),
      ctx_(ctx),
      uart_(ctx.log),
      rtc_(ctx.log, ctx.loop),
      pci_bus_(ctx.log, virt_region(VirtRegion::PcieMmio).base,
               virt_region(VirtRegion::PcieMmio64).base + virt_region(VirtRegion::PcieMmio64).size -
                   virt_region(VirtRegion::PcieMmio).base,
               virt_region(VirtRegion::PciePio).size),
      pci_mmio_(hw::MemoryRegion::alias("pcie-mmio", pci_bus_.mem_window(), 0,
                                        virt_region(VirtRegion::PcieMmio).size)),
      pci_mmio_high_(hw::MemoryRegion::alias(
          "pcie-mmio-high", pci_bus_.mem_window(),
          virt_region(VirtRegion::PcieMmio64).base - virt_region(VirtRegion::PcieMmio).base,
          virt_region(VirtRegion::PcieMmio64).size)),
      pci_ecam_(pci_bus_, ctx.log, kPcieBuses),
      pci_host_fn_(as_, ctx.log) {
  accel_ = dynamic_cast<cpu::arm64::Arm64Accelerator*>(ctx.accel);
  if (!accel_) {
    own_accel_ = std::make_unique<cpu::arm64::TcgArm64Accelerator>(ctx.engine);
    accel_ = own_accel_.get();
  }
  run_loop_ = std::make_unique<RunLoop>("virt", ctx_, *accel_, as_);
}

VirtMachine::~VirtMachine() = default;

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
  if (ctx.accel && !dynamic_cast<cpu::arm64::Arm64Accelerator*>(ctx.accel)) {
    error = "the " + std::string(ctx.accel->name()) + " accelerator cannot run AArch64 vCPUs";
    return nullptr;
  }
  auto m = std::make_unique<VirtMachine>(config, ctx);
  error = m->parse_properties();
  if (error.empty()) error = m->build();
  if (!error.empty()) return nullptr;
  return m;
}

std::string VirtMachine::build_devices() {
  static constexpr std::string_view kDrivers[] = {
      "virtio-blk-device", "virtio-rng-device",  "virtio-net-device",
      "virtio-blk-pci",    "virtio-rng-pci",     "virtio-net-pci",
      "pci-testdev",       "vhost-user-blk-pci", "vhost-user-blk-device"};
  DeviceParser parser(config_);
  unsigned next_slot = kVirtioMmioSlots;
  for (const DeviceSpec& spec : config_.devices) {
    DeviceRequest req;
    std::string err = parser.parse(spec, kDrivers, req);
    if (!err.empty()) return err;
    const std::string what = "-device " + spec.driver;
    if (req.pci) {
      err = add_pci_device(req, pci_bus_, as_, ctx_.log, 1, pci_devices_, virtio_devices_);
      if (!err.empty()) return what + ": " + err;
      continue;
    }
    if (next_slot == 0)
      return what + ": all " + std::to_string(kVirtioMmioSlots) + " virtio-mmio slots are in use";
    std::unique_ptr<hw::virtio::VirtioDevice> dev = make_virtio_device(req, dma_, ctx_.log, err);
    if (!dev) return what + ": " + err;
    virtio_mmio_[--next_slot]->plug(dev.get());
    virtio_devices_.push_back(std::move(dev));
  }
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
    } else if (name == "mte") {
      if (!hw::parse_bool(value, mte_)) return "mte=" + value + ": expected on or off";
    } else if (name == "dtb-randomness" || name == "dtb-kaslr-seed") {
      if (!hw::parse_bool(value, dtb_randomness_))
        return name + "=" + value + ": expected on or off";
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
  // The bus's memory space through the 32-bit and 64-bit windows; its I/O window.
  if (err.empty())
    err = as_.root().add_subregion(*pci_mmio_, virt_region(VirtRegion::PcieMmio).base);
  if (err.empty())
    err = as_.root().add_subregion(*pci_mmio_high_, virt_region(VirtRegion::PcieMmio64).base);
  if (err.empty())
    err = as_.root().add_subregion(pci_bus_.io_window(), virt_region(VirtRegion::PciePio).base);
  if (err.empty()) err = pci_bus_.plug(pci_host_fn_, 0);
  if (err.empty()) err = build_devices();
  if (!err.empty()) return err;
  static_assert(virt_region(VirtRegion::Uart).size == hw::Pl011::kMmioSize);
  static_assert(virt_region(VirtRegion::Rtc).size == hw::rtc::Pl031::kMmioSize);

  const cpu::arm64::CpuModel* model = cpu::arm64::find_cpu_model(config_.cpu_model);
  if (!model) return "unknown CPU model '" + config_.cpu_model + "'";
  std::vector<uint64_t> mpidrs;
  std::vector<cpu::arm64::Arm64Vcpu*> vcpus;
  for (unsigned i = 0; i < config_.cpus; ++i) {
    auto cpu = accel_->create_vcpu({*model, i, as_, ctx_.loop, *this}, err);
    if (!cpu) return "vCPU " + std::to_string(i) + ": " + err;
    mpidrs.push_back(cpu->mpidr());
    vcpus.push_back(cpu.get());
    cpus_.push_back(std::move(cpu));
  }
  accel_->link_vcpus(vcpus);
  if (mte_) {
    if (accel_->name() != "tcg") return "mte=on: MTE tag storage needs the TCG accelerator";
    // Tag storage for RAM only (4 bits per 16-byte granule); MMIO and ROM have no tags.
    tags_ = std::make_unique<cpu::arm64::TagStorage>(ram.base, config_.ram_size);
    for (auto& cpu : cpus_)
      if (!cpu->set_tag_storage(tags_.get()))
        return "mte=on: CPU model '" + config_.cpu_model + "' has no MTE (use -cpu max)";
  }

  hw::intc::GicCore* core = nullptr;
  if (gic_version_ == 3) {
    // LPIs, with their tables in guest RAM, for the ITS.
    gicv3_ = std::make_unique<hw::intc::Gicv3>(mpidrs, kVirtGicNumIrqs, ctx_.log, &dma_);
    const MemMapEntry& rd = virt_region(VirtRegion::GicRedist);
    if (gicv3_->redistributor_size() > rd.size) return "too many CPUs for the redistributor region";
    err = map(VirtRegion::GicDist, gicv3_->distributor());
    if (err.empty())
      err = map(VirtRegion::GicRedist, gicv3_->redistributors(), gicv3_->redistributor_size());
    for (unsigned i = 0; i < config_.cpus; ++i)
      cpus_[i]->set_gic_cpu_interface(&gicv3_->cpu_interface(i));
    core = &gicv3_->core();
    // MSI for PCI: the ITS, which takes each message's DeviceID from its requester ID.
    its_ = std::make_unique<hw::intc::Gicv3Its>(*gicv3_, dma_, ctx_.log);
    const MemMapEntry& its = virt_region(VirtRegion::GicIts);
    static_assert(virt_region(VirtRegion::GicIts).size == hw::intc::Gicv3Its::kMmioSize);
    if (err.empty()) err = map(VirtRegion::GicIts, *its_);
    pci_bus_.set_msi_doorbell(its.base, its.size, its_.get());
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
  pci_bus_.set_msi_sink(&msi_sink_);
  if (its_) resettables_.push_back(its_.get());
  resettables_.push_back(gicv3_ ? static_cast<hw::Resettable*>(gicv3_.get()) : gicv2_.get());

  // Interrupt wiring, all from virt_map.h (the device tree is generated from the same tables).
  uart_.irq().connect(*core, kGicSpiBase + virt_spi(VirtRegion::Uart));
  rtc_.irq().connect(*core, kGicSpiBase + virt_spi(VirtRegion::Rtc));
  for (unsigned i = 0; i < kVirtioMmioSlots; ++i)
    virtio_mmio_[i]->irq().connect(*core, kGicSpiBase + virt_spi(VirtRegion::Mmio) + i);
  for (unsigned i = 0; i < 4; ++i)
    pci_bus_.intx(i).connect(*core, kGicSpiBase + virt_spi(VirtRegion::PcieMmio) + i);
  for (unsigned i = 0; i < config_.cpus; ++i) {
    core->irq_out(i).connect(*cpus_[i], cpu::arm64::Arm64Vcpu::kIrqInput);
    core->fiq_out(i).connect(*cpus_[i], cpu::arm64::Arm64Vcpu::kFiqInput);
    cpus_[i]
        ->timer_irq(cpu::arm64::TimerOutput::Phys)
        .connect(*core, core->ppi_input(i, kGicPpiBase + kPpiTimerPhys));
    cpus_[i]
        ->timer_irq(cpu::arm64::TimerOutput::Virt)
        .connect(*core, core->ppi_input(i, kGicPpiBase + kPpiTimerVirt));
    if (hw::IrqLine* pmu = cpus_[i]->pmu_irq())
      pmu->connect(*core, core->ppi_input(i, kGicPpiBase + kPpiPmu));
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
    fc.its = its_ != nullptr;
    fc.pmu = !cpus_.empty() && cpus_[0]->pmu_irq() != nullptr;
    if (dtb_randomness_) {
      // New at every boot, as QEMU does at every reset: a rebooted guest is seeded afresh.
      fc.rng_seed.resize(32);
      err = fill_random(fc.rng_seed);
      if (err.empty())
        err = fill_random({reinterpret_cast<uint8_t*>(&fc.kaslr_seed), sizeof fc.kaslr_seed});
      if (!err.empty()) return "-M virt,dtb-randomness: " + err;
    }
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
  // The secondaries wait for PSCI CPU_ON.
  for (size_t i = 1; i < cpus_.size(); ++i) cpus_[i]->power_off();
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
    std::lock_guard<std::mutex> g(psci_mu_);
    switch (cpus_[i]->power_on(entry, context_id, cpus_[0]->counter_epoch())) {
      case cpu::arm64::PowerState::On:
        return psci::ALREADY_ON;
      case cpu::arm64::PowerState::OnPending:
        return -5;  // ON_PENDING
      case cpu::arm64::PowerState::Off:
        return psci::SUCCESS;
    }
  }
  return psci::INVALID_PARAMETERS;
}

int32_t VirtMachine::affinity_info(uint64_t target) {
  for (unsigned i = 0; i < cpus_.size(); ++i) {
    if (hw::intc::mpidr_affinity(cpus_[i]->mpidr()) != target) continue;
    switch (cpus_[i]->power_state()) {
      case cpu::arm64::PowerState::On:
        return psci::kAffinityOn;
      case cpu::arm64::PowerState::Off:
        return psci::kAffinityOff;
      case cpu::arm64::PowerState::OnPending:
        return psci::kAffinityOnPending;
    }
  }
  return psci::INVALID_PARAMETERS;
}

cpu::arm64::Arm64Hypercalls::Action VirtMachine::hvc(cpu::arm64::Arm64Vcpu& cpu, uint16_t imm,
                                                     std::array<uint64_t, 4>& x) {
  // PSCI over HVC #0, the SMC Calling Convention's register use.
  if (imm != 0) {
    ctx_.log.log(hw::kLogUnimp, "virt: HVC #0x%x (only HVC #0 PSCI calls are implemented)\n", imm);
    x[0] = uint64_t(int64_t(psci::NOT_SUPPORTED));
    return Action::Continue;
  }
  PsciResult r = psci_call(x[0], x[1], x[2], x[3], cpu.mpidr(), this);
  if (!r.known)
    ctx_.log.log(hw::kLogUnimp, "virt: unknown PSCI/SMCCC function 0x%08" PRIx32 "\n",
                 uint32_t(x[0]));
  switch (r.action) {
    case PsciAction::Return:
      x[0] = r.x0;
      return Action::Continue;
    case PsciAction::PowerOff:
      return Action::PowerOff;
    case PsciAction::Reset:
      return Action::Reset;
    case PsciAction::CpuOff: {
      std::lock_guard<std::mutex> g(psci_mu_);
      bool any_other_on = false;
      for (const auto& c : cpus_)
        any_other_on |= c.get() != &cpu && c->power_state() != cpu::arm64::PowerState::Off;
      if (!any_other_on) {
        // Nothing can ever run again: the machine is off.
        ctx_.log.log(hw::kLogGuestErrors, "virt: PSCI CPU_OFF on the last running CPU\n");
        return Action::PowerOff;
      }
      cpu.power_off();
      return Action::CpuOff;
    }
  }
  return Action::Continue;
}

void VirtMachine::request_stop(int exit_status) {
  run_loop_->request_stop(exit_status);
}

int VirtMachine::run() {
  if (!booted_) return run_loop_->fail("no kernel loaded");
  if (!dumpdtb_.empty()) return 0;  // QEMU's dumpdtb: write the tree, do not run
  std::vector<cpu::Vcpu*> vcpus;
  for (auto& c : cpus_) vcpus.push_back(c.get());
  return run_loop_->run(vcpus, config_.no_reboot, [this] {
    reset_devices();
    return reboot();
  });
}

namespace {

/// Every AArch64 model cpu/arm64 defines runs on this board.
std::span<const CpuModelInfo> virt_cpu_models() {
  static const std::vector<CpuModelInfo> kModels = [] {
    std::vector<CpuModelInfo> v;
    for (const cpu::arm64::CpuModel& m : cpu::arm64::cpu_models())
      v.push_back({m.name, m.description});
    return v;
  }();
  return kModels;
}

}  // namespace

const MachineType& virt_machine_type() {
  static const MachineType kType{
      .name = "virt",
      .description = "AArch64 virtual platform (QEMU virt memory map)",
      .cpus = virt_cpu_models(),
      .default_cpu = cpu::arm64::default_cpu_model().name,
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
