// orrery: parse the command line, build the machine, boot the kernel, run until power-off.
// Every user error is one line "orrery: <what failed>: <why>" on stderr and exit status 1.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "cpu/kvm/kvm.h"
#include "cpu/kvm/kvm_gdb.h"
#include "cpu/kvm/kvm_verify.h"
#include "cpu/x86/verify.h"
#include "hw/block/backend.h"
#include "hw/core/clock.h"
#include "hw/core/event_loop.h"
#include "hw/core/log.h"
#include "hw/core/ram_backing.h"
#include "hw/core/user_file.h"
#include "hw/net/slirp_backend.h"
#include "machine/loader/kernel.h"
#include "machine/machine.h"
#include "tcg/exec/engine.h"
#include "ui/chardev.h"
#include "ui/gdbstub/server.h"
#include "ui/host_heap.h"
#include "ui/options.h"

namespace orrery::ui {
namespace {

int fail(const std::string& msg) {
  std::fprintf(stderr, "orrery: %s\n", msg.c_str());
  return 1;
}

int print_and_exit(const std::string& text) {
  std::fputs(text.c_str(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

int run(int argc, char** argv) {
  // Guest output to a closed pipe must not kill Orrery; write() reports EPIPE instead.
  ::signal(SIGPIPE, SIG_IGN);
  prepare_host_heap();

  std::vector<std::string> args(argv + 1, argv + argc);
  ParseResult parsed = parse_options(args);
  if (!parsed.ok()) return fail(parsed.error);
  const Options& opt = parsed.options;
  switch (opt.action) {
    case Action::Help:
      return print_and_exit(help_text());
    case Action::Version:
      return print_and_exit(version_text());
    case Action::MachineHelp:
      return print_and_exit(machine_help_text());
    case Action::MachinePropHelp:
      return print_and_exit(machine_prop_help_text(*opt.machine));
    case Action::CpuHelp:
      return print_and_exit(cpu_help_text(*opt.machine));
    case Action::LogHelp:
      return print_and_exit(log_help_text());
    case Action::AccelHelp:
      return print_and_exit(accel_help_text());
    case Action::Run:
      break;
  }

  hw::Log log;
  log.set_mask_bits(opt.log_mask);
  std::string err;
  if (!opt.log_file.empty() && !log.set_file(opt.log_file, err))
    return fail("-D " + opt.log_file + ": cannot open: " + err);

  // An ELF file may be much larger than what it loads (symbols, debug info), so the file limit
  // is generous; the loader checks what actually has to fit in RAM.
  constexpr uint64_t kMinKernelFileLimit = uint64_t(4) << 30;
  // The kernel stays open so a guest reset reads it again instead of keeping a copy.
  const uint64_t kernel_limit = std::max(opt.ram_size, kMinKernelFileLimit);
  // Without -kernel a board with firmware boots that (the options allowed it).
  auto kernel_file = std::make_shared<hw::UniqueFd>();
  machine::loader::FileBytes kernel;
  if (!opt.kernel.empty()) {
    *kernel_file = hw::open_user_file(opt.kernel, hw::UserFileUse::Input, err);
    if (!kernel_file->valid()) return fail("-kernel " + opt.kernel + ": " + err);
    err = machine::loader::map_whole(kernel_file->get(), kernel_limit, kernel);
    if (!err.empty()) return fail("-kernel " + opt.kernel + ": " + err);
  }
  // An initrd must fit in guest RAM; a device tree is at most 2 MiB (booting.rst).
  std::vector<uint8_t> initrd, dtb;
  // A multiboot board reads its module list itself ("FILE ARGS,FILE2").
  if (!opt.initrd.empty() && !opt.machine->initrd_modules) {
    err = machine::loader::read_file(opt.initrd, opt.ram_size, initrd);
    if (!err.empty()) return fail("-initrd " + opt.initrd + ": " + err);
  }
  if (!opt.dtb.empty()) {
    err = machine::loader::read_file(opt.dtb, machine::loader::kMaxDtbSize, dtb);
    if (!err.empty()) return fail("-dtb " + opt.dtb + ": " + err);
  }

  // Serial backends come before anything that starts threads: the stdio backend blocks
  // termination signals so only its input thread receives them (and restores the terminal).
  // The machine is created later, so quit requests reach it through this pointer.
  std::atomic<machine::Machine*> running{nullptr};
  std::atomic<tcg::exec::DebugState*> debugging{nullptr};   // set while a gdbstub serves
  std::atomic<cpu::kvm::KvmDebug*> kvm_debugging{nullptr};  // the same under -accel kvm
  StdioOptions stdio;
  stdio.escapes = opt.nographic;
  stdio.pass_signals = !opt.nographic;
  stdio.on_quit = [&running, &debugging, &kvm_debugging](int status) {
    if (machine::Machine* m = running.load()) m->request_stop(status);
    // vCPUs parked by the debugger must wake up to see the stop request.
    if (tcg::exec::DebugState* d = debugging.load()) d->deactivate();
    if (cpu::kvm::KvmDebug* d = kvm_debugging.load()) d->kill();
  };
  std::vector<ChardevSpec> serial_specs = opt.serial;
  if (serial_specs.empty() && !opt.no_defaults)
    serial_specs.push_back({ChardevSpec::Kind::Stdio, {}});
  std::vector<std::unique_ptr<Chardev>> serial;
  bool stdio_used = false;
  for (const ChardevSpec& spec : serial_specs) {
    if (spec.kind == ChardevSpec::Kind::Stdio) {
      if (stdio_used) return fail("-serial stdio: stdio can back only one serial port");
      stdio_used = true;
    }
    auto dev = create_chardev(spec, stdio, err);
    if (!dev) return fail("-serial: " + err);
    serial.push_back(std::move(dev));
  }

  tcg::exec::EngineOptions engine_opt = opt.engine;
  engine_opt.guest_id = std::string(opt.machine->name) + "," + opt.cpu;  // tcg cache keys
  tcg::exec::Engine engine(engine_opt, log);
  err = engine.init();
  if (!err.empty()) return fail("-accel: " + err);

  // The machine's clock and its one event loop (device timers, network backends). Declared
  // before the machine's config and the board, so on every return the board goes first (its
  // devices drop their frame sinks and timers), then the backends the config holds, then the
  // loop and its clock.
  hw::Clock clock;
  hw::EventLoop loop(clock);
  machine::MachineConfig config;
  if (!opt.netdevs.empty()) {
    hw::net::SlirpBackendConfig net_config;
    net_config.log = &log;
    for (const hw::net::NetdevUserOptions& nd : opt.netdevs) {
      auto backend = hw::net::SlirpBackend::create(loop, nd, err, net_config);
      if (!backend) return fail(err);
      config.netdevs.emplace_back(nd.id, std::shared_ptr<hw::net::NetBackend>(std::move(backend)));
    }
  }
  loop.start();
  config.cpu_model = opt.cpu;
  config.ram_size = opt.ram_size;
  config.cpus = opt.smp;
  config.no_reboot = opt.no_reboot;
  config.properties = opt.machine_props;
  config.devices = opt.devices;
  config.bios = opt.bios;
  config.nographic = opt.nographic;
  config.boot = opt.boot;
  config.chardev_sockets = opt.chardev_sockets;
  for (const MemoryBackendSpec& b : opt.memory_backends) {
    if (b.id != opt.memory_backend) continue;  // QEMU creates unused backends too; no need here
    err.clear();
    config.ram_backing = b.memfd ? hw::RamBacking::memfd("orrery-ram", b.size, b.share, err)
                                 : hw::RamBacking::anonymous(b.size, err);
    if (!config.ram_backing) return fail("-object " + b.id + ": " + err);
  }
  for (const hw::block::DriveOptions& d : opt.drives) {
    std::vector<std::string> warnings;
    auto drive = hw::block::open_drive(d, warnings);
    for (const std::string& w : warnings) std::fprintf(stderr, "orrery: warning: %s\n", w.c_str());
    if (!drive.ok()) return fail("-drive file=" + d.file + ": " + drive.status().message);
    config.drives.push_back(std::move(drive.value()));
  }
  // -accel kvm: the VM exists before the board, which asks it for vCPUs and gives it RAM.
  std::unique_ptr<cpu::Accelerator> accel;
  if (opt.accel.kind == AccelKind::Kvm && opt.machine->kvm) {
    cpu::kvm::KvmOptions ko;
    ko.kernel_irqchip = opt.accel.kernel_irqchip;
    accel = cpu::kvm::KvmVm::create(ko, log, err);
    if (!accel && !opt.accel.tcg_fallback) return fail("-accel kvm: " + err);
    if (!accel)
      std::fprintf(stderr, "orrery: warning: -accel kvm: %s; falling back to tcg\n", err.c_str());
  }
  if (opt.accel.kind == AccelKind::Verify) {
    accel = opt.accel.verify.ref_kvm
                ? cpu::kvm::make_kvm_verify_accelerator(opt.accel.verify, opt.engine, log, err)
                : cpu::x86::make_verify_accelerator(opt.accel.verify, opt.engine, log, err);
    if (!accel) return fail("-accel verify: " + err);
    // Another vCPU's stores between the two runs of a block would look like a divergence.
    if (config.cpus > 1) return fail("-accel verify: only one vCPU (-smp 1) can be verified");
    if (opt.gdb.kind != gdbstub::GdbSpec::Kind::None)
      return fail("-gdb: not supported with -accel verify yet");
  }
  machine::MachineContext ctx{log, engine, clock, loop, accel.get()};
  std::unique_ptr<machine::Machine> board = opt.machine->create(config, ctx, err);
  if (!board) return fail("machine " + std::string(opt.machine->name) + ": " + err);

  machine::BootImages images{kernel.bytes(), initrd, opt.append, dtb, {}, {}, {}};
  images.kernel_path = opt.kernel;
  images.initrd_path = opt.initrd;
  if (!opt.kernel.empty()) {
    images.reload_kernel = [kernel_file, kernel_limit](std::vector<uint8_t>& out) {
      return machine::loader::read_whole(kernel_file->get(), kernel_limit, out);
    };
  }
  err = board->load_boot(images);
  // Errors about -initrd/-dtb name their option already; the rest concern the kernel.
  if (!err.empty()) return fail(err[0] == '-' ? err : "-kernel " + opt.kernel + ": " + err);
  kernel.reset();
  initrd = {};
  dtb = {};

  // Quit requests may arrive as soon as input is attached; the board honours one made even
  // before run() starts.
  running.store(board.get());
  for (unsigned i = 0; i < serial.size() && i < board->serial_port_count(); ++i) {
    hw::CharReceiver& rx = board->serial_port(i, serial[i].get());
    serial[i]->attach_input(rx);
  }
  // The gdbstub listens before the guest starts; with -S the vCPUs wait for the debugger.
  std::unique_ptr<cpu::GdbTarget> gdb_target;
  std::unique_ptr<gdbstub::GdbServer> gdb;
  if (opt.gdb.kind != gdbstub::GdbSpec::Kind::None) {
    // Under KVM the VM's vCPU threads stop themselves (cpu/kvm/kvm_gdb.h).
    cpu::kvm::KvmDebug* kvm_debug = nullptr;
    if (auto* vm = dynamic_cast<cpu::kvm::KvmVm*>(accel.get())) {
      auto t = std::make_unique<cpu::kvm::KvmDebug>(*vm);
      kvm_debug = t.get();
      // Guest time stands still while the debugger holds the machine, as under TCG.
      kvm_debug->set_stop_listener([&clock](bool stopped) {
        if (stopped)
          clock.pause();
        else
          clock.resume();
      });
      kvm_debug->activate(opt.start_stopped);
      gdb_target = std::move(t);
    } else {
      gdb_target = gdbstub::create_gdb_target(*opt.machine, engine, err);
      if (!gdb_target) return fail("-gdb: " + err);
      engine.debug().activate(opt.start_stopped);
    }
    auto kill = [&running, &engine, kvm_debug] {
      if (machine::Machine* m = running.load()) m->request_stop(0);
      if (kvm_debug)
        kvm_debug->kill();
      else
        engine.debug().deactivate();
    };
    gdb = gdbstub::GdbServer::start(opt.gdb, *gdb_target, kill, err);
    if (!gdb) return fail("-gdb: " + err);
    if (kvm_debug)
      kvm_debugging.store(kvm_debug);
    else
      debugging.store(&engine.debug());
  }
  int status = board->run();
  if (gdb) {
    debugging.store(nullptr);
    kvm_debugging.store(nullptr);
    gdb->machine_exited(status);  // a connected debugger learns the exit status
    gdb.reset();
  }
  for (auto& s : serial) s->close();  // joins the input threads: no more quit requests
  running.store(nullptr);
  if (!board->error().empty()) {
    fail(board->error());
    return status == 0 ? 1 : status;
  }
  // Lost output (already reported once when it happened) makes an otherwise clean run fail.
  bool lost = log.write_failed();
  for (auto& s : serial) lost = lost || s->output_failed();
  if (lost && status == 0) return 1;
  return status;
}

}  // namespace
}  // namespace orrery::ui

int main(int argc, char** argv) {
  // Nothing may escape as an abort or a stack trace: report one line instead.
  try {
    return orrery::ui::run(argc, argv);
  } catch (const std::bad_alloc&) {
    std::fputs("orrery: out of memory\n", stderr);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "orrery: internal error: %s\n", e.what());
  } catch (...) {
    std::fputs("orrery: internal error: unknown exception\n", stderr);
  }
  return 1;
}
