#include "ui/options.h"

#include <array>

#include <cctype>
#include <cstdio>

#include "hw/block/drive_options.h"
#include "hw/core/log.h"
#include "hw/core/option_list.h"
#include "machine/machine.h"
#include "tcg/llvm/code_cache.h"

namespace orrery::ui {

namespace {

enum class Opt : uint8_t {
  Machine,
  Cpu,
  Memory,
  Kernel,
  Bios,
  Initrd,
  Append,
  Dtb,
  Smp,
  Nographic,
  Serial,
  Debug,
  LogFile,
  Accel,
  EnableKvm,
  NoReboot,
  Boot,
  Display,
  Nic,
  Gdb,
  GdbDefault,
  StartStopped,
  Drive,
  IdeShortcut,
  Device,
  NoDefaults,
  Object,
  Chardev,
  Netdev,
  Help,
  Version,
};

struct OptionInfo {
  std::string_view name;  // without the leading '-'
  Opt id;
  std::string_view arg;   // empty: takes no argument
  std::string_view help;  // empty: an alias, not listed separately
};

// One row per spelling; help is generated from this table.
constexpr OptionInfo kOptions[] = {
    {"M", Opt::Machine, "TYPE[,prop=value]",
     "machine type (-M help lists them: virt (default), pc); virt: gic-version=2|3|max, "
     "mte=on|off; pc: kernel-decompress=host|guest"},
    {"machine", Opt::Machine, "TYPE", ""},
    {"cpu", Opt::Cpu, "MODEL", "CPU model (-cpu help lists them)"},
    {"m", Opt::Memory, "SIZE",
     "guest RAM size; suffixes K, M, G, T (default unit M, default 128M)"},
    {"kernel", Opt::Kernel, "FILE",
     "boot FILE: an ELF, a Linux arm64 Image or a raw binary (virt); a multiboot kernel (pc)"},
    {"initrd", Opt::Initrd, "FILE",
     "initial ramdisk for a Linux kernel (virt); pc: multiboot modules \"FILE ARGS,FILE2\""},
    {"bios", Opt::Bios, "FILE",
     "firmware image for a board with firmware (pc: SeaBIOS's bios-256k.bin by default)"},
    {"append", Opt::Append, "CMDLINE", "Linux kernel command line"},
    {"dtb", Opt::Dtb, "FILE", "use FILE as the device tree instead of the generated one"},
    {"smp", Opt::Smp, "[cpus=]N", "number of vCPUs (default 1)"},
    {"nographic", Opt::Nographic, "", "no display: serial on the terminal, Ctrl-A x to quit"},
    {"serial", Opt::Serial, "DEV", "serial port backend: stdio, file:PATH or none"},
    {"d", Opt::Debug, "ITEM,...", "enable logging of the given items (-d help lists them)"},
    {"D", Opt::LogFile, "FILE", "write the -d log to FILE instead of stderr"},
    {"accel", Opt::Accel,
     "tcg[,tier=interp|baseline|llvm|auto][,thresh=N][,policy=benefit|count][,unimp=undef|stop]"
     "[,cache=DIR|on|off][,cache-size=SIZE][,cache-baseline=on|off]|kvm[:tcg]"
     "[,kernel-irqchip=on|off]",
     "accelerator: TCG (default; translator tier and LLVM threshold) or KVM (-accel help)"},
    {"enable-kvm", Opt::EnableKvm, "", "shorthand for -accel kvm"},
    {"no-reboot", Opt::NoReboot, "", "exit instead of rebooting when the guest resets"},
    {"boot", Opt::Boot, "[order=]DRIVES[,menu=on|off][,splash-time=MS][,reboot-timeout=MS]",
     "firmware boot order (pc: c disk, d CD-ROM, n network; default cad) and boot menu"},
    {"display", Opt::Display, "none", "accepted for compatibility (there is no display)"},
    {"nic", Opt::Nic, "none|user[,model=virtio-net-device][,mac=M][,hostfwd=R]",
     "a network card on user networking (QEMU's -nic), or none"},
    {"net", Opt::Nic, "none", ""},
    {"netdev", Opt::Netdev, "user,id=ID[,hostfwd=[tcp|udp]:[HOST]:PORT-[GUEST]:PORT][,...]",
     "user networking for -device virtio-net-device,netdev=ID (forwards bind 127.0.0.1)"},
    {"gdb", Opt::Gdb, "DEV",
     "gdbstub on DEV: tcp::PORT, tcp:HOST:PORT or unix:PATH (TCP on localhost by default)"},
    {"s", Opt::GdbDefault, "", "shorthand for -gdb tcp::1234"},
    {"S", Opt::StartStopped, "", "do not start the CPUs until the debugger says so"},
    {"drive", Opt::Drive,
     "file=F[,if=none|virtio|ide,id=ID][,format=raw|qcow2][,readonly=on][,index=N,media=M]",
     "a disk image: if=virtio adds a virtio-blk-pci (virt's default), if=ide an IDE disk or "
     "media=cdrom CD-ROM (pc's default), if=none is for -device (QEMU's -drive keys)"},
    {"hda", Opt::IdeShortcut, "FILE", "pc: IDE disk at index 0 (primary master); -hdb, -hdc, -hdd"},
    {"hdb", Opt::IdeShortcut, "FILE", ""},
    {"hdc", Opt::IdeShortcut, "FILE", ""},
    {"hdd", Opt::IdeShortcut, "FILE", ""},
    {"cdrom", Opt::IdeShortcut, "FILE", "pc: IDE CD-ROM image (read-only) at index 2"},
    {"device", Opt::Device, "DRIVER[,prop=value]",
     "add a device: virtio-blk-device|virtio-blk-pci,drive=ID[,num-queues=N], "
     "virtio-rng-device, virtio-rng-pci, virtio-net-device,netdev=ID[,mac=M] or pci-testdev "
     "(PCI ones take addr=SLOT[.FN]); pc: the PCI ones and isa-debug-exit[,iobase=N][,iosize=N]"},
    {"nodefaults", Opt::NoDefaults, "", "no default devices (no serial port on stdio)"},
    {"chardev", Opt::Chardev, "socket,id=ID,path=PATH",
     "a unix socket to connect to (-device vhost-user-blk-pci,chardev=ID)"},
    {"object", Opt::Object, "memory-backend-memfd|memory-backend-ram,id=ID,size=SIZE[,share=on]",
     "guest RAM backend, used with -machine memory-backend=ID (memfd: shareable)"},
    {"help", Opt::Help, "", "print this help and exit"},
    {"h", Opt::Help, "", ""},
    {"version", Opt::Version, "", "print the version and exit"},
};

const OptionInfo* find_option(std::string_view arg) {
  if (arg.size() < 2 || arg[0] != '-') return nullptr;
  arg.remove_prefix(arg[1] == '-' ? 2 : 1);  // QEMU accepts -opt and --opt alike
  for (const OptionInfo& o : kOptions)
    if (o.name == arg) return &o;
  return nullptr;
}

std::string format_size(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  unsigned u = 0;
  while (u < 6 && bytes >= 1024 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++u;
  }
  return std::to_string(bytes) + " " + kUnits[u];
}

bool parse_u32(std::string_view s, uint32_t& out) {
  if (s.empty() || s.size() > 10) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + uint64_t(c - '0');
  }
  if (v > 0xFFFFFFFFu) return false;
  out = uint32_t(v);
  return true;
}

std::string parse_kvm_props(const std::vector<std::string>& parts, AccelOptions& ao) {
  for (size_t i = 1; i < parts.size(); ++i) {
    std::string_view p = parts[i];
    size_t eq = p.find('=');
    std::string_view key = p.substr(0, eq);
    std::string_view val = eq == std::string_view::npos ? std::string_view() : p.substr(eq + 1);
    if (key != "kernel-irqchip")
      return "unknown kvm property '" + std::string(key) + "' (expected kernel-irqchip)";
    if (val == "on") {
      ao.kernel_irqchip = true;
    } else if (val == "off") {
      ao.kernel_irqchip = false;
    } else if (val == "split") {
      return "kernel-irqchip=split is not supported (use on or off)";
    } else {
      return "invalid kernel-irqchip '" + std::string(val) + "' (expected on or off)";
    }
  }
  return {};
}

std::string parse_accel(std::string_view text, tcg::exec::EngineOptions& eo, AccelOptions& ao,
                        bool& help) {
  const std::vector<std::string> parts = hw::split_option_list(text);
  std::string_view name = parts[0];
  if (name == "help") {
    help = true;
    return {};
  }
  ao = AccelOptions{};
  if (name == "kvm" || name == "kvm:tcg") {
    ao.kind = AccelKind::Kvm;
    ao.tcg_fallback = name == "kvm:tcg";
    return parse_kvm_props(parts, ao);
  }
  if (name == "verify") {
    ao.kind = AccelKind::Verify;
    for (size_t i = 1; i < parts.size(); ++i) {
      const std::string_view p = parts[i];
      const size_t eq = p.find('=');
      if (eq == std::string_view::npos)
        return "verify property '" + std::string(p) + "' needs a value";
      if (std::string e =
              cpu::x86::parse_verify_property(p.substr(0, eq), p.substr(eq + 1), ao.verify);
          !e.empty())
        return e;
    }
    return {};
  }
  if (name == "hvf" || name == "whpx" || name == "xen")
    return "accelerator '" + std::string(name) + "' is not supported (use tcg or kvm)";
  if (name != "tcg")
    return "unknown accelerator '" + std::string(name) + "' (-accel help lists them)";
  for (size_t i = 1; i < parts.size(); ++i) {
    std::string_view p = parts[i];
    size_t eq = p.find('=');
    std::string_view key = p.substr(0, eq);
    std::string_view val = eq == std::string_view::npos ? std::string_view() : p.substr(eq + 1);
    if (key == "tier") {
      if (val == "interp")
        eo.tier = tcg::exec::Tier::Interp;
      else if (val == "baseline")
        eo.tier = tcg::exec::Tier::Baseline;
      else if (val == "llvm")
        eo.tier = tcg::exec::Tier::Llvm;
      else if (val == "auto")
        eo.tier = tcg::exec::Tier::Auto;
      else
        return "unknown tier '" + std::string(val) + "' (expected interp, baseline, llvm or auto)";
    } else if (key == "thresh") {
      if (!parse_u32(val, eo.hot_threshold))
        return "invalid thresh '" + std::string(val) + "' (expected a number of executions)";
    } else if (key == "policy") {
      if (val != "benefit" && val != "count")
        return "invalid policy '" + std::string(val) + "' (expected benefit or count)";
      eo.policy.by_benefit = val == "benefit";
    } else if (key == "unimp") {
      if (val != "stop" && val != "undef")
        return "invalid unimp '" + std::string(val) + "' (expected stop or undef)";
      eo.stop_on_unimplemented = val == "stop";
    } else if (key == "cache") {
      if (val.empty()) return "cache= needs a directory, on or off";
      if (val == "off") {
        eo.tcg_cache_dir.clear();
      } else if (val == "on") {
        eo.tcg_cache_dir = tcg::llvm::default_code_cache_dir();
        if (eo.tcg_cache_dir.empty())
          return "cache=on: neither XDG_CACHE_HOME nor HOME is set (give cache=DIR)";
      } else {
        eo.tcg_cache_dir = std::string(val);
      }
    } else if (key == "cache-size") {
      // Bytes unless suffixed, as for object sizes.
      const bool plain = !val.empty() && std::isdigit(static_cast<unsigned char>(val.back()));
      uint64_t bytes = 0;
      if (plain ? !parse_ram_size(std::string(val) + "B", bytes) : !parse_ram_size(val, bytes))
        return "invalid cache-size '" + std::string(val) +
               "' (expected bytes with an optional K, M, G or T suffix)";
      if (bytes == 0) return "cache-size must be greater than zero (use cache=off for no cache)";
      eo.tcg_cache_bytes = bytes;
    } else if (key == "cache-baseline") {
      if (val != "on" && val != "off")
        return "invalid cache-baseline '" + std::string(val) + "' (expected on or off)";
      eo.tcg_cache_baseline = val == "on";
    } else {
      return "unknown tcg property '" + std::string(key) +
             "' (expected tier, thresh, policy, unimp, cache, cache-size or cache-baseline)";
    }
  }
  return {};
}

/// A -machine property as given, checked once the board is known.
struct RawMachineProp {
  std::string key, value, origin;  // origin: the option and its argument, for messages
};

/// -M TYPE[,name=value...] ("type=TYPE" is QEMU's long form). A -machine without a type only adds
/// properties: QEMU merges repeated -machine options, later values winning. help: what a help
/// request asks for (-M help: MachineHelp, -M TYPE,help: MachinePropHelp), else left alone.
std::string parse_machine(std::string_view text, std::string_view origin,
                          const machine::MachineType*& out, Action& help,
                          std::vector<RawMachineProp>& props) {
  const std::vector<std::string> parts = hw::split_option_list(text);
  std::string_view name = parts[0];
  size_t first = 0;
  if (name.starts_with("type=") || name.find('=') == std::string_view::npos) {
    if (name.starts_with("type=")) name.remove_prefix(5);
    if (name == "help" || name == "?") {
      help = Action::MachineHelp;
      return {};
    }
    if (name.empty()) return "missing machine type (-M help lists them)";
    const machine::MachineType* m = machine::find_machine_type(name);
    if (!m) return "unknown machine type '" + std::string(name) + "' (-M help lists them)";
    out = m;
    first = 1;
  }
  for (size_t i = first; i < parts.size(); ++i) {
    std::string_view p = parts[i];
    size_t eq = p.find('=');
    std::string_view key = p.substr(0, eq);
    std::string_view val = eq == std::string_view::npos ? std::string_view() : p.substr(eq + 1);
    if ((p == "help" || p == "?") && out) {  // QEMU's -M virt,help: the board's properties
      help = Action::MachinePropHelp;
      return {};
    }
    if (key.empty() || eq == std::string_view::npos || val.empty())
      return "machine property '" + std::string(key) + "' needs a value";
    props.push_back({std::string(key), std::string(val), std::string(origin)});
  }
  return {};
}

/// Checks the -machine properties against the board; memory-backend belongs to every board.
std::string check_machine_props(const machine::MachineType& m,
                                const std::vector<RawMachineProp>& raw, Options& o) {
  o.machine_props.clear();
  for (const RawMachineProp& p : raw) {
    auto fail = [&](const std::string& why) { return p.origin + ": " + why; };
    if (p.key == "memory-backend") {
      o.memory_backend = p.value;
      continue;
    }
    const machine::MachineProperty* prop = nullptr;
    for (const machine::MachineProperty& mp : m.properties)
      if (mp.name == p.key) prop = &mp;
    if (!prop)
      return fail("machine property '" + p.key + "' is not supported by " + std::string(m.name));
    if (!prop->values.empty()) {
      bool ok = false;
      std::string list;
      for (std::string_view v : prop->values) {
        ok |= v == p.value;
        list += (list.empty() ? "" : ", ") + std::string(v);
      }
      if (!ok) return fail("invalid " + p.key + " '" + p.value + "' (expected " + list + ")");
    }
    std::erase_if(o.machine_props, [&](const auto& kv) { return kv.first == p.key; });
    o.machine_props.emplace_back(p.key, p.value);
  }
  return {};
}

/// -object memory-backend-ram|memory-backend-memfd,... (the only objects Orrery has).
std::string parse_memory_backend(std::string_view text, MemoryBackendSpec& spec) {
  const std::vector<std::string> parts = hw::split_option_list(text);
  std::string_view type = parts[0];
  if (type.starts_with("qom-type=")) type.remove_prefix(9);
  if (type != "memory-backend-ram" && type != "memory-backend-memfd")
    return "unknown object type '" + std::string(type) +
           "' (supported: memory-backend-ram, memory-backend-memfd)";
  spec.memfd = type == "memory-backend-memfd";
  spec.share = spec.memfd;  // QEMU's memfd backend is shared by default, the ram one private
  bool have_size = false;
  for (size_t i = 1; i < parts.size(); ++i) {
    const size_t eq = parts[i].find('=');
    if (eq == std::string_view::npos) return "'" + std::string(parts[i]) + "': expected name=value";
    const std::string_view item = parts[i];
    std::string_view key = item.substr(0, eq), val = item.substr(eq + 1);
    if (key == "id") {
      spec.id = std::string(val);
    } else if (key == "size") {
      // Object sizes are bytes unless suffixed (unlike -m, where a plain number is MiB).
      const bool plain = !val.empty() && std::isdigit(static_cast<unsigned char>(val.back()));
      uint64_t bytes = 0;
      if (plain ? !parse_ram_size(std::string(val) + "B", bytes) : !parse_ram_size(val, bytes))
        return "size=" + std::string(val) + ": not a size";
      if (bytes == 0) return "size=" + std::string(val) + ": must not be zero";
      spec.size = bytes;
      have_size = true;
    } else if (key == "share") {
      if (val != "on" && val != "off") return "share=" + std::string(val) + ": expected on or off";
      spec.share = val == "on";
    } else {
      return "property '" + std::string(key) + "' is not supported by " + std::string(type);
    }
  }
  if (spec.id.empty()) return "id=ID is required";
  if (!have_size) return "size=SIZE is required";
  return {};
}

/// The hw/net parsers name their option; the messages here already start with it.
std::string strip_prefix(const std::string& msg, std::string_view prefix) {
  return msg.starts_with(prefix) ? msg.substr(prefix.size()) : msg;
}

/// -smp [cpus=]N[,maxcpus=N]: topology properties are not supported.
std::string parse_smp(std::string_view text, unsigned& cpus) {
  const std::vector<std::string> parts = hw::split_option_list(text);
  bool have = false;
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string_view p = parts[i];
    std::string_view key = "cpus";
    size_t eq = p.find('=');
    if (eq != std::string_view::npos) {
      key = p.substr(0, eq);
      p.remove_prefix(eq + 1);
    } else if (i > 0) {
      return "unexpected '" + std::string(p) + "' (expected cpus=N)";
    }
    uint32_t n = 0;
    if (key != "cpus" && key != "maxcpus")
      return "property '" + std::string(key) + "' is not supported (only cpus and maxcpus)";
    if (!parse_u32(p, n)) return "invalid CPU count '" + std::string(p) + "'";
    if (n == 0) return "the number of CPUs must be at least 1";
    if (key == "cpus") {
      cpus = n;
      have = true;
    } else if (have && n != cpus) {
      return "maxcpus must equal cpus (CPU hotplug is not supported)";
    }
  }
  if (!have) return "missing CPU count";
  return {};
}

