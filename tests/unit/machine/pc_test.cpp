// The pc board: QEMU's RAM split, the memory and port maps it builds, serial input through COM1
// as a guest sees it, and runs of tiny multiboot kernels (a.out kludge, hand-assembled).
#include "machine/pc/pc.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "hw/block/backend.h"
#include "hw/core/clock.h"
#include "hw/core/event_loop.h"
#include "hw/core/log.h"
#include "tcg/exec/engine.h"
#include "tests/unit/machine/machine_harness.h"

namespace orrery::machine::pc {
namespace {

using test::multiboot_kernel;
using test::StringSink;

constexpr uint64_t kGiB = uint64_t(1) << 30;

TEST(PcRamSplit, AsQemusI440fx) {
  // qemu -M pc: below 3.5 GiB everything is low; from 3.5 GiB, 3 GiB low and the rest high.
  EXPECT_EQ(pc_ram_split(128 * kMiB).below_4g, 128 * kMiB);
  EXPECT_EQ(pc_ram_split(128 * kMiB).above_4g, 0u);
  EXPECT_EQ(pc_ram_split(3583 * kMiB).below_4g, 3583 * kMiB);
  EXPECT_EQ(pc_ram_split(3583 * kMiB).above_4g, 0u);
  EXPECT_EQ(pc_ram_split(3584 * kMiB).below_4g, 3 * kGiB);
  EXPECT_EQ(pc_ram_split(3584 * kMiB).above_4g, 512 * kMiB);
  EXPECT_EQ(pc_ram_split(4 * kGiB).above_4g, 1 * kGiB);
  EXPECT_EQ(pc_ram_split(5000 * kMiB).above_4g, 5000 * kMiB - 3 * kGiB);
}

class PcTest : public test::InterpMachineTest {
 protected:
  std::unique_ptr<Machine> make(uint64_t ram, std::vector<DeviceSpec> devices = {},
                                unsigned cpus = 1) {
    MachineConfig c;
    c.cpu_model = "qemu64";
    c.ram_size = ram;
    c.cpus = cpus;
    c.no_reboot = true;
    c.devices = std::move(devices);
    std::string err;
    auto m = PcMachine::create(c, ctx, err);
    EXPECT_EQ(err, "");
    return m;
  }
  /// A machine (qemu64, 128 MiB) whose -bios is `rom`, with the firmware loaded
  /// (load_boot's error, if any, in err); the image file is removed again.
  std::unique_ptr<Machine> with_bios(const std::vector<uint8_t>& rom, std::string& err) {
    char path[] = "/tmp/orrery-bios-XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) {
      err = "mkstemp failed";
      return nullptr;
    }
    const bool written = write(fd, rom.data(), rom.size()) == ssize_t(rom.size());
    close(fd);
    MachineConfig c;
    c.cpu_model = "qemu64";
    c.ram_size = 128 * kMiB;
    c.bios = path;
    std::unique_ptr<Machine> m = written ? PcMachine::create(c, ctx, err) : nullptr;
    if (!written) err = "cannot write the firmware image";
    if (m) err = m->load_boot({});
    unlink(path);
    return m;
  }
  static DeviceSpec debug_exit() {
    return {"isa-debug-exit", {{"iobase", "0xf4"}, {"iosize", "4"}}};
  }
};

TEST_F(PcTest, MemoryAndPortMaps) {
  auto m = make(4 * kGiB, {debug_exit()}, 2);
  ASSERT_TRUE(m);
  auto& pc = static_cast<PcMachine&>(*m);
  const auto regions = pc.memory().regions();
  // RAM below 4 GiB leaves the VGA window free; 0xc0000-0xfffff is shadow RAM behind the PAM
  // segments, all off before a boot (no firmware: nothing shows there). Two RAM pieces below
  // 4 GiB, the PCI hole, the IOAPIC, the HPET, the LAPIC page, RAM above 4 GiB, the 64-bit PCI
  // hole.
  ASSERT_EQ(regions.size(), 8u);
  EXPECT_EQ(regions[0].base, 0u);
  EXPECT_EQ(regions[0].size, 0xa0000u);
  EXPECT_EQ(regions[1].base, 0x100000u);
  EXPECT_EQ(regions[1].size, 3 * kGiB - 0x100000);
  // The 32-bit PCI hole: the bus's memory space from the top of low RAM (no BAR programmed:
  // all of it is the master abort's, seen through the window's alias).
  EXPECT_EQ(regions[2].name, "pci-hole");
  EXPECT_EQ(regions[2].base, 3 * kGiB);
  EXPECT_EQ(regions[2].base + regions[2].size, kPciHoleEnd);
  EXPECT_EQ(regions[3].name, "ioapic");
  EXPECT_EQ(regions[3].base, kIoApicBase);
  EXPECT_EQ(regions[4].base, kHpetBase);
  EXPECT_EQ(regions[5].name, "apic");
  EXPECT_EQ(regions[5].base, kLapicBase);
  EXPECT_EQ(regions[6].base, 4 * kGiB);
  EXPECT_EQ(regions[6].size, 1 * kGiB);
  // The 64-bit hole: from the GiB after RAM to the HyperTransport range (qemu64: 40 bits).
  EXPECT_EQ(regions[7].name, "pci-hole64");
  EXPECT_EQ(regions[7].base, 5 * kGiB);
  EXPECT_EQ(regions[7].base + regions[7].size, kAmdHtHoleBase);
  EXPECT_EQ(pc.memory().find(0xc0000), nullptr);
  for (uint16_t port : {0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1})
    EXPECT_NE(pc.io_ports().find(port), nullptr);
  EXPECT_EQ(pc.memory().find(0xa0000), nullptr);
  EXPECT_EQ(pc.memory().find(0xe0000), nullptr);  // no firmware loaded
  const hw::RegionRef fw_cfg = pc.io_ports().find(0x511);
  ASSERT_NE(fw_cfg, nullptr);
  EXPECT_EQ(fw_cfg->name, "fw_cfg");
  ASSERT_NE(pc.io_ports().find(0x51b), nullptr);
  const hw::RegionRef com1 = pc.io_ports().find(0x3f8);
  ASSERT_NE(com1, nullptr);
  EXPECT_EQ(com1->name, "serial0");
  EXPECT_EQ(com1->size, 8u);
  const hw::RegionRef exit = pc.io_ports().find(0xf7);
  ASSERT_NE(exit, nullptr);
  EXPECT_EQ(exit->name, "isa-debug-exit");
  EXPECT_EQ(pc.io_ports().find(0xf8), nullptr);
  EXPECT_EQ(pc.io_ports().size(), 0x10000u);
}

TEST_F(PcTest, IsaIrqsReachThePicAndTheIoapic) {
  auto m = make(128 * kMiB, {}, 2);
  ASSERT_TRUE(m);
  auto& pc = static_cast<PcMachine&>(*m);
  PcInterrupts& intc = pc.interrupts();
  auto ioapic_route = [&](unsigned pin, uint32_t lo, uint32_t dest) {
    ASSERT_EQ(pc.memory().write(0xfec00000, 4, 0x11 + 2 * pin), hw::MemResult::Ok);
    ASSERT_EQ(pc.memory().write(0xfec00010, 4, dest << 24), hw::MemResult::Ok);
    ASSERT_EQ(pc.memory().write(0xfec00000, 4, 0x10 + 2 * pin), hw::MemResult::Ok);
    ASSERT_EQ(pc.memory().write(0xfec00010, 4, lo), hw::MemResult::Ok);
  };
  auto irr = [&](unsigned cpu, uint8_t v) {
    return (intc.lapic(cpu).reg(0x200 + (v >> 5) * 0x10) >> (v & 31)) & 1;
  };
  intc.lapic(0).mmio_write(0xf0, 4, 0x1ff);
  intc.lapic(1).mmio_write(0xf0, 4, 0x1ff);
  ioapic_route(4, 0x41, 1);
  ioapic_route(2, 0x42, 0);
  ioapic_route(17, 0x8043, 0);
  // COM1 (IRQ 4): IER.THRI raises the line at once (THR empty).
  ASSERT_EQ(pc.io_ports().write(0x3f9, 1, 0x02), hw::MemResult::Ok);
  // (The PIT counts from reset, as QEMU's, so IRQ 0 may be pending already.)
  EXPECT_EQ(intc.pic().irr(0) & 0xfe, 0x10);
  EXPECT_EQ(irr(1, 0x41), 1u);
  EXPECT_EQ(irr(0, 0x41), 0u);
  // IRQ 0 is IOAPIC pin 2 (an edge); GSI 17 reaches only the IOAPIC.
  pc.gsi().set_irq(0, false);
  pc.gsi().set_irq(0, true);
  EXPECT_EQ(intc.pic().irr(0), 0x11);
  EXPECT_EQ(irr(0, 0x42), 1u);
  pc.gsi().set_irq(17, true);
  EXPECT_EQ(irr(0, 0x43), 1u);
  EXPECT_EQ(intc.pic().irr(1), 0);
  // An MSI to the APIC range is an APIC message, elsewhere a memory write.
  EXPECT_TRUE(intc.msi().deliver_msi({0xfee01000, 0x44}));
  EXPECT_EQ(irr(1, 0x44), 1u);
  EXPECT_TRUE(intc.msi().deliver_msi({0x1000, 0x12345678}));
  uint64_t v = 0;
  EXPECT_EQ(pc.memory().read(0x1000, 4, v), hw::MemResult::Ok);
  EXPECT_EQ(v, 0x12345678u);
}

TEST_F(PcTest, MemoryBackendIsSplitAroundFourGiB) {
  MachineConfig c;
  c.cpu_model = "qemu64";
  c.ram_size = 4 * kGiB;
  std::string err;
  c.ram_backing = hw::RamBacking::anonymous(c.ram_size, err);
  ASSERT_TRUE(c.ram_backing) << err;
  auto m = PcMachine::create(c, ctx, err);
  ASSERT_TRUE(m) << err;
  auto& pc = static_cast<PcMachine&>(*m);
  EXPECT_EQ(pc.memory().write(4 * kGiB + 16, 4, 0x600dcafe), hw::MemResult::Ok);
  uint32_t v = 0;
  std::memcpy(&v, c.ram_backing->host() + 3 * kGiB + 16, 4);
  EXPECT_EQ(v, 0x600dcafeu);
}

/// Reads fw_cfg file name through the ports, as firmware does without DMA.
std::vector<uint8_t> fw_cfg_file(PcMachine& pc, const std::string& name) {
  hw::AddressSpace& io = pc.io_ports();
  auto bytes = [&](size_t n) {
    std::vector<uint8_t> v;
    for (size_t i = 0; i < n; ++i) {
      uint64_t x = 0;
      EXPECT_EQ(io.read(0x511, 1, x), hw::MemResult::Ok);
      v.push_back(uint8_t(x));
    }
    return v;
  };
  EXPECT_EQ(io.write(0x510, 2, hw::FwCfg::kFileDir), hw::MemResult::Ok);
  std::vector<uint8_t> count = bytes(4);
  for (unsigned i = 0; i < count[3]; ++i) {
    std::vector<uint8_t> e = bytes(64);
    if (std::string(reinterpret_cast<char*>(&e[8])) != name) continue;
    const size_t size = size_t(e[0]) << 24 | e[1] << 16 | e[2] << 8 | e[3];
    EXPECT_EQ(io.write(0x510, 2, uint64_t(e[4]) << 8 | e[5]), hw::MemResult::Ok);
    return bytes(size);
  }
  ADD_FAILURE() << "no fw_cfg file " << name;
  return {};
}

TEST_F(PcTest, FwCfgGivesWhatSeaBiosReads) {
  auto m = make(4 * kGiB, {}, 2);
  ASSERT_TRUE(m);
  auto& pc = static_cast<PcMachine&>(*m);
  hw::AddressSpace& io = pc.io_ports();
  auto item = [&](uint16_t key, unsigned n) {
    EXPECT_EQ(io.write(0x510, 2, key), hw::MemResult::Ok);
    uint64_t v = 0;
    for (unsigned i = 0; i < n; ++i) {
      uint64_t x = 0;
      EXPECT_EQ(io.read(0x511, 1, x), hw::MemResult::Ok);
      v |= x << (8 * i);
    }
    return v;
  };
  EXPECT_EQ(item(hw::FwCfg::kRamSize, 8), 4 * kGiB);
  EXPECT_EQ(item(hw::FwCfg::kNbCpus, 2), 2u);
  EXPECT_EQ(item(hw::FwCfg::kMaxCpus, 2), 2u);
  // etc/e820: RAM below and above 4 GiB, as QEMU lists it (then, for qemu64, an AMD model,
  // the reserved HyperTransport range).
  std::vector<uint8_t> e820 = fw_cfg_file(pc, "etc/e820");
  ASSERT_EQ(e820.size(), 60u);
  auto le = [&](size_t off, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; ++i) v |= uint64_t(e820[off + i]) << (8 * i);
    return v;
  };
  EXPECT_EQ(le(0, 8), 0u);
  EXPECT_EQ(le(8, 8), 3 * kGiB);
  EXPECT_EQ(le(16, 4), 1u);
  EXPECT_EQ(le(20, 8), 4 * kGiB);
  EXPECT_EQ(le(28, 8), 1 * kGiB);
  EXPECT_EQ(le(40, 8), 0xfd00000000u);
  EXPECT_EQ(le(56, 4), 2u);
  EXPECT_EQ(fw_cfg_file(pc, "etc/boot-fail-wait"), (std::vector<uint8_t>{0xff, 0xff, 0xff, 0xff}));
  EXPECT_EQ(fw_cfg_file(pc, "etc/acpi/rsdp").size(), 36u);
  EXPECT_EQ(fw_cfg_file(pc, "etc/table-loader").size() % 128, 0u);
  EXPECT_EQ(pc.fw_cfg().file_key("etc/sercon-port"), 0u);  // only under -nographic
}

