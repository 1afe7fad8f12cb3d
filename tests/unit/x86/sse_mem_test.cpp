// 16-byte SSE memory operands (one VecLoad/VecStore each) on every tier: which forms demand
// 16-byte alignment (#GP(0), before any page fault), which may be misaligned or cross a page,
// and a store whose second page faults writing nothing.
#include "cpu/x86/exception.h"
#include "tests/unit/x86/harness.h"

namespace orrery::cpu::x86::test {
namespace {

using X86SseMem = X86MemTest;

// Legacy-SSE forms that demand alignment raise #GP(0) for a misaligned operand; the unaligned
// moves and LDDQU take any address.
TEST_P(X86SseMem, AlignmentRequiredByTheLegacyForms) {
  const char* const gp[] = {"movaps xmm0, [rax]",  "movapd xmm0, [rax]", "movdqa xmm0, [rax]",
                            "movaps [rax], xmm0",  "movdqa [rax], xmm0", "movntdq [rax], xmm0",
                            "movntps [rax], xmm0", "paddb xmm0, [rax]",  "pxor xmm0, [rax]",
                            "addps xmm0, [rax]",   "hsubps xmm0, [rax]", "pshufd xmm0, [rax], 0x1b",
                            "pmaddwd xmm0, [rax]"};
  for (const char* insn : gp) {
    for (unsigned off : {1, 4, 8}) {
      RunResult r = run("mov rax, " + hex(kDataAddr + 0x40 + off) + "\n" + insn);
      EXPECT_EQ(r.kind, RunResult::Exception) << insn << " +" << off;
      EXPECT_EQ(r.vector, int(vec::kGp)) << insn << " +" << off;
    }
    RunResult r = run("mov rax, " + hex(kDataAddr + 0x40) + "\n" + insn);
    EXPECT_EQ(r.kind, RunResult::End) << insn;
    EXPECT_EQ(m_->s().gpr[kRbx], 1u) << insn;
  }
  const char* const any[] = {"movups xmm0, [rax]", "movupd xmm0, [rax]", "movdqu xmm0, [rax]",
                             "lddqu xmm0, [rax]",  "movups [rax], xmm0", "movdqu [rax], xmm0"};
  for (const char* insn : any) {
    RunResult r = run("mov rax, " + hex(kDataAddr + 0x43) + "\n" + insn);
    EXPECT_EQ(r.kind, RunResult::End) << insn << " " << r.vector;
    EXPECT_EQ(m_->s().gpr[kRbx], 1u) << insn;
  }
}

TEST_P(X86SseMem, MisalignedLoadsAndStoresMoveTheRightBytes) {
  RunResult r = run("mov rax, " + hex(kDataAddr + 0x43) +
                    "\nmovdqu xmm1, [rax]\npaddb xmm1, xmm1\nmovups [rax+0x101], xmm1");
  ASSERT_EQ(r.kind, RunResult::End);
  for (unsigned i = 0; i < 16; ++i) {
    const unsigned a = 0x43 + i;
    const uint8_t want = uint8_t(2 * (a / 8));
    EXPECT_EQ(m_->read_mem(kDataAddr + 0x144 + i, 1), want) << i;
    EXPECT_EQ(m_->s().ymm[1].q[i / 8] >> (8 * (i % 8)) & 0xff, want) << i;
  }
}

// The alignment check comes first: a misaligned MOVAPS into the unmapped page is #GP(0).
TEST_P(X86SseMem, AlignmentFaultBeforeTheTranslationFault) {
  RunResult r = run("mov rax, " + hex(kIdtAddr + 0x104) + "\nmovaps xmm0, [rax]");
  EXPECT_EQ(r.kind, RunResult::Exception);
  EXPECT_EQ(r.vector, int(vec::kGp));
}

// A 16-byte store running into an unmapped page writes neither half (as on silicon).
TEST_P(X86SseMem, StoreCrossingIntoAFaultingPageWritesNothing) {
  const uint64_t at = kEndAddr - 8;  // run() puts 0x1122334455667788 there
  RunResult r = run("mov rax, " + hex(at) + "\npcmpeqb xmm2, xmm2\nmovdqu [rax], xmm2");
  EXPECT_EQ(r.kind, RunResult::End);
  EXPECT_EQ(m_->s().gpr[kRbx], 0u);  // stopped at the store, not after it
  EXPECT_EQ(m_->read_mem(at, 8), 0x1122334455667788ull);
}

ORRERY_X86_TIERS(X86SseMem);

}  // namespace
}  // namespace orrery::cpu::x86::test
