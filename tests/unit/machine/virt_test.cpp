// The virt board end to end: tiny hand-assembled guests print on the PL011 and make PSCI calls.
#include "machine/virt/virt.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string_view>
#include <thread>
#include <vector>

#include "cpu/arm64/tcg_accel.h"
#include "cpu/x86/tcg_accel.h"
#include "hw/core/clock.h"
#include "hw/core/event_loop.h"
#include "hw/core/log.h"
#include "tcg/exec/engine.h"
#include "tests/unit/machine/machine_harness.h"
#include "ui/chardev.h"

namespace orrery::machine::virt {
namespace {

std::vector<uint8_t> code(std::initializer_list<uint32_t> words) {
  std::vector<uint8_t> b;
  for (uint32_t w : words)
    for (int i = 0; i < 4; ++i) b.push_back(uint8_t(w >> (8 * i)));
  return b;
}

// Instruction words (checked against GNU as).
constexpr uint32_t kMovX1Uart = 0xD2A12001;   // movz x1, #0x0900, lsl #16
constexpr uint32_t kStrW2X1 = 0xB9000022;     // str w2, [x1]
constexpr uint32_t kMovX0_8 = 0xD2800100;     // movz x0, #8
constexpr uint32_t kMovX0_9 = 0xD2800120;     // movz x0, #9
constexpr uint32_t kMovX0_0 = 0xD2800000;     // movz x0, #0
constexpr uint32_t kMovkX0Psci = 0xF2B08000;  // movk x0, #0x8400, lsl #16
constexpr uint32_t kHvc0 = 0xD4000002;        // hvc #0
constexpr uint32_t kBSelf = 0x14000000;       // b .
constexpr uint32_t kWfi = 0xD503207F;         // wfi
constexpr uint32_t mov_w2(uint32_t imm) {
  return 0x52800002 | (imm << 5);
}  // movz w2, #imm

/// Serial output that a test thread can wait on.
class WaitingChardev : public ui::Chardev {
 public:
  void write(std::span<const uint8_t> data) override {
    std::lock_guard lk(mu_);
    out_.append(data.begin(), data.end());
    cv_.notify_all();
  }
  /// Waits until the output contains text; false on timeout.
  bool wait_for(std::string_view text, std::chrono::seconds timeout) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return out_.find(text) != std::string::npos; });
  }
  std::string output() {
    std::lock_guard lk(mu_);
    return out_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::string out_;
};

class VirtTest : public test::InterpMachineTest {
 protected:
  std::unique_ptr<Machine> make(uint64_t ram = 128 * MiB, bool no_reboot = false, unsigned cpus = 1,
                                const char* gic = "2") {
    MachineConfig cfg;
    cfg.cpus = cpus;
    cfg.properties.emplace_back("gic-version", gic);
    cfg.cpu_model = "cortex-a57";
    cfg.ram_size = ram;
    cfg.no_reboot = no_reboot;
    std::string err;
    auto m = virt_machine_type().create(cfg, ctx, err);
    EXPECT_TRUE(m) << err;
    if (m) m->serial_port(0, &out);
    return m;
  }
  ui::StringChardev out;
};