TEST_F(PcTest, FirmwareRomAtTheTopOf4GiBAndBelow1MiB) {
  // A 128 KiB image with a recognisable reset vector.
  std::vector<uint8_t> rom(128 * 1024, 0x90);
  rom[rom.size() - 16] = 0xf4;  // HLT at F000:FFF0
  std::string err;
  auto m = with_bios(rom, err);
  ASSERT_TRUE(m) << err;
  auto& pc = static_cast<PcMachine&>(*m);
  EXPECT_EQ(err, "");
  uint64_t v = 0;
  EXPECT_EQ(pc.memory().read(0xfffffff0, 1, v), hw::MemResult::Ok);
  EXPECT_EQ(v, 0xf4u);
  EXPECT_EQ(pc.memory().read(0xffff0, 1, v), hw::MemResult::Ok);
  EXPECT_EQ(v, 0xf4u);
  EXPECT_EQ(pc.memory().find(0xfffe0000)->kind, hw::RegionKind::Rom);
  // The vCPU starts at the reset vector, linear 0xfffffff0 (CS base 0xffff0000).
  EXPECT_EQ(pc.cpu(0).state().common.pc, 0xfffffff0u);

  // Images that are not a whole number of 64 KiB blocks, and missing files, are refused with
  // a line naming -bios.
  MachineConfig c;
  c.cpu_model = "qemu64";
  c.ram_size = 128 * kMiB;
  for (std::string bad : {std::string("/nonexistent/bios.bin"), std::string("/etc/hostname")}) {
    c.bios = bad;
    auto m2 = PcMachine::create(c, ctx, err);
    ASSERT_TRUE(m2);
    err = m2->load_boot({});
    EXPECT_EQ(err.rfind("-bios " + bad + ": ", 0), 0u) << err;
  }
}

