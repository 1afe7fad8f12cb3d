// The pc board: QEMU's RAM split, the memory and port maps it builds, serial input through COM1
// as a guest sees it, and runs of tiny multiboot kernels (a.out kludge, hand-assembled).
#include "machine/pc/pc.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "hw/core/clock.h"
#include "hw/core/event_loop.h"
#include "hw/core/log.h"
#include "tcg/exec/engine.h"

namespace orrery::machine::pc {
namespace {

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

class StringSink : public hw::CharSink {
 public:
  void write(std::span<const uint8_t> data) override { out.append(data.begin(), data.end()); }
  std::string out;
};

// A multiboot kernel with the a.out kludge: loaded at 1 MiB, entry at 0x100020 = code.
std::vector<uint8_t> kernel(const std::vector<uint8_t>& code) {
  std::vector<uint8_t> b;
  auto put = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (8 * i)));
  };
  const uint32_t magic = 0x1BADB002, flags = 0x10000;
  for (uint32_t v : {magic, flags, 0u - magic - flags, 0x100000u, 0x100000u, 0u, 0u, 0x100020u})
    put(v);
  b.insert(b.end(), code.begin(), code.end());
  return b;
}

class PcTest : public ::testing::Test {
 protected:
  PcTest() : engine(engine_options(), log), ctx{log, engine, clock, loop} {
    EXPECT_EQ(engine.init(), "");
    loop.start();
  }
  static tcg::exec::EngineOptions engine_options() {
    tcg::exec::EngineOptions o;
    o.tier = tcg::exec::Tier::Interp;
    return o;
  }
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
  static DeviceSpec debug_exit() {
    return {"isa-debug-exit", {{"iobase", "0xf4"}, {"iosize", "4"}}};
  }

  hw::Log log;
  tcg::exec::Engine engine;
  hw::Clock clock;
  hw::EventLoop loop{clock};
  MachineContext ctx;
};

TEST_F(PcTest, MemoryAndPortMaps) {
  auto m = make(4 * kGiB, {debug_exit()}, 2);
  ASSERT_TRUE(m);
  auto& pc = static_cast<PcMachine&>(*m);
  const auto regions = pc.memory().regions();
  ASSERT_EQ(regions.size(), 2u);
  EXPECT_EQ(regions[0].base, 0u);
  EXPECT_EQ(regions[0].size, 3 * kGiB);
  EXPECT_EQ(regions[1].base, 4 * kGiB);
  EXPECT_EQ(regions[1].size, 1 * kGiB);
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
  auto k = kernel(code);
  BootImages images{k, {}, {}, {}, {}};
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

}  // namespace
}  // namespace orrery::machine::pc