// A guest that needs more baseline code than the code cache holds: when the cache fills, the
// board stops every vCPU, flushes the translations and runs on, so the program completes with
// the right result instead of falling back to the interpreter for good.
TEST(VirtCodeCache, FullCacheFlushesAtAStopAndRunsOn) {
  hw::Log log;
  tcg::exec::EngineOptions o;
  o.tier = tcg::exec::Tier::Baseline;
  o.code_cache_bytes = 4096;  // room for a dozen or so of the blocks below
  tcg::exec::Engine engine(o, log);
  ASSERT_EQ(engine.init(), "");
  hw::Clock clock;
  hw::EventLoop loop{clock};
  loop.start();
  MachineContext ctx{log, engine, clock, loop};
  MachineConfig cfg;
  cfg.cpu_model = "cortex-a57";
  cfg.ram_size = 128 * MiB;
  std::string err;
  auto m = virt_machine_type().create(cfg, ctx, err);
  ASSERT_TRUE(m) << err;
  ui::StringChardev out;
  m->serial_port(0, &out);
  // 40 blocks of "add x4, x4, #1; b .+4" fill the cache; a long loop follows, so the flush
  // the full cache asks for happens while the guest still runs. Then print 'o' if x4 == 40.
  std::vector<uint32_t> w;
  for (int i = 0; i < 40; ++i) w.insert(w.end(), {0x91000484, 0x14000001});
  w.insert(w.end(), {0xD2A02003,               // movz x3, #0x100, lsl #16
                     0xF1000463, 0x54FFFFE1,   // loop: subs x3, x3, #1; b.ne loop
                     0xF100A09F,               // cmp x4, #40
                     mov_w2('o'), 0x52800F05,  // mov w2, #'o'; mov w5, #'x'
                     0x1A850042,               // csel w2, w2, w5, eq
                     kMovX1Uart, kStrW2X1, kMovX0_8, kMovkX0Psci, kHvc0, kBSelf});
  std::vector<uint8_t> bytes;
  for (uint32_t x : w)
    for (int i = 0; i < 4; ++i) bytes.push_back(uint8_t(x >> (8 * i)));
  ASSERT_EQ(m->load_kernel(bytes), "");
  EXPECT_EQ(m->run(), 0);
  EXPECT_EQ(m->error(), "");
  EXPECT_EQ(out.output(), "o");
  EXPECT_GE(engine.stats().flushes, 1u);
}

TEST_F(VirtTest, PrintsAndPowersOff) {
  auto m = make();
  ASSERT_EQ(m->load_kernel(code({kMovX1Uart, mov_w2('o'), kStrW2X1, mov_w2('k'), kStrW2X1, kMovX0_8,
                                 kMovkX0Psci, kHvc0, kBSelf})),
            "");
  EXPECT_EQ(m->run(), 0);
  EXPECT_EQ(m->error(), "");
  EXPECT_EQ(out.output(), "ok");
}

TEST_F(VirtTest, PsciVersionInX0) {
  // x0 = PSCI_VERSION(); print '0' + x0 (0x10001 -> low byte 1 -> '1'), then SYSTEM_OFF.
  auto m = make();
  ASSERT_EQ(m->load_kernel(code({kMovX0_0, kMovkX0Psci, kHvc0, 0x1100C002 /* add x2,x0,#'0' */,
                                 kMovX1Uart, kStrW2X1, kMovX0_8, kMovkX0Psci, kHvc0, kBSelf})),
            "");
  EXPECT_EQ(m->run(), 0);
  EXPECT_EQ(out.output(), "1");
}

TEST_F(VirtTest, SystemResetRebootsOrExits) {
  // Prints 'r' and resets; with -no-reboot the board exits after the first reset.
  auto prog = code({kMovX1Uart, mov_w2('r'), kStrW2X1, kMovX0_9, kMovkX0Psci, kHvc0, kBSelf});
  auto m = make(128 * MiB, /*no_reboot=*/true);
  ASSERT_EQ(m->load_kernel(prog), "");
  EXPECT_EQ(m->run(), 0);
  EXPECT_EQ(out.output(), "r");
}

TEST_F(VirtTest, ResetReloadsTheKernel) {
  // First boot: set a RAM flag outside the image, patch the second stage's 'b' into 'X' in the
  // loaded image, print 'a', SYSTEM_RESET. The board reboots with the kernel reloaded, so the
  // second stage prints the original 'b' (QEMU prints "ab" too).
  auto prog = code({
      0xD2A80083,  // movz x3, #0x4004, lsl #16  (flag at 0x40040000)
      0xB9400064,  // ldr  w4, [x3]
      0x350001A4,  // cbnz w4, second
      0x52800024,  // movz w4, #1
      0xB9000064,  // str  w4, [x3]
      0x10000165,  // adr  x5, patch
      0x18000206,  // ldr  w6, patch_x
      0xB90000A6,  // str  w6, [x5]
      kMovX1Uart, mov_w2('a'), kStrW2X1, kMovX0_9, kMovkX0Psci, kHvc0, kBSelf,
      // second:
      kMovX1Uart,
      mov_w2('b'),  // patch:
      kStrW2X1, kMovX0_8, kMovkX0Psci, kHvc0, kBSelf,
      mov_w2('X'),  // patch_x:
  });
  auto m = make();
  ASSERT_EQ(m->load_kernel(prog), "");
  EXPECT_EQ(m->run(), 0);
  EXPECT_EQ(out.output(), "ab");
}