// -boot and bootindex= reach SeaBIOS as QEMU passes them: the order in the CMOS boot flags,
// the menu and its wait, the reboot timeout, and the bootindex devices' paths in "bootorder"
// (by index, "HALT" last under strict=on).
TEST_F(PcTest, BootOptionsReachTheCmosAndFwCfg) {
  char path[] = "/tmp/orrery-pc-boot-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 1 * kMiB), 0);
  close(fd);
  MachineConfig c;
  c.cpu_model = "qemu64";
  c.ram_size = 128 * kMiB;
  for (const char* id : {"d0", "d1"}) {
    hw::block::DriveOptions o;
    o.file = path;
    o.format = hw::block::ImageFormat::kRaw;
    o.interface = hw::block::DriveInterface::kNone;
    o.read_only = true;
    o.id = id;
    std::vector<std::string> warnings;
    auto b = hw::block::open_drive(o, warnings);
    ASSERT_TRUE(b.ok()) << b.status().message;
    c.drives.push_back(std::shared_ptr<hw::block::BlockBackend>(std::move(b.value())));
  }
  c.devices = {{"virtio-blk-pci", {{"drive", "d0"}, {"bootindex", "2"}, {"addr", "4"}}},
               {"virtio-blk-pci", {{"drive", "d1"}, {"bootindex", "1"}, {"addr", "5.2"}}}};
  c.boot.order = "dc";
  c.boot.menu = true;
  c.boot.splash_time = 500;
  c.boot.reboot_timeout = 1000;
  c.boot.strict = true;
  std::string err;
  auto m = PcMachine::create(c, ctx, err);
  ASSERT_TRUE(m) << err;
  auto& pc = static_cast<PcMachine&>(*m);
  const std::string order = "/pci@i0cf8/scsi@5,2/disk@0,0\n/pci@i0cf8/scsi@4/disk@0,0\nHALT";
  std::vector<uint8_t> want(order.begin(), order.end());
  want.push_back(0);
  EXPECT_EQ(fw_cfg_file(pc, "bootorder"), want);
  EXPECT_EQ(fw_cfg_file(pc, "etc/boot-menu-wait"), (std::vector<uint8_t>{0xf4, 0x01}));
  EXPECT_EQ(fw_cfg_file(pc, "etc/boot-fail-wait"), (std::vector<uint8_t>{0xe8, 0x03, 0, 0}));
  hw::AddressSpace& io = pc.io_ports();
  uint64_t v = 0;
  EXPECT_EQ(io.write(0x510, 2, hw::FwCfg::kBootMenu), hw::MemResult::Ok);
  EXPECT_EQ(io.read(0x511, 1, v), hw::MemResult::Ok);
  EXPECT_EQ(v, 1u);
  // CMOS 0x3d: first device (CD-ROM, 3) low, second (disk, 2) high; 0x38: no third.
  EXPECT_EQ(pc.platform().rtc->cmos(0x3d), 0x23);
  EXPECT_EQ(pc.platform().rtc->cmos(0x38) & 0xf0, 0);
  unlink(path);

  // The PC's CMOS holds three devices of the kinds it knows.
  MachineConfig bad;
  bad.cpu_model = "qemu64";
  bad.ram_size = 128 * kMiB;
  bad.boot.order = "cdna";
  EXPECT_EQ(PcMachine::create(bad, ctx, err), nullptr);
  EXPECT_EQ(err, "-boot order=cdna: too many boot devices for PC");
  bad.boot.order = "e";
  EXPECT_EQ(PcMachine::create(bad, ctx, err), nullptr);
  EXPECT_EQ(err, "-boot order=e: invalid boot device for PC: 'e'");
}

