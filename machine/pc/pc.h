// The x86 "pc" board, QEMU's i440FX pc machine: RAM below 4 GiB and the rest above 4 GiB split
// as QEMU splits it, the 64 KiB I/O-port space, a 16550A at COM1, the PIT, RTC/CMOS, HPET, ACPI
// PM block and i8042 (pc_devices.h), the PIC pair, IOAPIC and a local APIC per vCPU
// (pc_intc.h), the i440FX/PIIX3 PCI with the PIIX IDE (pc_pci.h), fw_cfg and ACPI tables
// (pc_firmware.cpp, pc_acpi.h), QEMU's isa-debug-exit and pc-testdev (-device), 1..N vCPUs of
// an x86 model. It boots SeaBIOS (no -kernel), a bzImage (direct Linux boot, pc_linux.cpp) or a
// multiboot kernel.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "cpu/x86/cpu.h"
#include "cpu/x86/vcpu.h"
#include "hw/char/serial16550.h"
#include "hw/core/address_space.h"
#include "hw/misc/fw_cfg.h"
#include "hw/misc/isa_debug_exit.h"
#include "machine/loader/bzimage.h"
#include "machine/loader/multiboot.h"
#include "machine/machine.h"
#include "machine/pc/pc_devices.h"
#include "machine/pc/pc_intc.h"
#include "machine/pc/pc_map.h"
#include "machine/pc/pc_pam.h"
#include "machine/pc/pc_pci.h"
#include "machine/run_loop.h"

namespace orrery::machine {
class DeviceParser;
}

namespace orrery::machine::pc {

inline constexpr uint64_t kMiB = uint64_t(1) << 20;
inline constexpr uint64_t k4G = uint64_t(1) << 32;
inline constexpr uint64_t kPcDefaultRam = 128 * kMiB;
/// Room for the multiboot information (0x9000) and a kernel at 1 MiB.
inline constexpr uint64_t kPcMinRam = 2 * kMiB;
/// RAM above 4 GiB must end below the AMD HyperTransport range at 0xfd00000000 (QEMU would
/// move it above 1 TiB; not modelled).
inline constexpr uint64_t kPcMaxRam = 0xfd00000000 - k4G + 0xc0000000;
inline constexpr unsigned kPcMaxCpus = 32;
/// The firmware without -kernel or -bios: Debian's seabios package.
inline constexpr char kDefaultBios[] = "/usr/share/seabios/bios-256k.bin";

/// QEMU's i440FX split: all RAM below 4 GiB when it is smaller than 3.5 GiB; otherwise 3 GiB
/// below (the gigabyte-aligned split of current machine types) and the rest from 4 GiB.
struct RamSplit {
  uint64_t below_4g = 0, above_4g = 0;
};
RamSplit pc_ram_split(uint64_t ram_size);

class PcMachine final : public Machine, public cpu::x86::X86Platform {
 public:
  PcMachine(const MachineConfig& config, MachineContext& ctx);
  ~PcMachine() override;
  static std::unique_ptr<Machine> create(const MachineConfig& config, MachineContext& ctx,
                                         std::string& error);

  std::string load_boot(const BootImages& images) override;
  unsigned serial_port_count() const override { return 1; }
  hw::CharReceiver& serial_port(unsigned i, hw::CharSink* sink) override;
  int run() override;
  void request_stop(int exit_status) override;
  const std::string& error() const override { return run_loop_->error(); }

  hw::AddressSpace& memory() { return mem_; }
  hw::AddressSpace& io_ports() { return io_; }
  hw::Serial16550& com1() { return com1_; }
  PcPci& pci() { return *pci_; }
  /// vCPU i (TCG only: tests look at its state).
  cpu::x86::X86Cpu& cpu(unsigned i) { return dynamic_cast<cpu::x86::X86Cpu&>(*cpus_.at(i)); }
  cpu::x86::X86Vcpu& vcpu(unsigned i) { return *cpus_.at(i); }
  /// The interrupt router: ISA IRQs 0-15 and PCI GSIs 16-23 (pc_intc.cpp).
  hw::IrqSink& gsi() { return gsi_sink(); }
  PcInterrupts& interrupts() { return *intc_; }
  const loader::MultibootBoot& boot_info() const { return boot_; }
  PcPlatformDevices& platform() { return platform_; }
  /// Where a bzImage was placed (direct Linux boot, pc_linux.cpp); meaningful after load_boot
  /// of a bzImage.
  const loader::LinuxBoot& linux_boot() const { return linux_boot_; }
  bool boots_linux() const { return linux_; }
  hw::FwCfg& fw_cfg() { return *fw_cfg_; }
  /// The PCI memory windows for this RAM size and CPU model (after build).
  PcPciWindows pci_windows() const {
    return pc_pci_windows(split_.below_4g, split_.above_4g, model_->phys_bits);
  }

  // X86Platform (vCPU thread).
  int acknowledge_interrupt() override;

 private:
  /// COM1's output, closed when the guest exits through isa-debug-exit so that nothing the
  /// vCPU runs before it stops is printed (QEMU exits at the write).
  class GatedSink final : public hw::CharSink {
   public:
    void write(std::span<const uint8_t> data) override {
      if (out && !closed.load()) out->write(data);
    }
    hw::CharSink* out = nullptr;
    std::atomic<bool> closed{false};
  };

