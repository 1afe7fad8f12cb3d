#include "machine/virt/virt.h"

#include "hw/core/log.h"
#include "tcg/exec/engine.h"

namespace orrery::machine::virt {

VirtMachine::VirtMachine(const MachineConfig& config, MachineContext& ctx)
    : config_(config), ctx_(ctx), uart_(ctx.log) {}

std::unique_ptr<Machine> VirtMachine::create(const MachineConfig& config, MachineContext& ctx,
                                             std::string& error) {
  if (config.ram_size == 0 || config.ram_size > kVirtMaxRam) {
    error = "RAM size " + std::to_string(config.ram_size) + " is outside 1 byte.." +
            std::to_string(kVirtMaxRam / GiB) + " GiB";
    return nullptr;
  }
  auto m = std::make_unique<VirtMachine>(config, ctx);
  error = m->build();
  if (!error.empty()) return nullptr;
  return m;
}

std::string VirtMachine::build() {
  // Regions without a device model yet (flash, GIC, RTC, fw_cfg, PCIe, ...) stay unmapped:
  // guest accesses there are external aborts, as for any hole in the map.
  const MemMapEntry& ram = virt_region(VirtRegion::Ram);
  std::string err = as_.add_ram(std::string(ram.name), ram.base, config_.ram_size);
  if (!err.empty()) return err;
  const MemMapEntry& uart = virt_region(VirtRegion::Uart);
  static_assert(virt_region(VirtRegion::Uart).size == hw::Pl011::kMmioSize);
  err = as_.add_mmio(std::string(uart.name), uart.base, uart.size, uart_);
  if (!err.empty()) return err;
  // The UART's interrupt (SPI virt_spi(VirtRegion::Uart)) is connected once the GIC exists.

  cpu_ = create_virt_cpu(config_.cpu_model, as_, ctx_, err);
  if (!cpu_) return err.empty() ? "cannot create CPU '" + config_.cpu_model + "'" : err;
  return {};
}

hw::CharReceiver& VirtMachine::serial_port(unsigned i, hw::CharSink* sink) {
  (void)i;  // one UART
  uart_.set_sink(sink);
  return uart_;
}

std::string VirtMachine::load_kernel(std::span<const uint8_t> image) {
  kernel_.assign(image.begin(), image.end());
  return boot();
}

std::string VirtMachine::boot() {
  std::string err = loader::load_arm64_kernel(kernel_, ram(), as_, boot_info_);
  if (!err.empty()) return err;
  // x0 = DTB address for a Linux Image; 0 until the board generates a device tree.
  cpu_->reset(boot_info_.entry, {0, 0, 0, 0});
  return {};
}

void VirtMachine::reset_devices() {
  uart_.reset();
}

void VirtMachine::request_stop(int exit_status) {
  {
    std::lock_guard<std::mutex> g(stop_mu_);
    if (stop_requested_) return;
    stop_requested_ = true;
    stop_status_ = exit_status;
  }
  if (cpu_) cpu_->request_stop();
}

int VirtMachine::run() {
  if (kernel_.empty()) {
    error_ = "no kernel loaded";
    return 1;
  }
  for (;;) {
    CpuRunResult r = cpu_->run();
    {
      std::lock_guard<std::mutex> g(stop_mu_);
      if (stop_requested_) return stop_status_;
    }
    switch (r.stop) {
      case CpuStop::PowerOff:
        return 0;
      case CpuStop::Requested:
        return 0;
      case CpuStop::Error:
        error_ = r.message.empty() ? "the CPU stopped" : r.message;
        return 1;
      case CpuStop::Reset: {
        if (config_.no_reboot) return 0;
        ctx_.log.log(hw::kLogInt, "virt: system reset\n");
        // Like a power cycle without clearing RAM: devices to reset state, code caches dropped
        // (the reloaded kernel is written behind the softmmu's back), kernel placed again.
        reset_devices();
        ctx_.engine.flush();
        std::string err = boot();
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
  };
  return kType;
}

}  // namespace orrery::machine::virt
