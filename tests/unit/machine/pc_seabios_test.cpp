// Debian's SeaBIOS on -M pc: it prints its banner on COM1 (etc/sercon-port under -nographic),
// finds nothing to boot, and has placed the ACPI tables through fw_cfg's table loader: the RSDP
// in the F segment, the RSDT/XSDT and every table they list with valid checksums, the MADT with
// one entry per vCPU and the DSDT's PCI window patched. With a BAR too large for the 32-bit
// hole it places the 64-bit BARs above 4 GiB, where the board decodes them.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hw/acpi/acpi_builder.h"
#include "hw/core/clock.h"
#include "hw/core/event_loop.h"
#include "hw/core/log.h"
#include "machine/pc/pc.h"
#include "tcg/exec/engine.h"

namespace orrery::machine::pc {
namespace {

/// COM1's output, with a wait for a string to appear.
class WaitSink : public hw::CharSink {
 public:
  void write(std::span<const uint8_t> data) override {
    std::lock_guard<std::mutex> g(mu_);
    out_.append(data.begin(), data.end());
    cv_.notify_all();
  }
  bool wait_for(const std::string& s, std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return out_.find(s) != std::string::npos; });
  }
  std::string text() {
    std::lock_guard<std::mutex> g(mu_);
    return out_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::string out_;
};

std::vector<uint8_t> bytes(PcMachine& pc, uint64_t addr, uint64_t len) {
  std::vector<uint8_t> v(len);
  EXPECT_TRUE(pc.memory().read_bytes(addr, v.data(), len)) << std::hex << addr;
  return v;
}
uint64_t le(const std::vector<uint8_t>& v, size_t off, unsigned n) {
  uint64_t x = 0;
  for (unsigned i = 0; i < n; ++i) x |= uint64_t(v.at(off + i)) << (8 * i);
  return x;
}
/// The table at addr (its header's length), checked to sum to zero.
std::vector<uint8_t> table(PcMachine& pc, uint64_t addr) {
  std::vector<uint8_t> head = bytes(pc, addr, 8);
  std::vector<uint8_t> t = bytes(pc, addr, le(head, 4, 4));
  EXPECT_EQ(hw::acpi::checksum(t), 0) << std::string(t.begin(), t.begin() + 4);
  return t;
}

class PcSeaBios : public testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kDefaultBios)) GTEST_SKIP() << kDefaultBios << " is missing";
    ASSERT_EQ(engine.init(), "");
    loop.start();
  }
  /// Runs SeaBIOS on a qemu64 machine with one vCPU (with more, SeaBIOS waits for the APs to
  /// answer its SIPI) and ram bytes until it finds nothing to boot; stops the machine there.
  std::unique_ptr<Machine> run_to_no_bootable_device(uint64_t ram,
                                                     std::vector<DeviceSpec> devices = {}) {
    MachineConfig c;
    c.cpu_model = "qemu64";
    c.ram_size = ram;
    c.cpus = 1;
    c.nographic = true;
    c.devices = std::move(devices);
    std::string err;
    auto m = PcMachine::create(c, ctx, err);
    EXPECT_TRUE(m) << err;
    if (!m) return nullptr;
    m->serial_port(0, &out);
    EXPECT_EQ(m->load_boot({}), "");
    std::thread runner([&] { m->run(); });
    const bool done = out.wait_for("No bootable device", std::chrono::seconds(60));
    m->request_stop(0);
    runner.join();
    EXPECT_TRUE(done) << out.text();
    EXPECT_NE(out.text().find("SeaBIOS (version"), std::string::npos);
    return done ? std::move(m) : nullptr;
  }

  hw::Log log;
  tcg::exec::Engine engine{{}, log};
  hw::Clock clock;
  hw::EventLoop loop{clock};
  MachineContext ctx{log, engine, clock, loop};
  WaitSink out;
};