TEST_F(PcTest, BadConfigurationsAreRefused) {
  MachineConfig c;
  c.cpu_model = "qemu64";
  c.ram_size = 1 * kMiB;
  std::string err;
  EXPECT_EQ(PcMachine::create(c, ctx, err), nullptr);
  EXPECT_NE(err.find("2 MiB"), std::string::npos);
  c.ram_size = 128 * kMiB;
  c.cpu_model = "cortex-a57";
  EXPECT_EQ(PcMachine::create(c, ctx, err), nullptr);
  EXPECT_NE(err.find("unknown CPU model"), std::string::npos);
  c.cpu_model = "qemu64";
  c.devices = {{"isa-debug-exit", {{"iobase", "0x3fa"}}}};
  EXPECT_EQ(PcMachine::create(c, ctx, err), nullptr);
  EXPECT_NE(err.find("overlaps serial0"), std::string::npos);
}

TEST_F(PcTest, EchoesComInputAndExitsWithTheDebugExitStatus) {
  // loop: in al, 0x3fd (LSR); test al, 1; jz loop; in al from 0x3f8; cmp al, 'q'; je done;
  //       out to 0x3f8; jmp loop.  done: mov eax, 0x21; out 0xf4, eax; hlt.
  const std::vector<uint8_t> code = {
      0x66, 0xba, 0xfd, 0x03,        // mov dx, 0x3fd
      0xec,                          // in al, dx
      0xa8, 0x01,                    // test al, 1
      0x74, 0xf7,                    // jz -9 (to the mov)
      0x66, 0xba, 0xf8, 0x03,        // mov dx, 0x3f8
      0xec,                          // in al, dx
      0x3c, 'q',                     // cmp al, 'q'
      0x74, 0x03,                    // je +3
      0xee,                          // out dx, al
      0xeb, 0xeb,                    // jmp -21 (to the start)
      0xb8, 0x21, 0x00, 0x00, 0x00,  // mov eax, 0x21
      0xe7, 0xf4,                    // out 0xf4, eax
      0xf4,                          // hlt
  };
  auto m = make(128 * kMiB, {debug_exit()});
  ASSERT_TRUE(m);
  StringSink out;
  hw::CharReceiver& rx = m->serial_port(0, &out);
  auto k = multiboot_kernel(code);
  BootImages images{k, {}, {}, {}, {}, {}, {}};
  images.kernel_path = "k";
  ASSERT_EQ(m->load_boot(images), "");
  // Input waits in the backend while the receive buffer is full (no FIFO: one character).
  const std::string input = "hi!q";
  size_t fed = 0;
  std::atomic<bool> done{false};
  std::thread feeder([&] {
    while (fed < input.size() && !done.load()) {
      fed += rx.receive(std::span<const uint8_t>(
          reinterpret_cast<const uint8_t*>(input.data()) + fed, input.size() - fed));
      std::this_thread::yield();
    }
  });
  const int status = m->run();
  done.store(true);
  feeder.join();
  EXPECT_EQ(status, (0x21 << 1) | 1);
  EXPECT_EQ(m->error(), "");
  EXPECT_EQ(out.out, "hi!");
}