/// -m [size=]SIZE; memory hotplug properties (slots, maxmem) are not supported.
std::string parse_memory(std::string_view text, uint64_t& bytes) {
  const std::vector<std::string> parts = hw::split_option_list(text);
  std::string_view size = parts[0];
  if (size.starts_with("size=")) size.remove_prefix(5);
  if (parts.size() > 1) return "memory property '" + std::string(parts[1]) + "' is not supported";
  if (!parse_ram_size(size, bytes))
    return "invalid RAM size (expected a number with an optional K, M, G or T suffix)";
  if (bytes == 0) return "RAM size must be greater than zero";
  // Whole 8 KiB units, as QEMU rounds.
  constexpr uint64_t kAlign = 8192;
  if (bytes > ~uint64_t(0) - kAlign) return "RAM size is too large";
  bytes = (bytes + kAlign - 1) & ~(kAlign - 1);
  return {};
}

}  // namespace

bool parse_ram_size(std::string_view s, uint64_t& bytes) {
  if (s.empty()) return false;
  size_t i = 0;
  unsigned __int128 whole = 0;
  bool hex = s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
  size_t digits = 0;
  if (hex) {
    for (i = 2; i < s.size() && std::isxdigit(static_cast<unsigned char>(s[i])); ++i, ++digits) {
      char c = char(std::tolower(static_cast<unsigned char>(s[i])));
      whole = whole * 16 + unsigned(c <= '9' ? c - '0' : c - 'a' + 10);
      if (whole >> 64) return false;
    }
  } else {
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++digits) {
      whole = whole * 10 + unsigned(s[i] - '0');
      if (whole >> 64) return false;
    }
  }
  if (digits == 0) return false;
  // Fraction, kept as numerator/denominator so "1.5G" is exact.
  unsigned __int128 frac_num = 0, frac_den = 1;
  if (!hex && i < s.size() && s[i] == '.') {
    ++i;
    size_t fd = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++fd) {
      if (fd < 18) {
        frac_num = frac_num * 10 + unsigned(s[i] - '0');
        frac_den *= 10;
      }
    }
    if (fd == 0) return false;
  }
  unsigned __int128 unit = uint64_t(1) << 20;  // plain numbers are MiB
  if (i < s.size()) {
    switch (std::toupper(static_cast<unsigned char>(s[i]))) {
      case 'B':
        unit = 1;
        break;
      case 'K':
        unit = uint64_t(1) << 10;
        break;
      case 'M':
        unit = uint64_t(1) << 20;
        break;
      case 'G':
        unit = uint64_t(1) << 30;
        break;
      case 'T':
        unit = uint64_t(1) << 40;
        break;
      case 'P':
        unit = uint64_t(1) << 50;
        break;
      case 'E':
        unit = uint64_t(1) << 60;
        break;
      default:
        return false;
    }
    ++i;
  }
  if (i != s.size()) return false;
  unsigned __int128 total = whole * unit;
  if (whole != 0 && total / unit != whole) return false;
  total += frac_num * unit / frac_den;
  if (total >> 64) return false;
  bytes = uint64_t(total);
  return true;
}

