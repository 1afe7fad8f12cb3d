// Quick fixed-seed x86 differential runs for CI (label fuzz). They need /dev/kvm and skip
// cleanly without it. x86-diff (and the fuzz_long ctest) run the same for longer.
#include <capstone/capstone.h>
#include <gtest/gtest.h>

#include <string_view>

#include "tests/fuzz/x86/kvm_runner.h"
#include "tests/fuzz/x86/orrery_runner.h"
#include "tests/fuzz/x86/unicorn_runner.h"
#include "tests/fuzz/x86/x86_diff.h"

namespace orrery::tests::x86fuzz {
namespace {

std::unique_ptr<KvmRunner> kvm_or_skip(std::string& why) {
  auto k = KvmRunner::create(why);
  return k;
}

// The oracle against itself: every extension, zero tolerance. Checks that runs are
// deterministic and that state goes in and out of the guest intact.
TEST(X86Diff, KvmAgainstKvmIsExact) {
  std::string why;
  auto a = kvm_or_skip(why);
  if (!a) GTEST_SKIP() << "no usable KVM: " << why;
  auto b = KvmRunner::create(why);
  ASSERT_TRUE(b) << why;
  DiffOptions opt;
  opt.seed = 20261203;
  opt.count = 2000;
  DiffResult r = run_diff(*a, *b, opt);
  EXPECT_FALSE(r.runner_error) << r.report;
  EXPECT_EQ(r.mismatches, 0u) << r.report;
  EXPECT_EQ(r.runs, opt.count);
  RecordProperty("us_per_run", int(a->ns_per_run() / 1000));
}

// Real silicon against Unicorn: mismatches must fall in the named Unicorn classes
// (README.md); VEX extensions are left out because Unicorn 2.0.1 has no AVX.
TEST(X86Diff, KvmAgainstUnicornWithinAllowList) {
  std::string why;
  auto k = kvm_or_skip(why);
  if (!k) GTEST_SKIP() << "no usable KVM: " << why;
  auto u = UnicornRunner::create(why);
  ASSERT_TRUE(u) << why;
  DiffOptions opt;
  opt.seed = 20261203;
  opt.count = 2000;
  opt.exts = kUnicornCiExts;
  opt.allow = unicorn_allow_list();
  opt.skip_rows = kUnicornSkipRows;
  opt.lock_prefixes = kUnicornLockPrefixes;
  DiffResult r = run_diff(*k, *u, opt);
  EXPECT_FALSE(r.runner_error) << r.report;
  EXPECT_EQ(r.mismatches, 0u) << r.report;
  // Beyond the (near universal) missing MXCSR flags, most sequences must compare clean.
  uint64_t allowed = 0;
  for (auto& [name, n] : r.allowed)
    if (name != "unicorn-mxcsr-exception-flags") allowed += n;
  EXPECT_LT(allowed, r.runs / 2) << "most sequences hit known Unicorn bugs: a harness problem?";
}

// A snippet that divides by zero must come back as #DE at the DIV, on both runners.
TEST(X86Diff, DivideErrorIsReported) {
  std::string why;
  auto k = kvm_or_skip(why);
  if (!k) GTEST_SKIP() << "no usable KVM: " << why;
  auto u = UnicornRunner::create(why);
  ASSERT_TRUE(u) << why;
  const uint8_t code[] = {0x31, 0xc9, 0x48, 0xf7, 0xf1};  // xor ecx, ecx; div rcx
  for (X86Runner* r : {static_cast<X86Runner*>(k.get()), static_cast<X86Runner*>(u.get())}) {
    X86UserState s;
    s.gpr[4] = layout::kStackAddr + layout::kStackSize - 0x100;
    ASSERT_TRUE(r->run(code, s)) << r->name() << ": " << r->error();
    EXPECT_EQ(s.fault.vector, 0) << r->name();
    EXPECT_EQ(s.rip, layout::kCodeAddr + 2) << r->name();
  }
}

// Orrery's runner reports the snippet end and faults as the KVM runner does (no KVM needed):
// the end RIP, #DE at the DIV, and #PF with its error code for a store to the read-only code
// page, with the user RSP and RFLAGS from the exception frame.
TEST(X86DiffOrrery, RunnerReportsEndAndFaults) {
  std::string why;
  auto o = OrreryRunner::create(tcg::exec::Tier::Interp, why);
  ASSERT_TRUE(o) << why;
  const uint64_t sp = layout::kStackAddr + layout::kStackSize - 0x100;
  {
    const uint8_t code[] = {0x48, 0xc7, 0xc0, 0x2a, 0, 0, 0};  // mov rax, 42
    X86UserState s;
    s.gpr[4] = sp;
    ASSERT_TRUE(o->run(code, s)) << o->error();
    EXPECT_EQ(s.fault.vector, X86Fault::kNone);
    EXPECT_EQ(s.rip, layout::kCodeAddr + sizeof code);
    EXPECT_EQ(s.gpr[0], 42u);
  }
  {
    const uint8_t code[] = {0x31, 0xc9, 0x48, 0xf7, 0xf1};  // xor ecx, ecx; div rcx
    X86UserState s;
    s.gpr[4] = sp;
    ASSERT_TRUE(o->run(code, s)) << o->error();
    EXPECT_EQ(s.fault.vector, 0);
    EXPECT_EQ(s.rip, layout::kCodeAddr + 2);
    EXPECT_EQ(s.gpr[4], sp);
    EXPECT_EQ(s.rflags & 0x44, 0x44u);  // ZF PF from the XOR, IF set
  }
  {
    const uint8_t code[] = {0x88, 0x05, 0, 0, 0, 0};  // mov [rip], al: the code page
    X86UserState s;
    s.gpr[4] = sp;
    ASSERT_TRUE(o->run(code, s)) << o->error();
    EXPECT_EQ(s.fault.vector, 14);
    EXPECT_TRUE(s.fault.has_error_code);
    EXPECT_EQ(s.fault.error_code, 7u);  // present, write, user
    EXPECT_EQ(s.rip, layout::kCodeAddr);
  }
  {
    // Vector state goes in and out: addps xmm0, xmm1 keeps YMM0's upper half (legacy SSE).
    const uint8_t code[] = {0x0f, 0x58, 0xc1};
    X86UserState s;
    s.gpr[4] = sp;
    s.ymm[0].q = {0x3f8000003f800000ull, 0x4000000040000000ull, 7, 8};   // 1 1 2 2
    s.ymm[1].q = {0x4000000040000000ull, 0x3f8000003f800000ull, 9, 10};  // 2 2 1 1
    ASSERT_TRUE(o->run(code, s)) << o->error();
    EXPECT_EQ(s.fault.vector, X86Fault::kNone);
    EXPECT_EQ(s.ymm[0].q[0], 0x4040000040400000ull);  // 3 3
    EXPECT_EQ(s.ymm[0].q[1], 0x4040000040400000ull);
    EXPECT_EQ(s.ymm[0].q[2], 7u);
    EXPECT_EQ(s.ymm[1].q[3], 10u);
  }
  {
    // The next snippet at the same address runs its own code, not the old translation.
    const uint8_t code[] = {0x48, 0xc7, 0xc0, 0x07, 0, 0, 0};  // mov rax, 7
    X86UserState s;
    s.gpr[4] = sp;
    ASSERT_TRUE(o->run(code, s)) << o->error();
    EXPECT_EQ(s.gpr[0], 7u);
    EXPECT_EQ(s.rip, layout::kCodeAddr + sizeof code);
  }
}

// Real silicon against each Orrery tier: zero tolerance, the extensions Orrery implements.
class X86DiffOrreryTier : public ::testing::TestWithParam<tcg::exec::Tier> {};

TEST_P(X86DiffOrreryTier, MatchesKvm) {
  std::string why;
  auto k = kvm_or_skip(why);
  if (!k) GTEST_SKIP() << "no usable KVM: " << why;
  auto o = OrreryRunner::create(GetParam(), why);
  ASSERT_TRUE(o) << why;
  DiffOptions opt;
  opt.seed = 20261203;
  opt.count = GetParam() == tcg::exec::Tier::Llvm ? 120 : 2000;
  opt.exts = orrery_exts();
  DiffResult r = run_diff(*k, *o, opt);
  EXPECT_FALSE(r.runner_error) << r.report;
  EXPECT_EQ(r.mismatches, 0u) << r.report;
  EXPECT_EQ(r.runs, opt.count);
  EXPECT_EQ(o->stuck(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Tiers, X86DiffOrreryTier,
                         ::testing::Values(tcg::exec::Tier::Interp, tcg::exec::Tier::Baseline,
                                           tcg::exec::Tier::Llvm, tcg::exec::Tier::Auto),
                         [](const ::testing::TestParamInfo<tcg::exec::Tier>& i) {
                           switch (i.param) {
                             case tcg::exec::Tier::Interp:
                               return std::string("Interp");
                             case tcg::exec::Tier::Baseline:
                               return std::string("Baseline");
                             case tcg::exec::Tier::Llvm:
                               return std::string("Llvm");
                             default:
                               return std::string("Auto");
                           }
                         });

// Alignment checking against silicon: initial states set EFLAGS.AC (the runners keep CR0.AM on),
// so misaligned memory operands raise #AC(0) at CPL 3 on both sides (QEMU has no #AC to compare
// with). The interpreter and the baseline tier; the LLVM tier shares the baseline's IR lowering.
TEST(X86DiffOrrery, AlignmentCheckMatchesKvm) {
  std::string why;
  auto k = kvm_or_skip(why);
  if (!k) GTEST_SKIP() << "no usable KVM: " << why;
  for (tcg::exec::Tier tier : {tcg::exec::Tier::Interp, tcg::exec::Tier::Baseline}) {
    auto o = OrreryRunner::create(tier, why);
    ASSERT_TRUE(o) << why;
    DiffOptions opt;
    opt.seed = 20261204;
    opt.count = 1000;
    opt.exts = orrery_exts();
    opt.align_check = true;
    DiffResult r = run_diff(*k, *o, opt);
    EXPECT_FALSE(r.runner_error) << r.report;
    EXPECT_EQ(r.mismatches, 0u) << r.report;
    EXPECT_EQ(r.runs, opt.count);
    EXPECT_GT(r.oracle_faults, opt.count / 10) << "misaligned operands do fault";
  }
}

// The mnemonic a row's instructions must decode to: its name's first word, with "cc" and
// "/..." alternatives cut to their common prefix ("cmovcc" -> "cmov", "movd/q" -> "mov").
std::string expected_mnemonic(std::string_view name) {
  if (name.starts_with("rep")) name.remove_prefix(name.find(' ') + 1);  // "rep movs" -> movs
  std::string m(name.substr(0, name.find(' ')));
  if (m == "jcc") return "j";
  if (m.ends_with("cc")) m.resize(m.size() - 2);
  if (auto slash = m.find('/'); slash != std::string::npos) {
    // "movd/q" is movd or movq, "movhlps/movlps" either word: keep the common prefix.
    std::string a = m.substr(0, slash), b = m.substr(slash + 1);
    if (b.size() < a.size()) b = a.substr(0, a.size() - b.size()) + b;
    size_t n = 0;
    while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
    m = a.substr(0, n);
  }
  // Capstone spells the predicate into compares: cmpps $1 -> cmpltps, vcmpsd -> vcmpunordsd.
  if (m.starts_with("cmpp") || m.starts_with("cmps") || m.starts_with("vcmp"))
    m.resize(m.find("cmp") + 3);
  return m;
}

// Every template row, instantiated many times, decodes (Capstone) as its own instruction with
// no bytes left over: the table's encodings say what their names say. No KVM needed.
TEST(X86Gen, EveryRowDecodesAsItsName) {
  csh h;
  ASSERT_EQ(cs_open(CS_ARCH_X86, CS_MODE_64, &h), CS_ERR_OK);
  X86Gen gen(1, kAllExts);
  for (uint16_t row = 0; row < X86Gen::num_rows(); ++row) {
    if (X86Gen::row_is_invalid(row)) continue;
    std::string want = expected_mnemonic(X86Gen::row_name(row));
    for (int i = 0; i < 50; ++i) {
      Snippet s = gen.row_snippet(row);
      size_t bytes = 0;
      bool found = false;
      for (;;) {
        cs_insn* insn = nullptr;
        size_t n = cs_disasm(h, s.code.data() + bytes, s.code.size() - bytes,
                             layout::kCodeAddr + bytes, 0, &insn);
        for (size_t k = 0; k < n; ++k) {
          bytes += insn[k].size;
          std::string_view mn = insn[k].mnemonic;
          if (mn.starts_with("lock ")) mn.remove_prefix(5);
          if (mn.starts_with("rep ") || mn.starts_with("repe ") || mn.starts_with("repne "))
            mn.remove_prefix(mn.find(' ') + 1);
          if (mn.starts_with(want) || (want == "j" && mn[0] == 'j')) found = true;
        }
        cs_free(insn, n);
        // A Jcc body may hold an opcode invalid in 64-bit mode (the AAA/DAA rows): step over.
        if (bytes < s.code.size() && (s.code[bytes] == 0x37 || s.code[bytes] == 0x27)) {
          ++bytes;
          continue;
        }
        break;
      }
      std::string rest;
      for (size_t k = bytes; k < s.code.size(); ++k) rest += " " + std::to_string(s.code[k]);
      ASSERT_EQ(bytes, s.code.size())
          << X86Gen::row_name(row) << ": undecodable bytes" << rest << "\n"
          << disassemble(s.code);
      EXPECT_TRUE(found) << X86Gen::row_name(row) << ": no '" << want << "'\n"
                         << disassemble(s.code);
      if (!found) break;
    }
  }
  cs_close(&h);
}

// Every row runs on silicon: valid rows never raise #UD (this catches encodings that are
// wrong for the extension, e.g. a bad VEX.L or VEX.W), the invalid ones always do.
TEST(X86Diff, EveryRowRunsOnSilicon) {
  std::string why;
  auto k = kvm_or_skip(why);
  if (!k) GTEST_SKIP() << "no usable KVM: " << why;
  X86Gen gen(2, kAllExts);
  for (uint16_t row = 0; row < X86Gen::num_rows(); ++row) {
    for (int i = 0; i < 10; ++i) {
      X86UserState st = gen.random_state();
      Snippet s = gen.row_snippet(row);
      ASSERT_TRUE(k->run(s.code, st)) << k->error();
      // A Jcc row's body is random rows, which may be one of the invalid ones.
      bool invalid_inside = false;
      for (uint16_t r : s.rows) invalid_inside |= r != row && X86Gen::row_is_invalid(r);
      if (X86Gen::row_is_invalid(row)) {
        EXPECT_EQ(st.fault.vector, 6) << X86Gen::row_name(row);
      } else if (!invalid_inside) {
        EXPECT_NE(st.fault.vector, 6) << X86Gen::row_name(row) << "\n" << disassemble(s.code);
      }
    }
  }
}

}  // namespace
}  // namespace orrery::tests::x86fuzz