TEST_F(PcTest, PlatformDevicesAreMappedFromThePcMap) {
  auto m = make(5 * kGiB, {debug_exit(), {"pc-testdev", {}}}, 3);
  ASSERT_TRUE(m);
  auto& pc = static_cast<PcMachine&>(*m);
  const std::pair<uint16_t, const char*> ports[] = {{0x40, "pit"},
                                                    {0x43, "pit"},
                                                    {0x61, "pcspk"},
                                                    {0x60, "i8042-data"},
                                                    {0x64, "i8042-cmd"},
                                                    {0x70, "rtc"},
                                                    {0x71, "rtc"},
                                                    {0x600, "acpi-pm"},
                                                    {0x60b, "acpi-pm"},
                                                    {0xafe0, "acpi-gpe0"},
                                                    {0xb2, "apm"},
                                                    {0xe0, "pc-testdev-ioport"},
                                                    {0xe8, "pc-testdev-ioport-byte"},
                                                    {0x2017, "pc-testdev-irq-line"}};
  for (const auto& [port, name] : ports) {
    const hw::RegionRef r = pc.io_ports().find(port);
    ASSERT_NE(r, nullptr) << std::hex << port;
    EXPECT_EQ(r->name, name) << std::hex << port;
  }
  EXPECT_EQ(pc.io_ports().find(0x60c), nullptr);
  const hw::RegionRef hpet = pc.memory().find(kHpetBase + 0x3ff);
  ASSERT_NE(hpet, nullptr);
  EXPECT_EQ(hpet->name, "hpet");
  ASSERT_NE(pc.memory().find(0xff00ffff), nullptr);
  // The CMOS holds what QEMU's pc writes for 5 GiB and 3 CPUs.
  hw::rtc::Mc146818& rtc = *pc.platform().rtc;
  EXPECT_EQ(rtc.cmos(0x34), 0x00);
  EXPECT_EQ(rtc.cmos(0x35), 0xbf);  // (3 GiB - 16 MiB) / 64 KiB
  EXPECT_EQ(rtc.cmos(0x5c), 0x80);  // 2 GiB above 4 GiB / 64 KiB
  EXPECT_EQ(rtc.cmos(0x5f), 2);
  EXPECT_EQ(rtc.cmos(0x3d), 0x12);  // boot from disk, then floppy, then CD-ROM
  uint64_t v = 0;
  EXPECT_EQ(pc.memory().read(kHpetBase, 4, v), hw::MemResult::Ok);
  EXPECT_EQ(v, 0x8086a201u);
  // One pc-testdev only.
  MachineConfig c;
  c.cpu_model = "qemu64";
  c.ram_size = 128 * kMiB;
  c.devices = {{"pc-testdev", {}}, {"pc-testdev", {}}};
  std::string err;
  EXPECT_EQ(PcMachine::create(c, ctx, err), nullptr);
  EXPECT_NE(err.find("only one"), std::string::npos);
  c.devices = {{"pc-testdev", {{"iobase", "1"}}}};
  EXPECT_EQ(PcMachine::create(c, ctx, err), nullptr);
  EXPECT_EQ(err, "-device pc-testdev: no property 'iobase' (it has none)");
}

TEST_F(PcTest, KeyboardControllerCommandFeResetsTheMachine) {
  // mov al, 0xfe; out 0x64, al; then what runs if no reset came: exit with 0x21.
  const std::vector<uint8_t> code = {0xb0, 0xfe, 0xe6, 0x64, 0xb8, 0x21,
                                     0x00, 0x00, 0x00, 0xe7, 0xf4, 0xf4};
  auto m = make(128 * kMiB, {debug_exit()});
  ASSERT_TRUE(m);
  auto k = multiboot_kernel(code);
  BootImages images{k, {}, {}, {}, {}, {}, {}};
  images.kernel_path = "k";
  ASSERT_EQ(m->load_boot(images), "");
  EXPECT_EQ(m->run(), 0);  // -no-reboot: a reset ends the run with status 0
  EXPECT_EQ(m->error(), "");
}

TEST_F(PcTest, AcpiS5PowersTheMachineOff) {
  // mov ax, SLP_EN | SLP_TYP 0 (S5); mov dx, 0x604; out dx, ax; then exit with 0x21.
  const std::vector<uint8_t> code = {0x66, 0xb8, 0x00, 0x20, 0x66, 0xba, 0x04, 0x06, 0x66,
                                     0xef, 0xb8, 0x21, 0x00, 0x00, 0x00, 0xe7, 0xf4, 0xf4};
  MachineConfig c;
  c.cpu_model = "qemu64";
  c.ram_size = 128 * kMiB;
  c.devices = {debug_exit()};  // and reboots allowed: S5 is not a reset
  std::string err;
  auto m = PcMachine::create(c, ctx, err);
  ASSERT_TRUE(m) << err;
  auto k = multiboot_kernel(code);
  BootImages images{k, {}, {}, {}, {}, {}, {}};
  images.kernel_path = "k";
  ASSERT_EQ(m->load_boot(images), "");
  EXPECT_EQ(m->run(), 0);
  EXPECT_EQ(m->error(), "");
}

class PcPciTest : public PcTest {
 protected:
  uint32_t cfg(Machine& m, unsigned devfn, unsigned reg) {
    auto& io = static_cast<PcMachine&>(m).io_ports();
    EXPECT_EQ(io.write(0xcf8, 4, 0x80000000u | devfn << 8 | reg), hw::MemResult::Ok);
    uint64_t v = 0;
    EXPECT_EQ(io.read(0xcfc, 4, v), hw::MemResult::Ok);
    return uint32_t(v);
  }
  void cfg_write(Machine& m, unsigned devfn, unsigned reg, uint32_t value) {
    auto& io = static_cast<PcMachine&>(m).io_ports();
    EXPECT_EQ(io.write(0xcf8, 4, 0x80000000u | devfn << 8 | reg), hw::MemResult::Ok);
    EXPECT_EQ(io.write(0xcfc, 4, value), hw::MemResult::Ok);
  }
};

