// The exception model: synchronous exceptions from EL0 and EL1 (ESR, ELR, SPSR, FAR, vectors),
// ERET, EL0 traps, interrupts (masking, WFI wakeup from another thread) and the generic timer's
// interrupt output.
#include <chrono>
#include <thread>

#include "cpu/arm64/exception.h"
#include "tests/unit/arm64/harness.h"

namespace orrery::cpu::arm64::test {
namespace {

using ExceptionTest = Arm64Test;

constexpr uint64_t kEl0Code = kCodeBase + 0x1000;
constexpr uint64_t kEl0Stack = kRamBase + 0x180000;

/// Loads EL1 code that ERETs to EL0 at kEl0Code (EL0t, interrupts unmasked) and the EL0 code.
void load_el0(TestMachine& m, const std::vector<uint32_t>& el0) {
  m.load({
      0xd5184025,  // msr elr_el1, x5
      0xd5184006,  // msr spsr_el1, x6
      0xd5184107,  // msr sp_el0, x7
      0xd69f03e0,  // eret
  });
  m.as.write_bytes(kEl0Code, el0.data(), el0.size() * 4);
  m.x(5) = kEl0Code;
  m.x(6) = 0;  // EL0t, DAIF clear
  m.x(7) = kEl0Stack;
}

TEST_P(ExceptionTest, SvcFromEl0GoesToTheLowerElVectorWithItsSyndrome) {
  load_el0(*m, {0xd28000e0 /* mov x0, #7 */, 0xd40000a1 /* svc #5 */});
  expect_exception(kVecLowerSync, ec::kSvc64);
  const Arm64State& s = m->cpu->state();
  EXPECT_EQ(s.esr_el1, 0x56000005u);
  EXPECT_EQ(s.elr_el1, kEl0Code + 8);
  EXPECT_EQ(s.spsr_el1, 0u);  // EL0t with nothing masked
  EXPECT_EQ(s.el, 1);
  EXPECT_EQ(s.spsel, 1);
  EXPECT_EQ(s.daif, 0xf);
  EXPECT_EQ(m->x(0), 7u);
  EXPECT_EQ(s.sp_el0, kEl0Stack);
}

TEST_P(ExceptionTest, SvcAndEretRoundTripsBetweenEl0AndEl1) {
  // The lower-EL sync vector counts calls in x3 and ERETs; the second SVC ends the test.
  const std::vector<uint32_t> handler = {
      0x91000463,  // add x3, x3, #1
      0xf100087f,  // cmp x3, #2
      0x54000040,  // b.eq .+8
      0xd69f03e0,  // eret
      0xd4000842,  // hvc #0x42
  };
  m->as.write_bytes(kVectorBase + 0x400, handler.data(), handler.size() * 4);
  load_el0(*m, {0xd40000a1 /* svc #5 */, 0xd2800020 /* mov x0, #1 */, 0xd40000c1 /* svc #6 */});
  ASSERT_EQ(m->run(), ExitKind::Shutdown) << m->cpu->exit_message();
  ASSERT_EQ(m->hvcs.size(), 1u);
  EXPECT_EQ(m->hvcs[0], 0x42);
  EXPECT_EQ(m->x(3), 2u);
  EXPECT_EQ(m->x(0), 1u);  // ran at EL0 after the first ERET
  EXPECT_EQ(m->cpu->state().esr_el1, 0x56000006u);
  EXPECT_EQ(m->cpu->state().elr_el1, kEl0Code + 12);
  // Restore the plain vector for later tests of this machine.
  const uint32_t plain = hvc_insn(kVectorHvc + kVecLowerSync);
  m->as.write_bytes(kVectorBase + 0x400, &plain, 4);
}

TEST_P(ExceptionTest, El0AccessToEl1RegisterIsUndefined) {
  load_el0(*m, {0xd5384240 /* mrs x0, currentel */});
  expect_exception(kVecLowerSync, ec::kUnknown);
  EXPECT_EQ(m->cpu->state().esr_el1, 0x02000000u);
  EXPECT_EQ(m->cpu->state().elr_el1, kEl0Code);
}

TEST_P(ExceptionTest, HvcAtEl0IsUndefined) {
  load_el0(*m, {hvc_insn(3)});
  expect_exception(kVecLowerSync, ec::kUnknown);
}

TEST_P(ExceptionTest, El0CounterAccessTrapsUnlessCntkctlAllowsIt) {
  load_el0(*m, {0xd53be040 /* mrs x0, cntvct_el0 */});
  expect_exception(kVecLowerSync, ec::kSysRegTrap);
  EXPECT_EQ(m->cpu->state().esr_el1, 0x6234f801u);  // as QEMU reports it
  load_el0(*m, {0xd53be040 /* mrs x0, cntvct_el0 */, 0xd4000001 /* svc #0 */});
  m->cpu->state().cntkctl_el1 = 2;              // EL0VCTEN
  expect_exception(kVecLowerSync, ec::kSvc64);  // the read did not trap
}

TEST_P(ExceptionTest, FpAccessTrapsWhenCpacrDisablesIt) {
  m->load({0xfd400020});  // ldr d0, [x1]
  m->x(1) = kDataBase;
  m->cpu->state().cpacr_el1 = 0;
  m->cpu->mode_changed();
  expect_exception(kVecCurrentSpxSync, ec::kFpAccess);
  EXPECT_EQ(m->cpu->state().esr_el1, kFpAccessEsr);
  EXPECT_EQ(m->cpu->state().elr_el1, kCodeBase);
}

TEST_P(ExceptionTest, SpAlignmentFaultWhenSctlrSaIsSet) {
  m->load({0xf94003e0});  // ldr x0, [sp]
  m->cpu->state().sp_el1 = kStackTop - 8;
  m->cpu->state().sctlr_el1 |= sctlr::kSa;
  expect_exception(kVecCurrentSpxSync, ec::kSpAlignment);
  // Aligned: no fault.
  m->restart();
  m->cpu->state().sctlr_el1 |= sctlr::kSa;
  rerun_ok();
}

TEST_P(ExceptionTest, IrqIsTakenOnlyOnceUnmasked) {
  m->load({
      0xd2800020,  // mov x0, #1
      0xd50342ff,  // msr daifclr, #2
      0xd2800040,  // mov x0, #2
  });
  m->cpu->set_irq(true);
  expect_exception(kVecCurrentSpxIrq, 0);
  EXPECT_EQ(m->x(0), 1u);
  EXPECT_EQ(m->cpu->state().elr_el1, kCodeBase + 8);
  EXPECT_EQ(m->cpu->state().spsr_el1, 0x345u);  // I clear, D, A, F set, EL1h
  m->cpu->set_irq(false);

  // Masked: the code runs to its end.
  m->load({0xd2800020, 0xd2800040});
  m->cpu->set_irq(true);
  rerun_ok();
  EXPECT_EQ(m->x(0), 2u);
  m->cpu->set_irq(false);
}

TEST_P(ExceptionTest, IrqFromEl0UsesTheLowerElVector) {
  load_el0(*m, {0x14000000 /* b . */});
  bool running = false;
  std::thread t([&] {
    // Raised while the vCPU runs its EL0 loop, not before.
    running = m->cpu->wait_until_running(std::chrono::seconds(30));
    m->cpu->set_irq(true);
  });
  expect_exception(kVecLowerIrq, 0);
  t.join();
  EXPECT_TRUE(running);
  EXPECT_EQ(m->cpu->state().elr_el1, kEl0Code);
  m->cpu->set_irq(false);
}

TEST_P(ExceptionTest, WfiSleepsUntilAnInterruptIsPendingEvenMasked) {
  m->load({
      0xd503207f,  // wfi
      0xd28000a0,  // mov x0, #5
  });
  bool asleep = false;
  std::thread t([&] {
    asleep = m->cpu->wait_until_asleep_in_wfi(std::chrono::seconds(30));
    m->cpu->set_irq(true);
  });
  rerun_ok();  // DAIF masked: WFI completes and execution continues after it
  t.join();
  EXPECT_TRUE(asleep) << "the vCPU never slept in WFI";
  EXPECT_EQ(m->cpu->wfi_wakeups(), 1u);
  EXPECT_EQ(m->x(0), 5u);
  m->cpu->set_irq(false);
}

TEST_P(ExceptionTest, KickEndsWfi) {
  m->load({0xd503207f});  // wfi
  bool asleep = false;
  std::thread t([&] {
    asleep = m->cpu->wait_until_asleep_in_wfi(std::chrono::seconds(30));
    m->cpu->kick();
  });
  EXPECT_EQ(m->run(), ExitKind::Kicked);
  t.join();
  EXPECT_TRUE(asleep) << "the vCPU never slept in WFI";
  EXPECT_EQ(m->cpu->wfi_wakeups(), 1u);
}

/// Records timer line levels and forwards them to the CPU's IRQ input, as a GIC would.
class IrqRecorder : public hw::IrqSink {
 public:
  explicit IrqRecorder(Arm64Cpu& cpu) : cpu_(cpu) {}
  void set_irq(unsigned line, bool level) override {
    if (level) raised[line & 1] = true;
    cpu_.set_irq(level);
  }
  std::atomic<bool> raised[2] = {false, false};

