// Memory-map changes under two AArch64 vCPUs at every tier: a region moved by one vCPU's device
// access is never read at its old place by the other (whose TLB cached it) once the mover goes
// on, and device accesses carry each vCPU's index. (The x86 twin: tests/unit/x86.)
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include "tests/unit/arm64/harness.h"

namespace orrery::cpu::arm64::test {
namespace {

constexpr uint64_t kWindow = 0x10000000;  // X (priority 0) over Y (priority -1)
constexpr uint64_t kAway = 0x20000000;    // where X moves
constexpr uint64_t kProbe = 0x30000000;   // records its requesters
constexpr uint64_t kMovePort = 0x30001000;
constexpr uint32_t kX = 0x11111111, kY = 0x22222222, kPoison = 0xdeadbeef;
// Data words: the last value read, the reader's passes, saw-poison, moved.
constexpr uint64_t kLast = kDataBase, kCount = kDataBase + 4, kSawPoison = kDataBase + 8,
                   kMoved = kDataBase + 12;

// x0 window, x4 data, x5 poison, x6 1.
const std::vector<uint32_t> kReader = {
    0xb9400001,  // loop: ldr w1, [x0]
    0xb9000081,  // str w1, [x4]
    0xb9400482,  // ldr w2, [x4, #4]
    0x11000442,  // add w2, w2, #1
    0xb9000482,  // str w2, [x4, #4]
    0x6b05003f,  // cmp w1, w5
    0x54ffff41,  // b.ne loop
    0xb9000886,  // str w6, [x4, #8]
    0x17fffff8,  // b loop
};
// x7 probe, x8 move port, x9 away, x4 data, x5 poison, x6 1.
const std::vector<uint32_t> kMover = {
    0xb94000e1,  // ldr w1, [x7]
    0xb9000101,  // str w1, [x8]   (moves X away)
    0x14000001,  // b .+4          (the block ends: the mover waits for the reader here)
    0xb9000125,  // str w5, [x9]   (poisons X at its new place)
    0xb9000c86,  // str w6, [x4, #12]
    0x14000000,  // b .
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
    seen.insert(a.is_cpu() ? int(a.id) : -1);
    return read(o, s, v);
  }
  std::mutex mu;
  std::set<int> seen;
};

class MovePort final : public hw::MmioDevice {
 public:
  hw::MemResult read(uint64_t, unsigned, uint64_t& v) override {
    v = 0;
    return hw::MemResult::Ok;
  }
  hw::MemResult write(uint64_t, unsigned, uint64_t) override {
    std::lock_guard lk(mu);  // a device lock held across the change, as a BAR write holds one
    EXPECT_EQ(region->set_address(kAway), "");
    return hw::MemResult::Ok;
  }
  std::mutex mu;
  hw::MemoryRegion* region = nullptr;
};

class IdlePlatform : public Arm64Platform {
 public:
  HvcResult hvc(Arm64Cpu&, uint16_t) override { return {HvcResult::Action::PowerOff, 0}; }
};

using MemoryMapTest = Arm64Test;

TEST_P(MemoryMapTest, RegionMovedByAnotherVcpuIsNotReadAtItsOldPlace) {
  std::string err;
  auto x = hw::MemoryRegion::ram("x", 0x1000, err);
  auto y = hw::MemoryRegion::ram("y", 0x1000, err);
  std::memcpy(x->host(), &kX, 4);
  std::memcpy(y->host(), &kY, 4);
  ASSERT_EQ(m->as.root().add_subregion(*x, kWindow, 0), "");
  ASSERT_EQ(m->as.root().add_subregion(*y, kWindow, -1), "");
  Probe probe;
  MovePort mover;
  mover.region = x.get();
  ASSERT_EQ(m->as.add_mmio("probe", kProbe, 0x1000, probe), "");
  ASSERT_EQ(m->as.add_mmio("move", kMovePort, 0x1000, mover), "");
  m->as.add_listener(m->engine.get());
  m->load(kReader);
  m->load(kMover, kCodeBase + 0x1000);

  IdlePlatform idle;
  Arm64Cpu other(default_cpu_model(), 1, m->as, *m->engine, idle, m->loop);
  other.reset(kCodeBase);
  other.state().x[0] = kWindow;
  other.state().x[4] = kDataBase;
  other.state().x[5] = kPoison;
  other.state().x[6] = 1;
  other.mode_changed();
  m->cpu->reset(kCodeBase + 0x1000);
  m->x(7) = kProbe;
  m->x(8) = kMovePort;
  m->x(9) = kAway;
  m->x(4) = kDataBase;
  m->x(5) = kPoison;
  m->x(6) = 1;
  m->cpu->mode_changed();

  auto until = [&](auto cond) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!cond())
      if (std::chrono::steady_clock::now() > end)
        return false;
      else
        std::this_thread::yield();
    return true;
  };
  auto word = [&](uint64_t a) { return uint32_t(m->read_mem(a, 4)); };
  auto passes = [&](uint32_t n) {
    const uint32_t c0 = word(kCount);
    return until([&] { return word(kCount) - c0 >= n; });
  };

  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop && other.run() != ExitKind::Kicked) {
    }
  });
  bool ok = passes(1000);  // the reader's TLB holds X's page
  EXPECT_TRUE(ok);
  EXPECT_EQ(word(kLast), kX);
  std::thread moving([&] {
    while (!stop && m->cpu->run() != ExitKind::Kicked) {
    }
  });
  if (ok) ok = until([&] { return word(kMoved) == 1; });
  EXPECT_TRUE(ok);
  if (ok) {
    EXPECT_TRUE(passes(1000));
    EXPECT_EQ(word(kSawPoison), 0u) << "the reader used its stale TLB entry for X";
    EXPECT_EQ(word(kLast), kY);
    uint32_t away = 0;
    std::memcpy(&away, x->host(), 4);
    EXPECT_EQ(away, kPoison);
  }
  stop = true;
  other.kick();
  m->cpu->kick();
  reader.join();
  moving.join();
  std::lock_guard lk(probe.mu);
  EXPECT_EQ(probe.seen, (std::set<int>{0}));  // the mover is vCPU 0; the reader reads no device
  m->as.root().remove_subregion(*x);
  m->as.root().remove_subregion(*y);
}

ORRERY_ARM64_TIERS(MemoryMapTest);

}  // namespace
}  // namespace orrery::cpu::arm64::test