TEST_F(PcSeaBios, BannerOnCom1AndAcpiTablesPlacedByTheTableLoader) {
  auto m = run_to_no_bootable_device(128 * kMiB);
  ASSERT_TRUE(m);
  auto& pc = static_cast<PcMachine&>(*m);

  // SeaBIOS allocated the RSDP in the F segment (0xe0000-0xfffff), 16-byte aligned.
  uint64_t rsdp_at = 0;
  for (uint64_t a = kBiosLowBase; a < kBiosLowBase + kBiosLowSize && !rsdp_at; a += 16) {
    std::vector<uint8_t> sig = bytes(pc, a, 8);
    if (std::string(sig.begin(), sig.end()) == "RSD PTR ") rsdp_at = a;
  }
  ASSERT_NE(rsdp_at, 0u);
  std::vector<uint8_t> rsdp = bytes(pc, rsdp_at, 36);
  EXPECT_EQ(hw::acpi::checksum(std::span(rsdp).first(20)), 0);
  EXPECT_EQ(hw::acpi::checksum(rsdp), 0);
  std::vector<uint8_t> rsdt = table(pc, le(rsdp, 16, 4));
  std::vector<uint8_t> xsdt = table(pc, le(rsdp, 24, 8));
  EXPECT_EQ(std::string(rsdt.begin(), rsdt.begin() + 4), "RSDT");
  EXPECT_EQ(std::string(xsdt.begin(), xsdt.begin() + 4), "XSDT");
  std::vector<std::string> sigs;
  for (size_t o = 36; o < xsdt.size(); o += 8) {
    EXPECT_EQ(le(xsdt, o, 8), le(rsdt, 36 + (o - 36) / 2, 4));
    std::vector<uint8_t> t = table(pc, le(xsdt, o, 8));
    const std::string sig(t.begin(), t.begin() + 4);
    sigs.push_back(sig);
    if (sig == "APIC") {
      unsigned lapics = 0;
      for (size_t e = 44; e < t.size(); e += t[e + 1]) lapics += t[e] == 0;
      EXPECT_EQ(lapics, 1u);
    }
    if (sig == "FACP") {
      std::vector<uint8_t> dsdt = table(pc, le(t, 140, 8));
      EXPECT_EQ(std::string(dsdt.begin(), dsdt.begin() + 4), "DSDT");
      EXPECT_EQ(le(t, 40, 4), le(t, 140, 8));
      std::vector<uint8_t> facs = bytes(pc, le(t, 36, 4), 4);
      EXPECT_EQ(std::string(facs.begin(), facs.end()), "FACS");
      const std::string s(dsdt.begin(), dsdt.end());
      const size_t at = s.find("PMLO\x0c");
      ASSERT_NE(at, std::string::npos);
      EXPECT_EQ(le(dsdt, at + 5, 4), 128 * kMiB);
    }
  }
  EXPECT_EQ(sigs, (std::vector<std::string>{"FACP", "APIC", "HPET"}));
}

TEST_F(PcSeaBios, MovesSixtyFourBitBarsAboveFourGiBWhenTheHoleIsTooSmall) {
  // 512 MiB: SeaBIOS's 32-bit window is 0x80000000..0xfec00000, too small for a 2 GiB BAR, so
  // it moves every 64-bit BAR above 4 GiB (largest first, from the GiB after RAM), as on QEMU.
  auto m = run_to_no_bootable_device(
      512 * kMiB,
      {{"pci-testdev", {{"addr", "4"}, {"membar", "2G"}}}, {"virtio-rng-pci", {{"addr", "5"}}}});
  ASSERT_TRUE(m);
  auto& pc = static_cast<PcMachine&>(*m);
  auto cfg = [&](unsigned devfn, unsigned reg) {
    EXPECT_EQ(pc.io_ports().write(0xcf8, 4, 0x80000000u | devfn << 8 | reg), hw::MemResult::Ok);
    uint64_t v = 0;
    EXPECT_EQ(pc.io_ports().read(0xcfc, 4, v), hw::MemResult::Ok);
    return uint32_t(v);
  };
  auto bar64 = [&](unsigned devfn, unsigned n) {
    return (uint64_t(cfg(devfn, 0x14 + 4 * n)) << 32 | cfg(devfn, 0x10 + 4 * n)) & ~uint64_t(15);
  };
  const uint64_t membar = bar64(4 << 3, 2), rng_bar4 = bar64(5 << 3, 4);
  EXPECT_EQ(membar, 4ull << 30);
  EXPECT_EQ(rng_bar4, 6ull << 30);
  EXPECT_TRUE(cfg(5 << 3, 0x04) & 0x2);  // memory decode on
  // Both decode there: membar reads 0, virtio's common configuration says one queue.
  uint64_t v = ~0ull;
  EXPECT_EQ(pc.memory().read(membar + 0x1000, 4, v), hw::MemResult::Ok);
  EXPECT_EQ(v, 0u);
  EXPECT_EQ(pc.memory().read(rng_bar4 + 0x12, 2, v), hw::MemResult::Ok);  // num_queues
  EXPECT_EQ(v, 1u);
  // The 32-bit BARs stay in the 32-bit window.
  EXPECT_GE(cfg(4 << 3, 0x10) & ~15u, 0x80000000u);
  EXPECT_LT(cfg(4 << 3, 0x10) & ~15u, kPciHoleEnd);
}

}  // namespace
}  // namespace orrery::machine::pc