TEST_F(VirtTest, ResetRereadsTheKernelInsteadOfKeepingACopy) {
  // With a reader, the board keeps no copy of the kernel: a reset asks for it again.
  auto prog = code({0xD2A80083, 0xB9400064, 0x35000124,  // flag at 0x40040000 set? -> second
                    0x52800024, 0xB9000064,              // set it
                    kMovX1Uart, mov_w2('a'), kStrW2X1, kMovX0_9, kMovkX0Psci, kHvc0,
                    // second:
                    kMovX1Uart, mov_w2('b'), kStrW2X1, kMovX0_8, kMovkX0Psci, kHvc0, kBSelf});
  auto m = make();
  int reads = 0;
  BootImages images{prog, {}, {}, {}, {}, {}, {}};
  images.reload_kernel = [&](std::vector<uint8_t>& k) {
    ++reads;
    k = prog;
    return std::string();
  };
  ASSERT_EQ(m->load_boot(images), "");
  EXPECT_EQ(m->run(), 0);
  EXPECT_EQ(out.output(), "ab");
  EXPECT_EQ(reads, 1);
  // A kernel that cannot be read again ends the run with one error naming -kernel.
  auto m2 = make();
  images.reload_kernel = [](std::vector<uint8_t>&) { return std::string("file is empty"); };
  ASSERT_EQ(m2->load_boot(images), "");
  EXPECT_EQ(m2->run(), 1);
  EXPECT_EQ(m2->error(), "reset: -kernel: file is empty");
}

TEST_F(VirtTest, RequestStopEndsALoopingGuest) {
  auto m = make();
  // Prints 'r' once it runs, then loops: the stop is sent only after the 'r'.
  ASSERT_EQ(m->load_kernel(code({kMovX1Uart, mov_w2('r'), kStrW2X1, kBSelf})), "");
  WaitingChardev uart;
  m->serial_port(0, &uart);
  std::thread stopper([&] {
    EXPECT_TRUE(uart.wait_for("r", std::chrono::seconds(30)));
    m->request_stop(7);
  });
  EXPECT_EQ(m->run(), 7);
  stopper.join();
  EXPECT_EQ(uart.output(), "r");
  EXPECT_EQ(m->error(), "");
}

// The board takes its vCPUs from the accelerator it is given (the command line's), as pc does.
TEST_F(VirtTest, VcpusComeFromTheGivenAccelerator) {
  cpu::arm64::TcgArm64Accelerator accel(engine);
  ctx.accel = &accel;
  auto m = make();
  ASSERT_TRUE(m);
  ASSERT_EQ(m->load_kernel(code({kBSelf})), "");
  auto& vm = static_cast<VirtMachine&>(*m);
  EXPECT_NE(dynamic_cast<cpu::arm64::TcgArm64Vcpu*>(&vm.cpu(0)), nullptr);
  m->request_stop(5);
  EXPECT_EQ(m->run(), 5);
}

// An accelerator for another guest is one clear error, not a crash.
TEST_F(VirtTest, AnX86AcceleratorIsRefused) {
  cpu::x86::TcgX86Accelerator accel(engine);
  ctx.accel = &accel;
  MachineConfig cfg;
  cfg.cpu_model = "cortex-a57";
  cfg.ram_size = 128 * MiB;
  std::string err;
  EXPECT_FALSE(virt_machine_type().create(cfg, ctx, err));
  EXPECT_EQ(err, "the tcg accelerator cannot run AArch64 vCPUs");
}

TEST_F(VirtTest, StopRequestedBeforeRun) {
  auto m = make();
  ASSERT_EQ(m->load_kernel(code({kBSelf})), "");
  m->request_stop(3);
  EXPECT_EQ(m->run(), 3);
}

