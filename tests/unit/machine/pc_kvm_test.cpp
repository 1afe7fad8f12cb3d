// The pc board under the KVM accelerator: tiny hand-assembled multiboot kernels (a few
// instructions at CPL0, which this machine's software hypervisor runs slowly) reach the board's
// port and memory devices through KVM's exits, with the kernel irqchip on and off. Skipped
// without a usable /dev/kvm.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "cpu/kvm/kvm.h"
#include "cpu/kvm/kvm_vcpu.h"
#include "hw/block/backend.h"
#include "hw/core/address_space.h"
#include "hw/core/clock.h"
#include "hw/core/event_loop.h"
#include "hw/core/log.h"
#include "hw/virtio/virtio_pci.h"
#include "machine/pc/pc.h"
#include "tcg/exec/engine.h"
#include "tests/unit/machine/machine_harness.h"

namespace orrery::machine::pc {
namespace {

using test::multiboot_kernel;
using test::StringSink;

// mov dx, 0x3f8
const std::vector<uint8_t> kDxCom1 = {0x66, 0xba, 0xf8, 0x03};
// out dx, al
constexpr uint8_t kOutDxAl = 0xee;
// mov al, 0x10; out 0xf4, al: isa-debug-exit with status 33
const std::vector<uint8_t> kExit = {0xb0, 0x10, 0xe6, 0xf4, 0xf4};

class PcKvmTest : public ::testing::TestWithParam<bool> {
 protected:
  PcKvmTest() : engine(tcg::exec::EngineOptions{}, log), ctx{log, engine, clock, loop} {
    cpu::kvm::KvmOptions o;
    o.kernel_irqchip = GetParam();
    kvm = cpu::kvm::KvmVm::create(o, log, why);
    ctx.accel = kvm.get();
    loop.start();
  }
  ~PcKvmTest() override { loop.stop(); }

  /// Runs code as a multiboot kernel with COM1 captured; the exit status.
  int run(const std::vector<uint8_t>& code, std::vector<DeviceSpec> devices = {}) {
    MachineConfig c;
    c.cpu_model = "qemu64";
    c.ram_size = 16 * kMiB;
    c.no_reboot = true;
    c.devices = std::move(devices);
    c.devices.push_back({"isa-debug-exit", {{"iobase", "0xf4"}, {"iosize", "4"}}});
    std::string err;
    auto m = PcMachine::create(c, ctx, err);
    EXPECT_EQ(err, "");
    if (!m) return -1;
    m->serial_port(0, &serial);
    EXPECT_EQ(m->load_kernel(multiboot_kernel(code)), "");
    const auto t0 = std::chrono::steady_clock::now();
    const int status = m->run();
    ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    error = m->error();
    return status;
  }

