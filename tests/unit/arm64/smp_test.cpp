// Exclusives under real concurrency: two vCPUs on two host threads increment one counter with
// LDXR/ADD/STXR loops. A store-exclusive that checked and stored in two steps let both vCPUs
// succeed with the same old value and lose increments (and made SMP Linux hang rarely).
#include <thread>

#include "tests/unit/arm64/harness.h"

namespace orrery::cpu::arm64::test {
namespace {

class PowerOffPlatform : public Arm64Platform {
 public:
  HvcResult hvc(Arm64Cpu&, uint16_t) override { return {HvcResult::Action::PowerOff, 0}; }
};

using SmpTest = Arm64Test;

TEST_P(SmpTest, ExclusiveIncrementsFromTwoVcpusAreNeverLost) {
  // loop: ldxr x1, [x0]; add x1, x1, #1; stxr w3, x1, [x0]; cbnz w3, loop;
  //       subs x2, x2, #1; b.ne loop; hvc #0
  const std::vector<uint32_t> code = {0xc85f7c01, 0x91000421, 0xc8037c01,
                                      0x35ffffa3, 0xf1000442, 0x54ffff61};
  constexpr uint64_t kIterations = 200000;
  m->load(code);
  PowerOffPlatform other_platform;
  Arm64Cpu other(default_cpu_model(), 1, m->as, *m->engine, other_platform, m->loop);
  Arm64Cpu* cpus[2] = {m->cpu.get(), &other};
  for (Arm64Cpu* c : cpus) {
    c->reset(kCodeBase);
    c->state().x[0] = kDataBase;
    c->state().x[2] = kIterations;
    c->state().sp_el1 = kStackTop;
    c->mode_changed();
  }
  ExitKind kinds[2];
  std::thread t([&] { kinds[1] = other.run(); });
  kinds[0] = m->cpu->run();
  t.join();
  EXPECT_EQ(kinds[0], ExitKind::Shutdown);
  EXPECT_EQ(kinds[1], ExitKind::Shutdown);
  EXPECT_EQ(m->read_mem(kDataBase, 8), 2 * kIterations);
}

ORRERY_ARM64_TIERS(SmpTest);

}  // namespace
}  // namespace orrery::cpu::arm64::test