TEST_F(VirtTest, WfiSleepsUntilAStopRequest) {
  auto m = make();
  ASSERT_EQ(m->load_kernel(code({kWfi, kBSelf})), "");
  auto& cpu = dynamic_cast<cpu::arm64::TcgArm64Vcpu&>(static_cast<VirtMachine&>(*m).cpu(0));
  bool asleep = false;
  std::thread stopper([&] {
    // The stop must find the vCPU asleep in WFI, not arrive before it gets there.
    asleep = cpu.wait_until_asleep_in_wfi(std::chrono::seconds(30));
    m->request_stop(3);
  });
  EXPECT_EQ(m->run(), 3);
  stopper.join();
  EXPECT_TRUE(asleep) << "the guest never went to sleep in WFI";
  EXPECT_EQ(cpu.wfi_wakeups(), 1u) << "the stop request woke it";
  EXPECT_EQ(m->error(), "");
}

TEST_F(VirtTest, BusErrorBecomesAGuestAbortNotACrash) {
  // ldr w0, [x1] with x1 = 0x0903'0000 (the PL061's slot: not modelled) takes an external abort to
  // the guest's vector at VBAR_EL1 + 0x200, which prints 'E' and loops; Orrery must neither
  // crash nor hang on the stop request sent once the 'E' is out.
  std::vector<uint32_t> words = {
      0xD2A80001,  // movz x1, #0x4000, lsl #16 (the RAM base, where the image is loaded)
      0xD518C001,  // msr vbar_el1, x1
      0xD5033FDF,  // isb
      0xD2A12061,  // movz x1, #0x903, lsl #16
      0xB9400020,  // ldr w0, [x1]
  };
  words.resize(0x200 / 4, kBSelf);
  for (uint32_t w : {kMovX1Uart, mov_w2('E'), kStrW2X1, kBSelf}) words.push_back(w);
  std::vector<uint8_t> image;
  for (uint32_t w : words)
    for (int i = 0; i < 4; ++i) image.push_back(uint8_t(w >> (8 * i)));
  auto m = make();
  ASSERT_EQ(m->load_kernel(image), "");
  WaitingChardev uart;
  m->serial_port(0, &uart);
  std::thread stopper([&] {
    EXPECT_TRUE(uart.wait_for("E", std::chrono::seconds(30)));
    m->request_stop(5);
  });
  int status = m->run();
  stopper.join();
  EXPECT_EQ(status, 5);
  EXPECT_EQ(uart.output(), "E");
  EXPECT_EQ(m->error(), "");
}

TEST_F(VirtTest, SecondaryCpuStartsWithPsciCpuOn) {
  for (const char* gic : {"2", "3"}) {
    auto m = make(128 * MiB, false, 2, gic);
    constexpr uint32_t kNop = 0xD503201F;
    // CPU 0: CPU_ON(target 1, entry 0x4000'0040, context 'Z'), then spin. CPU 1 prints X0.
    ASSERT_EQ(
        m->load_kernel(
            code({0xD2800060, 0xF2B88000, 0xD2800021, 0xD2800802, 0xF2A80002, 0xD2800B43,  kHvc0,
                  kBSelf,     kNop,       kNop,       kNop,       kNop,       kNop,        kNop,
                  kNop,       kNop,       kMovX1Uart, 0xB9000020, kMovX0_8,   kMovkX0Psci, kHvc0})),
        "");
    EXPECT_EQ(m->run(), 0) << m->error();
    EXPECT_EQ(out.output().substr(out.output().size() - 1), "Z");
  }
}

// PSCI CPU_OFF parks the calling vCPU (AFFINITY_INFO then says OFF) and the machine runs on;
// CPU_OFF on the last running vCPU powers the machine off.
TEST_F(VirtTest, CpuOffParksTheVcpuAndTheLastOnePowersOff) {
  constexpr uint32_t kNop = 0xD503201F;
  auto m = make(128 * MiB, false, 2);
  // CPU 0: CPU_ON(target 1, entry 0x4000'0060), then AFFINITY_INFO(1) until OFF (1), print 'O'
  // and CPU_OFF itself. CPU 1: CPU_OFF.
  ASSERT_EQ(
      m->load_kernel(code({0xD2800060, 0xF2B88000,  0xD2800021, 0xD2800C02,  0xF2A80002, kHvc0,
                           0xD2800080, 0xF2B88000,  0xD2800021, 0xD2800002,  kHvc0,
                           0xF100041F,                         // cmp x0, #1
                           0x54FFFF41,                         // b.ne (the AFFINITY_INFO loop)
                           kMovX1Uart, mov_w2('O'), kStrW2X1,  // print 'O'
                           0xD2800040, kMovkX0Psci, kHvc0,      kBSelf,      kNop,       kNop,
                           kNop,       kNop,        0xD2800040, kMovkX0Psci, kHvc0,      kBSelf})),
      "");
  WaitingChardev uart;
  m->serial_port(0, &uart);
  std::thread watchdog([&] {
    if (!uart.wait_for("O", std::chrono::seconds(30))) m->request_stop(9);
  });
  EXPECT_EQ(m->run(), 0) << m->error();
  watchdog.join();
  EXPECT_EQ(uart.output(), "O");
  EXPECT_EQ(m->error(), "");
}