  std::string build();
  /// -M pc,kernel-decompress=host|guest.
  std::string parse_properties();
  std::string build_devices();
  std::string build_interrupts();  // pc_intc.cpp
  /// Connects every device's interrupt output (after they exist, before the guest runs).
  void connect_irqs();  // pc_intc.cpp
  /// Without firmware (multiboot, direct Linux boot): the PIC pair as SeaBIOS leaves it for a
  /// kernel QEMU boots that way (vectors 0x08 and 0x70, every line masked but the cascade), so
  /// the PIT's ticks from reset reach no unprepared IDT.
  void init_pic_as_firmware();  // pc_intc.cpp
  /// Where GSIs and MSIs go: Orrery's controllers, or the accelerator's kernel irqchip.
  hw::IrqSink& gsi_sink();               // pc_intc.cpp
  hw::MsiSink& msi_sink();               // pc_intc.cpp
  std::string build_platform_devices();  // pc_devices.cpp
  std::string add_pc_testdev(const DeviceSpec& spec);
  /// The i440FX/PIIX3 PCI (pc_pci.cpp).
  std::string build_pci();
  /// The PIIX3 IDE's legacy ports and the -hda..-hdd/-cdrom/if=ide drives.
  std::string build_ide();
  std::string build_pci_device(DeviceParser& parser, const DeviceSpec& spec);
  /// A -device with bootindex=: its firmware path goes into fw_cfg's "bootorder"
  /// (pc_firmware.cpp).
  void add_boot_device(int bootindex, unsigned devfn);
  std::string boot(std::span<const uint8_t> kernel);
  loader::PcMemory pc_memory() const;
  // Direct Linux boot of a bzImage (pc_linux.cpp).
  std::string load_linux(const BootImages& images);
  std::string boot_linux(std::span<const uint8_t> kernel);
  /// The ACPI tables, linked at fixed places in the BIOS area (direct Linux boot); sets
  /// acpi_rsdp_addr_.
  std::string place_acpi_tables();
  std::string reboot();
  // pc_firmware.cpp
  std::string add_ram_below_4g();
  /// The PAM registers as firmware leaves them for a kernel booted without it (all RAM).
  void open_shadow_ram();
  std::string build_fw_cfg();
  std::vector<uint8_t> boot_order_file() const;
  std::string load_firmware();
  void reset_firmware();
  void debug_exit(int status);

  MachineConfig config_;
  MachineContext& ctx_;
  /// ctx_.accel, or TCG on ctx_.engine when the caller gave none.
  std::unique_ptr<cpu::x86::X86Accelerator> own_accel_;
  cpu::x86::X86Accelerator* accel_ = nullptr;
  const cpu::x86::CpuModel* model_ = nullptr;
  RamSplit split_;
  hw::AddressSpace mem_;
  hw::AddressSpace io_{"io", hw::kIoPortSpaceSize};
  std::unique_ptr<RunLoop> run_loop_;    // binds accel_ to mem_ (destroyed before it)
  std::unique_ptr<PcShadowRam> shadow_;  // 0xc0000-0xfffff (maps into mem_)
  GatedSink com1_out_;
  hw::Serial16550 com1_;
  std::vector<std::unique_ptr<hw::IsaDebugExit>> debug_exits_;
  std::unique_ptr<PcInterrupts> intc_;
  // ISA IRQs 0-15 as wired-ORs of the devices driving them, in front of the GSI router
  // (declared before the devices, so destroyed after them).
  std::array<hw::SharedIrq, kIsaIrqCount> isa_irqs_;
  PcPlatformDevices platform_;
  std::unique_ptr<PcPci> pci_;
  std::vector<hw::Resettable*> resettables_;
  std::vector<std::unique_ptr<cpu::x86::X86Vcpu>> cpus_;
  std::unique_ptr<hw::FwCfg> fw_cfg_;
  bool firmware_boot_ = false;
  std::vector<std::pair<int, std::string>> boot_devices_;  // bootindex, OpenFirmware path

  // Kept for a reset (the kernel only without a reload function, as on virt).
  std::vector<uint8_t> kernel_;
  std::function<std::string(std::vector<uint8_t>&)> reload_kernel_;
  std::string kernel_path_, cmdline_;
  std::vector<std::string> module_cmdlines_;
  std::vector<std::vector<uint8_t>> modules_;
  loader::MultibootBoot boot_;
  bool linux_ = false;           // the kernel is a bzImage
  std::vector<uint8_t> initrd_;  // its -initrd, kept for a reset
  loader::LinuxBoot linux_boot_;
  loader::KernelDecompress kernel_decompress_ = loader::KernelDecompress::Host;
  bool logged_fallback_ = false;  // why the guest decompresses, logged on the first boot only
  /// The ACPI RSDP's physical address for the zero page; 0 while the board builds no tables.
  uint64_t acpi_rsdp_addr_ = 0;
  bool booted_ = false;
  bool warned_intr_ = false;  // vCPU thread
};

/// The MTRRs SeaBIOS programs on a PC with below_4g bytes of RAM under 4 GiB (fixed ranges for
/// the first MiB, the PCI window uncached, write-back elsewhere); direct Linux boot sets them on
/// the boot CPU in the firmware's place.
void program_firmware_mtrrs(cpu::x86::X86State& s, uint64_t below_4g, unsigned phys_bits);

/// The board's row in the -M table.
const MachineType& pc_machine_type();

}  // namespace orrery::machine::pc
