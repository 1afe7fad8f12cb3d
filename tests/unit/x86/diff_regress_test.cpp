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

// BSF/BSR r32 with a zero source leave all 64 bits of the destination on the AMD host (SDM:
// undefined; AMD documents it unchanged); Orrery zero-extended it as a 32-bit write.
TEST_P(X86DiffRegress, BsfBsr32ZeroSourceKeepsAll64Bits) {
  auto m = make(Mode::Long64);
  m->load_asm(
      "mov rax, 0xded2a3bce0f81b90\nmov rbx, -1\nxor ecx, ecx\nbsf eax, ecx\nbsr ebx, ecx\n"
      "mov rdx, -1\nmov esi, 0x100\nbsf edx, esi");
  ASSERT_EQ(m->run().kind, RunResult::End);
  EXPECT_EQ(m->s().gpr[kRax], 0xded2a3bce0f81b90ull);
  EXPECT_EQ(m->s().gpr[kRbx], ~0ull);
  EXPECT_EQ(m->s().gpr[kRdx], 8u);  // a nonzero source writes (and zero-extends) as usual
  EXPECT_FALSE(m->eflags() & eflags::kZf);
}

// CMPXCHG r32, r32 whose compare fails leaves the destination register alone on the AMD host
// (only EAX is loaded, zero-extended); Orrery wrote it back zero-extended. On success the
// destination gets the source, zero-extended.
TEST_P(X86DiffRegress, Cmpxchg32RegisterFailureKeepsDestination) {
  auto m = make(Mode::Long64);
  m->load_asm(
      "mov rdx, 0x712981c46674d70e\nmov rax, -1\nmov esi, 5\ncmpxchg edx, esi\n"
      "mov rbx, rax\nmov r8, -1\nmov eax, -1\ncmpxchg r8d, esi");
  ASSERT_EQ(m->run().kind, RunResult::End);
  EXPECT_EQ(m->s().gpr[kRdx], 0x712981c46674d70eull);
  EXPECT_EQ(m->s().gpr[kRbx], 0x6674d70eu);
  EXPECT_EQ(m->s().gpr[kR8], 5u);
  EXPECT_TRUE(m->eflags() & eflags::kZf);
}

// CMPXCHG with the accumulator itself as destination always compares equal and stores the
// source there; Orrery then rewrote the accumulator with its old value.
TEST_P(X86DiffRegress, CmpxchgIntoAccumulatorStoresSource) {
  auto m = make(Mode::Long64);
  m->load_asm(
      "mov rax, 5\nmov r10, 0x30\ncmpxchg rax, r10\nmov rbx, rax\n"
      "mov eax, 0x1234\nmov ecx, 0x7700\ncmpxchg al, ch\nmov rdx, rax\n"
      "mov rax, -1\nmov esi, 0xabcd\ncmpxchg ax, si\nmov rdi, rax\n"
      "mov rax, -1\nmov r9d, 7\ncmpxchg eax, r9d");
  ASSERT_EQ(m->run().kind, RunResult::End);
  EXPECT_EQ(m->s().gpr[kRbx], 0x30u);
  EXPECT_EQ(m->s().gpr[kRdx], 0x1277u);
  EXPECT_EQ(m->s().gpr[kRdi], 0xffffffffffffabcdull);
  EXPECT_EQ(m->s().gpr[kRax], 7u);
  EXPECT_TRUE(m->eflags() & eflags::kZf);
}

ORRERY_X86_TIERS(X86DiffRegress);

}  // namespace
}  // namespace orrery::cpu::x86::test