TEST_F(VirtTest, CpuOnOutsideRamOrRomIsInvalidAddress) {
  auto m = make(128 * MiB, false, 2);
  // CPU_ON(target 1, entry 0x0A00'0000: virtio-mmio, nothing to execute), then print
  // '0' + 9 + x0: '0' for INVALID_ADDRESS (-9).
  ASSERT_EQ(m->load_kernel(code({0xD2800060, 0xF2B88000, 0xD2800021, 0xD2A14002, kHvc0,
                                 0x9100E402 /* add x2, x0, #57 */, kMovX1Uart, kStrW2X1, kMovX0_8,
                                 kMovkX0Psci, kHvc0, kBSelf})),
            "");
  EXPECT_EQ(m->run(), 0) << m->error();
  EXPECT_EQ(out.output(), "0");
}

// PSCI CPU_ON starts CPU 1 at code that branches to unmapped memory with VBAR_EL1 = 0 (also
// unmapped): it faults at its own vector forever. Only that vCPU stops (logged once under -d
// guest_errors); CPU 0 runs on, prints and powers off.
TEST_F(VirtTest, AVcpuInAnExceptionLoopStopsAloneAndTheOthersRunOn) {
  char path[] = "/tmp/orrery_virt_loop_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  ASSERT_TRUE(log.set_file(path));
  log.set_mask_bits(hw::kLogGuestErrors);
  auto m = make(128 * MiB, false, 8);
  std::vector<uint32_t> w = {
      0xD2800060, 0xF2B88000,               // x0 = CPU_ON_64
      0xD2800021,                           // x1 = 1
      0xD2801002, 0xF2A80002,               // x2 = 0x4000'0080
      kHvc0,      0xD2802003,  0xF2A80003,  // x3 = 0x4000'0100 (the flag the test sets)
      0xB9400064, 0x34FFFFE4,               // 1: ldr w4, [x3]; cbz w4, 1b
      kMovX1Uart, mov_w2('k'), kStrW2X1,   kMovX0_8, kMovkX0Psci, kHvc0, kBSelf};
  w.resize(32, kBSelf);
  w.insert(w.end(), {0xD2A14001, 0xD61F0020});  // 0x80: br to 0x0A00'0000
  w.resize(64, kBSelf);
  w.push_back(0);  // 0x100: the flag
  std::vector<uint8_t> bytes;
  for (uint32_t x : w)
    for (int i = 0; i < 4; ++i) bytes.push_back(uint8_t(x >> (8 * i)));
  ASSERT_EQ(m->load_kernel(bytes), "");

  std::atomic<bool> done{false};
  std::thread releaser([&] {
    // Once CPU 1 is reported stuck, let CPU 0 finish.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done.load() && std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(path);
      std::stringstream ss;
      ss << in.rdbuf();
      if (ss.str().find("exception loop") != std::string::npos) {
        const uint32_t one = 1;
        static_cast<VirtMachine&>(*m).address_space().write_bytes(0x4000'0100, &one, 4);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polls the log file
    }
  });
  const int status = m->run();
  done.store(true);
  releaser.join();
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::remove(path);
  EXPECT_EQ(status, 0) << m->error();
  EXPECT_EQ(m->error(), "");
  EXPECT_EQ(out.output(), "k");
  size_t n = 0;
  for (size_t p = ss.str().find("exception loop"); p != std::string::npos;
       p = ss.str().find("exception loop", p + 1))
    ++n;
  EXPECT_EQ(n, 1u) << ss.str();
  EXPECT_NE(ss.str().find("cpu1"), std::string::npos) << ss.str();
}

TEST_F(VirtTest, DeviceTreeDescribesTheBoard) {
  auto m = make(256 * MiB, false, 4, "3");
  ASSERT_EQ(m->load_kernel(code({kBSelf})), "");
  auto& v = static_cast<VirtMachine&>(*m);
  EXPECT_EQ(v.gic_version(), 3u);
  ASSERT_GT(v.dtb().size(), 100u);
  std::vector<uint8_t> in_ram(v.dtb().size());
  ASSERT_TRUE(v.address_space().read_bytes(v.dtb_address(), in_ram.data(), in_ram.size()));
  EXPECT_EQ(in_ram, v.dtb());
  EXPECT_EQ(v.dtb_address() % (2 * MiB), 0u);
}

TEST_F(VirtTest, BadMachineConfigurations) {
  MachineConfig cfg;
  cfg.cpu_model = "cortex-a57";
  cfg.ram_size = 64 * MiB;
  std::string err;
  cfg.cpus = 9;
  EXPECT_EQ(virt_machine_type().create(cfg, ctx, err), nullptr);
  EXPECT_NE(err.find("CPUs"), std::string::npos);
  cfg.cpus = 1;
  cfg.properties = {{"gic-version", "4"}};
  EXPECT_EQ(virt_machine_type().create(cfg, ctx, err), nullptr);
  EXPECT_NE(err.find("gic-version"), std::string::npos);
}

TEST_F(VirtTest, KernelErrors) {
  auto m = make(1 * MiB);
  EXPECT_NE(m->load_kernel(std::vector<uint8_t>(2 * MiB, 0)), "");
  EXPECT_NE(m->run(), 0);  // nothing loaded
}

TEST_F(VirtTest, RamSizeLimits) {
  MachineConfig cfg;
  cfg.cpu_model = "cortex-a57";
  std::string err;
  cfg.ram_size = 0;
  EXPECT_EQ(virt_machine_type().create(cfg, ctx, err), nullptr);
  EXPECT_NE(err, "");
  cfg.ram_size = kVirtMaxRam + 8192;
  EXPECT_EQ(virt_machine_type().create(cfg, ctx, err), nullptr);
  cfg.ram_size = 64 * MiB;
  cfg.cpu_model = "nosuch";
  EXPECT_EQ(virt_machine_type().create(cfg, ctx, err), nullptr);
  EXPECT_NE(err.find("nosuch"), std::string::npos);
}

}  // namespace
}  // namespace orrery::machine::virt

