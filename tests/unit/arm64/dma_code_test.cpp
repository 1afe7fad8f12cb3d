// Device DMA over translated code: a write through GuestMemory (not the softmmu) must drop the
// blocks on the pages it touches, so the next run executes the new instructions.
#include <gtest/gtest.h>

#include "hw/core/guest_memory.h"
#include "tests/unit/arm64/harness.h"

namespace orrery::cpu::arm64::test {
namespace {

class DmaCodeTest : public Arm64Test {};

constexpr uint32_t movz_x0(uint32_t imm) {
  return 0xd2800000 | (imm << 5);
}

TEST_P(DmaCodeTest, DmaWriteOverCodeRetranslates) {
  m->as.set_write_observer(m->engine.get());
  run_ok({movz_x0(1)});
  EXPECT_EQ(m->x(0), 1u);
  // Rerunning without a change reuses the translation.
  m->restart();
  rerun_ok();
  EXPECT_EQ(m->x(0), 1u);
  hw::GuestMemory mem(m->as);
  ASSERT_TRUE(mem.store<uint32_t>(kCodeBase, movz_x0(2)));
  m->restart();
  rerun_ok();
  EXPECT_EQ(m->x(0), 2u);
}

TEST_P(DmaCodeTest, DmaElsewhereKeepsTranslations) {
  m->as.set_write_observer(m->engine.get());
  run_ok({movz_x0(1)});
  const uint64_t before = m->engine->stats().invalidations;
  hw::GuestMemory mem(m->as);
  ASSERT_TRUE(mem.store<uint32_t>(kDataBase, 7));
  EXPECT_EQ(m->engine->stats().invalidations, before);
}

ORRERY_ARM64_TIERS(DmaCodeTest);

}  // namespace
}  // namespace orrery::cpu::arm64::test
