// The AArch64 "virt" board: RAM and devices placed from kVirtMemMap, a GICv2 or GICv3, a PL011
// console and a PL031 RTC, 1..8 vCPUs each on its own host thread (secondaries start off and are
// started with PSCI CPU_ON), and a generated device tree. Addresses, interrupt numbers and the
// -M properties follow QEMU's virt machine.
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cpu/arm64/vcpu.h"
#include "hw/char/pl011.h"
#include "hw/core/address_space.h"
#include "hw/core/guest_memory.h"
#include "hw/intc/gicv2.h"
#include "hw/intc/gicv2m.h"
#include "hw/intc/gicv3.h"
#include "hw/intc/gicv3_its.h"
#include "hw/pci/pci_bus.h"
#include "hw/pci/pci_host.h"
#include "hw/rtc/pl031.h"
#include "hw/virtio/virtio_device.h"
#include "hw/virtio/virtio_mmio.h"
#include "hw/virtio/virtio_net.h"
#include "machine/loader/kernel.h"
#include "machine/machine.h"
#include "machine/run_loop.h"
#include "machine/virt/psci.h"
#include "machine/virt/virt_map.h"

namespace orrery::machine::virt {

class VirtMachine final : public Machine, public PsciCpus, public cpu::arm64::Arm64Hypercalls {
 public:
  /// Builds nothing yet; use create().
  VirtMachine(const MachineConfig& config, MachineContext& ctx);
  ~VirtMachine() override;
  static std::unique_ptr<Machine> create(const MachineConfig& config, MachineContext& ctx,
                                         std::string& error);

  std::string load_boot(const BootImages& images) override;
  unsigned serial_port_count() const override { return 1; }
  hw::CharReceiver& serial_port(unsigned i, hw::CharSink* sink) override;
  int run() override;
  void request_stop(int exit_status) override;
  const std::string& error() const override { return run_loop_->error(); }

  // PsciCpus (called on vCPU threads).
  int32_t cpu_on(uint64_t target, uint64_t entry, uint64_t context_id) override;
  int32_t affinity_info(uint64_t target) override;
  // Arm64Hypercalls: PSCI over HVC #0 (vCPU threads).
  Action hvc(cpu::arm64::Arm64Vcpu& cpu, uint16_t imm, std::array<uint64_t, 4>& x) override;

  hw::AddressSpace& address_space() { return as_; }
  cpu::arm64::Arm64Vcpu& cpu(unsigned i) { return *cpus_.at(i); }
  hw::Pl011& uart() { return uart_; }
  hw::rtc::Pl031& rtc() { return rtc_; }
  hw::intc::GicCore& gic() { return gicv3_ ? gicv3_->core() : gicv2_->core(); }
  hw::intc::Gicv3* gicv3() { return gicv3_.get(); }
  hw::intc::Gicv3Its* its() { return its_.get(); }
  unsigned gic_version() const { return gic_version_; }
  /// The device tree given to the guest at the last boot.
  const std::vector<uint8_t>& dtb() const { return dtb_; }
  uint64_t dtb_address() const { return dtb_addr_; }
  loader::RamWindow ram() const { return {kVirtRamBase, config_.ram_size}; }

 private:
  std::string parse_properties();
  std::string build();
  /// Creates the -device devices on the virtio-mmio transports and the PCI bus.
  std::string build_devices();
  /// Puts the kernel, initrd and device tree (again) into RAM and resets the boot CPU.
  std::string boot(std::span<const uint8_t> kernel);
  /// The kernel for a reset: read again from its file, or the copy kept without a reader.
  std::string reboot();
  void reset_devices();

  MachineConfig config_;
  MachineContext& ctx_;
  /// ctx_.accel, or TCG on ctx_.engine when the caller gave none.
  std::unique_ptr<cpu::arm64::Arm64Accelerator> own_accel_;
  cpu::arm64::Arm64Accelerator* accel_ = nullptr;
  unsigned gic_version_ = 2;
  bool mte_ = false;  // -M virt,mte=on
  // -M virt,dtb-randomness: fresh rng-seed and kaslr-seed in /chosen at every boot (QEMU's
  // default); off gives the same tree every time.
  bool dtb_randomness_ = true;
  std::unique_ptr<cpu::arm64::TagStorage> tags_;
  std::string dumpdtb_;
  hw::AddressSpace as_;
  std::unique_ptr<RunLoop> run_loop_;  // binds accel_ to as_ (destroyed before it)
  // The GIC outlives the devices that raise its lines: PL031's alarm timer may fire until the
  // RTC is destroyed, so the RTC is declared after the GIC and therefore destroyed before it.
  std::unique_ptr<hw::intc::Gicv2> gicv2_;
  std::unique_ptr<hw::intc::Gicv3> gicv3_;
  hw::Pl011 uart_;
  hw::rtc::Pl031 rtc_;
  hw::GuestMemory dma_{as_};
  // PCIe: the bus, its ECAM, the host bridge function and (GICv2) the MSI frame.
  // Bus addresses PcieMmio.base..PcieMmio64's end; the guest reaches the two windows, as
  // aliases, and nothing between them.
  hw::pci::PciBus pci_bus_;
  std::unique_ptr<hw::MemoryRegion> pci_mmio_, pci_mmio_high_;
  hw::pci::MemoryMsiSink msi_sink_{as_};  // MSIs are writes into the GICv2m frame
  hw::pci::PciEcam pci_ecam_;
  hw::pci::PciHostBridgeFunction pci_host_fn_;
  std::unique_ptr<hw::intc::Gicv2m> gicv2m_;
  std::unique_ptr<hw::intc::Gicv3Its> its_;  // GICv3: MSI through the ITS (uses dma_)
  // Transports before the devices behind them: a device (its I/O completions) goes first.
  std::vector<std::unique_ptr<hw::virtio::VirtioMmio>> virtio_mmio_;
  std::vector<std::unique_ptr<hw::pci::PciDevice>> pci_devices_;
  std::vector<std::unique_ptr<hw::virtio::VirtioDevice>> virtio_devices_;
  std::vector<hw::Resettable*> resettables_;  // every device, as build() made them
  std::vector<std::unique_ptr<cpu::arm64::Arm64Vcpu>> cpus_;

  // Kept so SYSTEM_RESET can reload them; kernel_ only when there is no reload_kernel_ (the
  // kernel can be as large as RAM: no second copy of it stays around for a reset).
  std::vector<uint8_t> kernel_, initrd_, user_dtb_;
  std::function<std::string(std::vector<uint8_t>&)> reload_kernel_;
  bool booted_ = false;  // run() must not start a half-placed guest
  std::string cmdline_;
  loader::BootInfo boot_info_;
  std::vector<uint8_t> dtb_;
  uint64_t dtb_addr_ = 0;
  /// Orders PSCI power changes (CPU_ON, CPU_OFF) against each other: the last vCPU to turn
  /// off powers the machine off. The states themselves are the vCPUs'.
  std::mutex psci_mu_;
};

/// The board's row in the -M table.
const MachineType& virt_machine_type();

}  // namespace orrery::machine::virt