  hw::Log log;
  tcg::exec::Engine engine;
  hw::Clock clock;
  hw::EventLoop loop{clock};
  MachineContext ctx;
  std::string why;
  std::unique_ptr<cpu::kvm::KvmVm> kvm;
  StringSink serial;
  std::string error;
  double ms = 0;
};

#define SKIP_WITHOUT_KVM() \
  if (!kvm) GTEST_SKIP() << "KVM unusable: " << why

TEST_P(PcKvmTest, MultibootEntryStateAndPortIo) {
  SKIP_WITHOUT_KVM();
  // AL = 0x02 and BL = the information structure's low byte (0x9000: 0x00) from the loader.
  std::vector<uint8_t> code = kDxCom1;
  code.insert(code.end(), {kOutDxAl, 0x88, 0xd8, kOutDxAl, 0xb0, 'K', kOutDxAl});
  code.insert(code.end(), kExit.begin(), kExit.end());
  EXPECT_EQ(run(code), 33);
  EXPECT_EQ(error, "");
  EXPECT_EQ(serial.out, std::string("\x02\x00K", 3));
  std::printf("run took %.1f ms\n", ms);
}

TEST_P(PcKvmTest, MmioReachesTheHpetAndTestdev) {
  SKIP_WITHOUT_KVM();
  std::vector<uint8_t> code = {
      0xa1, 0x00, 0x00, 0xd0, 0xfe,  // mov eax, [0xfed00000] (HPET ID, 4 bytes)
      0xa3, 0x00, 0x00, 0x00, 0xff,  // mov [0xff000000], eax (pc-testdev memory)
      0x66, 0xc7, 0x05, 0x04, 0,    0,    0xff, 0x34, 0x12,  // mov word [0xff000004], 0x1234
      0xc6, 0x05, 0x06, 0,    0,    0xff, 0x56,              // mov byte [0xff000006], 0x56
      0x8b, 0x0d, 0x04, 0,    0,    0xff,                    // mov ecx, [0xff000004]
  };
  code.insert(code.end(), kDxCom1.begin(), kDxCom1.end());
  for (int i = 0; i < 4; ++i)
    code.insert(code.end(), {kOutDxAl, 0xc1, 0xe8, 0x08});  // out; shr eax, 8
  code.insert(code.end(), {0x89, 0xc8});                    // mov eax, ecx
  for (int i = 0; i < 3; ++i) code.insert(code.end(), {kOutDxAl, 0xc1, 0xe8, 0x08});
  code.insert(code.end(), kExit.begin(), kExit.end());
  EXPECT_EQ(run(code, {{"pc-testdev", {}}}), 33);
  EXPECT_EQ(error, "");
  EXPECT_EQ(serial.out, std::string("\x01\xa2\x86\x80\x34\x12\x56", 7));
}

// The shadow RAM below 1 MiB follows the i440FX's PAM registers while the VM runs: the memory
// slots change under the guest. Without firmware the board opens every segment read-write.
TEST_P(PcKvmTest, PamChangesMoveTheMemorySlots) {
  SKIP_WITHOUT_KVM();
  auto out_eax = [](std::vector<uint8_t>& c) {  // COM1 gets EAX, low byte first
    c.insert(c.end(), kDxCom1.begin(), kDxCom1.end());
    for (int i = 0; i < 4; ++i) c.insert(c.end(), {kOutDxAl, 0xc1, 0xe8, 0x08});
  };
  auto pam0 = [](std::vector<uint8_t>& c, uint8_t v) {  // PAM0 (config 0x59) = v
    c.insert(c.end(), {0x66, 0xba, 0xf8, 0x0c, 0xb8, 0x58, 0, 0, 0x80, 0xef,  // 0xcf8 = 0x80000058
                       0x66, 0xba, 0xfd, 0x0c, 0xb0, v, kOutDxAl});           // 0xcfd = v
  };
  std::vector<uint8_t> code = {0xb8, 0x44, 0x33, 0x22, 0x11,   // mov eax, 0x11223344
                               0xa3, 0x00, 0x00, 0x0f, 0x00};  // mov [0xf0000], eax
  pam0(code, 0x00);                                            // off: nothing there (no BIOS)
  code.insert(code.end(), {0xa1, 0x00, 0x00, 0x0f, 0x00});     // mov eax, [0xf0000]
  out_eax(code);
  pam0(code, 0x10);  // read-only shadow: a read-only slot
  code.insert(code.end(), {0xc7, 0x05, 0x00, 0x00, 0x0f, 0x00, 0x88, 0x77, 0x66, 0x55});
  code.insert(code.end(), {0xa1, 0x00, 0x00, 0x0f, 0x00});  // the write was dropped
  out_eax(code);
  pam0(code, 0x30);  // read-write again
  code.insert(code.end(), {0xc7, 0x05, 0x00, 0x00, 0x0f, 0x00, 0x88, 0x77, 0x66, 0x55});
  code.insert(code.end(), {0xa1, 0x00, 0x00, 0x0f, 0x00});
  out_eax(code);
  code.insert(code.end(), kExit.begin(), kExit.end());
  EXPECT_EQ(run(code), 33);
  EXPECT_EQ(error, "");
  EXPECT_EQ(serial.out, std::string("\xff\xff\xff\xff\x44\x33\x22\x11\x88\x77\x66\x55", 12));
}

// A triple fault is tested from CPL3 by tests/guest/pc/kvmtest.asm (-append triple): this
// machine's hypervisor cannot emulate an exception raised by CPL0 code without paging.

#ifdef ORRERY_PC_VIRTIOBLK
// tests/guest/pc/virtioblk.asm drives a virtio-blk-pci disk from CPL3: under KVM its two
// doorbell writes arrive through an ioeventfd (no MMIO exit each) and, with the kernel
// irqchip, its two MSI-X interrupts through an irqfd. The same run with both turned off takes
// exactly two more MMIO exits and prints the same.
struct VirtioBlkRun {
  std::string out;
  int status = -1;
  uint64_t mmio_exits = 0, eventfd_kicks = 0, irqfd_msis = 0, signalled_msis = 0;
};

VirtioBlkRun run_virtioblk(bool kernel_irqchip, bool fds) {
  VirtioBlkRun r;
  std::ifstream f(ORRERY_PC_VIRTIOBLK, std::ios::binary);
  const std::vector<uint8_t> kernel{std::istreambuf_iterator<char>(f), {}};
  EXPECT_FALSE(kernel.empty()) << ORRERY_PC_VIRTIOBLK;
  char path[] = "/tmp/orrery-kvm-vblk-XXXXXX";
  const int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(ftruncate(fd, 64 * 1024), 0);
  EXPECT_EQ(pwrite(fd, "ORRERY-VBLK-SEC0", 16, 0), 16);
  EXPECT_EQ(pwrite(fd, "ORRERY-VBLK-SEC1", 16, 512), 16);
  close(fd);

  hw::Log log;
  tcg::exec::Engine engine(tcg::exec::EngineOptions{}, log);
  hw::Clock clock;
  hw::EventLoop loop{clock};
  MachineContext ctx{log, engine, clock, loop};
  cpu::kvm::KvmOptions o;
  o.kernel_irqchip = kernel_irqchip;
  o.ioeventfd = o.irqfd = fds;
  std::string why;
  auto kvm = cpu::kvm::KvmVm::create(o, log, why);
  EXPECT_TRUE(kvm) << why;
  if (!kvm) return r;
  ctx.accel = kvm.get();
  loop.start();
  {
    MachineConfig c;
    c.cpu_model = "qemu64";
    c.ram_size = 16 * kMiB;
    c.no_reboot = true;
    hw::block::DriveOptions d;
    d.file = path;
    d.format = hw::block::ImageFormat::kRaw;
    d.interface = hw::block::DriveInterface::kNone;
    d.id = "d0";
    std::vector<std::string> warnings;
    auto b = hw::block::open_drive(d, warnings);
    EXPECT_TRUE(b.ok());
    c.drives.push_back(std::shared_ptr<hw::block::BlockBackend>(std::move(b.value())));
    c.devices = {{"virtio-blk-pci", {{"drive", "d0"}, {"addr", "4"}}},
                 {"isa-debug-exit", {{"iobase", "0xf4"}, {"iosize", "4"}}}};
    std::string err;
    auto m = PcMachine::create(c, ctx, err);
    EXPECT_EQ(err, "");
    if (m) {
      StringSink serial;
      m->serial_port(0, &serial);
      EXPECT_EQ(m->load_kernel(kernel), "");
      r.status = m->run();
      EXPECT_EQ(m->error(), "");
      r.out = serial.out;
      auto& pc = static_cast<PcMachine&>(*m);
      if (auto* v = dynamic_cast<cpu::kvm::KvmVcpu*>(&pc.vcpu(0))) r.mmio_exits = v->mmio_exits();
      for (auto& fn : pc.pci().functions)
        if (auto* v = dynamic_cast<hw::virtio::VirtioPci*>(fn.get()))
          r.eventfd_kicks += v->io_event_kicks();
      r.irqfd_msis = kvm->irqfd_msis();
      r.signalled_msis = kvm->signalled_msis();
    }
  }
  loop.stop();
  unlink(path);
  return r;
}

TEST_P(PcKvmTest, VirtioBlkDoorbellsAndInterruptsTakeEventfds) {
  SKIP_WITHOUT_KVM();
  kvm.reset();
  std::ifstream e(ORRERY_PC_VIRTIOBLK_EXPECTED);
  const std::string expected{std::istreambuf_iterator<char>(e), {}};
  ASSERT_FALSE(expected.empty());
  const VirtioBlkRun with = run_virtioblk(GetParam(), true);
  EXPECT_EQ(with.status, 33);
  EXPECT_EQ(with.out, expected);
  EXPECT_EQ(with.eventfd_kicks, 2u);
  // MSIs go to Orrery's own APIC without the kernel irqchip.
  EXPECT_EQ(with.irqfd_msis, GetParam() ? 2u : 0u);
  EXPECT_EQ(with.signalled_msis, 0u);
  const VirtioBlkRun without = run_virtioblk(GetParam(), false);
  EXPECT_EQ(without.status, 33);
  EXPECT_EQ(without.out, expected);
  EXPECT_EQ(without.eventfd_kicks, 0u);
  EXPECT_EQ(without.irqfd_msis, 0u);
  EXPECT_EQ(without.signalled_msis, GetParam() ? 2u : 0u);
  EXPECT_EQ(without.mmio_exits, with.mmio_exits + 2);
  std::printf("MMIO exits: %llu with ioeventfd, %llu without\n",
              static_cast<unsigned long long>(with.mmio_exits),
              static_cast<unsigned long long>(without.mmio_exits));
}
#endif

INSTANTIATE_TEST_SUITE_P(KernelIrqchip, PcKvmTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "On" : "Off"; });

// KVM's memory slots follow an address space's RAM as regions are added, moved, made
// read-only and removed while the VM exists.
TEST(PcKvm, MemorySlotsFollowTheAddressSpace) {
  hw::Log log;
  std::string why;
  auto kvm = cpu::kvm::KvmVm::create({}, log, why);
  if (!kvm) GTEST_SKIP() << "KVM unusable: " << why;
  hw::AddressSpace as;
  ASSERT_EQ(as.add_ram("low", 0, 0x10000), "");
  as.add_ram_listener(kvm.get());
  auto used = [&] {
    std::vector<std::pair<uint64_t, uint64_t>> v;  // base, size of each used slot
    for (const hw::RamRange& r : kvm->slots())
      if (r.size) v.push_back({r.base, r.size});
    std::sort(v.begin(), v.end());
    return v;
  };
  using V = std::vector<std::pair<uint64_t, uint64_t>>;
  EXPECT_EQ(used(), (V{{0, 0x10000}}));
  std::string err;
  auto ram = hw::MemoryRegion::ram("ram", 0x4000, err);
  ASSERT_TRUE(ram) << err;
  ASSERT_EQ(as.root().add_subregion(*ram, 0x100000), "");
  EXPECT_EQ(used(), (V{{0, 0x10000}, {0x100000, 0x4000}}));
  ASSERT_EQ(ram->set_address(0x300000), "");
  EXPECT_EQ(used(), (V{{0, 0x10000}, {0x300000, 0x4000}}));
  // A read-only alias over low RAM splits it into three slots, the middle one read-only.
  auto ro = hw::MemoryRegion::alias("ro", *ram, 0x1000, 0x2000);
  ro->set_readonly(true);
  ASSERT_EQ(as.root().add_subregion(*ro, 0x8000, 1), "");
  EXPECT_EQ(used(), (V{{0, 0x8000}, {0x8000, 0x2000}, {0xa000, 0x6000}, {0x300000, 0x4000}}));
  bool ro_seen = false;
  for (const hw::RamRange& r : kvm->slots())
    if (r.size && r.base == 0x8000) {
      ro_seen = r.readonly;
      EXPECT_EQ(r.host, ram->host() + 0x1000);
    }
  EXPECT_TRUE(ro_seen);
  as.root().remove_subregion(*ro);
  as.root().remove_subregion(*ram);
  EXPECT_EQ(used(), (V{{0, 0x10000}}));
  EXPECT_EQ(kvm->ram_error(), "");
  as.remove_ram_listener(kvm.get());
}

TEST(PcKvm, AMissingDeviceIsOneLine) {
  hw::Log log;
  cpu::kvm::KvmOptions o;
  o.device = "/nonexistent/kvm";
  std::string err;
  EXPECT_EQ(cpu::kvm::KvmVm::create(o, log, err), nullptr);
  EXPECT_EQ(err, "/nonexistent/kvm: No such file or directory");
}

}  // namespace
}  // namespace orrery::machine::pc
