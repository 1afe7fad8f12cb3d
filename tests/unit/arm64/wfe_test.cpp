// WFE and the event register: a vCPU in a WFE loop sleeps on its host thread (it executes the
// loop a handful of times, not millions) and wakes on SEV from another vCPU, on a store by
// another vCPU to the address its exclusive monitor watches (Linux's ldaxr + wfe loops send no
// SEV), on the generic timer's event stream, on a pending interrupt even while masked and on a
// kick. A TLB broadcast neither waits for a sleeping vCPU nor wakes it: the sleeper applies the
// queued flushes before it runs guest code again. SEVL and an exception return set the local
// event register, so the next WFE completes at once.
#include <time.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "tests/unit/arm64/harness.h"

namespace orrery::cpu::arm64::test {
namespace {

class PowerOffPlatform : public Arm64Platform {
 public:
  HvcResult hvc(Arm64Cpu&, uint16_t) override { return {HvcResult::Action::PowerOff, 0}; }
};

constexpr uint32_t kWfe = 0xd503205f;
constexpr uint64_t kWaiterCode = kCodeBase + 0x1000;
constexpr uint64_t kFlag = kDataBase;        // the waiter leaves its loop once this is nonzero
constexpr uint64_t kCount = kDataBase + 64;  // the waiter's loop iterations (one WFE each)

// loop: ldr w0, [x1] (or ldaxr); cbnz w0, done; add x5, x5, #1; str x5, [x1, #64]; wfe;
//       b loop; done: hvc #0
std::vector<uint32_t> waiter_code(bool exclusive) {
  return {exclusive ? 0x885ffc20u : 0xb9400020u,
          0x350000a0,
          0x910004a5,
          0xf9002025,
          kWfe,
          0x17fffffb,
          kHvc0};
}

/// Kicks the given vCPUs if the test has not finished by the deadline, so that a missed
/// wake-up fails the test (run() returns Kicked) instead of hanging it.
class Watchdog {
 public:
  explicit Watchdog(std::vector<Arm64Cpu*> cpus) : cpus_(std::move(cpus)), t_([this] { main(); }) {}
  ~Watchdog() {
    {
      std::lock_guard lk(mu_);
      done_ = true;
    }
    cv_.notify_all();
    t_.join();
  }

 private:
  void main() {
    std::unique_lock lk(mu_);
    if (cv_.wait_for(lk, std::chrono::seconds(20), [&] { return done_; })) return;
    for (Arm64Cpu* c : cpus_) c->kick();
  }
  std::vector<Arm64Cpu*> cpus_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread t_;
};

int64_t thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

class WfeTest : public Arm64Test {
 protected:
  void SetUp() override {
    Arm64Test::SetUp();
    if (IsSkipped()) return;
    other =
        std::make_unique<Arm64Cpu>(default_cpu_model(), 1, m->as, *m->engine, platform, m->loop);
    cpus[0] = m->cpu.get();
    cpus[1] = other.get();
    for (Arm64Cpu* c : cpus) c->set_siblings(cpus);
  }

  /// Loads the waiter (CPU 1) and `main` (CPU 0), both with x1 = kFlag.
  void load(const std::vector<uint32_t>& main, bool exclusive_waiter) {
    const std::vector<uint32_t> w = waiter_code(exclusive_waiter);
    m->as.write_bytes(kWaiterCode, w.data(), w.size() * 4);
    m->load(main);  // also zeroes the data area and drops translations
    other->reset(kWaiterCode);
    for (Arm64Cpu* c : cpus) {
      c->state().x[1] = kFlag;
      c->state().sp_el1 = kStackTop;
    }
  }

