// The generic timer on a manual virtual clock: lines rise at the deadline from the event loop
// (no vCPU activity, no sleeping), the counter stops while the clock is paused, and a stop
// does not make a deadline fire early.
#include "cpu/arm64/timer.h"

#include <gtest/gtest.h>

#include "hw/core/clock.h"
#include "hw/core/event_loop.h"

namespace orrery::cpu::arm64 {
namespace {

constexpr uint64_t kFreq = 62'500'000;  // 16 ns per tick, as the board's CNTFRQ
constexpr uint64_t kEnable = 1, kImask = 2;

class LevelSink : public hw::IrqSink {
 public:
  void set_irq(unsigned line, bool level) override { levels[line] = level; }
  bool levels[2] = {false, false};
};

class GenericTimerTest : public ::testing::Test {
 protected:
  GenericTimerTest() {
    timer.irq(TimerId::Phys).connect(sink, 0);
    timer.irq(TimerId::Virt).connect(sink, 1);
  }
  hw::Clock clock{hw::ClockSource::kManual};
  hw::EventLoop loop{clock};  // driven with run_once
  GenericTimer timer{kFreq, loop, 0};
  LevelSink sink;
};

TEST_F(GenericTimerTest, CounterFollowsTheVirtualClock) {
  EXPECT_EQ(timer.counter_at(clock.virtual_ns()), 0u);
  clock.advance(1'000'000'000);
  EXPECT_EQ(timer.counter_at(clock.virtual_ns()), kFreq);
  clock.pause();
  clock.advance(5'000'000'000);  // the host moves on; the machine does not
  EXPECT_EQ(timer.counter_at(clock.virtual_ns()), kFreq);
  clock.resume();
  clock.advance(16);
  EXPECT_EQ(timer.counter_at(clock.virtual_ns()), kFreq + 1);
}

TEST_F(GenericTimerTest, LineRisesAtTheDeadlineFromTheLoop) {
  timer.update(TimerId::Virt, kEnable, 1000);  // 16 us
  EXPECT_FALSE(sink.levels[1]);
  clock.advance(16'000 - 1);
  EXPECT_EQ(loop.run_once(0), 0);
  EXPECT_FALSE(sink.levels[1]);
  clock.advance(1);
  EXPECT_EQ(loop.run_once(0), 1);
  EXPECT_TRUE(sink.levels[1]);
  EXPECT_FALSE(sink.levels[0]);
  // Masking lowers it at once; the guest's write, not the loop, does that.
  timer.update(TimerId::Virt, kEnable | kImask, 1000);
  EXPECT_FALSE(sink.levels[1]);
  EXPECT_EQ(loop.run_once(0), 0);
}

TEST_F(GenericTimerTest, EarliestOfTwoDeadlinesFirstThenTheOther) {
  timer.update(TimerId::Phys, kEnable, 2000);
  timer.update(TimerId::Virt, kEnable, 1000);
  clock.advance(16'000);
  EXPECT_EQ(loop.run_once(0), 1);
  EXPECT_TRUE(sink.levels[1]);
  EXPECT_FALSE(sink.levels[0]);
  clock.advance(16'000);
  EXPECT_EQ(loop.run_once(0), 1);
  EXPECT_TRUE(sink.levels[0]);
}

TEST_F(GenericTimerTest, PastDeadlineFiresOnTheWrite) {
  clock.advance(1'000'000);
  timer.update(TimerId::Phys, kEnable, 10);
  EXPECT_TRUE(sink.levels[0]);
  timer.update(TimerId::Phys, 0, 10);  // disabled
  EXPECT_FALSE(sink.levels[0]);
}

// While the machine is stopped the deadline does not come closer: a stop of any length
// leaves the guest the same time to go.
TEST_F(GenericTimerTest, PausedClockDelaysTheDeadline) {
  timer.update(TimerId::Virt, kEnable, 1000);
  clock.advance(8'000);
  clock.pause();
  clock.advance(1'000'000'000);
  EXPECT_EQ(loop.run_once(0), 0);
  EXPECT_FALSE(sink.levels[1]);
  clock.resume();
  clock.advance(8'000 - 1);
  EXPECT_EQ(loop.run_once(0), 0);
  clock.advance(1);
  EXPECT_EQ(loop.run_once(0), 1);
  EXPECT_TRUE(sink.levels[1]);
}

TEST_F(GenericTimerTest, ResetDisablesAndRestartsTheCounter) {
  timer.update(TimerId::Virt, kEnable, 0);
  EXPECT_TRUE(sink.levels[1]);
  clock.advance(1'000'000);
  timer.reset(clock.virtual_ns());
  EXPECT_FALSE(sink.levels[1]);
  EXPECT_EQ(timer.counter_at(clock.virtual_ns()), 0u);
  EXPECT_EQ(loop.run_once(0), 0);
}

}  // namespace
}  // namespace orrery::cpu::arm64
