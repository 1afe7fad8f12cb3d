// Memory-map changes while vCPUs run: every vCPU's TLB is flushed before the change is visible
// to the guest that made it (a region moved under a vCPU reading it through a cached TLB entry
// is never read at its old place afterwards), and device accesses carry the vCPU's index.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "cpu/x86/cpu.h"
#include "hw/core/address_space.h"
#include "hw/core/log.h"
#include "tcg/exec/engine.h"

namespace orrery::cpu::x86 {
namespace {

constexpr uint64_t kWindow = 0x10000000;  // X (priority 0) over Y (priority -1)
constexpr uint64_t kAway = 0x20000000;    // where X moves
constexpr uint64_t kProbe = 0x30000000;   // an MMIO device that records its requesters
constexpr uint32_t kX = 0x11111111, kY = 0x22222222, kPoison = 0xdeadbeef;
// RAM words the guest code uses.
constexpr uint64_t kLast = 0x1000, kCount = 0x1004, kSawPoison = 0x1008, kMoved = 0x100c;

// vCPU 1: reads the probe once, then loops reading the window; a read of kPoison sets a flag.
const uint8_t kReader[] = {
    0xa1, 0x00, 0x00, 0x00, 0x30,              // mov eax, [kProbe]
    0xa1, 0x00, 0x00, 0x00, 0x10,              // loop: mov eax, [kWindow]
    0xa3, 0x00, 0x10, 0x00, 0x00,              // mov [kLast], eax
    0xff, 0x05, 0x04, 0x10, 0x00, 0x00,        // inc dword [kCount]
    0x3d, 0xef, 0xbe, 0xad, 0xde,              // cmp eax, kPoison
    0x75, 0x07,                                // jne +7
    0xc6, 0x05, 0x08, 0x10, 0x00, 0x00, 0x01,  // mov byte [kSawPoison], 1
    0xeb, 0xdb,                                // jmp loop
};
// vCPU 0: reads the probe, moves X away through a port (a device access), then poisons X at
// its new place and says so.
const uint8_t kMover[] = {
    0xa1, 0x00, 0x00, 0x00, 0x30,                                // mov eax, [kProbe]
    0xe6, 0xf0,                                                  // out 0xf0, al
    0xeb, 0x00,                                                  // jmp next
    0xc7, 0x05, 0x00, 0x00, 0x00, 0x20, 0xef, 0xbe, 0xad, 0xde,  // mov dword [kAway], kPoison
    0xc6, 0x05, 0x0c, 0x10, 0x00, 0x00, 0x01,                    // mov byte [kMoved], 1
    0xeb, 0xfe,                                                  // jmp $
};

class Probe final : public hw::MmioDevice {
 public:
  hw::MemResult read(uint64_t, unsigned, uint64_t& v) override {
    v = 0;
    return hw::MemResult::Ok;
  }
  hw::MemResult write(uint64_t, unsigned, uint64_t) override { return hw::MemResult::Ok; }
  hw::MemResult read_attrs(uint64_t o, unsigned s, uint64_t& v, const hw::MemAttrs& a) override {
    std::lock_guard lk(mu);
    seen.insert({a.requester, a.id});
    return read(o, s, v);
  }
  std::mutex mu;
  std::set<std::pair<hw::MemAttrs::Requester, unsigned>> seen;
};

// A port whose write moves X away, under its own lock, as a PCI BAR write would.
class MovePort final : public hw::MmioDevice {
 public:
  hw::MemResult read(uint64_t, unsigned, uint64_t& v) override {
    v = 0;
    return hw::MemResult::Ok;
  }
  hw::MemResult write(uint64_t, unsigned, uint64_t) override {
    std::lock_guard lk(mu);
    EXPECT_EQ(region->set_address(kAway), "");
    return hw::MemResult::Ok;
  }
  std::mutex mu;
  hw::MemoryRegion* region = nullptr;
};

class MemoryMapTest : public ::testing::Test, public X86Platform {
 protected:
  MemoryMapTest() {
    std::string err;
    EXPECT_EQ(memory.add_ram("ram", 0, 1 << 20), "");
    x = hw::MemoryRegion::ram("x", 0x1000, err);
    y = hw::MemoryRegion::ram("y", 0x1000, err);
    std::memcpy(x->host(), &kX, 4);
    std::memcpy(y->host(), &kY, 4);
    EXPECT_EQ(memory.root().add_subregion(*x, kWindow, 0), "");
    EXPECT_EQ(memory.root().add_subregion(*y, kWindow, -1), "");
    EXPECT_EQ(memory.add_mmio("probe", kProbe, 0x1000, probe), "");
    EXPECT_EQ(io.add_mmio("move", 0xf0, 1, mover), "");
    mover.region = x.get();
    tcg::exec::EngineOptions eo;
    eo.tier = tcg::exec::Tier::Interp;
    engine = std::make_unique<tcg::exec::Engine>(eo, log);
    EXPECT_EQ(engine->init(), "");
    memory.set_write_observer(engine.get());
    memory.add_listener(engine.get());
    for (unsigned i = 0; i < 2; ++i)
      cpus.push_back(std::make_unique<X86Cpu>(default_cpu_model(), i, memory, io, *engine, *this));
    EXPECT_TRUE(memory.write_bytes(0x8000, kReader, sizeof kReader));
    EXPECT_TRUE(memory.write_bytes(0x9000, kMover, sizeof kMover));
  }
  ~MemoryMapTest() override {
    for (auto& c : cpus) c->kick();
    for (auto& t : threads) t.join();
    memory.root().remove_subregion(*x);
    memory.root().remove_subregion(*y);
  }
  int acknowledge_interrupt() override { return -1; }

