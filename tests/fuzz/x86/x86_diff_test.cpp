// Quick fixed-seed x86 differential runs for CI (label fuzz). They need /dev/kvm and skip
// cleanly without it. x86-diff (and the fuzz_long ctest) run the same for longer.
#include <gtest/gtest.h>

#include "tests/fuzz/x86/kvm_runner.h"
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

}  // namespace
}  // namespace orrery::tests::x86fuzz