TEST_F(PcPciTest, FunctionsAndBarsOnTheBus) {
  auto m = make(128 * kMiB, {{"pci-testdev", {}}, {"virtio-rng-pci", {{"addr", "5"}}}});
  ASSERT_TRUE(m);
  auto& pc = static_cast<PcMachine&>(*m);
  // QEMU's pc layout: host bridge, PIIX3 with IDE and PM, then -device from slot 2.
  EXPECT_EQ(cfg(*m, 0x00, 0), 0x12378086u);
  EXPECT_EQ(cfg(*m, 0x08, 0), 0x70008086u);
  EXPECT_EQ(cfg(*m, 0x09, 0), 0x70108086u);
  EXPECT_EQ(cfg(*m, 0x0b, 0), 0x71138086u);
  EXPECT_EQ(cfg(*m, 0x10, 0), 0x00051b36u);
  EXPECT_EQ(cfg(*m, 0x28, 0), 0x10441af4u);
  EXPECT_EQ(cfg(*m, 0x18, 0), 0xffffffffu);
  // pci-testdev's BARs: memory in the hole above 128 MiB of RAM, I/O from 0xc000.
  cfg_write(*m, 0x10, 0x10, 0x08001000);
  cfg_write(*m, 0x10, 0x14, 0xc080);
  cfg_write(*m, 0x10, 0x04, 0x0003);
  uint64_t v = 0;
  EXPECT_EQ(pc.io_ports().write(0xc080, 1, 1), hw::MemResult::Ok);  // select test 1
  EXPECT_EQ(pc.io_ports().read(0xc080 + 16, 1, v), hw::MemResult::Ok);
  EXPECT_EQ(char(v), 'w');  // "wildcard-eventfd"
  EXPECT_EQ(pc.memory().read(0x08001000 + 16, 1, v), hw::MemResult::Ok);
  EXPECT_EQ(char(v), 'n');
  // The I/O window skips QEMU's fixed ACPI ports and the ISA range.
  EXPECT_EQ(pc.io_ports().find(0xafe0)->name, "acpi-gpe0");
  EXPECT_EQ(pc.io_ports().find(0x2000), nullptr);  // pc-testdev's IRQ ports when present
  EXPECT_EQ(pc.io_ports().find(0x0400), nullptr);
  ASSERT_NE(pc.io_ports().find(0x1000), nullptr);
  ASSERT_NE(pc.io_ports().find(0xffff), nullptr);
  // A BAR moved into the low window decodes there.
  cfg_write(*m, 0x10, 0x14, 0x3000);
  EXPECT_EQ(pc.io_ports().read(0x3000 + 16, 1, v), hw::MemResult::Ok);
  EXPECT_EQ(char(v), 'w');
  EXPECT_EQ(pc.io_ports().read(0xc080 + 16, 1, v), hw::MemResult::Ok);
  EXPECT_EQ(v, 0xffu);
}

TEST_F(PcPciTest, SixtyFourBitBarDecodesInTheHighWindowOnly) {
  // 5 GiB: 3 GiB below 4 GiB and 2 GiB from 4 GiB, so the 64-bit window starts at 6 GiB.
  auto m = make(5 * kGiB, {{"pci-testdev", {{"membar", "1M"}}}});
  ASSERT_TRUE(m);
  auto& pc = static_cast<PcMachine&>(*m);
  const PcPciWindows w = pc.pci_windows();
  EXPECT_EQ(w.hole_base, 3 * kGiB);
  EXPECT_EQ(w.hole64_base, 6 * kGiB);
  EXPECT_EQ(w.hole64_end, kAmdHtHoleBase);  // qemu64: 40 address bits
  const unsigned fn = 0x10;
  EXPECT_EQ(cfg(*m, fn, 0x18), 0x0000000cu);  // BAR 2: 64-bit, prefetchable
  cfg_write(*m, fn, 0x18, 0xffffffff);
  cfg_write(*m, fn, 0x1c, 0xffffffff);
  EXPECT_EQ(cfg(*m, fn, 0x18), 0xfff0000cu);  // 1 MiB
  EXPECT_EQ(cfg(*m, fn, 0x1c), 0xffffffffu);
  auto place = [&](uint64_t a) {
    cfg_write(*m, fn, 0x18, uint32_t(a) | 0xc);
    cfg_write(*m, fn, 0x1c, uint32_t(a >> 32));
  };
  auto read = [&](uint64_t a) {
    uint64_t v = 0x1234;
    return pc.memory().read(a, 4, v) == hw::MemResult::Ok ? v : 0xdeadu;
  };
  // In the 64-bit window: membar reads 0, the window around it is a master abort.
  place(w.hole64_base + (1 << 20));
  cfg_write(*m, fn, 0x04, 0x0002);
  EXPECT_EQ(read(w.hole64_base + (1 << 20)), 0u);
  EXPECT_EQ(read(w.hole64_base), 0xffffffffu);
  EXPECT_EQ(read(w.hole64_base + (2 << 20)), 0xffffffffu);
  // With memory decode off it is gone.
  cfg_write(*m, fn, 0x04, 0x0000);
  EXPECT_EQ(read(w.hole64_base + (1 << 20)), 0xffffffffu);
  cfg_write(*m, fn, 0x04, 0x0002);
  // Over RAM above 4 GiB it decodes nothing: the RAM keeps its contents.
  ASSERT_EQ(pc.memory().write(5 * kGiB, 4, 0x600dcafe), hw::MemResult::Ok);
  place(5 * kGiB);
  EXPECT_EQ(read(5 * kGiB), 0x600dcafeu);
  EXPECT_EQ(read(w.hole64_base + (1 << 20)), 0xffffffffu);
  // Between the windows (the HPET at 0xfed00000) the platform device stays.
  place(kHpetBase & ~uint64_t((1 << 20) - 1));
  EXPECT_EQ(read(kHpetBase), kHpetBlockId);
  // In the HyperTransport range and past the address space: nothing, and no crash.
  place(kAmdHtHoleBase);
  EXPECT_EQ(pc.memory().find(kAmdHtHoleBase), nullptr);
  place(0xfffffffffff00000ull);
  EXPECT_EQ(pc.memory().find(0xfffffffffff00000ull), nullptr);
  // Back in the window it decodes again.
  place(w.hole64_end - (1 << 20));
  EXPECT_EQ(read(w.hole64_end - (1 << 20)), 0u);
}