/// Gives -drive's default interface its board meaning, places IDE drives at their indexes
/// (QEMU's names ide<bus>-hd<unit>/-cd<unit>) and adds one virtio-blk-pci per if=virtio drive,
/// after the -device devices as QEMU creates them.
template <class Pending>
static std::string resolve_drives(const machine::MachineType& m,
                                  const std::vector<Pending>& pending, Options& o) {
  using hw::block::DriveInterface;
  std::array<bool, hw::block::kIdeMaxIndex + 1> used{};
  // Explicit indexes first, then the rest in the lowest free ones, as QEMU does.
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& p : pending) {
      hw::block::DriveOptions& d = o.drives[p.drive];
      const bool ide =
          d.interface == DriveInterface::kIde || (d.interface == DriveInterface::kDefault && m.ide);
      if (!ide) continue;
      if (!m.ide) return p.origin + ": the " + std::string(m.name) + " machine has no IDE";
      if ((pass == 0) != (d.index >= 0)) continue;
      if (d.index < 0) {
        for (int i = 0; i <= hw::block::kIdeMaxIndex && d.index < 0; ++i)
          if (!used[i]) d.index = i;
        if (d.index < 0) return p.origin + ": all 4 IDE indexes are in use";
      } else if (used[d.index]) {
        return p.origin + ": IDE index " + std::to_string(d.index) + " is already in use";
      }
      used[d.index] = true;
      if (d.interface == DriveInterface::kDefault && p.auto_id) d.id.clear();
      d.interface = DriveInterface::kIde;
      if (d.id.empty() || (p.auto_id && d.id.starts_with("__ide")))
        d.id = "ide" + std::to_string(d.index / 2) +
               (d.media == hw::block::DriveMedia::kCdrom ? "-cd" : "-hd") +
               std::to_string(d.index % 2);
    }
  }
  for (const auto& p : pending) {
    hw::block::DriveOptions& d = o.drives[p.drive];
    if (d.interface == DriveInterface::kDefault) d.interface = DriveInterface::kVirtio;
    if (d.interface != DriveInterface::kVirtio) continue;
    if (d.media == hw::block::DriveMedia::kCdrom) return p.origin + ": media=cdrom needs if=ide";
    o.devices.push_back({"virtio-blk-pci", {{"drive", d.id}}});
  }
  return {};
}