 private:
  Arm64Cpu& cpu_;
};

TEST_P(ExceptionTest, VirtualTimerRaisesItsLineAtTheDeadline) {
  IrqRecorder rec(*m->cpu);
  m->cpu->timer_irq(TimerId::Virt).connect(rec, 1);
  m->load({
      0xd53be041,  // mrs x1, cntvct_el0
      0x8b020021,  // add x1, x1, x2
      0xd51be341,  // msr cntv_cval_el0, x1
      0xd2800023,  // mov x3, #1
      0xd51be323,  // msr cntv_ctl_el0, x3
      0xd50342ff,  // msr daifclr, #2
      0xd503207f,  // wfi
      0x14000000,  // b .
  });
  m->x(2) = kCounterFrequency / 50;  // 20 ms
  const auto start = std::chrono::steady_clock::now();
  expect_exception(kVecCurrentSpxIrq, 0);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(15));
  EXPECT_TRUE(rec.raised[1].load());
  EXPECT_TRUE(m->cpu->timer_irq(TimerId::Virt).level());
  EXPECT_FALSE(m->cpu->timer_irq(TimerId::Phys).level());
  m->cpu->reset(kCodeBase);  // disables the timer: the line falls
  EXPECT_FALSE(m->cpu->timer_irq(TimerId::Virt).level());
}

ORRERY_ARM64_TIERS(ExceptionTest);

}  // namespace
}  // namespace orrery::cpu::arm64::test