  void start(unsigned i, uint32_t entry) {
    cpus[i]->reset_multiboot(entry, 0, 0);
    threads.emplace_back([this, i] {
      while (cpus[i]->run() != ExitKind::Kicked && !stopping) {
      }
    });
  }
  uint32_t word(uint64_t a) {
    uint32_t v = 0;
    EXPECT_TRUE(memory.read_bytes(a, &v, 4));
    return v;
  }
  // Waits (bounded) until cond holds; false on timeout.
  template <class F>
  bool until(F cond) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!cond())
      if (std::chrono::steady_clock::now() > end)
        return false;
      else
        std::this_thread::yield();
    return true;
  }
  // The reader has made n more passes since now.
  bool passes(uint32_t n) {
    const uint32_t c0 = word(kCount);
    return until([&] { return word(kCount) - c0 >= n; });
  }

  hw::Log log;
  hw::AddressSpace memory;
  hw::AddressSpace io{"io", hw::kIoPortSpaceSize};
  std::unique_ptr<hw::MemoryRegion> x, y;
  Probe probe;
  MovePort mover;
  std::unique_ptr<tcg::exec::Engine> engine;
  std::vector<std::unique_ptr<X86Cpu>> cpus;
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
};

TEST_F(MemoryMapTest, RegionMovedByAnotherVcpuIsNotReadAtItsOldPlace) {
  start(1, 0x8000);
  ASSERT_TRUE(passes(1000));  // the reader's TLB holds X's page
  EXPECT_EQ(word(kLast), kX);
  start(0, 0x9000);
  ASSERT_TRUE(until([&] { return word(kMoved) == 1; }));
  EXPECT_EQ(x->address(), kAway);
  // The mover wrote the poison into X after its commit was acknowledged by the reader.
  ASSERT_TRUE(passes(1000));
  EXPECT_EQ(word(kSawPoison), 0u) << "the reader used its stale TLB entry for X";
  EXPECT_EQ(word(kLast), kY);  // uncovered by X's move
  EXPECT_EQ(word(kAway), kPoison);
  // Both vCPUs' device accesses carried their index.
  std::lock_guard lk(probe.mu);
  EXPECT_EQ(probe.seen, (std::set<std::pair<hw::MemAttrs::Requester, unsigned>>{
                            {hw::MemAttrs::Requester::Cpu, 0}, {hw::MemAttrs::Requester::Cpu, 1}}));
}

TEST_F(MemoryMapTest, RegionMovedByAnotherThreadIsNotReadAtItsOldPlace) {
  start(1, 0x8000);
  ASSERT_TRUE(passes(1000));
  EXPECT_EQ(word(kLast), kX);
  ASSERT_EQ(x->set_address(kAway), "");  // returns once the reader flushed its TLB
  std::memcpy(x->host(), &kPoison, 4);
  ASSERT_TRUE(passes(1000));
  EXPECT_EQ(word(kSawPoison), 0u) << "the reader used its stale TLB entry for X";
  EXPECT_EQ(word(kLast), kY);
  EXPECT_GE(engine->map_generation(), 1u);
}

}  // namespace
}  // namespace orrery::cpu::x86