ParseResult parse_options(std::span<const std::string> args) {
  ParseResult r;
  Options& o = r.options;
  bool cpu_help = false;
  bool ram_given = false;
  unsigned nic_count = 0;
  struct DefaultNic {
    size_t device;       // index in o.devices
    std::string origin;  // the option as given, for errors
  };
  std::vector<DefaultNic> default_nics;  // -nic without model=
  std::string ram_text, smp_text;
  std::vector<RawMachineProp> raw_machine_props;
  unsigned virtio_drives = 0;
  struct PendingDrive {
    size_t drive;        // index in o.drives
    bool auto_id;        // id= not given
    std::string origin;  // the option as given, for errors
  };
  std::vector<PendingDrive> pending_drives;  // resolved once -M is known
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    const OptionInfo* info = find_option(arg);
    if (!info) {
      if (!arg.empty() && arg[0] == '-')
        r.error = arg + ": unknown option (-help lists them)";
      else
        r.error = "'" + arg + "': unexpected argument (options start with '-')";
      return r;
    }
    std::string_view val;
    if (!info->arg.empty()) {
      if (i + 1 >= args.size()) {
        r.error = arg + ": missing argument " + std::string(info->arg);
        return r;
      }
      val = args[++i];
    }
    // "<option> <value>: <why>" for every bad value.
    auto fail = [&](const std::string& why) {
      r.error = arg + " " + std::string(val) + ": " + why;
      return r;
    };
    std::string err;
    switch (info->id) {
      case Opt::Help:
        o.action = Action::Help;
        return r;
      case Opt::Version:
        o.action = Action::Version;
        return r;
      case Opt::Machine: {
        Action help = Action::Run;
        err = parse_machine(val, arg + " " + std::string(val), o.machine, help, raw_machine_props);
        if (!err.empty()) return fail(err);
        if (help != Action::Run) {
          o.action = help;
          return r;
        }
        break;
      }
      case Opt::Cpu:
        if (val == "help" || val == "?")
          cpu_help = true;
        else if (val.empty())
          return fail("missing CPU model (-cpu help lists them)");
        else
          o.cpu = std::string(val);
        break;
      case Opt::Memory:
        err = parse_memory(val, o.ram_size);
        if (!err.empty()) return fail(err);
        ram_given = true;
        ram_text = std::string(val);
        break;
      case Opt::Kernel:
        if (val.empty()) return fail("empty file name");
        o.kernel = std::string(val);
        break;
      case Opt::Bios:
        if (val.empty()) return fail("empty file name");
        o.bios = std::string(val);
        break;
      case Opt::Boot: {
        std::string err = machine::parse_boot_options(val, o.boot);
        if (!err.empty()) return fail(err);
        break;
      }
      case Opt::Initrd:
        if (val.empty()) return fail("empty file name");
        o.initrd = std::string(val);
        break;
      case Opt::Append:
        // arm64 Linux's COMMAND_LINE_SIZE is 2048 bytes with the NUL; a longer line would be
        // cut by the kernel (and cannot be blamed on -kernel later). The value is not echoed.
        if (val.size() > kMaxAppendLength) {
          r.error = arg + ": kernel command line is too long (" + std::to_string(val.size()) +
                    " bytes; at most " + std::to_string(kMaxAppendLength) + ")";
          return r;
        }
        o.append = std::string(val);
        break;
      case Opt::Dtb:
        if (val.empty()) return fail("empty file name");
        o.dtb = std::string(val);
        break;
      case Opt::Smp:
        err = parse_smp(val, o.smp);
        if (!err.empty()) return fail(err);
        smp_text = std::string(val);
        break;
      case Opt::Nographic:
        o.nographic = true;
        break;
      case Opt::NoReboot:
        o.no_reboot = true;
        break;
      case Opt::EnableKvm:
        o.accel = AccelOptions{};
        o.accel.kind = AccelKind::Kvm;
        break;
      case Opt::Serial: {
        ChardevSpec spec;
        err = parse_chardev_spec(val, spec);
        if (!err.empty()) return fail(err);
        o.serial.push_back(spec);
        break;
      }
      case Opt::Debug: {
        if (val == "help" || val == "?") {
          o.action = Action::LogHelp;
          return r;
        }
        hw::Log probe;  // only for its -d parser
        std::string bad = probe.set_mask(val);
        if (!bad.empty()) return fail("unknown log item '" + bad + "' (-d help lists them)");
        o.log_mask = probe.mask();
        break;
      }
      case Opt::LogFile:
        if (val.empty()) return fail("empty file name");
        o.log_file = std::string(val);
        break;
      case Opt::Accel: {
        bool help = false;
        err = parse_accel(val, o.engine, o.accel, help);
        if (!err.empty()) return fail(err);
        if (help) {
          o.action = Action::AccelHelp;
          return r;
        }
        break;
      }
      case Opt::Display:
        if (val != "none") return fail("no display is available (only -display none)");
        break;
      case Opt::Nic: {
        if (val == "none") break;
        if (arg.ends_with("-net")) return fail("only none is supported (use -nic or -netdev)");
        auto nic = hw::net::parse_nic_user(val);
        if (!nic.ok()) return fail(strip_prefix(nic.message(), "-nic: "));
        // No model=: the board's default, chosen once -M is known.
        const std::string model = nic.value().model;
        if (!model.empty() && model != "virtio-net-pci" && model != "virtio-net-device")
          return fail("unknown NIC model '" + model + "' (virtio-net-pci or virtio-net-device)");
        if (model.empty()) default_nics.push_back({o.devices.size(), arg + " " + std::string(val)});
        hw::net::NetdevUserOptions user = std::move(nic.value().user);
        user.id = "__org.qemu.nic" + std::to_string(nic_count++);  // QEMU's names
        machine::DeviceSpec spec{model, {{"netdev", user.id}}};
        if (!nic.value().mac.empty()) spec.props.emplace_back("mac", nic.value().mac);
        o.devices.push_back(std::move(spec));
        o.netdevs.push_back(std::move(user));
        break;
      }
      case Opt::Netdev: {
        auto nd = hw::net::parse_netdev_user(val);
        if (!nd.ok()) return fail(strip_prefix(nd.message(), "-netdev: "));
        for (const auto& other : o.netdevs)
          if (other.id == nd.value().id) return fail("duplicate netdev id '" + other.id + "'");
        o.netdevs.push_back(std::move(nd.value()));
        break;
      }
      case Opt::Gdb:
        err = gdbstub::parse_gdb_spec(val, o.gdb);
        if (!err.empty()) return fail(err);
        break;
      case Opt::GdbDefault:
        o.gdb = gdbstub::GdbSpec{gdbstub::GdbSpec::Kind::Tcp, {}, gdbstub::kDefaultGdbPort, {}};
        break;
      case Opt::StartStopped:
        o.start_stopped = true;
        break;
      case Opt::Drive:
      case Opt::IdeShortcut: {
        hw::block::DriveOptions d;
        if (info->id == Opt::Drive) {
          auto parsed = hw::block::parse_drive_options(val);
          if (!parsed.ok()) return fail(parsed.status().message);
          d = std::move(parsed.value());
        } else {
          // QEMU's shortcuts: -hda..-hdd are IDE indexes 0..3, -cdrom index 2 read-only.
          if (val.empty()) return fail("empty file name");
          d.file = std::string(val);
          d.interface = hw::block::DriveInterface::kIde;
          const std::string_view name = std::string_view(arg).substr(1);
          if (name == "cdrom") {
            d.media = hw::block::DriveMedia::kCdrom;
            d.read_only = true;
            d.index = 2;
          } else {
            d.index = name[2] - 'a';
          }
        }
        pending_drives.push_back({o.drives.size(), d.id.empty(), arg + " " + std::string(val)});
        if (d.interface == hw::block::DriveInterface::kVirtio ||
            d.interface == hw::block::DriveInterface::kDefault) {
          // if=virtio (and the default, unless the board has IDE): the drive gets a
          // virtio-blk-pci of its own, named virtio0, virtio1, ... unless id= says otherwise.
          if (d.id.empty()) d.id = "virtio" + std::to_string(virtio_drives);
          ++virtio_drives;
        } else if (d.interface == hw::block::DriveInterface::kIde && d.id.empty()) {
          d.id = "__ide" + std::to_string(o.drives.size());  // named once its index is known
        }
        if (d.id.empty()) return fail("if=none needs id=ID");
        for (const auto& other : o.drives)
          if (other.id == d.id) return fail("duplicate drive id '" + d.id + "'");
        o.drives.push_back(std::move(d));
        break;
      }
      case Opt::Device: {
        const std::vector<std::string> parts = hw::split_option_list(val);
        if (parts[0].empty()) return fail("missing device name");
        machine::DeviceSpec spec{std::string(parts[0]), {}};
        for (size_t k = 1; k < parts.size(); ++k) {
          const size_t eq = parts[k].find('=');
          if (eq == std::string_view::npos || eq == 0)
            return fail("'" + std::string(parts[k]) + "': expected name=value");
          spec.props.emplace_back(std::string(parts[k].substr(0, eq)),
                                  std::string(parts[k].substr(eq + 1)));
        }
        o.devices.push_back(std::move(spec));
        break;
      }
      case Opt::NoDefaults:
        o.no_defaults = true;
        break;
      case Opt::Chardev: {
        // Only what vhost-user devices need: a client socket (QEMU's server=off default).
        const std::vector<std::string> parts = hw::split_option_list(val);
        if (parts[0] != "socket")
          return fail("'" + std::string(parts[0]) + "': only socket is supported");
        std::string id, path;
        for (size_t k = 1; k < parts.size(); ++k) {
          const size_t eq = parts[k].find('=');
          const std::string key = parts[k].substr(0, eq);
          const std::string value = eq == std::string::npos ? "" : parts[k].substr(eq + 1);
          if (eq == std::string::npos || value.empty())
            return fail("'" + parts[k] + "': expected name=value");
          if (key == "id")
            id = value;
          else if (key == "path")
            path = value;
          else if (key != "server" || value != "off")
            return fail("property '" + key + "=" + value + "' is not supported (id=, path=)");
        }
        if (id.empty() || path.empty()) return fail("socket needs id=ID and path=PATH");
        for (const auto& other : o.chardev_sockets)
          if (other.first == id) return fail("duplicate chardev id '" + id + "'");
        o.chardev_sockets.emplace_back(id, path);
        break;
      }
      case Opt::Object: {
        MemoryBackendSpec spec;
        err = parse_memory_backend(val, spec);
        if (!err.empty()) return fail(err);
        for (const MemoryBackendSpec& other : o.memory_backends)
          if (other.id == spec.id) return fail("duplicate object id '" + spec.id + "'");
        o.memory_backends.push_back(spec);
        break;
      }
    }
  }

  if (!o.machine) o.machine = &machine::default_machine_type();
  const machine::MachineType& m = *o.machine;
  r.error = resolve_drives(m, pending_drives, o);
  if (!r.error.empty()) return r;
  for (const DefaultNic& n : default_nics) {
    // QEMU's default NIC for the board (virtio-net-pci on virt, e1000 on pc).
    if (m.default_nic != "virtio-net-pci" && m.default_nic != "virtio-net-device") {
      r.error = n.origin + ": the " + std::string(m.name) + " machine's default NIC model is " +
                std::string(m.default_nic) + ", which Orrery lacks; use model=virtio-net-pci";
      return r;
    }
    o.devices[n.device].driver = std::string(m.default_nic);
  }
  r.error = check_machine_props(m, raw_machine_props, o);
  if (!r.error.empty()) return r;
  if (cpu_help) {
    o.action = Action::CpuHelp;
    return r;
  }
  if (o.accel.kind == AccelKind::Kvm && !m.kvm && !o.accel.tcg_fallback) {
    r.error = "-accel kvm: the " + std::string(m.name) + " machine does not support KVM (use tcg)";
    return r;
  }
  if (o.accel.kind == AccelKind::Verify && !m.kvm) {  // the boards with x86 accelerators
    r.error = "-accel verify: the " + std::string(m.name) + " machine does not support it (use pc)";
    return r;
  }
  if (o.accel.kind == AccelKind::Verify && !o.accel.verify.ref_kvm &&
      o.accel.verify.test == tcg::exec::Tier::Interp) {
    r.error = "-accel verify: test=interp needs ref=kvm (the interpreter is the reference)";
    return r;
  }
  if (o.cpu == "host") {
    // Under KVM, host and max both mean every feature KVM supports (cpu/kvm filters CPUID).
    if (o.accel.kind != AccelKind::Kvm || !m.kvm) {
      r.error = "-cpu host: needs -accel kvm";
      return r;
    }
    o.cpu = "max";
  }
  if (o.cpu.empty()) {
    o.cpu = std::string(m.default_cpu);
  } else {
    bool known = false;
    for (const machine::CpuModelInfo& c : m.cpus) known |= c.name == o.cpu;
    if (!known) {
      r.error = "-cpu " + o.cpu + ": unknown CPU model for machine '" + std::string(m.name) +
                "' (-cpu help lists them)";
      return r;
    }
  }
  if (!o.memory_backend.empty()) {
    const MemoryBackendSpec* be = nullptr;
    for (const MemoryBackendSpec& b : o.memory_backends)
      if (b.id == o.memory_backend) be = &b;
    if (!be) {
      r.error = "-machine memory-backend=" + o.memory_backend + ": no -object with that id";
      return r;
    }
    // As QEMU: the backend gives the RAM size, and an explicit -m must agree with it.
    if (ram_given && o.ram_size != be->size) {
      r.error = "-m " + ram_text + ": does not match the size of memory backend '" + be->id +
                "' (" + format_size(be->size) + ")";
      return r;
    }
    o.ram_size = be->size;
    ram_given = true;
    ram_text = format_size(be->size);
  }
  if (!ram_given) {
    o.ram_size = m.default_ram;
  } else if (o.ram_size > m.max_ram) {
    r.error = "-m " + ram_text + ": RAM size exceeds the " + std::string(m.name) +
              " machine's maximum of " + format_size(m.max_ram);
    return r;
  }
  if (o.smp > m.max_cpus) {
    r.error = "-smp " + smp_text + ": the " + std::string(m.name) + " machine supports at most " +
              std::to_string(m.max_cpus) + " CPUs";
    return r;
  }
  if (o.serial.size() > m.serial_ports) {
    r.error = "-serial: too many serial ports (the " + std::string(m.name) + " machine has " +
              std::to_string(m.serial_ports) + ")";
    return r;
  }
  if (o.start_stopped && o.gdb.kind == gdbstub::GdbSpec::Kind::None) {
    // QEMU would wait for a monitor "cont"; Orrery has no monitor, so only gdb can start it.
    r.error = "-S: needs -gdb or -s (only the debugger can start the CPUs)";
    return r;
  }
  if (!o.bios.empty() && !m.firmware) {
    r.error = "-bios: the " + std::string(m.name) + " machine has no firmware";
    return r;
  }
  if (o.kernel.empty() && !m.firmware) {
    r.error = "-kernel: no kernel given (the " + std::string(m.name) +
              " machine has no firmware; use -kernel FILE)";
    return r;
  }
  return r;
}

