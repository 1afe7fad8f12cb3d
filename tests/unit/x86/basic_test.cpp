// Hand-checked x86 instruction tests in 64-, 32- and 16-bit modes (expected values from the
// Intel SDM), under every tier.
#include "tests/unit/x86/harness.h"

namespace orrery::cpu::x86::test {
namespace {

class X86Basic : public X86Test {};

TEST_P(X86Basic, MovAddAndFlags64) {
  auto m = make(Mode::Long64);
  m->load_asm("mov rax, 0x7fffffffffffffff\nadd rax, 1\nmov rbx, rax\nsetc cl\nseto dl");
  ASSERT_EQ(m->run().kind, RunResult::End);
  EXPECT_EQ(m->s().gpr[kRbx], 0x8000000000000000ull);
  EXPECT_EQ(m->s().gpr[kRcx] & 0xff, 0u);
  EXPECT_EQ(m->s().gpr[kRdx] & 0xff, 1u);
  EXPECT_EQ(m->eflags() & eflags::kArith, eflags::kOf | eflags::kSf | eflags::kPf | eflags::kAf);
}

TEST_P(X86Basic, PartialRegistersAndZeroExtension) {
  auto m = make(Mode::Long64);
  m->load_asm(
      "mov rax, -1\nmov ah, 0x12\nmov rbx, -1\nmov bx, 0x3456\nmov rcx, -1\nmov ecx, 7\n"
      "mov rdx, -1\nmov dl, 0x9a\nmov r8, -1\nmov r8b, 1\nmov rsi, -1\nmov sil, 2");
  ASSERT_EQ(m->run().kind, RunResult::End);
  EXPECT_EQ(m->s().gpr[kRax], 0xffffffffffff12ffull);
  EXPECT_EQ(m->s().gpr[kRbx], 0xffffffffffff3456ull);
  EXPECT_EQ(m->s().gpr[kRcx], 7u);
  EXPECT_EQ(m->s().gpr[kRdx], 0xffffffffffffff9aull);
  EXPECT_EQ(m->s().gpr[kR8], 0xffffffffffffff01ull);
  EXPECT_EQ(m->s().gpr[kRsi], 0xffffffffffffff02ull);
}

TEST_P(X86Basic, LoopCallRetPushPop64) {
  auto m = make(Mode::Long64);
  m->load_asm(
      "xor eax, eax\nmov ecx, 10\n.l: add eax, ecx\nloop .l\n"
      "call f\njmp .e\nf: push rax\npop rbx\nadd rbx, 1\nret\n.e:");
  ASSERT_EQ(m->run().kind, RunResult::End);
  EXPECT_EQ(m->s().gpr[kRax], 55u);
  EXPECT_EQ(m->s().gpr[kRbx], 56u);
  EXPECT_EQ(m->s().gpr[kRsp], kStackTop);
}

TEST_P(X86Basic, MemoryAndRipRelative) {
  auto m = make(Mode::Long64);
  m->load_asm(
      "mov rdi, 0x8000\nmov qword [rdi+8], 0x1234\nadd qword [rdi+8], 1\n"
      "mov rax, [rdi+8]\nlea rbx, [rel $]\nmov ecx, [rel d]\njmp .e\nd: dd 0xcafe\n.e:");
  ASSERT_EQ(m->run().kind, RunResult::End);
  EXPECT_EQ(m->s().gpr[kRax], 0x1235u);
  EXPECT_EQ(m->read_mem(kDataAddr + 8, 8), 0x1235u);
  EXPECT_EQ(m->s().gpr[kRcx], 0xcafeu);
  EXPECT_GE(m->s().gpr[kRbx], kCodeAddr);
}

TEST_P(X86Basic, Protected32) {
  auto m = make(Mode::Prot32);
  m->load_asm(
      "mov eax, 0xffffffff\nadd eax, 2\nmov ebx, 0x8000\nmov [ebx], eax\npush 5\npop ecx\n"
      "pushad\npopad\ninc ecx\nmov dx, -1\nmovzx edx, dx\ndaa");
  ASSERT_EQ(m->run().kind, RunResult::End);
  EXPECT_EQ(m->s().gpr[kRcx], 6u);
  EXPECT_EQ(m->read_mem(kDataAddr, 4), 1u);
  EXPECT_EQ(m->s().gpr[kRdx], 0xffffu);
  EXPECT_EQ(m->s().gpr[kRsp], kStackTop);
}

TEST_P(X86Basic, Real16SegmentsAndWrap) {
  auto m = make(Mode::Real16);
  // MOV Sreg is x86-sys's: the segment base comes from the state. DS base 0x7000, so
  // [0x1000] is linear 0x8000.
  m->load_asm("mov bx, 0x1000\nmov word [bx], 0xbeef\nmov ax, 0xffff\nadd ax, 1\nmov cx, [bx]");
  m->s().seg[kDs].base = 0x7000;
  m->s().seg[kDs].selector = 0x700;
  ASSERT_EQ(m->run().kind, RunResult::End);
  EXPECT_EQ(m->read_mem(0x8000, 2), 0xbeefu);
  EXPECT_EQ(m->s().gpr[kRcx], 0xbeefu);
  EXPECT_EQ(m->s().gpr[kRax], 0u);
  EXPECT_TRUE(m->eflags() & eflags::kCf);
}

TEST_P(X86Basic, DivideErrorRaisesDe) {
  auto m = make(Mode::Long64);
  m->load_asm("mov eax, 1\nxor ecx, ecx\ndiv ecx");
  RunResult r = m->run();
  ASSERT_EQ(r.kind, RunResult::Exception) << r.message;
  EXPECT_EQ(r.vector, 0);
  m->load_asm("mov rdx, 1\nmov rax, 0\nmov rcx, 1\ndiv rcx");  // quotient overflow
  r = m->run();
  ASSERT_EQ(r.kind, RunResult::Exception) << r.message;
  EXPECT_EQ(r.vector, 0);
  m->load_asm("mov ax, 0x8000\ncwd\nmov cx, -1\nidiv cx");
  r = m->run();
  ASSERT_EQ(r.kind, RunResult::Exception) << r.message;
  EXPECT_EQ(r.vector, 0);
}

TEST_P(X86Basic, Ud2AndInvalidRaiseUd) {
  auto m = make(Mode::Long64);
  m->load_asm("nop\nud2");
  RunResult r = m->run();
  ASSERT_EQ(r.kind, RunResult::Exception) << r.message;
  EXPECT_EQ(r.vector, 6);
  EXPECT_EQ(m->s().common.pc, kCodeAddr + 1);
  m->load({0x06});  // PUSH ES is invalid in 64-bit mode
  r = m->run();
  ASSERT_EQ(r.kind, RunResult::Exception) << r.message;
  EXPECT_EQ(r.vector, 6);
}

TEST_P(X86Basic, Int3IsATrapAfterTheInstruction) {
  auto m = make(Mode::Long64);
  m->load_asm("nop\nint3\nnop");
  RunResult r = m->run();
  ASSERT_EQ(r.kind, RunResult::Exception) << r.message;
  EXPECT_EQ(r.vector, 3);
}

TEST_P(X86Basic, RepMovsAndStos) {
  auto m = make(Mode::Long64);
  m->load_asm(
      "mov rdi, 0x8000\nmov al, 0x5a\nmov ecx, 100\nrep stosb\n"
      "mov rsi, 0x8000\nmov rdi, 0x8200\nmov ecx, 25\nrep movsd\n"
      "mov rdi, 0x8200\nmov ecx, 200\nmov al, 0\nrepne scasb");
  ASSERT_EQ(m->run().kind, RunResult::End);
  EXPECT_EQ(m->read_mem(0x8000 + 99, 1), 0x5au);
  EXPECT_EQ(m->read_mem(0x8000 + 100, 1), 0u);
  EXPECT_EQ(m->read_mem(0x8200 + 96, 4), 0x5a5a5a5au);
  EXPECT_EQ(m->s().gpr[kRdi], 0x8200u + 101);
  EXPECT_EQ(m->s().gpr[kRcx], 99u);
}

TEST_P(X86Basic, StdReversesStrings) {
  auto m = make(Mode::Long64);
  m->load_asm("std\nmov rdi, 0x8010\nmov eax, 0x11223344\nmov ecx, 2\nrep stosd\ncld\nlodsb");
  ASSERT_EQ(m->run().kind, RunResult::End);
  EXPECT_EQ(m->read_mem(0x8010, 4), 0x11223344u);
  EXPECT_EQ(m->read_mem(0x800c, 4), 0x11223344u);
  EXPECT_EQ(m->s().gpr[kRdi], 0x8008u);
}

// REP MOVS/STOS run whole pages at once on RAM (helper_rep_string's bulk path); these pin the
// element-by-element results it must keep.
TEST_P(X86Basic, RepMovsOverlapRepeatsThePattern) {
  auto m = make(Mode::Long64);
  // The destination starts 3 bytes into the source: each byte copied is read again three
  // bytes later, so the first three bytes repeat (memmove would shift the old bytes instead).
  m->load_asm(
      "mov rdi, 0x8000\nmov dword [rdi], 0x44332211\nmov dword [rdi+4], 0x88776655\n"
      "mov rsi, rdi\nadd rdi, 3\nmov ecx, 600\nrep movsb\n"
      "mov rsi, 0x8800\nmov rax, 0x1122334455667788\nmov [rsi], rax\nlea rdi, [rsi+8]\nmov ecx, "
      "100\n"
      "rep movsq");
  ASSERT_EQ(m->run().kind, RunResult::End);
  for (unsigned i = 0; i < 603; i += 67)
    EXPECT_EQ(m->read_mem(0x8000 + i, 1), 0x11u + 0x11 * (i % 3)) << i;
  EXPECT_EQ(m->read_mem(0x8000 + 603, 1), 0u);
  EXPECT_EQ(m->read_mem(0x8800 + 800, 8), 0x1122334455667788ull);
  EXPECT_EQ(m->s().gpr[kRsi], 0x8800u + 800);
  EXPECT_EQ(m->s().gpr[kRcx], 0u);
}

TEST_P(X86Basic, RepStosAcrossPagesStopsAtAFault) {
  auto m = make(Mode::Long64);
  // Unaligned words across 0x9000, then on into the unmapped page at kEndAddr: the registers
  // describe the iterations before the faulting one.
  m->load_asm(
      "mov rdi, 0x8ffd\nmov ax, 0xa55a\nmov ecx, 8\nrep stosw\n"
      "mov rdi, 0xe800\nmov eax, 0x77\nmov ecx, 0x1000\nrep stosb");
  ASSERT_EQ(m->run().kind, RunResult::End);
  EXPECT_EQ(m->read_mem(0x8ffd, 8), 0xa55aa55aa55aa55aull);
  EXPECT_EQ(m->read_mem(0x9005, 8), 0xa55aa55aa55aa55aull);
  EXPECT_EQ(m->read_mem(0x900d, 1), 0u);
  EXPECT_EQ(m->read_mem(0xefff, 1), 0x77u);
  EXPECT_EQ(m->s().gpr[kRdi], 0xf000u);
  EXPECT_EQ(m->s().gpr[kRcx], 0x800u);
}

TEST_P(X86Basic, RepStosWrapsTheIndexIn16BitCode) {
  auto m = make(Mode::Real16);
  // ES base 0x10010, DI 0xfff0: linear 0x20000, 16 bytes before DI wraps back to 0x10010.
  m->load_asm("mov di, 0xfff0\nmov ax, 0x1234\nmov cx, 12\nrep stosw");
  m->s().seg[kEs].base = 0x10010;
  m->s().seg[kEs].selector = 0x1001;
  ASSERT_EQ(m->run().kind, RunResult::End);
  EXPECT_EQ(m->read_mem(0x2000e, 2), 0x1234u);
  EXPECT_EQ(m->read_mem(0x20010, 2), 0u);
  EXPECT_EQ(m->read_mem(0x10016, 2), 0x1234u);
  EXPECT_EQ(m->read_mem(0x10018, 2), 0u);
  EXPECT_EQ(m->s().gpr[kRdi] & 0xffff, 8u);
  EXPECT_EQ(m->s().gpr[kRcx] & 0xffff, 0u);
}

TEST_P(X86Basic, RepMovsOverTranslatedCodeRunsTheNewCode) {
  auto m = make(Mode::Long64);
  // The first pass runs the block at .old, then the copy rewrites its first instruction
  // (mov eax, 1 -> mov eax, 2): the stores go through the code-page path, which drops it.
  m->load_asm(
      "xor ebx, ebx\n.old: mov eax, 1\ntest ebx, ebx\njnz .e\ninc ebx\n"
      "lea rsi, [rel .new]\nlea rdi, [rel .old]\nmov ecx, 5\nrep movsb\njmp .old\n"
      ".new: mov eax, 2\n.e:");
  ASSERT_EQ(m->run().kind, RunResult::End);
  EXPECT_EQ(m->s().gpr[kRax], 2u);
  EXPECT_EQ(m->s().gpr[kRbx], 1u);
}

ORRERY_X86_TIERS(X86Basic);

}  // namespace
}  // namespace orrery::cpu::x86::test
