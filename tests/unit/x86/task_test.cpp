// Hardware task switches (SDM vol. 3A chapter 7) and the virtual-8086 mode extensions / protected
// mode virtual interrupts (chapter 20) at the C++ level: JMP/CALL to a TSS and through a task
// gate, IRET back along the link, task gates in the IDT with an error code, the busy bits, the
// faults before and after the point of no return, the T bit; CLI/STI/POPF/IRET/INT n on VIF.
#include <functional>

#include "cpu/x86/system.h"
#include "sys_harness.h"

namespace orrery::cpu::x86::test {
namespace {

constexpr uint64_t kGdt = 0x1000, kIdt = 0x2000, kTssA = 0x3000, kTssB = 0x3100;
constexpr uint16_t kCode0 = 0x08, kData0 = 0x10, kCode3 = 0x1b, kData3 = 0x23;
constexpr uint16_t kSelA = 0x28, kSelB = 0x30, kGateB = 0x38, kSel16 = 0x40;

class TaskTest : public ::testing::Test {
 protected:
  /// Flat 32-bit protected mode at CPL 0, running task A (busy TSS at kTssA); task B's TSS at
  /// kTssB is available and starts at 0x6000 with its own registers; a task gate to B (DPL 3).
  void SetUp() override {
    m.wr(kGdt + 0x08, TestMachine::desc(0, 0xfffff, 0xb, 0), 8);
    m.wr(kGdt + 0x10, TestMachine::desc(0, 0xfffff, 0x3, 0), 8);
    m.wr(kGdt + 0x18, TestMachine::desc(0, 0xfffff, 0xb, 3), 8);
    m.wr(kGdt + 0x20, TestMachine::desc(0, 0xfffff, 0x3, 3), 8);
    m.wr(kGdt + kSelA, TestMachine::desc(kTssA, 0x67, 0xb, 0, false, false, false, false), 8);
    m.wr(kGdt + kSelB, TestMachine::desc(kTssB, 0x67, 0x9, 0, false, false, false, false), 8);
    m.wr(kGdt + kGateB, TestMachine::gate32(kSelB, 0, 5, 3), 8);
    m.s().gdtr = {kGdt, 0x4f};
    m.s().idtr = {kIdt, 0x7ff};
    m.s().cr0 = cr0::kPe | cr0::kEt;
    m.set_seg(kTr, kSelA);
    m.set_seg(kCs, kCode0);
    m.set_seg(kSs, kData0);
    m.set_seg(kDs, kData0);
    m.s().gpr[kRsp] = 0x7000;
    m.s().gpr[kRax] = 0xaaaa;
    m.cpu->set_rip(0x4000);
    m.cpu->mode_changed();
    // Task B.
    m.wr(kTssB + 0x20, 0x6000, 4);     // EIP
    m.wr(kTssB + 0x24, 0x2 | 0x1, 4);  // EFLAGS: CF
    m.wr(kTssB + 0x28, 0xbbbb, 4);     // EAX
    m.wr(kTssB + 0x38, 0x8000, 4);     // ESP
    for (unsigned i = 0; i < 6; ++i) m.wr(kTssB + 0x48 + 4 * i, i == 1 ? kCode0 : kData0, 2);
    m.wr(kTssB + 0x58, 0, 2);  // FS null
  }
  unsigned type_of(uint16_t sel) { return unsigned(m.rd(kGdt + sel + 5, 1)) & 0xf; }
  TestMachine m;
};

TEST_F(TaskTest, CallNestsAndIretReturnsAlongTheLink) {
  far_call(*m.cpu, kSelB, 0, 4, 0x4007);
  EXPECT_EQ(m.cpu->pc(), 0x6000u);
  EXPECT_EQ(m.s().gpr[kRax], 0xbbbbu);
  EXPECT_EQ(m.s().gpr[kRsp], 0x8000u);
  EXPECT_EQ(m.s().seg[kTr].selector, kSelB);
  EXPECT_EQ(m.s().seg[kFs].selector, 0);
  EXPECT_NE(read_eflags(m.s()) & eflags::kNt, 0u) << "CALL nests";
  EXPECT_NE(read_eflags(m.s()) & eflags::kCf, 0u);
  EXPECT_NE(m.s().cr0 & cr0::kTs, 0u);
  EXPECT_EQ(m.rd(kTssB, 2), kSelA) << "previous-task link";
  EXPECT_EQ(type_of(kSelB), 0xbu) << "new task busy";
  EXPECT_EQ(type_of(kSelA), 0xbu) << "the caller stays busy";
  EXPECT_EQ(m.rd(kTssA + 0x20, 4), 0x4007u) << "old EIP saved";
  EXPECT_EQ(m.rd(kTssA + 0x28, 4), 0xaaaau) << "old EAX saved";
  EXPECT_EQ(m.rd(kTssA + 0x4c, 2), kCode0);

  m.s().gpr[kRax] = 0xcccc;
  iret(*m.cpu, 4, 0x6001);
  EXPECT_EQ(m.cpu->pc(), 0x4007u);
  EXPECT_EQ(m.s().gpr[kRax], 0xaaaau);
  EXPECT_EQ(m.s().gpr[kRsp], 0x7000u);
  EXPECT_EQ(m.s().seg[kTr].selector, kSelA);
  EXPECT_EQ(read_eflags(m.s()) & eflags::kNt, 0u);
  EXPECT_EQ(type_of(kSelB), 0x9u) << "IRET frees the task it leaves";
  EXPECT_EQ(type_of(kSelA), 0xbu);
  EXPECT_EQ(m.rd(kTssB + 0x20, 4), 0x6001u);
  EXPECT_EQ(m.rd(kTssB + 0x28, 4), 0xccccu);
  EXPECT_EQ(m.rd(kTssB + 0x24, 4) & eflags::kNt, 0u) << "NT cleared in the saved image";
}

TEST_F(TaskTest, JmpThroughATaskGateDoesNotNest) {
  m.set_seg(kCs, kCode3);
  m.set_seg(kSs, kData3);
  m.cpu->mode_changed();
  far_jmp(*m.cpu, kGateB | 3, 0, 4, 0x4007);
  EXPECT_EQ(m.cpu->pc(), 0x6000u);
  EXPECT_EQ(m.cpu->cpl(), 0u);
  EXPECT_EQ(read_eflags(m.s()) & eflags::kNt, 0u);
  EXPECT_EQ(type_of(kSelA), 0x9u) << "JMP frees the old task";
  EXPECT_EQ(type_of(kSelB), 0xbu);
  EXPECT_EQ(m.rd(kTssB, 2), 0u) << "no link";
  // B is busy now: jumping to it again is #GP(B).
  const GuestFault f = fault_of([&] { far_jmp(*m.cpu, kSelB, 0, 4, 0x6007); });
  EXPECT_EQ(f.vector, vec::kGp);
  EXPECT_EQ(f.error_code, kSelB);
}

TEST_F(TaskTest, ChecksBeforeTheSwitch) {
  // TSS DPL 0 from CPL 3: #GP(sel), nothing changes.
  m.set_seg(kCs, kCode3);
  m.set_seg(kSs, kData3);
  GuestFault f = fault_of([&] { far_jmp(*m.cpu, kSelB | 3, 0, 4, 0x4007); });
  EXPECT_EQ(f.vector, vec::kGp);
  EXPECT_EQ(f.error_code, kSelB);
  m.set_seg(kCs, kCode0);
  m.set_seg(kSs, kData0);
  // Limit below 0x67: #TS(sel).
  m.wr(kGdt + kSelB, TestMachine::desc(kTssB, 0x60, 0x9, 0, false, false, false, false), 8);
  f = fault_of([&] { far_jmp(*m.cpu, kSelB, 0, 4, 0x4007); });
  EXPECT_EQ(f.vector, vec::kTs);
  EXPECT_EQ(f.error_code, kSelB);
  // Not present: #NP(sel).
  m.wr(kGdt + kSelB,
       TestMachine::desc(kTssB, 0x67, 0x9, 0, false, false, false, false) & ~(1ull << 47), 8);
  f = fault_of([&] { far_call(*m.cpu, kSelB, 0, 4, 0x4007); });
  EXPECT_EQ(f.vector, vec::kNp);
  EXPECT_EQ(f.error_code, kSelB);
  EXPECT_EQ(m.s().seg[kTr].selector, kSelA);
  EXPECT_EQ(type_of(kSelA), 0xbu);
  // IRET with NT to a link that is not a busy TSS: #TS(link).
  m.wr(kTssA, kSelB, 2);
  m.wr(kGdt + kSelB, TestMachine::desc(kTssB, 0x67, 0x9, 0, false, false, false, false), 8);
  write_eflags(m.s(), read_eflags(m.s()) | eflags::kNt);
  f = fault_of([&] { iret(*m.cpu, 4, 0x4001); });
  EXPECT_EQ(f.vector, vec::kTs);
  EXPECT_EQ(f.error_code, kSelB);
}

TEST_F(TaskTest, FaultsLoadingTheNewTaskComeAfterTheSwitch) {
  m.wr(kTssB + 0x50, kCode0, 2);  // SS = a code segment
  GuestFault f = fault_of([&] { far_jmp(*m.cpu, kSelB, 0, 4, 0x4007); });
  EXPECT_EQ(f.vector, vec::kTs);
  EXPECT_EQ(f.error_code, kCode0);
  EXPECT_EQ(m.s().seg[kTr].selector, kSelB) << "the fault belongs to the new task";
  EXPECT_EQ(m.cpu->rip(), 0x6000u);
  EXPECT_EQ(m.s().gpr[kRax], 0xbbbbu);
  // A data segment that is not present: #NP(sel).
  SetUp();
  m.wr(kGdt + 0x48, TestMachine::desc(0, 0xfffff, 0x3, 0) & ~(1ull << 47), 8);
  m.s().gdtr.limit = 0x4f;
  m.wr(kTssB + 0x54, 0x48, 2);  // DS
  f = fault_of([&] { far_jmp(*m.cpu, kSelB, 0, 4, 0x4007); });
  EXPECT_EQ(f.vector, vec::kNp);
  EXPECT_EQ(f.error_code, 0x48u);
  // An LDT selector that is not an LDT: #TS(ldt).
  SetUp();
  m.wr(kTssB + 0x60, kData0, 2);
  f = fault_of([&] { far_jmp(*m.cpu, kSelB, 0, 4, 0x4007); });
  EXPECT_EQ(f.vector, vec::kTs);
  EXPECT_EQ(f.error_code, kData0);
}

TEST_F(TaskTest, TaskGateInTheIdtPushesTheErrorCodeOnTheNewStack) {
  m.wr(kIdt + 13 * 8, TestMachine::gate32(kSelB, 0, 5, 0), 8);
  raise_exception(*m.cpu, vec::kGp, 0x1234);
  EXPECT_EQ(m.s().seg[kTr].selector, kSelB);
  EXPECT_EQ(m.cpu->pc(), 0x6000u);
  EXPECT_EQ(m.s().gpr[kRsp], 0x8000u - 4);
  EXPECT_EQ(m.rd(0x8000 - 4, 4), 0x1234u);
  EXPECT_EQ(m.rd(kTssB, 2), kSelA);
  EXPECT_NE(read_eflags(m.s()) & eflags::kNt, 0u);
  EXPECT_EQ(m.rd(kTssA + 0x20, 4), 0x4000u) << "a fault saves the faulting EIP";
}

TEST_F(TaskTest, SixteenBitTssAndTheTBit) {
  // A 16-bit TSS at 0x3200: IP 0x6100, FLAGS, AX..DI, ES CS SS DS, LDT.
  constexpr uint64_t k16 = 0x3200;
  m.wr(kGdt + kSel16, TestMachine::desc(k16, 0x2b, 0x1, 0, false, false, false, false), 8);
  m.wr(k16 + 0x0e, 0x6100, 2);
  m.wr(k16 + 0x10, 0x0002, 2);
  m.wr(k16 + 0x12, 0x1234, 2);  // AX
  m.wr(k16 + 0x1a, 0x7ff0, 2);  // SP
  m.wr(k16 + 0x22, kData0, 2);
  m.wr(k16 + 0x24, kCode0, 2);
  m.wr(k16 + 0x26, kData0, 2);
  m.wr(k16 + 0x28, kData0, 2);
  far_call(*m.cpu, kSel16, 0, 4, 0x4007);
  EXPECT_EQ(m.cpu->pc(), 0x6100u);
  EXPECT_EQ(m.s().gpr[kRax], 0xffff1234u);
  EXPECT_EQ(m.s().gpr[kRsp] & 0xffff, 0x7ff0u);
  EXPECT_EQ(type_of(kSel16), 0x3u) << "busy 16-bit TSS";
  EXPECT_EQ(m.rd(k16, 2), kSelA);
  iret(*m.cpu, 4, 0x6101);
  EXPECT_EQ(m.cpu->pc(), 0x4007u);
  EXPECT_EQ(m.rd(k16 + 0x0e, 2), 0x6101u);
  EXPECT_EQ(type_of(kSel16), 0x1u);

  // The T bit: #DB before the new task's first instruction, DR6.BT set.
  m.wr(kTssB + 0x64, 1, 2);
  const GuestFault f = fault_of([&] { far_jmp(*m.cpu, kSelB, 0, 4, 0x4007); });
  EXPECT_EQ(f.vector, vec::kDb);
  EXPECT_NE(m.s().dr[6] & (1u << 15), 0u);
  EXPECT_EQ(m.cpu->pc(), 0x6000u);
}

TEST_F(TaskTest, NoTaskSwitchesInLongMode) {
  m.s().efer = efer::kLme | efer::kLma;
  const GuestFault f = fault_of([&] { far_jmp(*m.cpu, kSelB, 0, 4, 0x4007); });
  EXPECT_EQ(f.vector, vec::kGp);
  EXPECT_EQ(f.error_code, kSelB);
}

// ---- VME / PVI ----

class VmeTest : public TaskTest {
 protected:
  /// Virtual-8086 mode at IOPL 0 with CR4.VME; task A's TSS has an I/O map base at 0x88 and
  /// the interrupt redirection bitmap at 0x68 (vector 0x21 redirected, 0x22 not).
  void vm86_mode() {
    m.wr(kGdt + kSelA, TestMachine::desc(kTssA, 0x88 + 0x20, 0xb, 0, false, false, false, false),
         8);
    m.set_seg(kTr, kSelA);
    m.wr(kTssA + 0x66, 0x88, 2);
    for (unsigned i = 0; i < 32; ++i) m.wr(kTssA + 0x68 + i, 0xff, 1);
    m.wr(kTssA + 0x68 + 0x21 / 8, 0xff & ~(1u << (0x21 & 7)), 1);
    m.s().cr4 |= cr4::kVme;
    write_eflags(m.s(), eflags::kFixed1 | eflags::kVm | eflags::kIf);
    for (unsigned r = kEs; r <= kGs; ++r) load_segment_real(m.s(), r, 0x100, true);
    m.s().gpr[kRsp] = 0x200;
    m.cpu->set_rip(0x10);
    m.cpu->mode_changed();
  }
};

TEST_F(VmeTest, CliStiWorkOnVif) {
  vm86_mode();
  write_eflags(m.s(), read_eflags(m.s()) | eflags::kVif);
  cli_insn(*m.cpu);
  EXPECT_EQ(m.s().eflags & eflags::kVif, 0u);
  EXPECT_NE(m.s().eflags & eflags::kIf, 0u) << "the real IF is untouched";
  sti_insn(*m.cpu);
  EXPECT_NE(m.s().eflags & eflags::kVif, 0u);
  m.s().eflags |= eflags::kVip;
  m.s().eflags &= ~eflags::kVif;
  EXPECT_EQ(fault_of([&] { sti_insn(*m.cpu); }).vector, vec::kGp) << "VIP pending";
  m.s().cr4 &= ~cr4::kVme;
  EXPECT_EQ(fault_of([&] { cli_insn(*m.cpu); }).vector, vec::kGp) << "no VME: IOPL rules";
}

TEST_F(VmeTest, PviAtCpl3) {
  m.set_seg(kCs, kCode3);
  m.set_seg(kSs, kData3);
  m.s().eflags |= eflags::kIf;
  m.cpu->mode_changed();
  EXPECT_EQ(fault_of([&] { cli_insn(*m.cpu); }).vector, vec::kGp);
  m.s().cr4 |= cr4::kPvi;
  cli_insn(*m.cpu);
  EXPECT_EQ(m.s().eflags & eflags::kVif, 0u);
  EXPECT_NE(m.s().eflags & eflags::kIf, 0u);
  sti_insn(*m.cpu);
  EXPECT_NE(m.s().eflags & eflags::kVif, 0u);
}

TEST_F(VmeTest, IntNThroughTheRedirectionBitmap) {
  vm86_mode();
  m.wr(0x21 * 4, 0x02000030, 4);  // IVT: 0200:0030
  m.s().eflags &= ~eflags::kVif;
  software_interrupt(*m.cpu, 0x21, EventKind::SoftwareInt, 0x12);
  EXPECT_EQ(m.s().seg[kCs].selector, 0x200);
  EXPECT_EQ(m.cpu->pc(), 0x2030u);
  EXPECT_NE(m.s().eflags & eflags::kVm, 0u) << "stays in virtual-8086 mode";
  EXPECT_EQ(m.s().gpr[kRsp], 0x200u - 6);
  EXPECT_EQ(m.rd(0x1000 + 0x200 - 2, 2) & (eflags::kIf | eflags::kIoplMask), eflags::kIoplMask)
      << "pushed FLAGS: IF from VIF (clear), IOPL 3";
  EXPECT_EQ(m.rd(0x1000 + 0x200 - 4, 2), 0x100u);
  EXPECT_EQ(m.rd(0x1000 + 0x200 - 6, 2), 0x12u);
  // IRET back (16-bit): VIF from the popped IF.
  m.wr(0x1000 + 0x200 - 2, 0x3202, 2);  // IF set
  iret(*m.cpu, 2, 0);
  EXPECT_EQ(m.cpu->pc(), 0x1012u);
  EXPECT_NE(m.s().eflags & eflags::kVif, 0u);
  EXPECT_EQ(m.s().eflags & eflags::kIoplMask, 0u) << "IOPL unchanged";
  // A 32-bit IRET and a popped TF are #GP.
  EXPECT_EQ(fault_of([&] { iret(*m.cpu, 4, 0); }).vector, vec::kGp);
  m.s().gpr[kRsp] = 0x100;
  m.wr(0x1000 + 0x100, 0x0100, 2);  // TF
  EXPECT_EQ(fault_of([&] { popf_virtual(*m.cpu); }).vector, vec::kGp);
  EXPECT_EQ(m.s().gpr[kRsp], 0x100u) << "nothing popped";
  m.wr(0x1000 + 0x100, 0x0200 | 0x0001, 2);  // IF, CF
  popf_virtual(*m.cpu);
  EXPECT_NE(m.s().eflags & eflags::kVif, 0u);
  EXPECT_NE(read_eflags(m.s()) & eflags::kCf, 0u);
  EXPECT_EQ(m.s().gpr[kRsp], 0x102u);
  // Not redirected, IOPL 0: #GP(0) to the monitor's ring-0 handler.
  m.wr(kIdt + 13 * 8, TestMachine::gate32(kCode0, 0x5000, 14, 0), 8);
  m.wr(kTssA + 4, 0x9000, 4);
  m.wr(kTssA + 8, kData0, 4);
  software_interrupt(*m.cpu, 0x22, EventKind::SoftwareInt, 0x12);
  EXPECT_EQ(m.s().eflags & eflags::kVm, 0u);
  EXPECT_EQ(m.cpu->pc(), 0x5000u);
  EXPECT_EQ(m.rd(0x9000 - 40, 4), 0u) << "#GP(0)";
}

}  // namespace
}  // namespace orrery::cpu::x86::test
