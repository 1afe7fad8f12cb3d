// The state comparison -accel verify and the differential fuzzer share (cpu/x86/state_compare.h).
#include "cpu/x86/state_compare.h"

#include <gtest/gtest.h>

#include "cpu/x86/flags.h"

namespace orrery::cpu::x86 {
namespace {

TEST(StateCompare, EqualStatesHaveNoDifference) {
  X86State s;
  s.gpr[kRax] = 42;
  EXPECT_TRUE(diff_arch_states(arch_state_of(s), arch_state_of(s)).empty());
}

TEST(StateCompare, NamesEachDifferingFieldAndHonoursMasks) {
  X86State a, b;
  b.gpr[kRcx] = 7;
  b.eflags |= eflags::kCf;  // cc_op is Eflags: the flags are in eflags itself
  b.x87.top = 1;            // FSW.TOP, and so which physical register ST(0) is
  b.x87.st[1].mant = 0x8000000000000000ull;
  b.ymm[3].q[2] = 5;
  b.seg[kCs].base = 0x1000;  // also moves RIP (linear PC - CS.base)
  std::vector<FieldDiff> d = diff_arch_states(arch_state_of(a), arch_state_of(b));
  std::vector<std::string> names;
  for (const FieldDiff& f : d) names.push_back(f.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"rip", "rcx", "rflags", "fsw", "st0", "ymm3.q2", "cs.base"}));

  CompareMasks m;
  m.rflags = ~eflags::kCf;
  m.fsw = 0;
  d = diff_arch_states(arch_state_of(a), arch_state_of(b), m);
  for (const FieldDiff& f : d) {
    EXPECT_NE(f.name, "rflags");
    EXPECT_NE(f.name, "fsw");
  }
}

TEST(StateCompare, PrintsBothSidesAndMarksDifferences) {
  X86State a, b;
  b.gpr[kRdx] = 0x10;
  const std::string out =
      format_arch_states(arch_state_of(a), arch_state_of(b), "interp", "baseline");
  EXPECT_NE(out.find("* rdx          0                      0x10"), std::string::npos) << out;
  EXPECT_NE(out.find("  rax "), std::string::npos) << out;
  const FieldDiff f = diff_arch_states(arch_state_of(a), arch_state_of(b)).at(0);
  EXPECT_EQ(format_field_diff(f, "oracle", "target"), "  rdx: oracle 0 target 0x10\n");
}

}  // namespace
}  // namespace orrery::cpu::x86