TEST_F(PcPciTest, WindowsFollowRamAndAddressBits) {
  // All RAM below 4 GiB: the 64-bit window starts at 4 GiB.
  PcPciWindows w = pc_pci_windows(128 * kMiB, 0, 40);
  EXPECT_EQ(w.hole_base, 128 * kMiB);
  EXPECT_EQ(w.hole_end, kPciHoleEnd);
  EXPECT_EQ(w.hole64_base, 4 * kGiB);
  EXPECT_EQ(w.hole64_end, kAmdHtHoleBase);
  // RAM above 4 GiB: the next GiB boundary after it (QEMU's pc_pci_hole64_start).
  w = pc_pci_windows(3 * kGiB, 1 * kGiB + 1, 40);
  EXPECT_EQ(w.hole64_base, 6 * kGiB);
  // A 36-bit CPU ends it at 64 GiB; RAM to the end of the address space leaves none.
  EXPECT_EQ(pc_pci_windows(3 * kGiB, 1 * kGiB, 36).hole64_end, 64 * kGiB);
  EXPECT_FALSE(pc_pci_windows(3 * kGiB, 60 * kGiB, 36).has_hole64());
}

TEST_F(PcPciTest, DevicesTheBoardRefuses) {
  MachineConfig c;
  c.cpu_model = "qemu64";
  c.ram_size = 128 * kMiB;
  std::string err;
  c.devices = {{"virtio-blk-device", {}}};
  EXPECT_EQ(PcMachine::create(c, ctx, err), nullptr);
  EXPECT_NE(err.find("not a device of this machine (isa-debug-exit, virtio-blk-pci"),
            std::string::npos);
  c.devices = {{"pci-testdev", {{"addr", "1"}}}};
  EXPECT_EQ(PcMachine::create(c, ctx, err), nullptr);
  EXPECT_NE(err.find("in use by PIIX3"), std::string::npos) << err;
  c.devices = {{"virtio-rng-pci", {{"disable-legacy", "off"}}}};
  EXPECT_EQ(PcMachine::create(c, ctx, err), nullptr);
  EXPECT_NE(err.find("only on"), std::string::npos);
}

TEST_F(PcPciTest, ResetControlRegisterResetsTheMachine) {
  // mov al, 6; mov dx, 0xcf9; out dx, al; hlt -- a hard reset, which -no-reboot turns into an
  // exit with status 0.
  const std::vector<uint8_t> code = {0xb0, 0x06, 0x66, 0xba, 0xf9, 0x0c, 0xee, 0xf4};
  auto m = make(128 * kMiB);
  ASSERT_TRUE(m);
  auto k = multiboot_kernel(code);
  BootImages images{k, {}, {}, {}, {}, {}, {}};
  images.kernel_path = "k";
  ASSERT_EQ(m->load_boot(images), "");
  EXPECT_EQ(m->run(), 0);
  EXPECT_EQ(m->error(), "");
}

TEST_F(PcPciTest, IdeDiskAtIndexZero) {
  char path[] = "/tmp/orrery-pc-ide-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 4 * kMiB), 0);
  ASSERT_EQ(pwrite(fd, "boot", 4, 0), 4);
  close(fd);
  hw::block::DriveOptions o;
  o.file = path;
  o.format = hw::block::ImageFormat::kRaw;
  o.interface = hw::block::DriveInterface::kIde;
  o.index = 0;
  o.id = "ide0-hd0";
  std::vector<std::string> warnings;
  auto b = hw::block::open_drive(o, warnings);
  ASSERT_TRUE(b.ok());
  MachineConfig c;
  c.cpu_model = "qemu64";
  c.ram_size = 128 * kMiB;
  c.drives.push_back(std::shared_ptr<hw::block::BlockBackend>(std::move(b.value())));
  std::string err;
  auto m = PcMachine::create(c, ctx, err);
  ASSERT_TRUE(m) << err;
  auto& pc = static_cast<PcMachine&>(*m);
  auto& io = pc.io_ports();
  uint64_t v = 0;
  EXPECT_EQ(io.read(0x1f7, 1, v), hw::MemResult::Ok);
  EXPECT_EQ(v, 0x50u);
  EXPECT_EQ(io.read(0x177, 1, v), hw::MemResult::Ok);
  EXPECT_EQ(v, 0u);  // nothing on the secondary channel
  // READ SECTORS of sector 0 (LBA).
  for (auto [port, val] : std::vector<std::pair<uint16_t, uint8_t>>{
           {0x1f2, 1}, {0x1f3, 0}, {0x1f4, 0}, {0x1f5, 0}, {0x1f6, 0xe0}, {0x1f7, 0x20}})
    EXPECT_EQ(io.write(port, 1, val), hw::MemResult::Ok);
  pc.pci().ide.channel(0).wait_idle();
  EXPECT_EQ(io.read(0x1f0, 4, v), hw::MemResult::Ok);
  EXPECT_EQ(v, 0x746f6f62u);  // "boot"
  unlink(path);
}

