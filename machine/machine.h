// Boards: the Machine interface the command line drives, and the table of board types behind
// -M (and -M help). A board owns its address space, devices and vCPUs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "machine/boot_options.h"

namespace orrery::hw {
class Log;
class CharSink;
class CharReceiver;
}  // namespace orrery::hw

namespace orrery::hw {
class RamBacking;
class Clock;
class EventLoop;
}  // namespace orrery::hw

namespace orrery::hw::block {
class BlockBackend;
}
namespace orrery::hw::net {
class NetBackend;
}

namespace orrery::tcg::exec {
class Engine;
}
namespace orrery::cpu {
class Accelerator;
}

namespace orrery::machine {

/// A CPU model a board accepts for -cpu.
struct CpuModelInfo {
  std::string_view name;
  std::string_view description;
};

/// A board property set with -M TYPE,name=value.
struct MachineProperty {
  std::string_view name;
  std::span<const std::string_view> values;  // accepted values; empty: any non-empty string
  std::string_view help;
};

/// One -device DRIVER,name=value,...: the board checks the driver and its properties.
struct DeviceSpec {
  std::string driver;
  std::vector<std::pair<std::string, std::string>> props;
};

/// Everything a board needs from the command line, already validated against its MachineType.
struct MachineConfig {
  std::string cpu_model;  // one of MachineType::cpus
  uint64_t ram_size = 0;  // bytes, within MachineType's limits
  unsigned cpus = 1;      // -smp, 1..MachineType::max_cpus
  bool no_reboot = false;
  /// -M properties in command-line order, each validated against MachineType::properties.
  std::vector<std::pair<std::string, std::string>> properties;
  std::vector<DeviceSpec> devices;  // -device, in command-line order
  std::string bios;                 // -bios FILE; empty: the board's default firmware
  bool nographic = false;           // -nographic (firmware may use the serial console)
  BootOptions boot;                 // -boot (firmware boot order and menu)
  /// Drives opened from -drive if=none, found by their id (BlockBackend::id()).
  std::vector<std::shared_ptr<hw::block::BlockBackend>> drives;
  /// -machine memory-backend=ID: host memory for RAM (ram_size bytes); null: anonymous memory.
  std::shared_ptr<hw::RamBacking> ram_backing;
  /// Network backends from -netdev / -nic, by id. Their owner keeps them (and the event loop
  /// behind them) alive until the machine is destroyed.
  std::vector<std::pair<std::string, std::shared_ptr<hw::net::NetBackend>>> netdevs;
  /// -chardev socket,id=ID,path=PATH: unix sockets by id (vhost-user-blk-pci's chardev=).
  std::vector<std::pair<std::string, std::string>> chardev_sockets;
};

/// What -kernel, -initrd, -append and -dtb gave.
struct BootImages {
  std::span<const uint8_t> kernel;
  std::span<const uint8_t> initrd;  // empty: none
  std::string cmdline;              // -append
  std::span<const uint8_t> dtb;     // empty: the board generates one
  /// Reads the kernel file again (for a system reset) into its argument; error or empty. When
  /// set, the board keeps no copy of the kernel: guest RAM holds the placed image and the file
  /// (kept open by the caller) the original. Null: the board copies kernel for resets.
  std::function<std::string(std::vector<uint8_t>&)> reload_kernel;
  std::string kernel_path;  // -kernel as given (multiboot passes it in the command line)
  /// -initrd as given. A board with MachineType::initrd_modules reads the files itself (then
  /// initrd is empty).
  std::string initrd_path;
};

/// Services a board uses but does not own.
struct MachineContext {
  hw::Log& log;
  tcg::exec::Engine& engine;
  /// The machine's clocks: device timers run on the virtual clock, which the board pauses while
  /// the machine is stopped (debugger, pause).
  hw::Clock& clock;
  /// The one event loop (already running on its own thread) for device timers and host fds.
  hw::EventLoop& loop;
  /// What runs the vCPUs (-accel); null: TCG on engine.
  cpu::Accelerator* accel = nullptr;
};

class Machine {
 public:
  virtual ~Machine() = default;

  /// Places the boot images (file contents) and sets up the boot CPU; error message or empty.
  virtual std::string load_boot(const BootImages& images) = 0;
  /// load_boot with just a kernel.
  std::string load_kernel(std::span<const uint8_t> image) {
    BootImages images;
    images.kernel = image;
    return load_boot(images);
  }

  virtual unsigned serial_port_count() const = 0;
  /// Connects serial port i's output to sink (null discards) and returns its input side.
  virtual hw::CharReceiver& serial_port(unsigned i, hw::CharSink* sink) = 0;

  /// Runs the guest until it powers off or cannot continue; returns Orrery's exit status
  /// (0 after a guest power-off). On failure, error() says why.
  virtual int run() = 0;
  /// Makes run() return exit_status soon. Thread-safe (called from input/signal threads).
  virtual void request_stop(int exit_status) = 0;
  /// Why run() stopped abnormally; empty after a normal power-off or a requested stop.
  virtual const std::string& error() const = 0;
};

using MachineFactory = std::unique_ptr<Machine> (*)(const MachineConfig& config,
                                                    MachineContext& ctx, std::string& error);

/// One row of the board table.
struct MachineType {
  std::string_view name;
  std::string_view description;
  std::span<const CpuModelInfo> cpus;
  std::string_view default_cpu;
  uint64_t default_ram;
  uint64_t max_ram;       // largest -m the memory map can hold
  unsigned serial_ports;  // how many -serial options it can take
  MachineFactory create;
  unsigned max_cpus = 1;  // largest -smp
  std::span<const MachineProperty> properties = {};
  /// The board reads -initrd itself: a multiboot module list ("FILE ARGS,FILE2") or, for a
  /// bzImage, one file (pc).
  bool initrd_modules = false;
  /// Runs firmware when there is no -kernel (-bios FILE chooses which).
  bool firmware = false;
  /// QEMU's NIC model for -nic without model= (one Orrery may lack: then -nic says so).
  std::string_view default_nic = "virtio-net-pci";
  /// An IDE controller for -drive if=ide, -hda..-hdd and -cdrom, and -drive's default
  /// interface (otherwise if=virtio is).
  bool ide = false;
  /// Runs under -accel kvm (the board takes an x86 KVM accelerator).
  bool kvm = false;
};

/// Every board, in -M help order.
std::span<const MachineType> machine_types();
/// The board called name, or null.
const MachineType* find_machine_type(std::string_view name);
/// The default board (used without -M).
const MachineType& default_machine_type();

}  // namespace orrery::machine