std::string help_text() {
  std::string s =
      "usage: orrery [options]\n"
      "Orrery " ORRERY_VERSION_STRING
      " — full-system emulator (AArch64 virt board)\n\n"
      "Options:\n";
  for (const OptionInfo& o : kOptions) {
    if (o.help.empty()) continue;
    std::string left = "-" + std::string(o.name);
    for (const OptionInfo& alias : kOptions)
      if (alias.id == o.id && alias.help.empty()) left += "|-" + std::string(alias.name);
    if (!o.arg.empty()) left += " " + std::string(o.arg);
    s += "  " + left;
    s += left.size() < 28 ? std::string(28 - left.size(), ' ') : "\n" + std::string(30, ' ');
    s += std::string(o.help) + "\n";
  }
  s += "\nDuring emulation with -nographic: Ctrl-A x quits, Ctrl-A h lists the other keys.\n";
  return s;
}

std::string version_text() {
  return "Orrery emulator version " ORRERY_VERSION_STRING "\n";
}

std::string machine_help_text() {
  std::string s = "Supported machines are:\n";
  const machine::MachineType& def = machine::default_machine_type();
  for (const machine::MachineType& m : machine::machine_types()) {
    std::string name(m.name);
    s += name + std::string(name.size() < 20 ? 20 - name.size() : 1, ' ') +
         std::string(m.description) + (&m == &def ? " (default)" : "") + "\n";
  }
  return s;
}

