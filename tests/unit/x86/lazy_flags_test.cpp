// The lazy-flags fast path: a flag-setting instruction followed by a flag reader in the same
// block compiles to a direct comparison, without computing EFLAGS.
#include "tcg/ir/ir.h"
#include "tests/unit/x86/harness.h"

namespace orrery::cpu::x86::test {
namespace {

tcg::ir::Block translate_one_block(Machine& m, const std::string& src) {
  m.load_asm(src);
  std::vector<uint8_t> page(0x1000);
  m.as.read_bytes(kCodeAddr, page.data(), page.size());
  tcg::exec::CodeReader reader(kCodeAddr, page.data(), page.size());
  tcg::ir::Block b;
  b.guest_pc = kCodeAddr;
  m.frontend->translate(m.s().common, reader, tcg::exec::TranslateOptions{}, b);
  EXPECT_EQ(tcg::ir::verify(b), "");
  return b;
}

unsigned count_calls(const tcg::ir::Block& b) {
  unsigned n = 0;
  for (const tcg::ir::Inst& i : b.insts)
    if (i.op == tcg::ir::Opcode::Call || i.op == tcg::ir::Opcode::CallPure) ++n;
  return n;
}

TEST(X86LazyFlags, CompareAndBranchNeedNoHelper) {
  Machine m(Tier::Interp, Mode::Long64);
  for (const char* cc : {"o", "b", "e", "be", "s", "p", "l", "le", "ae", "g"}) {
    for (const char* setter :
         {"cmp rax, rbx", "test ecx, edx", "add eax, 1", "sub r8b, 3", "cmp eax, 1\ninc rcx",
          "and eax, ebx", "shl eax, 3", "imul eax, ebx"}) {
      tcg::ir::Block b = translate_one_block(m, std::string(setter) + "\nj" + cc + " .t\n.t:");
      EXPECT_EQ(count_calls(b), 0u) << setter << "; j" << cc << "\n" << tcg::ir::print(b);
      EXPECT_EQ(b.term.kind, tcg::ir::Terminal::Kind::Branch);
    }
  }
}

// An instruction that needs all six flags (PUSHF, LAHF) or merges CF/OF into them (rotates,
// BT, CLC) after a known ALU op computes them in IR (the leading TEST makes the carry that
// ADC, SBB, INC and DEC read known): ChaCha/BLAKE2 loops (add, xor, rol) and
// pushf in irq-save paths used to call a helper per instruction.
TEST(X86LazyFlags, AllFlagsOfAKnownOpNeedNoHelper) {
  Machine m(Tier::Interp, Mode::Long64);
  for (const char* user : {"pushfq", "lahf", "rol eax, 7", "ror r9d, 12", "bt rax, 3", "clc"}) {
    for (const char* setter :
         {"cmp rax, rbx", "xor ecx, edx", "add eax, ebx", "adc r8b, 3", "sbb eax, 1", "inc rcx",
          "dec ax", "shl eax, 3", "sar eax, 1", "imul eax, ebx", "neg rax"}) {
      tcg::ir::Block b =
          translate_one_block(m, std::string("test eax, eax\n") + setter + "\n" + user + "\nnop");
      EXPECT_EQ(count_calls(b), 0u) << setter << "; " << user << "\n" << tcg::ir::print(b);
    }
  }
}

// INC/DEC keep CF, so at the start of a block (unknown state) they read it with the helper.
TEST(X86LazyFlags, UnknownStateUsesTheHelper) {
  Machine m(Tier::Interp, Mode::Long64);
  tcg::ir::Block b = translate_one_block(m, "jz .t\n.t:");
  EXPECT_EQ(count_calls(b), 1u) << tcg::ir::print(b);
}

}  // namespace
}  // namespace orrery::cpu::x86::test