  /// Runs the waiter on its own thread until it has executed its first WFE, waits a further
  /// `window` (a spinning WFE would loop thousands of times meanwhile), then runs CPU 0.
  /// Returns the waiter's host CPU time over the whole run.
  int64_t run_both(std::chrono::milliseconds window) {
    Watchdog dog({cpus[0], cpus[1]});
    int64_t waiter_cpu_ns = 0;
    std::thread t([&] {
      const int64_t t0 = thread_cpu_ns();
      kinds[1] = other->run();
      waiter_cpu_ns = thread_cpu_ns() - t0;
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (m->read_mem(kCount, 8) == 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
    std::this_thread::sleep_for(window);
    kinds[0] = m->cpu->run();
    t.join();
    return waiter_cpu_ns;
  }

  PowerOffPlatform platform;
  std::unique_ptr<Arm64Cpu> other;
  Arm64Cpu* cpus[2] = {};
  ExitKind kinds[2] = {ExitKind::Error, ExitKind::Error};
};

TEST_P(WfeTest, AVcpuSleepsInWfeUntilAnotherSendsSev) {
  load({0x52800020, 0xb9000020, 0xd503209f}, false);  // mov w0, #1; str w0, [x1]; sev
  const int64_t cpu_ns = run_both(std::chrono::milliseconds(200));
  EXPECT_EQ(kinds[0], ExitKind::Shutdown);
  EXPECT_EQ(kinds[1], ExitKind::Shutdown);  // not Kicked by the watchdog
  EXPECT_EQ(m->read_mem(kFlag, 4), 1u);
  // Asleep for 200 ms: a few loop iterations and little host CPU time, not a busy loop.
  EXPECT_GE(m->read_mem(kCount, 8), 1u);
  EXPECT_LE(m->read_mem(kCount, 8), 3u);
  EXPECT_LT(cpu_ns, 100'000'000);
}

TEST_P(WfeTest, AStoreToTheMonitoredAddressWakesAnLdaxrWfeLoopWithoutSev) {
  load({0x52800020, 0xb9000020}, true);  // mov w0, #1; str w0, [x1] (no SEV)
  run_both(std::chrono::milliseconds(50));
  EXPECT_EQ(kinds[0], ExitKind::Shutdown);
  EXPECT_EQ(kinds[1], ExitKind::Shutdown);
  EXPECT_GE(m->read_mem(kCount, 8), 1u);
  EXPECT_LE(m->read_mem(kCount, 8), 3u);
}

TEST_P(WfeTest, ATlbBroadcastCompletesWhileAVcpuSleepsInWfe) {
  // CPU 0: tlbi vmalle1is; dsb ish; mov w0, #1; str w0, [x1]; sev
  load({0xd508831f, 0xd5033b9f, 0x52800020, 0xb9000020, 0xd503209f}, false);
  run_both(std::chrono::milliseconds(20));
  EXPECT_EQ(kinds[0], ExitKind::Shutdown);
  EXPECT_EQ(kinds[1], ExitKind::Shutdown);
}

TEST_P(WfeTest, TlbBroadcastsDoNotWakeAVcpuSleepingInWfe) {
  // CPU 0: mov x9, #100; loop: tlbi vmalle1is; dsb ish; subs x9, x9, #1; b.ne loop;
  //        mov w0, #1; str w0, [x1]; sev
  // Each broadcast used to wake the sleeper to acknowledge it (a host thread wake-up, ~30-100
  // us on a VM host, while the initiator waited): ~100 loop iterations. Now the flushes queue
  // (collapsing past kMaxQueuedFlushes) and the waiter wakes for the SEV alone.
  load({0xd2800c89, 0xd508831f, 0xd5033b9f, 0xf1000529, 0x54ffffa1, 0x52800020, 0xb9000020,
        0xd503209f},
       false);
  run_both(std::chrono::milliseconds(20));
  EXPECT_EQ(kinds[0], ExitKind::Shutdown);
  EXPECT_EQ(kinds[1], ExitKind::Shutdown);
  EXPECT_GE(m->read_mem(kCount, 8), 1u);
  EXPECT_LE(m->read_mem(kCount, 8), 4u);
}

TEST_P(WfeTest, AKickEndsTheRunOfAVcpuSleepingInWfe) {
  load({}, false);
  std::thread t([&] { kinds[1] = other->run(); });
  while (m->read_mem(kCount, 8) == 0) std::this_thread::yield();
  other->kick();
  t.join();
  EXPECT_EQ(kinds[1], ExitKind::Kicked);
}

TEST_P(WfeTest, APendingInterruptWakesWfeEvenWhileMasked) {
  load({}, false);  // DAIF is masked after reset
  Watchdog dog({cpus[1]});
  std::thread t([&] { kinds[1] = other->run(); });
  while (m->read_mem(kCount, 8) == 0) std::this_thread::yield();
  m->write_mem(kFlag, 1, 4);
  other->set_irq(true);
  t.join();
  EXPECT_EQ(kinds[1], ExitKind::Shutdown);
  EXPECT_LE(m->read_mem(kCount, 8), 3u);
}

TEST_P(WfeTest, TheEventStreamWakesWfePeriodically) {
  // CNTKCTL_EL1.EVNTEN with EVNTI = 15: an event each time CNTVCT bit 15 rises, every 65536
  // ticks (1.05 ms at 62.5 MHz). The guest counts wake-ups for 20 ms of CNTVCT.
  // msr cntkctl_el1, x2; isb; mrs x3, cntvct_el0;
  // loop: wfe; add x5, x5, #1; mrs x4, cntvct_el0; sub x4, x4, x3; cmp x4, x6; b.lo loop
  m->load({0xd518e102, 0xd5033fdf, 0xd53be043, kWfe, 0x910004a5, 0xd53be044, 0xcb030084, 0xeb06009f,
           0x54ffff63});
  m->x(2) = (1u << 2) | (15u << 4);
  m->x(6) = kCounterFrequency / 50;
  Watchdog dog({m->cpu.get()});
  EXPECT_EQ(m->run(), ExitKind::Shutdown);
  EXPECT_GE(m->x(5), 1u);
  EXPECT_LE(m->x(5), 200u);  // ~19 events; a WFE that did not sleep loops far more often
}

TEST_P(WfeTest, SevAndSevlSetTheLocalEventRegister) {
  for (uint32_t sev : {0xd503209fu, 0xd50320bfu}) {  // sev, sevl
    m->load({sev, kWfe});                            // completes at once, consuming the event
    Watchdog dog({m->cpu.get()});
    EXPECT_EQ(m->run(), ExitKind::Shutdown);
  }
}

TEST_P(WfeTest, AnExceptionReturnSetsTheEventRegister) {
  // msr spsr_el1, x8; adr x7, .+12; msr elr_el1, x7; eret; wfe
  m->load({0xd5184008, 0x10000067, 0xd5184027, 0xd69f03e0, kWfe});
  m->x(8) = 0x3c5;  // EL1h, DAIF masked
  Watchdog dog({m->cpu.get()});
  EXPECT_EQ(m->run(), ExitKind::Shutdown);
}

ORRERY_ARM64_TIERS(WfeTest);

}  // namespace
}  // namespace orrery::cpu::arm64::test
