// x87 regressions found by the differential fuzzer (x86-diff --exts only:x87) against the AMD
// host: C0..C3 where the SDM calls them undefined (silicon keeps them), FPREM's condition codes
// without a quotient, and FLD ST(i)'s underflow before overflow. Expected status words are what
// the host printed for the same code (FNSAVE after each snippet), under every tier.
#include "cpu/x86/fpu_helpers.h"
#include "tests/unit/x86/harness.h"

namespace orrery::cpu::x86::test {
namespace {

class X86DiffRegressX87 : public X86Test {
 protected:
  // Runs `src` after FNINIT and returns the status word (with TOP).
  uint16_t fsw_after(const std::string& src) {
    auto m = make(Mode::Long64);
    m->load_asm("fninit\n" + src);
    const RunResult r = m->run();
    EXPECT_EQ(r.kind, RunResult::End) << r.message;
    return x87::status_word(m->s().x87);
  }
};

constexpr uint16_t kCc = x87::kC0 | x87::kC1 | x87::kC2 | x87::kC3;
const std::string kFull = "fld1\nfld1\nfld1\nfld1\nfld1\nfld1\nfld1\nfld1\n";

// FCOMI/FUCOMI(P) report in EFLAGS and leave C0..C3 alone, C1 included (SDM: C1 = 0; AMD keeps
// it): Orrery cleared all four, then C1.
TEST_P(X86DiffRegressX87, FcomiKeepsConditionCodes) {
  // FXAM of -1.0: C2 C1 (normal, negative); FUCOMIP then leaves them.
  EXPECT_EQ(fsw_after("fld1\nfld1\nfchs\nfxam\nfucomip st0, st1") & kCc, x87::kC2 | x87::kC1);
  // C1 = 1 from a stack overflow stays through FUCOMI.
  EXPECT_EQ(fsw_after(kFull + "fld1\nfnclex\nfucomi st0, st1"), 0x3a00);
  // An empty operand is a stack fault: C1 = 0, C0 C2 C3 kept.
  EXPECT_EQ(fsw_after("fld1\nfchs\nfxam\nfucomip st0, st3"), 0x0441);
}

// Loads, register moves, FXCH, FINCSTP, FCHS and FSQRT clear C1 and keep C0 C2 C3 (undefined
// in the SDM): Orrery cleared them.
TEST_P(X86DiffRegressX87, UndefinedConditionCodesAreKept) {
  for (const char* insn : {"fxch st1", "fld st1", "fst st3", "fincstp", "fld1", "fchs",
                           "fcmovb st0, st1", "ffree st1"}) {
    SCOPED_TRACE(insn);
    // FCOM of 0 with 1: C0.
    EXPECT_EQ(fsw_after(std::string("fld1\nfldz\nfcom st1\n") + insn) & kCc, x87::kC0);
  }
  EXPECT_EQ(fsw_after("fld1\nfchs\nfxam\nfchs\nfsqrt"), 0x3c00);     // C2 kept
  EXPECT_EQ(fsw_after("fld1\nfchs\nfxam\nfxtract"), 0x3400);         // C2 kept, C1 = 0
  EXPECT_EQ(fsw_after("fld1\nfldz\nfcom st1\nfld1\nfsin"), 0x2b20);  // C0 kept, C1 rounded up
}

// FCMOVcc keeps C1 as well (here 1: FMUL rounded up).
TEST_P(X86DiffRegressX87, FcmovKeepsC1) {
  EXPECT_EQ(fsw_after("fld1\nfldpi\nfldl2e\nfmul st0, st1\nfcmovb st0, st1"), 0x2a20);
}

// FPREM/FPREM1 without a quotient (a stack fault, an invalid or a NaN operand) clear C2 and C1
// and keep C0 C3; Orrery kept C2 on a stack fault and took C0/C3 from the host's stale status
// for a NaN.
TEST_P(X86DiffRegressX87, FpremWithoutQuotientKeepsC0C3) {
  EXPECT_EQ(fsw_after("fld1\nfchs\nfxam\nfprem"), 0x3841);        // ST(1) empty, C2 was 1
  EXPECT_EQ(fsw_after("fld1\nfld1\nfucomp st1\nfprem"), 0x7841);  // C3 = 1 kept
  EXPECT_EQ(fsw_after("fld1\nfchs\nfxam\nfprem1"), 0x3841);
  const std::string qnan = "fld1\nfldz\nfldz\nfdivp\nfnclex\n";       // ST(0) the QNaN indefinite
  EXPECT_EQ(fsw_after(qnan + "fucom st1\nfprem"), 0x7100);            // C3 C0 kept, C2 cleared
  EXPECT_EQ(fsw_after(qnan + "fld1\nfld1\nfucompp\nfprem"), 0x7000);  // C3 kept
  EXPECT_EQ(fsw_after(qnan + "fld1\nfldz\nfucompp\nfprem"), 0x3100);  // C0 kept
  EXPECT_EQ(fsw_after("fldz\nfld1\nfchs\nfxam\nfprem"), 0x3001);      // ST(1) = 0: IE, C2 cleared
}

// FLD ST(i) of an empty register onto a full stack is an underflow (C1 = 0, the indefinite
// pushed), not an overflow: Orrery checked overflow first.
TEST_P(X86DiffRegressX87, FldEmptySourceOnFullStackIsUnderflow) {
  auto m = make(Mode::Long64);
  m->load_asm("fninit\n" + kFull + "ffree st3\nfld st3");
  ASSERT_EQ(m->run().kind, RunResult::End);
  EXPECT_EQ(x87::status_word(m->s().x87), 0x3841);
  const F80& st0 = m->s().x87.st[7];
  EXPECT_EQ(st0.sign_exp, 0xffff);
  EXPECT_EQ(st0.mant, 0xc000000000000000ull);
}

ORRERY_X86_TIERS(X86DiffRegressX87);

}  // namespace
}  // namespace orrery::cpu::x86::test
