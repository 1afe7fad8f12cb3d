// The QEMU-style command line. parse_options is a pure function (argument list in, Options or
// one error line out) so every rule is unit-testable without starting a guest. It checks
// everything that needs no host resources: option names and values, sizes, machine/CPU/accel
// names and properties, -smp, -d items, -serial syntax. Files (-kernel, -initrd, -dtb, -D,
// -serial file:) are opened by main.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cpu/x86/verify.h"
#include "hw/block/drive_options.h"
#include "hw/net/netdev_options.h"
#include "machine/machine.h"
#include "tcg/exec/engine.h"
#include "ui/chardev.h"
#include "ui/gdbstub/server.h"

namespace orrery::machine {
struct MachineType;
}

namespace orrery::ui {

/// What main should do after parsing.
enum class Action : uint8_t {
  Run,
  Help,
  Version,
  MachineHelp,
  MachinePropHelp,
  CpuHelp,
  LogHelp,
  AccelHelp
};

/// Longest -append: arm64 Linux's COMMAND_LINE_SIZE (2048) less the terminating NUL.
inline constexpr size_t kMaxAppendLength = 2047;

/// -object memory-backend-ram|memory-backend-memfd,id=ID,size=SIZE[,share=on|off]
struct MemoryBackendSpec {
  std::string id;
  bool memfd = false;
  uint64_t size = 0;
  bool share = false;
};

/// -accel / -enable-kvm: which accelerator runs the vCPUs.
enum class AccelKind : uint8_t { Tcg, Kvm, Verify };
struct AccelOptions {
  AccelKind kind = AccelKind::Tcg;
  /// -accel kvm:tcg: TCG when KVM is unusable (QEMU's explicit fallback list).
  bool tcg_fallback = false;
  bool kernel_irqchip = true;  // -accel kvm,kernel-irqchip=on|off
  cpu::x86::VerifyOptions verify;  // -accel verify,...
};

struct Options {
  Action action = Action::Run;
  const machine::MachineType* machine = nullptr;  // never null after a successful parse
  std::string cpu;                                // validated against machine->cpus
  uint64_t ram_size = 0;                          // bytes; machine default unless -m
  std::string kernel;                             // empty: no -kernel
  std::string bios;                               // -bios; empty: the board's default firmware
  std::string initrd;                             // -initrd; empty: none
  std::string append;                             // -append (kernel command line)
  std::string dtb;                                // -dtb; empty: the board generates one
  unsigned smp = 1;                               // -smp, within machine->max_cpus
  /// -M TYPE,name=value,... validated against machine->properties.
  std::vector<std::pair<std::string, std::string>> machine_props;
  bool nographic = false;
  bool no_reboot = false;
  machine::BootOptions boot;        // -boot
  std::vector<ChardevSpec> serial;  // one per -serial; empty means the default (stdio)
  uint32_t log_mask = 0;            // hw::LogMask bits from -d
  std::string log_file;             // -D
  tcg::exec::EngineOptions engine;  // -accel tcg,...
  AccelOptions accel;
  gdbstub::GdbSpec gdb;        // -gdb DEV / -s (Kind::None: no gdbstub)
  bool start_stopped = false;  // -S: CPUs wait for the debugger before the first instruction
  std::vector<hw::block::DriveOptions> drives;  // -drive, each with an id (virtioN for if=virtio)
  std::vector<machine::DeviceSpec> devices;     // -device, in order
  bool no_defaults = false;                     // -nodefaults: no default serial backend
  std::vector<MemoryBackendSpec> memory_backends;  // -object memory-backend-*
  std::string memory_backend;  // -machine memory-backend=ID; empty: anonymous RAM of ram_size
  /// -netdev user,id=ID and the backends of -nic user (named "nicN"; a -device for each is in
  /// devices).
  std::vector<hw::net::NetdevUserOptions> netdevs;
  /// -chardev socket,id=ID,path=PATH (id, path), for vhost-user devices.
  std::vector<std::pair<std::string, std::string>> chardev_sockets;
};

struct ParseResult {
  Options options;
  /// Empty on success; else one line "<what failed>: <why>" (main prefixes "orrery: ").
  std::string error;
  bool ok() const { return error.empty(); }
};

/// Parses args (without argv[0]).
ParseResult parse_options(std::span<const std::string> args);

/// Parses a QEMU -m size: a number (fractions allowed) with an optional B/K/M/G/T/P/E suffix;
/// plain numbers are MiB. False on garbage or overflow.
bool parse_ram_size(std::string_view text, uint64_t& bytes);

/// Text for -help, -M help, -cpu help, -d help, -accel help and -version (each ends in '\n').
std::string help_text();
std::string version_text();
std::string machine_help_text();
/// -M TYPE,help: the board's -machine properties.
std::string machine_prop_help_text(const machine::MachineType& m);
std::string cpu_help_text(const machine::MachineType& m);
std::string log_help_text();
std::string accel_help_text();

}  // namespace orrery::ui
