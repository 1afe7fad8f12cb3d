// Regressions found by the differential fuzzer (tests/fuzz/x86, x86-diff --target orrery*)
// against real silicon: one test per instruction behaviour, expected values from the AMD host
// the oracle ran on, under every tier.
#include "tests/unit/x86/harness.h"

namespace orrery::cpu::x86::test {
namespace {

class X86DiffRegress : public X86Test {};

// SHRD/SHLD r64, r64, CL with CL = 0 leave the destination (and flags) alone; the 64-bit path
// shifted the source by 64 - 0, which the host reduces to 0, and ORed it in.
TEST_P(X86DiffRegress, ShrdShld64CountZeroInClKeepsDestination) {
  auto m = make(Mode::Long64);
  m->load_asm(
      "mov r10, 0xf161d372b5493ead\nmov r13, 0x0484ab80009a9051\nxor ecx, ecx\n"
      "shrd r10, r13, cl\nmov r11, 0x1234\nshld r11, r13, cl");
  ASSERT_EQ(m->run().kind, RunResult::End);
  EXPECT_EQ(m->s().gpr[kR10], 0xf161d372b5493eadull);
  EXPECT_EQ(m->s().gpr[kR11], 0x1234u);
}

ORRERY_X86_TIERS(X86DiffRegress);

}  // namespace
}  // namespace orrery::cpu::x86::test