std::string machine_prop_help_text(const machine::MachineType& m) {
  std::string s = std::string(m.name) + " options:\n";
  for (const machine::MachineProperty& p : m.properties) {
    std::string name(p.name);
    s += "  " + name + std::string(name.size() < 18 ? 18 - name.size() : 1, ' ') +
         std::string(p.help) + "\n";
  }
  return s;
}

std::string cpu_help_text(const machine::MachineType& m) {
  std::string s = "Available CPUs for machine '" + std::string(m.name) + "':\n";
  for (const machine::CpuModelInfo& c : m.cpus) {
    std::string name(c.name);
    s += "  " + name + std::string(name.size() < 18 ? 18 - name.size() : 1, ' ') +
         std::string(c.description) + (c.name == m.default_cpu ? " (default)" : "") + "\n";
  }
  return s;
}

std::string log_help_text() {
  std::string s = "Log items (comma separated):\n";
  for (const hw::LogItem& li : hw::kLogItems) {
    std::string name(li.name);
    s += name + std::string(name.size() < 16 ? 16 - name.size() : 1, ' ') + li.help + "\n";
  }
  return s;
}

std::string accel_help_text() {
  return "Accelerators supported:\n"
         "tcg             dynamic translation; properties:\n"
         "                  tier=interp|baseline|llvm|auto\n"
         "                                         interpreter only, baseline x86-64 code only,\n"
         "                                         LLVM only, or baseline code then LLVM for\n"
         "                                         hot blocks (default auto)\n"
         "                  thresh=N               executions before a block is first\n"
         "                                         considered for LLVM (tier=auto; default 64)\n"
         "                  policy=benefit|count   compile a hot block once its saving so far\n"
         "                                         covers the measured compile cost (default),\n"
         "                                         or at thresh executions\n"
         "                  unimp=undef|stop       an instruction the CPU model does not\n"
         "                                         implement raises UNDEFINED in the guest\n"
         "                                         (default), or stops the machine (debugging)\n"
         "                  cache=DIR|on|off       keep translated code in DIR across runs\n"
         "                                         (on: $XDG_CACHE_HOME/orrery/tcg or\n"
         "                                         ~/.cache/orrery/tcg; default off)\n"
         "                  cache-size=SIZE        most bytes the cache holds, least recently\n"
         "                                         used evicted first (default 256M)\n"
         "                  cache-baseline=on|off  keep baseline translations there too, so a\n"
         "                                         later run skips translating (default on)\n"
         "kvm             the kernel's KVM (pc machine; /dev/kvm); properties:\n"
         "                  kernel-irqchip=on|off  PIC, IOAPIC and local APICs in the kernel\n"
         "                                         (default) or Orrery's own\n"
         "kvm:tcg         KVM, or TCG when /dev/kvm is unusable\n" +
         cpu::x86::verify_help_text();
}

}  // namespace orrery::ui
