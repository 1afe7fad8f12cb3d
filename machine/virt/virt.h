// The AArch64 "virt" board: RAM and devices placed from kVirtMemMap, one boot CPU, PSCI over
// HVC, a PL011 console. Address and interrupt numbers follow QEMU's virt machine.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hw/char/pl011.h"
#include "hw/core/address_space.h"
#include "machine/loader/kernel.h"
#include "machine/machine.h"
#include "machine/virt/virt_cpu.h"
#include "machine/virt/virt_map.h"

namespace orrery::machine::virt {

class VirtMachine final : public Machine {
 public:
  /// Builds the address space and devices; the CPU comes from create_virt_cpu. Use create().
  VirtMachine(const MachineConfig& config, MachineContext& ctx);
  static std::unique_ptr<Machine> create(const MachineConfig& config, MachineContext& ctx,
                                         std::string& error);

  std::string load_kernel(std::span<const uint8_t> image) override;
  unsigned serial_port_count() const override { return 1; }
  hw::CharReceiver& serial_port(unsigned i, hw::CharSink* sink) override;
  int run() override;
  void request_stop(int exit_status) override;
  const std::string& error() const override { return error_; }

  hw::AddressSpace& address_space() { return as_; }
  hw::Pl011& uart() { return uart_; }
  loader::RamWindow ram() const { return {kVirtRamBase, config_.ram_size}; }

 private:
  std::string build();
  /// Puts the kernel (again) into RAM and resets the CPU to its entry point.
  std::string boot();
  void reset_devices();

  MachineConfig config_;
  MachineContext& ctx_;
  hw::AddressSpace as_;
  hw::Pl011 uart_;
  std::unique_ptr<VirtCpu> cpu_;
  std::vector<uint8_t> kernel_;  // kept so SYSTEM_RESET can reload it
  loader::BootInfo boot_info_;
  std::string error_;
  std::mutex stop_mu_;
  bool stop_requested_ = false;
  int stop_status_ = 0;
};

/// The board's row in the -M table.
const MachineType& virt_machine_type();

}  // namespace orrery::machine::virt
