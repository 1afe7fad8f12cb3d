// The x86 "pc" board, a skeleton of QEMU's i440FX pc machine: RAM below 4 GiB and the rest
// above 4 GiB split as QEMU splits it, the 64 KiB I/O-port space, a 16550A at COM1 (0x3f8),
// QEMU's isa-debug-exit (-device), 1..N vCPUs of an x86 model and a multiboot -kernel. There is
// no firmware, PIT or PCI yet: the boot CPU starts in the state multiboot promises, the
// interrupt controllers (PIC, IOAPIC, a local APIC per vCPU; pc_intc.cpp) route COM1 on IRQ 4,
// and the application processors wait on their own threads for INIT and STARTUP IPIs.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cpu/x86/cpu.h"
#include "hw/char/serial16550.h"
#include "hw/core/address_space.h"
#include "hw/misc/isa_debug_exit.h"
#include "machine/loader/multiboot.h"
#include "machine/machine.h"
#include "machine/pc/pc_intc.h"
#include "machine/pc/pc_map.h"

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
  const std::string& error() const override { return error_; }

  hw::AddressSpace& memory() { return mem_; }
  hw::AddressSpace& io_ports() { return io_; }
  hw::Serial16550& com1() { return com1_; }
  cpu::x86::X86Cpu& cpu(unsigned i) { return *cpus_.at(i); }
  /// The interrupt router: ISA IRQs 0-15 and PCI GSIs 16-23 (pc_intc.cpp).
  hw::IrqSink& gsi() { return intc_->gsi(); }
  PcInterrupts& interrupts() { return *intc_; }
  const loader::MultibootBoot& boot_info() const { return boot_; }

  // X86Platform (vCPU thread).
  int acknowledge_interrupt() override;

 private:
  enum class Event : uint8_t { None, PowerOff, Reset, Error, Stop, DebugExit, FlushCode };

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
  std::string build_devices();
  std::string build_interrupts();  // pc_intc.cpp
  std::string boot(std::span<const uint8_t> kernel);
  std::string reboot();
  void cpu_thread(unsigned index);
  void post(Event e, std::string message = {}, int status = 0);
  void debug_exit(int status);

  MachineConfig config_;
  MachineContext& ctx_;
  const cpu::x86::CpuModel* model_ = nullptr;
  RamSplit split_;
  hw::AddressSpace mem_;
  hw::AddressSpace io_{"io", hw::kIoPortSpaceSize};
  GatedSink com1_out_;
  hw::Serial16550 com1_;
  std::vector<std::unique_ptr<hw::IsaDebugExit>> debug_exits_;
  std::unique_ptr<PcInterrupts> intc_;
  std::vector<hw::Resettable*> resettables_;
  std::vector<std::unique_ptr<cpu::x86::X86Cpu>> cpus_;

  // Kept for a reset (the kernel only without a reload function, as on virt).
  std::vector<uint8_t> kernel_;
  std::function<std::string(std::vector<uint8_t>&)> reload_kernel_;
  std::string kernel_path_, cmdline_;
  std::vector<std::string> module_cmdlines_;
  std::vector<std::vector<uint8_t>> modules_;
  loader::MultibootBoot boot_;
  bool booted_ = false;
  std::string error_;
  bool warned_intr_ = false;  // vCPU thread

  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stopping_{false};
  Event event_ = Event::None;
  std::string event_message_;
  int event_status_ = 0;
  bool stop_requested_ = false;
  int stop_status_ = 0;
};

/// The board's row in the -M table.
const MachineType& pc_machine_type();

}  // namespace orrery::machine::pc
