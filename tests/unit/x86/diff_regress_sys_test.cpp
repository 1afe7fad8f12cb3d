// Regressions found by the differential fuzzer (x86-diff --target orrery*) in system
// instructions, run as guest code through X86Cpu::run in 64-bit mode at CPL0.
#include "tests/unit/x86/harness.h"
#include "tests/unit/x86/sys_harness.h"

namespace orrery::cpu::x86::test {
namespace {

constexpr uint64_t kGdt = 0x3000, kPml4 = 0x10000, kCode = 0x1000;

// 64-bit mode at CPL0 with the first 2 MiB identity-mapped; `src` ends with `out 0xf4, al`.
void run_long_mode(TestMachine& m, const std::string& src) {
  m.wr(kPml4, (kPml4 + 0x1000) | 3, 8);
  m.wr(kPml4 + 0x1000, (kPml4 + 0x2000) | 3, 8);
  m.wr(kPml4 + 0x2000, 0x83, 8);                                // 2 MiB page at 0
  m.wr(kGdt + 0x08, 0x00209a0000000000ull, 8);                  // code64, DPL 0
  m.wr(kGdt + 0x10, TestMachine::desc(0, 0xfffff, 0x3, 0), 8);  // data, DPL 0
  m.wr(kGdt + 0x18, TestMachine::desc(0, 0xfffff, 0x3, 3), 8);  // data, DPL 3
  const std::vector<uint8_t> code = assemble(src, 64);
  m.memory.write_bytes(kCode, code.data(), code.size());
  X86State& s = m.s();
  s.gdtr = {kGdt, 0x1f};
  s.cr0 = cr0::kPe | cr0::kPg | cr0::kEt;
  s.cr3 = kPml4;
  s.cr4 = cr4::kPae;
  s.efer = efer::kLme | efer::kLma;
  m.set_seg(kCs, 0x08);
  m.set_seg(kSs, 0x10);
  s.gpr[kRsp] = 0x8000;
  m.cpu->set_rip(kCode);
  m.cpu->mode_changed();
  ASSERT_EQ(m.cpu->run(), ExitKind::Kicked);
  ASSERT_EQ(m.exit_port.values.size(), 1u);
}

// LAR/LSL r32 with a selector they reject (ZF = 0) leave the whole destination (SDM: "the
// destination is not modified"; the silicon oracle agrees); Orrery zero-extended it.
TEST(X86DiffRegressSys, LarLsl32RejectedSelectorKeepsDestination) {
  TestMachine m{*find_cpu_model("max")};
  run_long_mode(m,
                "mov rcx, 0x1111222233334444\nmov eax, 0x5\nlar ecx, eax\nmov rdx, rcx\n"
                "mov rsi, -1\nmov eax, 0xfff8\nlsl esi, eax\n"
                "mov rdi, -1\nmov eax, 0x1b\nlar edi, eax\nout 0xf4, al");
  EXPECT_EQ(m.s().gpr[kRdx], 0x1111222233334444ull);
  EXPECT_EQ(m.s().gpr[kRsi], ~0ull);
  // Accepted: the access rights, zero-extended (bits 19:16 are undefined in the SDM).
  EXPECT_EQ(m.s().gpr[kRdi] & ~0xf0000ull, 0x00c0f300u);
}

}  // namespace
}  // namespace orrery::cpu::x86::test
