// Builds the PC's timers, RTC/CMOS, ACPI PM block, i8042 and (on -device) pc-testdev, maps
// them at pc_map.h's ports and adds them to the board's reset list.
#include "machine/pc/pc_devices.h"

#include <chrono>

#include "machine/pc/pc.h"

namespace orrery::machine::pc {

namespace {

int64_t host_wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string PcMachine::build_platform_devices() {
  PcPlatformDevices& d = platform_;
  hw::Log& log = ctx_.log;
  hw::EventLoop& loop = ctx_.loop;
  d.pit = std::make_unique<hw::timer::I8254>(log, loop);
  d.rtc = std::make_unique<hw::rtc::Mc146818>(log, loop, host_wall_ns());
  // Legacy replacement takes IRQ 0 and 8 from the PIT and the RTC while it is on.
  d.hpet = std::make_unique<hw::timer::Hpet>(log, loop, [this](bool legacy) {
    platform_.pit->set_irq_enabled(!legacy);
    platform_.rtc->set_irq_enabled(!legacy);
  });
  d.pm = std::make_unique<hw::acpi::AcpiPm>(log, loop, [this] { run_loop_->power_off(); });
  d.kbc = std::make_unique<hw::input::I8042>(
      log, [this] { cpus_.at(0)->request_reset(); },
      [this](bool a20) {
        if (!a20) ctx_.log.log(hw::kLogUnimp, "pc: A20 gate masking is not modelled\n");
      });
  // Interrupt outputs are wired by connect_irqs (pc_intc.cpp).
  fill_pc_cmos(*d.rtc, {.ram_below_4g = split_.below_4g,
                        .ram_above_4g = split_.above_4g,
                        .cpus = config_.cpus,
                        .boot_order = config_.boot.order});

  struct Port {
    const char* name;
    uint64_t base, size;
    hw::MmioDevice& dev;
  };
  const Port ports[] = {
      {"pit", kPitPort, hw::timer::I8254::kIoSize, *d.pit},
      {"pcspk", kNmiStatusPort, 1, d.pit->port61()},
      {"rtc", kRtcPort, hw::rtc::Mc146818::kIoSize, *d.rtc},
      {"acpi-pm", kPmBase, hw::acpi::AcpiPm::kPmIoSize, d.pm->pm_block()},
      {"acpi-gpe0", kGpe0Port, hw::acpi::AcpiPm::kGpe0Size, d.pm->gpe0()},
      {"apm", kApmCntPort, hw::acpi::AcpiPm::kApmSize, d.pm->apm()},
      {"i8042-data", kKbdDataPort, 1, d.kbc->data_port()},
      {"i8042-cmd", kKbdCmdPort, 1, d.kbc->command_port()},
  };
  for (const Port& p : ports) {
    std::string err = io_.add_mmio(p.name, p.base, p.size, p.dev);
    if (!err.empty()) return err;
  }
  std::string err = mem_.add_mmio("hpet", kHpetBase, hw::timer::Hpet::kMmioSize, *d.hpet);
  if (!err.empty()) return err;
  for (hw::Resettable* r : std::initializer_list<hw::Resettable*>{
           d.pit.get(), d.rtc.get(), d.hpet.get(), d.pm.get(), d.kbc.get()})
    resettables_.push_back(r);
  return {};
}

std::string PcMachine::add_pc_testdev(const DeviceSpec& spec) {
  using hw::misc::PcTestdev;
  if (!spec.props.empty())
    return "-device pc-testdev: no property '" + spec.props.front().first + "' (it has none)";
  if (platform_.testdev) return "-device pc-testdev: only one fits (its ports are fixed)";
  platform_.testdev = std::make_unique<PcTestdev>(ctx_.log);
  PcTestdev& t = *platform_.testdev;
  // Its IRQ ports drive ISA IRQ n (t.irq(n), wired by connect_irqs).
  std::string err =
      io_.add_mmio("pc-testdev-ioport", PcTestdev::kIoportPort, PcTestdev::kIoportSize, t.ioport());
  if (err.empty())
    err = io_.add_mmio("pc-testdev-flush-page", PcTestdev::kFlushPort, PcTestdev::kFlushSize,
                       t.flush());
  if (err.empty())
    err = io_.add_mmio("pc-testdev-ioport-byte", PcTestdev::kIoportBytePort, PcTestdev::kIoportSize,
                       t.ioport_byte());
  if (err.empty())
    err = io_.add_mmio("pc-testdev-irq-line", PcTestdev::kIrqPort, PcTestdev::kIrqPortSize,
                       t.irq_ports());
  if (err.empty())
    err =
        mem_.add_mmio("pc-testdev-iomem", PcTestdev::kIomemBase, PcTestdev::kIomemSize, t.iomem());
  if (!err.empty()) return "-device pc-testdev: " + err;
  resettables_.push_back(&t);
  return {};
}

}  // namespace orrery::machine::pc
