// 16- and 32-bit mode tests (BCD, 16-bit addressing, stack sizes, privilege rules of POPF,
// -d unimp naming), with expected values from the Intel SDM.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "hw/core/log.h"
#include "tests/unit/x86/harness.h"

namespace orrery::cpu::x86::test {
namespace {

class X86Modes : public X86Test {};

TEST_P(X86Modes, BcdAdjustments32) {
  auto m = make(Mode::Prot32);
  m->load_asm(
      "mov al, 0x79\nadd al, 0x35\ndaa\nmov bl, al\nsetc bh\n"
      "mov al, 0x35\nsub al, 0x47\ndas\nmov cl, al\nsetc ch\n"
      "mov ax, 9\nadd al, 8\naaa\nmov dx, ax\n"
      "mov al, 63\naam\nmov si, ax\naad\nmov di, ax");
  ASSERT_EQ(m->run().kind, RunResult::End);
  EXPECT_EQ(m->s().gpr[kRbx] & 0xffff, 0x0114u);
  EXPECT_EQ(m->s().gpr[kRcx] & 0xffff, 0x0188u);
  EXPECT_EQ(m->s().gpr[kRdx] & 0xffff, 0x0107u);
  EXPECT_EQ(m->s().gpr[kRsi] & 0xffff, 0x0603u);
  EXPECT_EQ(m->s().gpr[kRdi] & 0xffff, 63u);
}

TEST_P(X86Modes, AamZeroRaisesDe) {
  auto m = make(Mode::Prot32);
  m->load({0xd4, 0x00});
  RunResult r = m->run();
  ASSERT_EQ(r.kind, RunResult::Exception) << r.message;
  EXPECT_EQ(r.vector, 0);
}

TEST_P(X86Modes, Addressing16AndStack) {
  auto m = make(Mode::Real16);
  m->load_asm(
      "mov bx, 0x8000\nmov si, 4\nmov word [bx+si+2], 0x1234\nmov ax, [bx+si+2]\n"
      "mov bp, 0x8000\nmov word [bp+di], 0x55aa\n"  // SS default for BP
      "push ax\npush dword 0x11223344\npop ecx\npop dx\n"
      "mov bx, 0xffff\nmov byte [bx+2], 7\n"  // wraps to offset 1
      "call f\njmp e\nf: mov di, sp\nret\ne:");
  ASSERT_EQ(m->run().kind, RunResult::End);
  EXPECT_EQ(m->s().gpr[kRax] & 0xffff, 0x1234u);
  EXPECT_EQ(m->read_mem(0x8000, 2), 0x55aau);
  EXPECT_EQ(m->s().gpr[kRcx], 0x11223344u);
  EXPECT_EQ(m->s().gpr[kRdx] & 0xffff, 0x1234u);
  EXPECT_EQ(m->read_mem(1, 1), 7u);
  EXPECT_EQ(m->s().gpr[kRdi] & 0xffff, kStackTop - 2);
  EXPECT_EQ(m->s().gpr[kRsp] & 0xffff, kStackTop);
}

TEST_P(X86Modes, PushaPopa16) {
  auto m = make(Mode::Real16);
  m->load_asm("mov ax, 1\nmov cx, 2\nmov bp, 3\npusha\nmov ax, 9\nmov bp, 9\npopa");
  ASSERT_EQ(m->run().kind, RunResult::End);
  EXPECT_EQ(m->s().gpr[kRax] & 0xffff, 1u);
  EXPECT_EQ(m->s().gpr[kRbp] & 0xffff, 3u);
  EXPECT_EQ(m->read_mem(kStackTop - 2, 2), 1u);                   // AX pushed first
  EXPECT_EQ(m->read_mem(kStackTop - 10, 2), kStackTop & 0xffff);  // the original SP
}

TEST_P(X86Modes, PopfKeepsIfAndIoplAtCpl3) {
  auto m = make(Mode::Prot32);
  // CPL 3, IOPL 0: POPF changes neither IF nor IOPL (and does not fault).
  for (unsigned i = 0; i < kNumSegRegs; ++i) m->s().seg[i].selector = 3;
  m->load_asm("push dword 0x3201\npopf\npushf\npop eax");
  for (unsigned i = 0; i < kNumSegRegs; ++i) m->s().seg[i].selector = 3;
  ASSERT_EQ(m->run().kind, RunResult::End);
  EXPECT_EQ(m->s().gpr[kRax] & 0x3201, 0x0001u);
  // At CPL 0 both change.
  for (unsigned i = 0; i < kNumSegRegs; ++i) m->s().seg[i].selector = 0;
  m->restart();
  m->s().eflags = eflags::kFixed1;
  ASSERT_EQ(m->run().kind, RunResult::End);
  EXPECT_EQ(m->s().gpr[kRax] & 0x3201, 0x3201u);
}

TEST_P(X86Modes, UnimplementedIsNamedOnceAndRaisesUd) {
  auto m = make(Mode::Long64);
  const std::string path = ::testing::TempDir() + "x86_unimp_" + std::to_string(getpid()) + ".log";
  m->log.set_mask_bits(hw::kLogUnimp);
  ASSERT_TRUE(m->log.set_file(path));
  m->load_asm("nop\ncpuid");  // a system row whose translator is still a placeholder
  RunResult r = m->run();
  ASSERT_EQ(r.kind, RunResult::Exception) << r.message;
  EXPECT_EQ(r.vector, 6);
  EXPECT_EQ(m->s().common.pc, kCodeAddr + 1);
  m->restart();
  m->run();  // the same PC again: not named twice
  m->log.set_mask_bits(0);
  m->log.set_file("/dev/null");  // closes (and flushes) the log file
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  const size_t at = text.find("cpuid");
  EXPECT_NE(at, std::string::npos) << text;
  EXPECT_EQ(text.find("cpuid", at + 1), std::string::npos) << text;
  std::remove(path.c_str());
}

ORRERY_X86_TIERS(X86Modes);

}  // namespace
}  // namespace orrery::cpu::x86::test
