// Event delivery in each mode: the stack frame, the new CS:RIP, stack switches, error codes
// (EXT, IDT bits), double and triple faults, and software-interrupt privilege checks.
#include "cpu/x86/system.h"
#include "sys_harness.h"

namespace orrery::cpu::x86::test {
namespace {

constexpr uint64_t kGdt = 0x1000, kIdt = 0x2000, kTss = 0x3000;
constexpr uint16_t kCode0 = 0x08, kData0 = 0x10, kCode3 = 0x1b, kData3 = 0x23, kTssSel = 0x28;
constexpr uint16_t kCode64 = 0x38;

class ExceptionTest : public ::testing::Test {
 protected:
  /// Flat 32-bit protected mode at CPL cpl with a 32-bit TSS (SS0:ESP0 = kData0:0x9000).
  void protected_mode(unsigned cpl) {
    m.wr(kGdt + 0x08, TestMachine::desc(0, 0xfffff, 0xb, 0), 8);
    m.wr(kGdt + 0x10, TestMachine::desc(0, 0xfffff, 0x3, 0), 8);
    m.wr(kGdt + 0x18, TestMachine::desc(0, 0xfffff, 0xb, 3), 8);
    m.wr(kGdt + 0x20, TestMachine::desc(0, 0xfffff, 0x3, 3), 8);
    m.wr(kGdt + 0x28, TestMachine::desc(kTss, 0x67, 0xb, 0, false, false, false, false), 8);
    m.wr(kGdt + 0x38, TestMachine::desc(0, 0xfffff, 0xb, 0, true, false, true), 8);
    m.s().gdtr = {kGdt, 0x3f};
    m.s().idtr = {kIdt, 0xfff};
    m.s().cr0 = cr0::kPe | cr0::kEt;
    m.wr(kTss + 4, 0x9000, 4);  // ESP0
    m.wr(kTss + 8, kData0, 4);  // SS0
    m.set_seg(kTr, kTssSel);
    m.set_seg(kCs, cpl ? kCode3 : kCode0);
    m.set_seg(kSs, cpl ? kData3 : kData0);
    m.set_seg(kDs, cpl ? kData3 : kData0);
    m.s().gpr[kRsp] = 0x7000;
    m.cpu->set_rip(0x4000);
    m.cpu->mode_changed();
  }
  void long_mode(unsigned cpl) {
    protected_mode(0);
    m.s().cr4 = cr4::kPae;
    m.s().efer = efer::kLme | efer::kLma;
    // Identity map the first 1G with one 1G page... the qemu64 model has no 1G pages: 2M.
    m.wr(0x100000, 0x101000 | 7, 8);
    m.wr(0x101000, 0x102000 | 7, 8);
    for (uint64_t i = 0; i < 16; ++i) m.wr(0x102000 + i * 8, (i << 21) | 0x87, 8);
    m.s().cr3 = 0x100000;
    m.s().cr0 |= cr0::kPg;
    // 64-bit TSS: RSP0 at 4, IST1 at 0x24.
    m.wr(kTss + 4, 0xa000, 8);
    m.wr(kTss + 0x24, 0xb008, 8);
    m.wr(kGdt + 0x18, TestMachine::desc(0, 0xfffff, 0xb, 3, true, false, true), 8);
    m.set_seg(kCs, cpl ? kCode3 : kCode64);
    m.set_seg(kSs, cpl ? kData3 : kData0);
    m.s().gpr[kRsp] = 0x7008;
    m.cpu->set_rip(0x4000);
    m.cpu->mode_changed();
  }
  TestMachine m;
};

TEST_F(ExceptionTest, RealModeSoftwareInterruptUsesTheIvt) {
  m.s().seg[kSs].base = 0x1000;
  m.s().seg[kSs].selector = 0x100;
  m.s().gpr[kRsp] = 0x200;
  m.s().seg[kCs].selector = 0x2000;
  m.s().seg[kCs].base = 0x20000;
  m.s().eflags = eflags::kFixed1 | eflags::kIf | eflags::kCf;
  m.cpu->set_rip(0x10);
  m.wr(0x21 * 4, 0x3000'0123, 4);  // 3000:0123
  software_interrupt(*m.cpu, 0x21, EventKind::SoftwareInt, 0x12);
  EXPECT_EQ(m.s().seg[kCs].selector, 0x3000);
  EXPECT_EQ(m.cpu->pc(), 0x30123u);
  EXPECT_EQ(m.s().gpr[kRsp], 0x1fau);
  EXPECT_EQ(m.rd(0x11fa, 2), 0x12u);    // IP after INT
  EXPECT_EQ(m.rd(0x11fc, 2), 0x2000u);  // CS
  EXPECT_EQ(m.rd(0x11fe, 2), eflags::kFixed1 | eflags::kIf | eflags::kCf);
  EXPECT_EQ(m.s().eflags & eflags::kIf, 0u);
}

TEST_F(ExceptionTest, ProtectedModeFaultFromRing3SwitchesToTheTssStack) {
  protected_mode(3);
  m.wr(kIdt + 13 * 8, TestMachine::gate32(kCode0, 0x5000, 14, 0), 8);
  m.s().eflags = eflags::kFixed1 | eflags::kIf;
  raise_exception(*m.cpu, vec::kGp, 0x28);
  EXPECT_EQ(m.s().seg[kCs].selector, kCode0);
  EXPECT_EQ(m.cpu->cpl(), 0u);
  EXPECT_EQ(m.cpu->pc(), 0x5000u);
  EXPECT_EQ(m.s().seg[kSs].selector, kData0);
  EXPECT_EQ(m.s().gpr[kRsp], 0x9000u - 24);
  EXPECT_EQ(m.rd(0x9000 - 24, 4), 0x28u);    // error code
  EXPECT_EQ(m.rd(0x9000 - 20, 4), 0x4000u);  // EIP of the faulting instruction
  EXPECT_EQ(m.rd(0x9000 - 16, 4), kCode3);   // CS
  EXPECT_EQ(m.rd(0x9000 - 12, 4), eflags::kFixed1 | eflags::kIf);
  EXPECT_EQ(m.rd(0x9000 - 8, 4), 0x7000u);  // ESP
  EXPECT_EQ(m.rd(0x9000 - 4, 4), kData3);   // SS
  EXPECT_EQ(m.s().eflags & eflags::kIf, 0u) << "an interrupt gate clears IF";
}

TEST_F(ExceptionTest, TrapGateKeepsIfAndSamePrivilegeUsesTheCurrentStack) {
  protected_mode(0);
  m.wr(kIdt + 0x40 * 8, TestMachine::gate32(kCode0, 0x6000, 15, 3), 8);
  m.s().eflags = eflags::kFixed1 | eflags::kIf;
  software_interrupt(*m.cpu, 0x40, EventKind::SoftwareInt, 0x4002);
  EXPECT_EQ(m.cpu->pc(), 0x6000u);
  EXPECT_EQ(m.s().gpr[kRsp], 0x7000u - 12);
  EXPECT_EQ(m.rd(0x7000 - 12, 4), 0x4002u);
  EXPECT_NE(m.s().eflags & eflags::kIf, 0u);
}

TEST_F(ExceptionTest, SoftwareInterruptThroughAPrivilegedGateIsGpWithTheIdtBit) {
  protected_mode(3);
  m.wr(kIdt + 0x80 * 8, TestMachine::gate32(kCode0, 0x6000, 14, 0), 8);  // DPL 0
  m.wr(kIdt + 13 * 8, TestMachine::gate32(kCode0, 0x5000, 14, 0), 8);
  software_interrupt(*m.cpu, 0x80, EventKind::SoftwareInt, 0x4002);
  EXPECT_EQ(m.cpu->pc(), 0x5000u);
  EXPECT_EQ(m.rd(0x9000 - 24, 4), 0x80u * 8 + errc::kIdt);
  EXPECT_EQ(m.rd(0x9000 - 20, 4), 0x4000u) << "the INT instruction faulted";
}

TEST_F(ExceptionTest, NotPresentGateForAnExternalInterruptHasExt) {
  protected_mode(0);
  m.wr(kIdt + 0x30 * 8, TestMachine::gate32(kCode0, 0x6000, 14, 0, false), 8);
  m.wr(kIdt + 11 * 8, TestMachine::gate32(kCode0, 0x5100, 14, 0), 8);
  Event ev;
  ev.vector = 0x30;
  ev.kind = EventKind::External;
  deliver_event(*m.cpu, ev);
  EXPECT_EQ(m.cpu->pc(), 0x5100u);
  EXPECT_EQ(m.rd(0x7000 - 16, 4), 0x30u * 8 + errc::kIdt + errc::kExt);
}

TEST_F(ExceptionTest, HandlerBeyondTheCodeSegmentLimitIsGp) {
  protected_mode(0);
  // A code segment of 4 KiB (byte granular) at 0x08... the flat one is replaced for the gate.
  m.wr(kGdt + 0x30, TestMachine::desc(0, 0xfff, 0xb, 0, true, true, false, false), 8);
  m.wr(kIdt + 0x41 * 8, TestMachine::gate32(0x30, 0x2000, 14, 0), 8);
  m.wr(kIdt + 13 * 8, TestMachine::gate32(kCode0, 0x5000, 14, 0), 8);
  software_interrupt(*m.cpu, 0x41, EventKind::SoftwareInt, 0x4002);
  EXPECT_EQ(m.cpu->pc(), 0x5000u);
  EXPECT_EQ(m.rd(0x7000 - 16, 4), 0u) << "#GP(0)";
  EXPECT_EQ(m.rd(0x7000 - 12, 4), 0x4000u) << "at the INT";
}

TEST_F(ExceptionTest, ContributoryDuringContributoryIsDoubleFault) {
  protected_mode(0);
  // #GP's gate is not present: #NP while delivering #GP makes #DF.
  m.wr(kIdt + 13 * 8, TestMachine::gate32(kCode0, 0x5000, 14, 0, false), 8);
  m.wr(kIdt + 8 * 8, TestMachine::gate32(kCode0, 0x5800, 14, 0), 8);
  raise_exception(*m.cpu, vec::kGp, 0);
  EXPECT_EQ(m.cpu->pc(), 0x5800u);
  EXPECT_EQ(m.rd(0x7000 - 16, 4), 0u) << "#DF pushes error code 0";
  EXPECT_EQ(m.resets, 0);
}

TEST_F(ExceptionTest, PageFaultDuringBenignDeliveryIsDeliveredSerially) {
  protected_mode(0);
  // #UD (benign) with a not-present gate: #NP is delivered, not #DF.
  m.wr(kIdt + 6 * 8, TestMachine::gate32(kCode0, 0x5000, 14, 0, false), 8);
  m.wr(kIdt + 11 * 8, TestMachine::gate32(kCode0, 0x5100, 14, 0), 8);
  raise_exception(*m.cpu, vec::kUd);
  EXPECT_EQ(m.cpu->pc(), 0x5100u);
  EXPECT_EQ(m.rd(0x7000 - 16, 4), 6u * 8 + errc::kIdt + errc::kExt);
}

TEST_F(ExceptionTest, FaultDeliveringDoubleFaultIsTripleFault) {
  protected_mode(0);
  m.s().idtr.limit = 0;  // every vector is beyond the IDT
  raise_exception(*m.cpu, vec::kGp, 0);
  EXPECT_EQ(m.resets, 1);
  EXPECT_EQ(m.s().common.pending_exit, uint32_t(tcg::PendingExit::Stop));
}

TEST_F(ExceptionTest, LongModeInterruptFromRing3UsesRsp0AndANullSs) {
  long_mode(3);
  m.gate64(kIdt + 0x80 * 16, kCode64, 0xffffffff80001000ull, 14, 3);
  m.s().eflags = eflags::kFixed1 | eflags::kIf;
  software_interrupt(*m.cpu, 0x80, EventKind::SoftwareInt, 0x4002);
  EXPECT_EQ(m.cpu->pc(), 0xffffffff80001000ull);
  EXPECT_EQ(m.cpu->cpl(), 0u);
  EXPECT_EQ(m.s().seg[kSs].selector, 0u);
  EXPECT_EQ(m.s().gpr[kRsp], 0xa000u - 40);
  EXPECT_EQ(m.rd(0xa000 - 40, 8), 0x4002u);
  EXPECT_EQ(m.rd(0xa000 - 32, 8), kCode3);
  EXPECT_EQ(m.rd(0xa000 - 24, 8), eflags::kFixed1 | eflags::kIf);
  EXPECT_EQ(m.rd(0xa000 - 16, 8), 0x7008u);
  EXPECT_EQ(m.rd(0xa000 - 8, 8), kData3);
}

TEST_F(ExceptionTest, LongModeIstStackIsAlignedAndUsedAtTheSamePrivilege) {
  long_mode(0);
  m.gate64(kIdt + 2 * 16, kCode64, 0x8000, 14, 0, 1);
  Event ev;
  ev.vector = vec::kNmi;
  ev.kind = EventKind::Nmi;
  deliver_event(*m.cpu, ev);
  EXPECT_EQ(m.cpu->pc(), 0x8000u);
  // IST1 = 0xb008 is aligned down to 16 bytes before the 5-quadword frame.
  EXPECT_EQ(m.s().gpr[kRsp], 0xb000u - 40);
  EXPECT_EQ(m.rd(0xb000 - 16, 8), 0x7008u);
  EXPECT_EQ(m.rd(0xb000 - 8, 8), kData0);
}

TEST_F(ExceptionTest, IretReturnsToRing3InLongMode) {
  long_mode(3);
  m.gate64(kIdt + 0x80 * 16, kCode64, 0x8000, 14, 3);
  software_interrupt(*m.cpu, 0x80, EventKind::SoftwareInt, 0x4002);
  iret(*m.cpu, 8, 0);
  EXPECT_EQ(m.cpu->cpl(), 3u);
  EXPECT_EQ(m.cpu->pc(), 0x4002u);
  EXPECT_EQ(m.s().gpr[kRsp], 0x7008u);
  EXPECT_EQ(m.s().seg[kSs].selector, kData3);
}

TEST_F(ExceptionTest, IretToVirtual8086AndBackByInterrupt) {
  protected_mode(0);
  // Frame for IRETD to VM86: EIP CS EFLAGS ESP SS ES DS FS GS.
  const uint64_t sp = 0x7000 - 36;
  const uint32_t frame[] = {0x100,  0x2000, uint32_t(eflags::kVm | eflags::kFixed1 | eflags::kIf),
                            0xfffe, 0x3000, 0x4000,
                            0x5000, 0x6000, 0x7000};
  for (unsigned i = 0; i < 9; ++i) m.wr(sp + 4 * i, frame[i], 4);
  m.s().gpr[kRsp] = sp;
  iret(*m.cpu, 4, 0);
  EXPECT_NE(m.s().eflags & eflags::kVm, 0u);
  EXPECT_EQ(m.cpu->cpl(), 3u);
  EXPECT_EQ(m.cpu->pc(), 0x20100u);
  EXPECT_EQ(m.s().seg[kSs].base, 0x30000u);
  EXPECT_EQ(m.s().seg[kGs].base, 0x70000u);
  // IOPL 0: INT n faults with #GP(0) to the ring-0 handler, which sees the VM86 frame.
  m.wr(kIdt + 13 * 8, TestMachine::gate32(kCode0, 0x5000, 14, 0), 8);
  software_interrupt(*m.cpu, 0x21, EventKind::SoftwareInt, 0x102);
  EXPECT_EQ(m.s().eflags & eflags::kVm, 0u);
  EXPECT_EQ(m.cpu->pc(), 0x5000u);
  EXPECT_EQ(m.s().gpr[kRsp], 0x9000u - 40);
  EXPECT_EQ(m.rd(0x9000 - 40, 4), 0u);      // error code
  EXPECT_EQ(m.rd(0x9000 - 36, 4), 0x100u);  // EIP of the INT
  EXPECT_EQ(m.rd(0x9000 - 4, 4), 0x7000u);  // GS
  EXPECT_EQ(m.s().seg[kDs].selector, 0u);
}

}  // namespace
}  // namespace orrery::cpu::x86::test
