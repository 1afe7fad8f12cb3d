#include "machine/pc/pc.h"

#include <cstdio>
#include <cstring>
#include <thread>

#include "cpu/x86/tcg_accel.h"
#include "hw/core/log.h"
#include "machine/loader/kernel.h"
#include "machine/pci_devices.h"

namespace orrery::machine::pc {

namespace {

constexpr uint64_t kLowmemLimit = 0xe0000000;  // the traditional 3.5 GiB split point
constexpr uint64_t kGigabyteSplit = 0xc0000000;

/// The CPU's messages carry the terminal prefix; the caller adds its own.
std::string strip_prefix(std::string msg) {
  constexpr std::string_view kPrefix = "orrery: ";
  if (msg.compare(0, kPrefix.size(), kPrefix) == 0) msg.erase(0, kPrefix.size());
  return msg;
}

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
  mem_.set_write_observer(accel_->write_observer());
  // Region changes flush every vCPU's TLB (TCG).
  if (hw::MemoryListener* l = accel_->memory_listener()) mem_.add_listener(l);
  com1_.set_sink(&com1_out_);
  // Guest time stands still while a debugger holds the machine (as on virt): the TSC, the
  // APIC timers and every device timer run on the virtual clock.
  ctx_.engine.debug().set_stop_listener([&clock = ctx_.clock](bool stopped) {
    if (stopped)
      clock.pause();
    else
      clock.resume();
  });
}

PcMachine::~PcMachine() {
  // The accelerator outlives the board: it stops following the RAM before the regions go.
  if (ram_mapped_)
    if (hw::RamListener* l = accel_->ram_listener()) mem_.remove_ram_listener(l);
  accel_->set_code_full_hook(nullptr);
  ctx_.engine.debug().set_stop_listener({});
  ctx_.clock.resume();
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

std::string PcMachine::build() {
  model_ = cpu::x86::find_cpu_model(config_.cpu_model);
  if (!model_) return "unknown CPU model '" + config_.cpu_model + "'";
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
  post(Event::DebugExit, {}, status);
}

void PcMachine::post(Event e, std::string message, int status) {
  std::lock_guard<std::mutex> g(mu_);
  // The first event wins, except that a code flush gives way to any other.
  if (event_ == Event::None || (event_ == Event::FlushCode && e != Event::FlushCode)) {
    event_ = e;
    event_message_ = std::move(message);
    event_status_ = status;
  }
  cv_.notify_all();
}

void PcMachine::cpu_thread(unsigned index) {
  cpu::x86::X86Vcpu& c = *cpus_[index];
  for (;;) {
    const cpu::ExitKind k = c.run();
    switch (k) {
      case cpu::ExitKind::Kicked:
        if (stopping_.load()) return;
        continue;
      case cpu::ExitKind::Halted:
      case cpu::ExitKind::Step:
        continue;
      case cpu::ExitKind::Shutdown:
        post(Event::PowerOff);
        return;
      case cpu::ExitKind::Reset:
        post(Event::Reset);
        return;
      case cpu::ExitKind::Breakpoint:
      case cpu::ExitKind::Watchpoint:
      case cpu::ExitKind::Error: {
        std::string msg = strip_prefix(c.exit_message());
        if (msg.empty()) msg = "vCPU stopped: " + std::string(cpu::exit_kind_name(k));
        post(Event::Error, msg);
        return;
      }
    }
  }
}

void PcMachine::request_stop(int exit_status) {
  std::lock_guard<std::mutex> g(mu_);
  if (stop_requested_) return;
  stop_requested_ = true;
  stop_status_ = exit_status;
  if (event_ == Event::None) event_ = Event::Stop;
  cv_.notify_all();
}

int PcMachine::run() {
  if (!booted_) {
    error_ = "no kernel loaded";
    return 1;
  }
  if (!ram_mapped_) {
    // Every RAM and ROM region exists once the boot images are placed; the accelerator
    // follows later changes (PAM, BARs) itself.
    if (hw::RamListener* l = accel_->ram_listener()) {
      mem_.add_ram_listener(l);
      error_ = accel_->ram_error();
      if (!error_.empty()) return 1;
    }
    ram_mapped_ = true;
  }
  accel_->set_code_full_hook([this] { post(Event::FlushCode); });
  for (;;) {
    {
      std::lock_guard<std::mutex> g(mu_);
      if (stop_requested_) return stop_status_;
      event_ = Event::None;
    }
    stopping_.store(false);
    // One host thread per vCPU; this thread waits for the first event that ends the run.
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < cpus_.size(); ++i)
      threads.emplace_back(&PcMachine::cpu_thread, this, i);
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return event_ != Event::None; });
    }
    stopping_.store(true);
    for (auto& c : cpus_) c->kick();
    for (auto& t : threads) t.join();
    Event e;
    std::string message;
    int status;
    {
      std::lock_guard<std::mutex> g(mu_);
      if (stop_requested_) return stop_status_;
      e = event_;  // final now that the vCPU has stopped
      message = event_message_;
      status = event_status_;
    }
    switch (e) {
      case Event::None:
      case Event::PowerOff:
        return 0;
      case Event::Stop:
        return stop_status_;
      case Event::DebugExit:
        return status;
      case Event::Error:
        error_ = message;
        return 1;
      case Event::FlushCode:
        ctx_.log.log(hw::kLogTier, "pc: code cache full, flushing translations\n");
        accel_->flush_code();
        break;
      case Event::Reset: {
        if (config_.no_reboot) return 0;
        ctx_.log.log(hw::kLogInt, "pc: system reset\n");
        for (hw::Resettable* d : resettables_) d->reset();
        accel_->flush_code();
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
      .properties = {},
      .initrd_modules = true,
      .firmware = true,
      .default_nic = "e1000",
      .ide = true,
      .kvm = true,
  };
  return kType;
}

}  // namespace orrery::machine::pc
