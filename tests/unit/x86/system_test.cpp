// System instructions at the C++ level: segment-load checks, far transfers through call gates,
// SYSCALL/SYSRET, SYSENTER/SYSEXIT, control registers, MSR read-back and CPUID per model.
#include <cstring>

#include "cpu/x86/system.h"
#include "sys_harness.h"

namespace orrery::cpu::x86::test {
namespace {

constexpr uint64_t kGdt = 0x1000;

class SystemTest : public ::testing::Test {
 protected:
  void flat(unsigned cpl = 0) {
    m.wr(kGdt + 0x08, TestMachine::desc(0, 0xfffff, 0xb, 0), 8);
    m.wr(kGdt + 0x10, TestMachine::desc(0, 0xfffff, 0x3, 0), 8);
    m.wr(kGdt + 0x18, TestMachine::desc(0, 0xfffff, 0xb, 3), 8);
    m.wr(kGdt + 0x20, TestMachine::desc(0, 0xfffff, 0x3, 3), 8);
    m.wr(kGdt + 0x28,
         TestMachine::desc(0x10000, 0xfff, 0x3, 0, true, true, false, false) & ~(1ull << 47),
         8);                                                      // not present
    m.wr(kGdt + 0x30, TestMachine::desc(0, 0xfffff, 0x9, 0), 8);  // execute-only code
    m.s().gdtr = {kGdt, 0x7f};
    m.s().cr0 = cr0::kPe | cr0::kEt;
    m.set_seg(kCs, cpl ? 0x1b : 0x08);
    m.set_seg(kSs, cpl ? 0x23 : 0x10);
    m.s().gpr[kRsp] = 0x8000;
    m.cpu->mode_changed();
  }
  TestMachine m{*find_cpu_model("max")};
};

TEST_F(SystemTest, SegmentLoadChecks) {
  flat(3);
  EXPECT_EQ(fault_of([&] { load_segment(*m.cpu, kDs, 0x10); }).error_code, 0x10u)
      << "DPL 0 data from CPL 3";
  EXPECT_EQ(fault_of([&] { load_segment(*m.cpu, kSs, 0x20); }).vector, vec::kGp)
      << "SS with RPL != CPL";
  EXPECT_EQ(fault_of([&] { load_segment(*m.cpu, kSs, 0x00); }).vector, vec::kGp);
  EXPECT_EQ(fault_of([&] { load_segment(*m.cpu, kDs, 0x80); }).error_code, 0x80u)
      << "beyond the GDT limit";
  load_segment(*m.cpu, kDs, 0x23);
  EXPECT_EQ(m.s().seg[kDs].selector, 0x23);
  EXPECT_NE(m.rd(kGdt + 0x25, 1) & 1, 0u) << "the accessed bit is set";
  load_segment(*m.cpu, kEs, 0);
  EXPECT_EQ(m.s().seg[kEs].attr & seg_attr::kP, 0u);
  flat(0);
  const GuestFault np = fault_of([&] { load_segment(*m.cpu, kDs, 0x28); });
  EXPECT_EQ(np.vector, vec::kNp);
  EXPECT_EQ(np.error_code, 0x28u);
  EXPECT_EQ(fault_of([&] { load_segment(*m.cpu, kDs, 0x30); }).vector, vec::kGp)
      << "execute-only code is not readable";
  load_segment(*m.cpu, kSs, 0x10);
  EXPECT_EQ(m.s().inhibit_irq, 1) << "MOV SS starts an interrupt shadow";
}

TEST_F(SystemTest, SmapAppliesToImplicitDescriptorReadsWhateverAc) {
  flat(0);
  // Long-mode paging with the GDT in a user page (2M pages, U set).
  m.s().cr4 = cr4::kPae | cr4::kSmap;
  m.s().efer = efer::kLme | efer::kLma;
  m.s().cr3 = 0x100000;
  m.wr(0x100000, 0x101000 | 7, 8);
  m.wr(0x101000, 0x102000 | 7, 8);
  m.wr(0x102000, 0x87, 8);
  m.s().cr0 |= cr0::kPg;
  m.s().eflags |= eflags::kAc;
  const GuestFault f = fault_of([&] { load_segment(*m.cpu, kDs, 0x10); });
  EXPECT_EQ(f.vector, vec::kPf);
  EXPECT_EQ(f.error_code, pfec::kP);
  EXPECT_EQ(f.cr2, kGdt + 0x10);
  m.s().cr4 &= ~cr4::kSmap;
  load_segment(*m.cpu, kDs, 0x10);
}

TEST_F(SystemTest, FarCallThroughACallGateToRing0AndBack) {
  flat(3);
  // 32-bit call gate at 0x38 (DPL 3) to 0x08:0x5000 copying one parameter; TSS with ESP0.
  const uint64_t gate = TestMachine::gate32(0x08, 0x5000, 12, 3) | 1ull << 32;
  m.wr(kGdt + 0x38, gate, 8);
  m.wr(kGdt + 0x40, TestMachine::desc(0x3000, 0x67, 0xb, 0, false, false, false, false), 8);
  m.s().gdtr.limit = 0x47;
  m.wr(0x3004, 0x9000, 4);
  m.wr(0x3008, 0x10, 4);
  m.set_seg(kTr, 0x40);
  m.wr(0x8000, 0xabcd, 4);  // the parameter
  m.cpu->set_rip(0x4000);
  far_call(*m.cpu, 0x3b, 0, 4, 0x4007);
  EXPECT_EQ(m.cpu->cpl(), 0u);
  EXPECT_EQ(m.cpu->pc(), 0x5000u);
  EXPECT_EQ(m.s().gpr[kRsp], 0x9000u - 20);
  EXPECT_EQ(m.rd(0x9000 - 4, 4), 0x23u);     // SS
  EXPECT_EQ(m.rd(0x9000 - 8, 4), 0x8000u);   // ESP
  EXPECT_EQ(m.rd(0x9000 - 12, 4), 0xabcdu);  // parameter
  EXPECT_EQ(m.rd(0x9000 - 16, 4), 0x1bu);    // CS
  EXPECT_EQ(m.rd(0x9000 - 20, 4), 0x4007u);  // EIP
  far_ret(*m.cpu, 4, 4);
  EXPECT_EQ(m.cpu->cpl(), 3u);
  EXPECT_EQ(m.cpu->pc(), 0x4007u);
  EXPECT_EQ(m.s().gpr[kRsp], 0x8004u);
}

TEST_F(SystemTest, IoPermissionBitmap) {
  flat(3);
  // 32-bit TSS at 0x3000 with the bitmap at offset 0x68: port 0x3f8 allowed, 0x3f9 denied.
  m.wr(kGdt + 0x40, TestMachine::desc(0x3000, 0x68 + 0x80 + 1, 0xb, 0, false, false, false, false),
       8);
  m.s().gdtr.limit = 0x47;
  m.wr(0x3066, 0x68, 2);
  for (unsigned i = 0; i < 0x80; ++i) m.wr(0x3068 + i, 0xff, 1);
  m.wr(0x3068 + 0x3f8 / 8, 0xfe, 1);
  m.set_seg(kTr, 0x40);
  check_io(*m.cpu, 0x3f8, 1);
  EXPECT_EQ(fault_of([&] { check_io(*m.cpu, 0x3f8, 2); }).vector, vec::kGp);
  EXPECT_EQ(fault_of([&] { check_io(*m.cpu, 0x3f9, 1); }).vector, vec::kGp);
  EXPECT_EQ(fault_of([&] { check_io(*m.cpu, 0x800, 1); }).vector, vec::kGp)
      << "beyond the TSS limit";
  m.s().eflags |= 3u << eflags::kIoplShift;
  check_io(*m.cpu, 0x3f9, 1);  // IOPL 3: no bitmap check
}

TEST_F(SystemTest, ResetStates) {
  m.cpu->reset_power_on();
  EXPECT_EQ(m.cpu->pc(), 0xfffffff0u);
  EXPECT_EQ(m.s().seg[kCs].selector, 0xf000);
  EXPECT_EQ(m.s().gpr[kRdx], cpuid(m.cpu->model(), 1, 0, 0, false, 1).eax);
  EXPECT_EQ(m.s().cr0, cr0::kEt | cr0::kCd | cr0::kNw);
  m.cpu->reset_multiboot(0x100000, 0x2badb002, 0x9500);
  EXPECT_EQ(m.cpu->pc(), 0x100000u);
  EXPECT_EQ(m.s().gpr[kRax], 0x2badb002u);
  EXPECT_EQ(m.s().gpr[kRbx], 0x9500u);
  EXPECT_EQ(m.s().cr0 & (cr0::kPe | cr0::kPg), cr0::kPe);
  EXPECT_EQ(m.s().eflags & eflags::kIf, 0u);
  EXPECT_EQ(m.s().seg[kCs].limit, 0xffffffffu);
  EXPECT_NE(m.s().seg[kCs].attr & seg_attr::kDb, 0u);
  EXPECT_EQ(m.cpu->cpl(), 0u);
  EXPECT_NE(m.s().common.tb_flags & tb_flags::kCode32, 0u);
  X86Cpu::LongModeEntry e;
  e.rip = 0x1000200;
  e.rsi = 0x7000;
  e.rsp = 0x7000;
  e.cr3 = 0x9000;
  e.gdt_base = 0x500;
  e.gdt_limit = 31;
  m.cpu->reset_long_mode(e);
  EXPECT_EQ(m.cpu->pc(), 0x1000200u);
  EXPECT_EQ(m.s().gpr[kRsi], 0x7000u);
  EXPECT_EQ(m.s().gpr[kRbx], 0u);
  EXPECT_EQ(m.s().cr0 & (cr0::kPe | cr0::kPg), cr0::kPe | cr0::kPg);
  EXPECT_EQ(m.s().efer & (efer::kLme | efer::kLma), efer::kLme | efer::kLma);
  EXPECT_EQ(m.s().seg[kCs].selector, 0x10);
  EXPECT_EQ(m.s().seg[kSs].selector, 0x18);
  EXPECT_EQ(m.s().gdtr.base, 0x500u);
  EXPECT_EQ(m.s().eflags & eflags::kIf, 0u);
  EXPECT_NE(m.s().common.tb_flags & tb_flags::kCode64, 0u);
  EXPECT_NE(m.s().common.tb_flags & tb_flags::kLma, 0u);
}

// SS.B does not matter in 64-bit code, so it must not split blocks: Linux enters its kernel
// with SS.B set by SYSCALL and clear (a null SS) by an interrupt, and every kernel block ran
// under both flag values (twice the translations, and jump-cache slots that kept missing).
TEST_F(SystemTest, StackSizeIsNoBlockFlagIn64BitCode) {
  X86Cpu::LongModeEntry e;
  e.rip = 0x1000200;
  e.rsp = 0x7000;
  e.cr3 = 0x9000;
  e.gdt_base = 0x500;
  e.gdt_limit = 31;
  m.cpu->reset_long_mode(e);
  ASSERT_NE(m.s().common.tb_flags & tb_flags::kCode64, 0u);
  m.s().seg[kSs].attr |= seg_attr::kDb;
  m.cpu->mode_changed();
  const uint64_t with_b = m.s().common.tb_flags;
  m.s().seg[kSs].attr &= ~seg_attr::kDb;
  m.cpu->mode_changed();
  EXPECT_EQ(m.s().common.tb_flags, with_b);
  // Compatibility mode (CS.L clear, CS.D set) does use it.
  m.s().seg[kCs].attr = (m.s().seg[kCs].attr & ~seg_attr::kL) | seg_attr::kDb;
  m.cpu->mode_changed();
  EXPECT_EQ(m.s().common.tb_flags & tb_flags::kStack32, 0u);
  m.s().seg[kSs].attr |= seg_attr::kDb;
  m.cpu->mode_changed();
  EXPECT_NE(m.s().common.tb_flags & tb_flags::kStack32, 0u);
}

TEST_F(SystemTest, SyscallAndSysretInLongMode) {
  flat(0);
  m.s().efer = efer::kSce | efer::kLme | efer::kLma;
  m.s().cr4 = cr4::kPae;
  m.s().cr0 |= cr0::kPg;
  m.s().cr3 = 0x100000;
  m.wr(0x100000, 0x101000 | 7, 8);
  m.wr(0x101000, 0x102000 | 7, 8);
  m.wr(0x102000, 0x87, 8);
  m.s().msr.star = (uint64_t(0x13) << 48) | (uint64_t(0x08) << 32);
  m.s().msr.lstar = 0xffffffff81000000ull;
  m.s().msr.fmask = eflags::kIf | eflags::kDf;
  m.s().seg[kCs].attr = seg_attr::kP | seg_attr::kS | seg_attr::kL | 0xb | (3 << 5);
  m.s().seg[kCs].selector = 0x33;
  m.s().seg[kCs].base = 0;
  m.s().eflags = eflags::kFixed1 | eflags::kIf | eflags::kDf | eflags::kCf;
  m.cpu->set_rip(0x401000);
  syscall_insn(*m.cpu, 0x401002);
  EXPECT_EQ(m.cpu->pc(), 0xffffffff81000000ull);
  EXPECT_EQ(m.cpu->cpl(), 0u);
  EXPECT_EQ(m.s().gpr[kRcx], 0x401002u);
  EXPECT_EQ(m.s().gpr[kR11], eflags::kFixed1 | eflags::kIf | eflags::kDf | eflags::kCf);
  EXPECT_EQ(m.s().eflags & (eflags::kIf | eflags::kDf), 0u);
  EXPECT_EQ(m.s().seg[kSs].selector, 0x10);
  sysret_insn(*m.cpu, 8);
  EXPECT_EQ(m.cpu->pc(), 0x401002u);
  EXPECT_EQ(m.cpu->cpl(), 3u);
  EXPECT_EQ(m.s().seg[kCs].selector, 0x23);
  EXPECT_EQ(m.s().seg[kSs].selector, 0x1b);
  EXPECT_NE(m.s().eflags & eflags::kIf, 0u);
  m.s().gpr[kRcx] = 0x0000800000000000ull;
  m.s().seg[kCs] =
      SegmentCache{0x08, uint16_t(seg_attr::kP | seg_attr::kS | seg_attr::kL | 0xb), 0xffffffff, 0};
  EXPECT_EQ(fault_of([&] { sysret_insn(*m.cpu, 8); }).vector, vec::kGp) << "non-canonical RCX";
  m.s().efer &= ~efer::kSce;
  EXPECT_EQ(fault_of([&] { syscall_insn(*m.cpu, 0); }).vector, vec::kUd);
}

TEST_F(SystemTest, SysenterAndSysexit) {
  flat(3);
  m.s().msr.sysenter_cs = 0x08;
  m.s().msr.sysenter_esp = 0x9000;
  m.s().msr.sysenter_eip = 0x6000;
  sysenter_insn(*m.cpu);
  EXPECT_EQ(m.cpu->cpl(), 0u);
  EXPECT_EQ(m.cpu->pc(), 0x6000u);
  EXPECT_EQ(m.s().gpr[kRsp], 0x9000u);
  EXPECT_EQ(m.s().seg[kSs].selector, 0x10);
  m.s().gpr[kRdx] = 0x4100;
  m.s().gpr[kRcx] = 0x7ff0;
  sysexit_insn(*m.cpu, 4);
  EXPECT_EQ(m.cpu->cpl(), 3u);
  EXPECT_EQ(m.s().seg[kCs].selector, 0x1b);
  EXPECT_EQ(m.s().seg[kSs].selector, 0x23);
  EXPECT_EQ(m.cpu->pc(), 0x4100u);
}

TEST_F(SystemTest, ControlRegisterChecks) {
  flat(0);
  EXPECT_EQ(fault_of([&] { write_cr(*m.cpu, 0, cr0::kPg); }).vector, vec::kGp) << "PG without PE";
  EXPECT_EQ(fault_of([&] { write_cr(*m.cpu, 4, cr4::kLa57); }).vector, vec::kGp);
  // Long mode activation needs PAE.
  m.s().efer = efer::kLme;
  EXPECT_EQ(fault_of([&] { write_cr(*m.cpu, 0, cr0::kPe | cr0::kPg); }).vector, vec::kGp);
  write_cr(*m.cpu, 4, cr4::kPae | cr4::kPge);
  write_cr(*m.cpu, 0, cr0::kPe | cr0::kPg);
  EXPECT_NE(m.s().efer & efer::kLma, 0u);
  EXPECT_EQ(fault_of([&] { write_cr(*m.cpu, 4, cr4::kPge); }).vector, vec::kGp)
      << "PAE cannot be cleared in long mode";
  EXPECT_EQ(fault_of([&] { write_cr(*m.cpu, 3, 1ull << 50); }).vector, vec::kGp);
  flat(3);
  EXPECT_EQ(fault_of([&] { read_cr(*m.cpu, 0); }).vector, vec::kGp);
}

TEST_F(SystemTest, MsrReadBack) {
  flat(0);
  write_msr(*m.cpu, 0xc0000081, 0x0023001000000000ull);
  EXPECT_EQ(read_msr(*m.cpu, 0xc0000081), 0x0023001000000000ull);
  write_msr(*m.cpu, 0xc0000102, 0xffff888000000000ull);
  EXPECT_EQ(read_msr(*m.cpu, 0xc0000102), 0xffff888000000000ull);
  EXPECT_EQ(fault_of([&] { write_msr(*m.cpu, 0xc0000102, 1ull << 60); }).vector, vec::kGp);
  write_msr(*m.cpu, 0x277, 0x0007010600070106ull);
  EXPECT_EQ(read_msr(*m.cpu, 0x277), 0x0007010600070106ull);
  EXPECT_EQ(fault_of([&] { write_msr(*m.cpu, 0x277, 0x02); }).vector, vec::kGp)
      << "PAT type 2 is reserved";
  write_msr(*m.cpu, 0x200, 0x80000006);
  write_msr(*m.cpu, 0x201, 0xff80000800ull);
  EXPECT_EQ(read_msr(*m.cpu, 0x201), 0xff80000800ull);
  EXPECT_EQ(read_msr(*m.cpu, 0xfe) & 0xff, 8u) << "MTRRcap: 8 variable ranges";
  write_msr(*m.cpu, 0x10, 1ull << 40);
  const uint64_t tsc = read_msr(*m.cpu, 0x10);
  EXPECT_GE(tsc, 1ull << 40);
  EXPECT_LT(tsc, (1ull << 40) + 10'000'000'000ull);
  write_msr(*m.cpu, 0xc0000080, efer::kSce | efer::kNxe);
  EXPECT_EQ(m.s().efer, efer::kSce | efer::kNxe);
  EXPECT_EQ(fault_of([&] { read_msr(*m.cpu, 0x12345); }).vector, vec::kGp);
  write_msr(*m.cpu, 0x48, 1);
  EXPECT_EQ(read_msr(*m.cpu, 0x48), 1u);
  // qemu64 has no SPEC_CTRL.
  TestMachine q;
  EXPECT_EQ(fault_of([&] { read_msr(*q.cpu, 0x48); }).vector, vec::kGp);
  // HWCR exists on the AMD model only.
  EXPECT_EQ(read_msr(*q.cpu, 0xc0010015), 0u);
  EXPECT_EQ(fault_of([&] { read_msr(*m.cpu, 0xc0010015); }).vector, vec::kGp);
  // SYSCFG too: Linux's MTRR code reads it on AMD CPUs (a #GP there was an "unchecked MSR
  // access error" in the Debian kernel's boot log); it reads 0 as under QEMU.
  EXPECT_EQ(read_msr(*q.cpu, 0xc0010010), 0u);
  write_msr(*q.cpu, 0xc0010010, 0);
  EXPECT_EQ(fault_of([&] { read_msr(*m.cpu, 0xc0010010); }).vector, vec::kGp);
  // And the K8 interrupt pending message MSR (C1E off), which Debian's kernel reads on qemu64.
  EXPECT_EQ(read_msr(*q.cpu, 0xc0010055), 0u);
  EXPECT_EQ(fault_of([&] { read_msr(*m.cpu, 0xc0010055); }).vector, vec::kGp);
}

/// Records what the core asks of its local APIC.
struct FakeApic : X86LocalApic {
  uint64_t base = 0xfee00900;
  uint8_t cr8 = 0;
  std::vector<std::pair<uint32_t, uint64_t>> msr_writes;
  uint64_t deadline = 0, deadline_tsc = 0;
  uint64_t apic_base() override { return base; }
  bool set_apic_base(uint64_t v) override {
    if ((v & 0xc00) == 0x400) return false;  // EXTD without EN
    base = v | (base & 0x100);
    return true;
  }
  uint8_t read_cr8() override { return cr8; }
  void write_cr8(uint8_t v) override { cr8 = v; }
  bool read_x2apic_msr(uint32_t index, uint64_t& v) override {
    v = index == 0x802 ? 7 : 0;
    return index != 0x80e;
  }
  bool write_x2apic_msr(uint32_t index, uint64_t v) override {
    msr_writes.emplace_back(index, v);
    return true;
  }
  uint64_t tsc_deadline() override { return deadline; }
  void set_tsc_deadline(uint64_t v, uint64_t now) override {
    deadline = v;
    deadline_tsc = now;
  }
  int acknowledge_interrupt() override { return 0x40; }
};

TEST_F(SystemTest, LocalApicMsrsAndCr8ReachTheApic) {
  flat(0);
  FakeApic apic;
  m.cpu->set_local_apic(&apic);
  EXPECT_EQ(read_msr(*m.cpu, 0x1b), 0xfee00900u);
  write_msr(*m.cpu, 0x1b, 0xfee00c00);  // x2APIC (offered by max)
  EXPECT_EQ(apic.base, 0xfee00d00u);
  EXPECT_EQ(m.s().msr.apic_base, 0xfee00d00u);
  EXPECT_EQ(fault_of([&] { write_msr(*m.cpu, 0x1b, 0xfee00400); }).vector, vec::kGp);
  EXPECT_EQ(fault_of([&] { write_msr(*m.cpu, 0x1b, 0xfee00001); }).vector, vec::kGp);
  EXPECT_EQ(read_msr(*m.cpu, 0x802), 7u);
  EXPECT_EQ(fault_of([&] { read_msr(*m.cpu, 0x80e); }).vector, vec::kGp);
  write_msr(*m.cpu, 0x830, 0x100004500ull);
  ASSERT_EQ(apic.msr_writes.size(), 1u);
  EXPECT_EQ(apic.msr_writes[0].second, 0x100004500ull);
  write_msr(*m.cpu, 0x6e0, 12345);
  EXPECT_EQ(apic.deadline, 12345u);
  EXPECT_EQ(read_msr(*m.cpu, 0x6e0), 12345u);
  write_cr(*m.cpu, 8, 9);
  EXPECT_EQ(apic.cr8, 9);
  apic.cr8 = 3;
  EXPECT_EQ(read_cr(*m.cpu, 8), 3u);
  // qemu64 offers neither x2APIC nor the TSC deadline.
  TestMachine q;
  q.cpu->set_local_apic(&apic);
  EXPECT_EQ(fault_of([&] { read_msr(*q.cpu, 0x802); }).vector, vec::kGp);
  EXPECT_EQ(fault_of([&] { read_msr(*q.cpu, 0x6e0); }).vector, vec::kGp);
  EXPECT_EQ(fault_of([&] { write_msr(*q.cpu, 0x1b, 0xfee00c00); }).vector, vec::kGp);
}

std::string vendor(const CpuidResult& r) {
  char b[13] = {};
  std::memcpy(b, &r.ebx, 4);
  std::memcpy(b + 4, &r.edx, 4);
  std::memcpy(b + 8, &r.ecx, 4);
  return b;
}

TEST(CpuidTest, Qemu64MatchesQemu) {
  const CpuModel& m = default_cpu_model();
  EXPECT_STREQ(m.name, "qemu64");
  CpuidResult r = cpuid(m, 0, 0, 0, false, 1);
  EXPECT_EQ(r.eax, 0xdu);
  EXPECT_EQ(vendor(r), "AuthenticAMD");
  r = cpuid(m, 1, 0, 2, false, 1);
  EXPECT_EQ(r.eax, 0x00060fb1u);  // family 15, model 107, stepping 1
  EXPECT_EQ(r.ebx >> 24, 2u);     // APIC ID
  EXPECT_EQ(r.edx, 0x078bfbfdu);  // as QEMU 7.2 reports it (no VME)
  EXPECT_EQ(r.ecx & ~feat::kHypervisor, feat::kSse3 | feat::kCx16);
  r = cpuid(m, 0x80000001, 0, 0, false, 1);
  EXPECT_NE(r.edx & feat::kLm, 0u);
  EXPECT_NE(r.edx & feat::kNx, 0u);
  EXPECT_NE(r.edx & feat::kSyscall, 0u);
  EXPECT_EQ(cpuid(m, 7, 0, 0, false, 1).ebx, 0u);
  r = cpuid(m, 0x80000008, 0, 0, false, 1);
  EXPECT_EQ(r.eax & 0xffff, 0x3028u);
  char brand[49] = {};
  for (unsigned i = 0; i < 3; ++i) {
    r = cpuid(m, 0x80000002 + i, 0, 0, false, 1);
    std::memcpy(brand + 16 * i, &r, 16);
  }
  EXPECT_STREQ(brand, "QEMU Virtual CPU version 2.5+");
}

TEST(CpuidTest, MaxAdvertisesXsaveSizesPerXcr0) {
  const CpuModel& m = *find_cpu_model("max");
  CpuidResult r = cpuid(m, 1, 0, 0, true, 3);
  EXPECT_NE(r.ecx & feat::kOsxsave, 0u);
  // AVX, FMA, F16C, AVX2 and the AVX state component where the host has them (this
  // project's hosts do; the frontend's host checks keep the rest honest).
  const bool avx = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                   __builtin_cpu_supports("f16c");
  const uint32_t vex = feat::kAvx | feat::kFma | feat::kF16c;
  EXPECT_EQ(r.ecx & vex, avx ? vex : 0u);
  EXPECT_EQ(cpuid(m, 7, 0, 0, true, 3).ebx & feat::kAvx2, avx ? feat::kAvx2 : 0u);
  r = cpuid(m, 0xd, 0, 0, true, 3);
  EXPECT_EQ(r.eax, avx ? 7u : 3u);
  EXPECT_EQ(r.ebx, 576u);  // the size for the XCR0 in use
  EXPECT_EQ(r.ecx, avx ? 832u : 576u);
  if (avx) {
    EXPECT_EQ(cpuid(m, 0xd, 0, 0, true, 7).ebx, 832u);
    r = cpuid(m, 0xd, 2, 0, true, 7);  // the AVX component: 256 bytes at 576
    EXPECT_EQ(r.eax, 256u);
    EXPECT_EQ(r.ebx, 576u);
  }
  // qemu64 has none of it.
  const CpuModel& q = *find_cpu_model("qemu64");
  EXPECT_EQ(cpuid(q, 1, 0, 0, true, 1).ecx & vex, 0u);
  EXPECT_EQ(xcr0_supported(q), 1u);
  r = cpuid(m, 7, 0, 0, true, 7);
  EXPECT_NE(r.ebx & feat::kSmap, 0u);
  EXPECT_NE(r.ebx & feat::kInvpcid, 0u);
  // Beyond the maximum basic leaf: the highest basic leaf's values.
  const CpuidResult hi = cpuid(m, 0x40, 0, 0, true, 7), d = cpuid(m, 0xd, 0, 0, true, 7);
  EXPECT_EQ(hi.eax, d.eax);
  EXPECT_EQ(cpuid(m, 4, 0, 0, false, 1).eax & 0x1f, 1u) << "L1 data cache";
}

}  // namespace
}  // namespace orrery::cpu::x86::test