TEST_F(PcTest, ResetReturnsDevicesToPowerOnButKeepsCmosRam) {
  // First boot (CMOS 0x40 is 0): mark CMOS 0x40, enable the HPET, reset through the i8042.
  // Second boot: exit with the HPET's GEN_CONF (status 1 when the reset cleared it).
  const std::vector<uint8_t> code = {
      0xb0, 0x40,                                                  // mov al, 0x40
      0xe6, 0x70,                                                  // out 0x70, al
      0xe4, 0x71,                                                  // in al, 0x71
      0x84, 0xc0,                                                  // test al, al
      0x75, 0x14,                                                  // jnz second
      0xb0, 0x01,                                                  // mov al, 1
      0xe6, 0x71,                                                  // out 0x71, al
      0xc7, 0x05, 0x10, 0x00, 0xd0, 0xfe, 0x01, 0x00, 0x00, 0x00,  // mov [GEN_CONF], 1
      0xb0, 0xfe,                                                  // mov al, 0xfe
      0xe6, 0x64,                                                  // out 0x64, al
      0xeb, 0xfe,                                                  // jmp $
      0xa1, 0x10, 0x00, 0xd0, 0xfe,                                // second: mov eax, [GEN_CONF]
      0xe7, 0xf4,                                                  // out 0xf4, eax
      0xf4,                                                        // hlt
  };
  MachineConfig c;
  c.cpu_model = "qemu64";
  c.ram_size = 128 * kMiB;
  c.devices = {debug_exit()};
  std::string err;
  auto m = PcMachine::create(c, ctx, err);
  ASSERT_TRUE(m) << err;
  auto k = multiboot_kernel(code);
  BootImages images{k, {}, {}, {}, {}, {}, {}};
  images.kernel_path = "k";
  ASSERT_EQ(m->load_boot(images), "");
  EXPECT_EQ(m->run(), 1);  // (0 << 1) | 1: GEN_CONF was 0 again
  EXPECT_EQ(m->error(), "");
}

TEST_F(PcTest, PamSwitchesShadowRamAgainstTheRom) {
  // A 128 KiB image: 0xa5 everywhere (0xe0000-0xfffff through isa-bios).
  std::vector<uint8_t> rom(128 * 1024, 0xa5);
  std::string err;
  auto m = with_bios(rom, err);
  ASSERT_TRUE(m) << err;
  auto& pc = static_cast<PcMachine&>(*m);
  ASSERT_EQ(err, "");
  hw::AddressSpace& mem = pc.memory();
  // The i440FX's PAM registers through configuration mechanism #1 (function 00.0).
  auto pam = [&](unsigned reg, uint8_t v) {
    ASSERT_EQ(pc.io_ports().write(0xcf8, 4, 0x80000000u | (reg & 0xfc)), hw::MemResult::Ok);
    ASSERT_EQ(pc.io_ports().write(0xcfc + (reg & 3), 1, v), hw::MemResult::Ok);
  };
  auto rd = [&](uint64_t a) {
    uint64_t v = 0;
    EXPECT_EQ(mem.read(a, 4, v), hw::MemResult::Ok) << std::hex << a;
    return v;
  };
  auto wr = [&](uint64_t a, uint32_t v) { EXPECT_EQ(mem.write(a, 4, v), hw::MemResult::Ok); };
  // After reset every segment is off: the F segment reads the BIOS, writes are dropped; the
  // option-ROM area is QEMU's pc.rom (zero).
  EXPECT_EQ(rd(0xf0000), 0xa5a5a5a5u);
  wr(0xf0000, 0x11223344);
  EXPECT_EQ(rd(0xf0000), 0xa5a5a5a5u);
  EXPECT_EQ(rd(0xc4000), 0u);
  EXPECT_EQ(mem.find(0xf0000)->kind, hw::RegionKind::Rom);
  // PAM0 = 0x30 (RE|WE): RAM, written through the shadow.
  pam(0x59, 0x30);
  EXPECT_EQ(mem.find(0xf0000)->kind, hw::RegionKind::Ram);
  wr(0xf0000, 0x11223344);
  EXPECT_EQ(rd(0xf0000), 0x11223344u);
  EXPECT_EQ(rd(0xe0000), 0xa5a5a5a5u);  // other segments still show the ROM
  // 0x10 (RE only): reads the RAM, writes go to the ROM side (dropped).
  pam(0x59, 0x10);
  wr(0xf0000, 0x55667788);
  EXPECT_EQ(rd(0xf0000), 0x11223344u);
  // Off: the ROM again.
  pam(0x59, 0x00);
  EXPECT_EQ(rd(0xf0000), 0xa5a5a5a5u);
  // 0x20 (WE only): reads the ROM, writes reach the RAM.
  pam(0x59, 0x20);
  EXPECT_EQ(rd(0xf0000), 0xa5a5a5a5u);
  wr(0xf0004, 0x99aabbcc);
  EXPECT_EQ(rd(0xf0004), 0xa5a5a5a5u);
  // Back to RAM: both writes are there.
  pam(0x59, 0x30);
  EXPECT_EQ(rd(0xf0000), 0x11223344u);
  EXPECT_EQ(rd(0xf0004), 0x99aabbccu);
  // PAM1's high nibble is the second 16 KiB segment (0xc4000); its low nibble 0xc0000.
  pam(0x5a, 0x30);
  wr(0xc4000, 0xdeadbeef);
  EXPECT_EQ(rd(0xc4000), 0xdeadbeefu);
  wr(0xc0000, 0x1);
  EXPECT_EQ(rd(0xc0000), 0u);
  // A machine reset turns every segment off; the RAM keeps its bytes.
  pc.pci().bus.reset();
  EXPECT_EQ(rd(0xf0000), 0xa5a5a5a5u);
  EXPECT_EQ(rd(0xc4000), 0u);
  pam(0x59, 0x10);
  EXPECT_EQ(rd(0xf0000), 0x11223344u);
}

}  // namespace
}  // namespace orrery::machine::pc
