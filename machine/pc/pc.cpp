#include "machine/pc/pc.h"

#include <cstdio>
#include <cstring>

#include "cpu/x86/tcg_accel.h"
#include "hw/core/log.h"
#include "machine/loader/kernel.h"
#include "machine/pci_devices.h"

namespace orrery::machine::pc {

namespace {

constexpr uint64_t kLowmemLimit = 0xe0000000;  // the traditional 3.5 GiB split point
constexpr uint64_t kGigabyteSplit = 0xc0000000;

constexpr std::string_view kKernelDecompressValues[] = {"host", "guest"};
constexpr MachineProperty kPcProperties[] = {
    {"kernel-decompress", kKernelDecompressValues,
     "who decompresses a bzImage's kernel: host (default; no KASLR) or guest (its own "
     "decompressor)"},
};

}  // namespace

RamSplit pc_ram_split(uint64_t ram_size) {
  if (ram_size < kLowmemLimit) return {ram_size, 0};
  return {kGigabyteSplit, ram_size - kGigabyteSplit};
}

PcMachine::PcMachine(const MachineConfig& config, MachineContext& ctx)
    : config_(config), ctx_(ctx), com1_(ctx.log, "serial0") {
  accel_ = dynamic_cast<cpu::x86::X86Accelerator*>(ctx.accel);
  if (!accel_) {
    own_accel_ = std::make_unique<cpu::x86::TcgX86Accelerator>(ctx.engine);
    accel_ = own_accel_.get();
  }
  run_loop_ = std::make_unique<RunLoop>("pc", ctx_, *accel_, mem_);
  com1_.set_sink(&com1_out_);
}

PcMachine::~PcMachine() {
  // The local APICs' timers and device interrupts outlive the vCPUs (destroyed first).
  if (intc_) intc_->detach_cpus();
}

std::unique_ptr<Machine> PcMachine::create(const MachineConfig& config, MachineContext& ctx,
                                           std::string& error) {
  if (config.ram_size < kPcMinRam || config.ram_size > kPcMaxRam) {
    error = "RAM size " + std::to_string(config.ram_size >> 10) +
            " KiB is outside the pc machine's 2 MiB.." + std::to_string(kPcMaxRam >> 30) + " GiB";
    return nullptr;
  }
  if (config.cpus == 0 || config.cpus > kPcMaxCpus) {
    error = "the pc machine supports 1.." + std::to_string(kPcMaxCpus) + " CPUs, not " +
            std::to_string(config.cpus);
    return nullptr;
  }
  auto m = std::make_unique<PcMachine>(config, ctx);
  error = m->build();
  if (!error.empty()) return nullptr;
  return m;
}

std::string PcMachine::parse_properties() {
  for (const auto& [name, value] : config_.properties) {
    if (name != "kernel-decompress") return "unknown machine property '" + name + "'";
    if (value == "host")
      kernel_decompress_ = loader::KernelDecompress::Host;
    else if (value == "guest")
      kernel_decompress_ = loader::KernelDecompress::Guest;
    else
      return "kernel-decompress=" + value + ": expected host or guest";
  }
  return {};
}

std::string PcMachine::build() {
  model_ = cpu::x86::find_cpu_model(config_.cpu_model);
  if (!model_) return "unknown CPU model '" + config_.cpu_model + "'";
  if (std::string err = parse_properties(); !err.empty()) return err;
  split_ = pc_ram_split(config_.ram_size);
  std::string err;
  if (config_.ram_backing) {
    // One backing, split into the two regions as RAM is.
    err = config_.ram_backing->size() != config_.ram_size
              ? "-machine memory-backend: its size differs from -m"
              : add_ram_below_4g();
    if (err.empty() && split_.above_4g)
      err = mem_.add_ram("pc.ram-above-4g", k4G, config_.ram_backing, split_.below_4g,
                         split_.above_4g);
  } else {
    err = add_ram_below_4g();
    if (err.empty() && split_.above_4g) err = mem_.add_ram("pc.ram-above-4g", k4G, split_.above_4g);
  }
  if (err.empty()) err = io_.add_mmio("serial0", kCom1Base, hw::Serial16550::kIoSize, com1_);
  resettables_ = {&com1_};
  if (err.empty()) err = build_interrupts();
  // The fixed devices first, so a -device that overlaps one is the one blamed.
  if (err.empty()) err = build_platform_devices();
  if (err.empty()) err = build_pci();
  if (err.empty()) err = build_devices();
  if (err.empty()) err = build_fw_cfg();
  if (!err.empty()) return err;
  connect_irqs();
  for (hw::Resettable* r : intc_->resettables()) resettables_.push_back(r);
  resettables_.insert(resettables_.end(),
                      {fw_cfg_.get(), &pci_->config_ports, &pci_->reset_control, &pci_->bus});
  for (unsigned i = 0; i < config_.cpus; ++i) {
    std::string verr;
    auto v = accel_->create_vcpu({*model_, i, mem_, io_, *this}, verr);
    if (!v) return "vCPU " + std::to_string(i) + ": " + verr;
    cpus_.push_back(std::move(v));
    if (!accel_->irqchip_in_kernel()) intc_->attach_cpu(*cpus_.back(), ctx_.clock);
  }
  return {};
}

std::string PcMachine::build_devices() {
  DeviceParser parser(config_);
  for (const DeviceSpec& spec : config_.devices) {
    const std::string what = "-device " + spec.driver;
    if (spec.driver == "pc-testdev") {
      std::string err = add_pc_testdev(spec);
      if (!err.empty()) return err;
      continue;
    }
    if (spec.driver != "isa-debug-exit") {
      std::string err = build_pci_device(parser, spec);
      if (!err.empty()) return err;
      continue;
    }
    hw::IsaDebugExitConfig c;
    std::string err = hw::parse_isa_debug_exit(spec.props, c);
    if (!err.empty()) return what + ": " + err;
    auto dev = std::make_unique<hw::IsaDebugExit>([this](int status) { debug_exit(status); });
    err = io_.add_mmio("isa-debug-exit", c.iobase, c.iosize, *dev);
    if (!err.empty()) {
      char ports[40];
      std::snprintf(ports, sizeof ports, "ports 0x%x..0x%x", c.iobase, c.iobase + c.iosize - 1);
      return what + ": " + ports + err.substr(err.find(':'));
    }
    debug_exits_.push_back(std::move(dev));
  }
  return {};
}

hw::CharReceiver& PcMachine::serial_port(unsigned i, hw::CharSink* sink) {
  (void)i;  // COM1 only
  com1_out_.out = sink;
  return com1_;
}

std::string PcMachine::load_boot(const BootImages& images) {
  if (!images.dtb.empty()) return "-dtb: the pc machine takes no device tree";
  if (images.kernel.empty()) {
    // No -kernel: the firmware boots (SeaBIOS unless -bios).
    if (!images.initrd_path.empty()) return "-initrd: needs -kernel";
    if (!images.cmdline.empty()) return "-append: needs -kernel";
    std::string err = load_firmware();
    booted_ = err.empty();
    return err;
  }
  reload_kernel_ = images.reload_kernel;
  kernel_.clear();
  if (!reload_kernel_) kernel_.assign(images.kernel.begin(), images.kernel.end());
  kernel_path_ = images.kernel_path;
  cmdline_ = images.cmdline;
  modules_.clear();
  linux_ = loader::is_bzimage(images.kernel);
  if (linux_) {
    std::string err = load_linux(images);
    if (err.empty()) err = boot(images.kernel);
    booted_ = err.empty();
    return err;
  }
  module_cmdlines_ = loader::split_multiboot_modules(images.initrd_path);
  if (!images.initrd_path.empty() && module_cmdlines_.empty())
    return "-initrd " + images.initrd_path + ": no module file given";
  for (const std::string& m : module_cmdlines_) {
    const std::string file = loader::multiboot_module_file(m);
    std::vector<uint8_t> data;
    std::string err = loader::read_file(file, config_.ram_size, data);
    if (!err.empty()) return "-initrd " + file + ": " + err;
    modules_.push_back(std::move(data));
  }
  std::string err = boot(images.kernel);
  booted_ = err.empty();
  return err;
}

loader::PcMemory PcMachine::pc_memory() const {
  loader::PcMemory pm;
  pm.below_4g = split_.below_4g;
  pm.above_4g = split_.above_4g;
  // QEMU lists the AMD HyperTransport hole for AMD models with 40 or more address bits.
  pm.amd_ht_hole = std::strcmp(model_->vendor, "AuthenticAMD") == 0 && model_->phys_bits >= 40;
  return pm;
}

std::string PcMachine::boot(std::span<const uint8_t> kernel) {
  open_shadow_ram();
  if (linux_) return boot_linux(kernel);
  std::vector<loader::MultibootModule> mods;
  for (size_t i = 0; i < modules_.size(); ++i) mods.push_back({module_cmdlines_[i], modules_[i]});
  std::string err =
      loader::load_multiboot(kernel, kernel_path_, cmdline_, mods, pc_memory(), mem_, boot_);
  if (!err.empty()) return err;
  cpus_[0]->reset_multiboot(boot_.entry, boot_.eax, boot_.ebx);
  init_pic_as_firmware();
  // The application processors wait for a STARTUP IPI (after INIT), each asleep on its thread.
  for (size_t i = 1; i < cpus_.size(); ++i) cpus_[i]->init_wait_for_sipi();
  return {};
}

std::string PcMachine::reboot() {
  if (firmware_boot_) {
    reset_firmware();
    return {};
  }
  if (!reload_kernel_) return boot(kernel_);
  std::vector<uint8_t> kernel;
  std::string err = reload_kernel_(kernel);
  if (!err.empty()) return "-kernel: " + err;
  return boot(kernel);
}

int PcMachine::acknowledge_interrupt() {
  // Every vCPU acknowledges through its local APIC (pc_intc.cpp); this is never reached.
  if (!warned_intr_) {
    warned_intr_ = true;
    ctx_.log.log(hw::kLogUnimp, "pc: INTR acknowledged without an interrupt controller\n");
  }
  return -1;
}

void PcMachine::debug_exit(int status) {
  com1_out_.closed.store(true);
  run_loop_->guest_exit(status);
}

void PcMachine::request_stop(int exit_status) {
  run_loop_->request_stop(exit_status);
}

int PcMachine::run() {
  if (!booted_) return run_loop_->fail("no kernel loaded");
  std::vector<cpu::Vcpu*> vcpus;
  for (auto& c : cpus_) vcpus.push_back(c.get());
  return run_loop_->run(vcpus, config_.no_reboot, [this] {
    for (hw::Resettable* d : resettables_) d->reset();
    return reboot();
  });
}

const MachineType& pc_machine_type() {
  static const std::vector<CpuModelInfo> kModels = [] {
    std::vector<CpuModelInfo> v;
    for (const cpu::x86::CpuModel& m : cpu::x86::cpu_models()) v.push_back({m.name, m.description});
    return v;
  }();
  static const MachineType kType{
      .name = "pc",
      .description =
          "Standard PC (i440FX memory map, COM1, PIT, RTC, HPET, ACPI PM, i8042, fw_cfg; "
          "SeaBIOS, bzImage or multiboot)",
      .cpus = kModels,
      .default_cpu = cpu::x86::default_cpu_model().name,
      .default_ram = kPcDefaultRam,
      .max_ram = kPcMaxRam,
      .serial_ports = 1,
      .create = &PcMachine::create,
      .max_cpus = kPcMaxCpus,
      .properties = kPcProperties,
      .initrd_modules = true,
      .firmware = true,
      .default_nic = "e1000",
      .ide = true,
      .kvm = true,
  };
  return kType;
}

}  // namespace orrery::machine::pc