namespace orrery::machine::virt {
namespace {

class VirtPciTest : public VirtTest {
 protected:
  std::unique_ptr<Machine> make(std::vector<DeviceSpec> devices, std::string& err,
                                const char* gic = "2") {
    MachineConfig cfg;
    cfg.properties.emplace_back("gic-version", gic);
    cfg.cpu_model = "cortex-a57";
    cfg.ram_size = 64 * MiB;
    cfg.devices = std::move(devices);
    return virt_machine_type().create(cfg, ctx, err);
  }
  static uint32_t cfg_rd(VirtMachine& v, unsigned slot, unsigned fn, unsigned reg) {
    uint64_t val = 0;
    EXPECT_EQ(v.address_space().read(
                  virt_region(VirtRegion::PcieEcam).base + (slot << 15) + (fn << 12) + reg, 4, val),
              hw::MemResult::Ok);
    return uint32_t(val);
  }
};

TEST_F(VirtPciTest, DevicesTakeSlotsFromOneAndHonourAddr) {
  std::string err;
  auto m = make({{"virtio-rng-pci", {}},
                 {"pci-testdev", {{"addr", "0x5.0"}}},
                 {"virtio-rng-pci", {{"id", "r2"}}}},
                err);
  ASSERT_TRUE(m) << err;
  auto& v = static_cast<VirtMachine&>(*m);
  EXPECT_EQ(cfg_rd(v, 0, 0, 0), 0x00081b36u);  // the host bridge
  EXPECT_EQ(cfg_rd(v, 1, 0, 0), 0x10441af4u);  // virtio-rng (modern)
  EXPECT_EQ(cfg_rd(v, 2, 0, 0), 0x10441af4u);
  EXPECT_EQ(cfg_rd(v, 5, 0, 0), 0x00051b36u);  // pci-testdev
  EXPECT_EQ(cfg_rd(v, 3, 0, 0), 0xffffffffu);
}

TEST_F(VirtPciTest, SixtyFourBitBarDecodesInTheHighWindow) {
  std::string err;
  auto m = make({{"pci-testdev", {{"addr", "2"}, {"membar", "1M"}}}}, err);
  ASSERT_TRUE(m) << err;
  auto& v = static_cast<VirtMachine&>(*m);
  const uint64_t ecam = virt_region(VirtRegion::PcieEcam).base + (2 << 15);
  auto wr = [&](unsigned reg, uint32_t val) {
    EXPECT_EQ(v.address_space().write(ecam + reg, 4, val), hw::MemResult::Ok);
  };
  EXPECT_EQ(cfg_rd(v, 2, 0, 0x18), 0x0000000cu);  // BAR 2: 64-bit, prefetchable
  const MemMapEntry& high = virt_region(VirtRegion::PcieMmio64);
  EXPECT_EQ(high.base, 0x80'0000'0000u);  // QEMU's virt with RAM below 256 GiB
  auto read = [&](uint64_t a) {
    uint64_t val = 0x1234;
    const hw::MemResult r = v.address_space().read(a, 4, val);
    return r == hw::MemResult::Ok ? val : 0xdeadu;
  };
  // Where Linux puts it: the start of the 64-bit window. membar reads 0; the rest of the
  // window is a master abort (all-ones).
  wr(0x18, uint32_t(high.base) | 0xc);
  wr(0x1c, uint32_t(high.base >> 32));
  wr(0x04, 0x0002);
  EXPECT_EQ(read(high.base), 0u);
  EXPECT_EQ(read(high.base + (1 << 20)), 0xffffffffu);
  // Between the windows (over RAM) it decodes nothing: RAM stays RAM.
  const uint64_t ram = kVirtRamBase + (16 << 20);
  ASSERT_EQ(v.address_space().write(ram, 4, 0x600dcafe), hw::MemResult::Ok);
  wr(0x18, uint32_t(ram) | 0xc);
  wr(0x1c, uint32_t(ram >> 32));
  EXPECT_EQ(read(ram), 0x600dcafeu);
  EXPECT_EQ(read(high.base), 0xffffffffu);
  // Past the window's end: nothing there.
  const uint64_t past = high.base + high.size;
  wr(0x18, uint32_t(past) | 0xc);
  wr(0x1c, uint32_t(past >> 32));
  EXPECT_EQ(v.address_space().find(past), nullptr);
}

TEST_F(VirtPciTest, BadPciDeviceOptions) {
  std::string err;
  EXPECT_FALSE(make({{"pci-testdev", {{"addr", "0x20"}}}}, err));
  EXPECT_NE(err.find("addr=0x20"), std::string::npos) << err;
  EXPECT_FALSE(make({{"pci-testdev", {{"addr", "3"}}}, {"virtio-rng-pci", {{"addr", "3"}}}}, err));
  EXPECT_NE(err.find("already in use"), std::string::npos) << err;
  EXPECT_FALSE(make({{"virtio-blk-pci", {}}}, err));
  EXPECT_NE(err.find("drive=ID is required"), std::string::npos) << err;
  EXPECT_FALSE(make({{"virtio-blk-pci", {{"drive", "nope"}}}}, err));
  EXPECT_NE(err.find("no -drive"), std::string::npos) << err;
  for (const char* bad : {"3M", "8", "2T", "-1", "1X", ""}) {
    EXPECT_FALSE(make({{"pci-testdev", {{"membar", bad}}}}, err)) << bad;
    EXPECT_NE(err.find("membar="), std::string::npos) << err;
  }
  EXPECT_FALSE(make({{"virtio-rng-pci", {{"membar", "1M"}}}}, err));
  EXPECT_NE(err.find("no property 'membar'"), std::string::npos) << err;
}

}  // namespace
}  // namespace orrery::machine::virt
