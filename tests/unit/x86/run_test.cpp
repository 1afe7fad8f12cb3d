// Guest code run through X86Cpu::run on every tier: the real -> protected -> long mode switch,
// an INT 0x80 round trip, HLT woken by INTR from another thread, the STI shadow, a triple fault
// resetting the machine and a page fault's error code seen by the handler.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

#include "harness.h"
#include "sys_harness.h"

namespace orrery::cpu::x86::test {
namespace {

// Real mode at 0000:1000, A20 and everything else as after the BIOS.
void start_real_mode(TestMachine& m, const std::vector<uint8_t>& code) {
  m.memory.write_bytes(0x1000, code.data(), code.size());
  m.engine->flush();
  m.cpu->reset_power_on();
  m.s().seg[kCs].selector = 0;
  m.s().seg[kCs].base = 0;
  m.cpu->set_rip(0x1000);
  m.cpu->mode_changed();
}

// Common tail: GDT (0x08 code32, 0x10 data, 0x18 code64, 0x23 data3, 0x2b code64 ring 3,
// 0x30 TSS64) and descriptors.
const char* kModeSwitch = R"(
org 0x1000
bits 16
  cli
  lgdt [gdtr]
  mov eax, cr0
  or eax, 1
  mov cr0, eax
  jmp 0x08:pm
bits 32
pm:
  mov ax, 0x10
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov esp, 0x9000
  mov dword [0x20000], 0x21007
  mov dword [0x21000], 0x22007
  mov dword [0x22000], 0x87
  mov dword [0x22008], 0x200087
  mov eax, cr4
  or eax, 0x20
  mov cr4, eax
  mov eax, 0x20000
  mov cr3, eax
  mov ecx, 0xc0000080
  rdmsr
  or eax, 0x100
  wrmsr
  mov eax, cr0
  or eax, 0x80000000
  mov cr0, eax
  jmp 0x18:lm
bits 64
lm:
  lidt [idtr]
)";

const char* kTables = R"(
align 16
gdt:
  dq 0
  dq 0x00cf9a000000ffff
  dq 0x00cf92000000ffff
  dq 0x00af9a000000ffff
  dq 0x00cff2000000ffff
  dq 0x00affa000000ffff
gdt_tss:
  dw 0x67
  dw tss - $$ + 0x1000
  db 0
  db 0x89
  db 0
  db 0
  dq 0
gdtr:
  dw gdtr - gdt - 1
  dd gdt
idtr:
  dw 0xfff
  dq 0x30000
align 16
tss:
  dd 0
  dq 0x9800
  times 0x68 db 0
)";

/// Writes a 64-bit interrupt gate (selector 0x18) for vector at the IDT (0x30000).
void gate(TestMachine& m, unsigned vector, uint64_t handler, unsigned dpl = 0) {
  m.gate64(0x30000 + vector * 16, 0x18, handler, 14, dpl);
}

uint64_t label(const std::vector<uint8_t>& code, uint32_t magic) {
  for (size_t i = 0; i + 4 <= code.size(); ++i) {
    uint32_t v;
    std::memcpy(&v, &code[i], 4);
    if (v == magic) return 0x1000 + i + 4;
  }
  ADD_FAILURE() << "label not found";
  return 0;
}

class X86Run : public ::testing::TestWithParam<tcg::exec::Tier> {};

TEST_P(X86Run, RealToProtectedToLongModeAndInt80) {
  TestMachine m(default_cpu_model(), GetParam());
  // The handler is found through a magic marker: dd 0xfeedf00d precedes it.
  const std::string src = std::string(kModeSwitch) + R"(
  mov rax, 0x1234567890
  mov rsp, 0x9000
  int 0x80
  mov al, 0x42
  out 0xf4, al
  hlt
  dd 0xfeedf00d
handler:
  mov rbx, rax
  add rbx, 1
  iretq
)" + kTables;
  const auto code = assemble(src, 16);
  ASSERT_FALSE(code.empty());
  start_real_mode(m, code);
  gate(m, 0x80, label(code, 0xfeedf00d));
  ASSERT_EQ(m.cpu->run(), ExitKind::Kicked);
  EXPECT_EQ(m.exit_port.values, std::vector<uint64_t>{0x42});
  EXPECT_EQ(m.s().gpr[kRbx], 0x1234567891u);
  EXPECT_NE(m.s().efer & efer::kLma, 0u);
  EXPECT_EQ(m.s().seg[kCs].selector, 0x18);
  EXPECT_EQ(m.s().gpr[kRsp], 0x9000u);
}

TEST_P(X86Run, Ring3SyscallRoundTripAndUserPageFault) {
  TestMachine m(default_cpu_model(), GetParam());
  const std::string src = std::string(kModeSwitch) + R"(
  mov ax, 0x30
  ltr ax
  mov ecx, 0xc0000080
  rdmsr
  or eax, 1
  wrmsr
  mov ecx, 0xc0000081
  xor eax, eax
  mov edx, 0x001b0018
  wrmsr
  mov ecx, 0xc0000082
  mov eax, sys - $$ + 0x1000
  xor edx, edx
  wrmsr
  ; to ring 3 with IRETQ: SS RSP RFLAGS CS RIP
  push 0x23
  push 0x7000
  push 0x2
  push 0x2b
  push user - $$ + 0x1000
  iretq
user:
  mov edi, 5
  syscall
  mov r12, rax
  mov rax, [0x400000]   ; unmapped: #PF from CPL 3
  hlt
sys:
  lea rax, [rdi + 100]
  o64 sysret
  dd 0xfeedf00d
pf:
  mov r13, [rsp]        ; error code
  mov r14, cr2
  mov al, 0x55
  out 0xf4, al
  hlt
)" + kTables;
  const auto code = assemble(src, 16);
  ASSERT_FALSE(code.empty());
  start_real_mode(m, code);
  gate(m, 14, label(code, 0xfeedf00d));
  ASSERT_EQ(m.cpu->run(), ExitKind::Kicked);
  EXPECT_EQ(m.exit_port.values, std::vector<uint64_t>{0x55});
  EXPECT_EQ(m.s().gpr[kR12], 105u);
  EXPECT_EQ(m.s().gpr[kR13], pfec::kU);  // not present, read, user
  EXPECT_EQ(m.s().gpr[kR14], 0x400000u);
  EXPECT_EQ(m.cpu->cpl(), 0u);
  EXPECT_EQ(m.s().gpr[kRsp], 0x9800u - 48) << "RSP0 from the TSS";
}

// STI; HLT, then "out 0xf4, 0x77" once the vector-0x20 handler (label 0xfeedf00d, EBX += 1)
// has run.
constexpr const char* kStiHltOut = R"(
  mov rsp, 0x9000
  xor ebx, ebx
  sti
  hlt
  mov al, 0x77
  out 0xf4, al
  hlt
  dd 0xfeedf00d
irq:
  inc ebx
  iretq
)";

TEST_P(X86Run, HltWakesOnIntrAndStiShadowRunsOneInstruction) {
  TestMachine m(default_cpu_model(), GetParam());
  const std::string src = std::string(kModeSwitch) + kStiHltOut + kTables;
  const auto code = assemble(src, 16);
  ASSERT_FALSE(code.empty());
  start_real_mode(m, code);
  gate(m, 0x20, label(code, 0xfeedf00d));
  m.next_vector = 0x20;
  std::thread t([&] {
    ASSERT_TRUE(m.cpu->wait_until_halted(std::chrono::seconds(20)));
    m.cpu->set_intr(true);
  });
  ASSERT_EQ(m.cpu->run(), ExitKind::Kicked);
  t.join();
  EXPECT_EQ(m.exit_port.values, std::vector<uint64_t>{0x77});
  EXPECT_GE(m.s().gpr[kRbx], 1u);
}

TEST_P(X86Run, TripleFaultResetsTheMachine) {
  TestMachine m(default_cpu_model(), GetParam());
  const std::string src = std::string(kModeSwitch) + R"(
  lidt [bad]
  ud2
bad:
  dw 0
  dq 0
)" + kTables;
  const auto code = assemble(src, 16);
  ASSERT_FALSE(code.empty());
  start_real_mode(m, code);
  EXPECT_EQ(m.cpu->run(), ExitKind::Reset);
  EXPECT_EQ(m.resets, 1);
}

TEST_P(X86Run, StiShadowDelaysAPendingInterruptByOneInstruction) {
  TestMachine m(default_cpu_model(), GetParam());
  const std::string src = std::string(kModeSwitch) + R"(
  mov rsp, 0x9000
  xor ebx, ebx
  mov r15, -1
  sti
  inc ebx
  inc ebx
  mov al, 0x11
  out 0xf4, al
  hlt
  dd 0xfeedf00d
irq:
  mov r15, rbx
  iretq
)" + kTables;
  const auto code = assemble(src, 16);
  ASSERT_FALSE(code.empty());
  start_real_mode(m, code);
  gate(m, 0x21, label(code, 0xfeedf00d));
  m.next_vector = 0x21;
  m.cpu->set_intr(true);  // pending from the start, masked by IF until the STI
  ASSERT_EQ(m.cpu->run(), ExitKind::Kicked);
  EXPECT_EQ(m.s().gpr[kR15], 1u) << "the instruction after STI runs before the interrupt";
  EXPECT_EQ(m.s().gpr[kRbx], 2u);
}

TEST_P(X86Run, StiShadowBlocksAreTranslatedOnce) {
  // Linux runs STI in every spin_unlock_irq: the instruction in its shadow must be a cached
  // block, not translated afresh each time (as a debugger step is).
  TestMachine m(default_cpu_model(), GetParam());
  char path[] = "/tmp/orrery_sti_shadow_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  ASSERT_TRUE(m.log.set_file(path));
  m.log.set_mask_bits(hw::kLogInAsm);
  const std::string src = std::string(kModeSwitch) + R"(
  mov rsp, 0x9000
  mov ecx, 1000
again:
  cli
  sti
  dec ecx
  jnz again
  mov al, 0x11
  out 0xf4, al
  hlt
)" + kTables;
  const auto code = assemble(src, 16);
  ASSERT_FALSE(code.empty());
  start_real_mode(m, code);
  ASSERT_EQ(m.cpu->run(), ExitKind::Kicked);
  EXPECT_EQ(m.s().gpr[kRcx], 0u);
  m.log.set_mask_bits(0);
  std::ifstream in(path);
  unsigned translations = 0;
  for (std::string line; std::getline(in, line);) translations += line == "IN:";
  std::remove(path);
  EXPECT_LT(translations, 40u);
}

TEST_P(X86Run, StiShadowEndsAfterABranchOrReturnInIt) {
  // The shadowed instruction's own jump (direct, conditional, indirect) leads to the vCPU loop,
  // which then takes the pending interrupt at the jump's target.
  for (const char* shadowed : {"jmp there", "jz there", "jnz there", "ret"}) {
    SCOPED_TRACE(shadowed);
    TestMachine m(default_cpu_model(), GetParam());
    const std::string src = std::string(kModeSwitch) + R"(
  mov rsp, 0x9000
  xor r14, r14
  lea r13, [rel there]
  lea r12, [rel fall]
  push r13
  xor eax, eax
  sti
  )" + shadowed + R"(
fall:
  nop
there:
  mov al, 0x11
  out 0xf4, al
  hlt
  dd 0xfeedf00d
irq:
  mov r14, [rsp]
  iretq
)" + kTables;
    const auto code = assemble(src, 16);
    ASSERT_FALSE(code.empty());
    start_real_mode(m, code);
    gate(m, 0x21, label(code, 0xfeedf00d));
    m.next_vector = 0x21;
    m.cpu->set_intr(true);
    ASSERT_EQ(m.cpu->run(), ExitKind::Kicked);
    const bool taken = std::string(shadowed) != "jnz there";
    EXPECT_EQ(m.s().gpr[kR14], m.s().gpr[taken ? kR13 : kR12])
        << "the interrupt comes right after the jump";
  }
}

TEST_P(X86Run, NmiIsBlockedUntilIret) {
  TestMachine m(default_cpu_model(), GetParam());
  const std::string src = std::string(kModeSwitch) + R"(
  mov rsp, 0x9000
  xor r15, r15
  xor r14, r14
  xor r13, r13
  mov al, 1
  out 0xf8, al     ; NMI
  nop
  mov al, 0x22
  out 0xf4, al
  hlt
  dd 0xfeedf00d
nmi:
  inc r14          ; nesting depth
  cmp r14, r13
  jbe .1
  mov r13, r14     ; deepest nesting seen
.1:
  inc r15
  cmp r15, 1
  jne .2
  mov al, 1
  out 0xf8, al     ; a second NMI while the first is handled: held until IRETQ
  nop
  nop
.2:
  dec r14
  iretq
)" + kTables;
  const auto code = assemble(src, 16);
  ASSERT_FALSE(code.empty());
  start_real_mode(m, code);
  gate(m, 2, label(code, 0xfeedf00d));
  ASSERT_EQ(m.cpu->run(), ExitKind::Kicked);
  EXPECT_EQ(m.s().gpr[kR15], 2u) << "both NMIs were taken";
  EXPECT_EQ(m.s().gpr[kR13], 1u) << "never nested";
}

TEST_P(X86Run, AccessedDirtyBitsAndInvlpg) {
  TestMachine m(default_cpu_model(), GetParam());
  m.wr(0x200000, 0x1111, 8);
  m.wr(0x400000, 0x2222, 8);
  const std::string src = std::string(kModeSwitch) + R"(
  and qword [0x22008], ~0x60    ; PDE 1 (2M page at 0x200000): clear A and D
  invlpg [0x200000]
  mov rax, [0x200000]
  mov r8, [0x22008]             ; after a read: A only
  mov qword [0x200008], 5
  mov r9, [0x22008]             ; after a write: A and D
  mov qword [0x22008], 0x400087 ; remap to 0x400000
  mov r10, [0x200000]           ; stale TLB entry (no INVLPG yet)
  invlpg [0x200000]
  mov r11, [0x200000]           ; the new mapping
  mov al, 0x33
  out 0xf4, al
  hlt
)" + kTables;
  const auto code = assemble(src, 16);
  ASSERT_FALSE(code.empty());
  start_real_mode(m, code);
  ASSERT_EQ(m.cpu->run(), ExitKind::Kicked);
  EXPECT_EQ(m.s().gpr[kR8] & 0x60, 0x20u);
  EXPECT_EQ(m.s().gpr[kR9] & 0x60, 0x60u);
  EXPECT_EQ(m.s().gpr[kR10], 0x1111u);
  EXPECT_EQ(m.s().gpr[kR11], 0x2222u);
}

TEST_P(X86Run, RealModeInterruptThroughTheIvt) {
  TestMachine m(default_cpu_model(), GetParam());
  const std::string src = R"(
org 0x1000
  xor ax, ax
  mov ss, ax
  mov sp, 0x8000
  mov word [0x10 * 4], handler
  mov word [0x10 * 4 + 2], 0
  mov ax, 0x1234
  int 0x10
  mov al, 0x44
  out 0xf4, al
  hlt
handler:
  mov bx, ax
  iret
)";
  const auto code = assemble(src, 16);
  ASSERT_FALSE(code.empty());
  start_real_mode(m, code);
  ASSERT_EQ(m.cpu->run(), ExitKind::Kicked);
  EXPECT_EQ(m.s().gpr[kRbx] & 0xffff, 0x1234u);
  EXPECT_EQ(m.s().gpr[kRsp] & 0xffff, 0x8000u);
  EXPECT_EQ(m.exit_port.values, std::vector<uint64_t>{0x44});
}

TEST_P(X86Run, ApplicationProcessorStartsOnStartupIpi) {
  TestMachine m(default_cpu_model(), GetParam());
  const auto code = assemble("mov al, 0x66\nout 0xf4, al\nhlt", 16);
  ASSERT_FALSE(code.empty());
  m.memory.write_bytes(0x9000, code.data(), code.size());
  m.cpu->init_wait_for_sipi();
  std::thread t([&] {
    ASSERT_TRUE(m.cpu->wait_until_halted(std::chrono::seconds(20)));
    m.cpu->startup_ipi(0x09);
  });
  ASSERT_EQ(m.cpu->run(), ExitKind::Kicked);
  t.join();
  EXPECT_EQ(m.exit_port.values, std::vector<uint64_t>{0x66});
  EXPECT_EQ(m.s().seg[kCs].selector, 0x900);
}

TEST_P(X86Run, SpuriousIntrDoesNotSpinInHlt) {
  TestMachine m(default_cpu_model(), GetParam());
  const std::string src = std::string(kModeSwitch) + "sti\nhlt\nhlt\n" + kTables;
  const auto code = assemble(src, 16);
  ASSERT_FALSE(code.empty());
  start_real_mode(m, code);
  m.cpu->set_intr(true);  // INTR high, but the controller has no vector to give
  std::thread t([&] {
    ASSERT_TRUE(m.cpu->wait_until_halted(std::chrono::seconds(20)));
    m.cpu->kick();
  });
  ASSERT_EQ(m.cpu->run(), ExitKind::Kicked);
  t.join();
  EXPECT_EQ(m.acks, 1) << "one acknowledge cycle per INTR level, not a busy loop";
}

/// A local APIC whose first acknowledge cycle finds nothing, while another source raises INTR
/// before the cycle returns (the LAPIC timer firing on the event-loop thread, in real life);
/// the next cycle gives the vector.
struct RaceApic final : X86LocalApic {
  X86Cpu* cpu = nullptr;
  int acks = 0;
  uint64_t apic_base() override { return 0xfee00900; }
  bool set_apic_base(uint64_t) override { return true; }
  uint8_t read_cr8() override { return 0; }
  void write_cr8(uint8_t) override {}
  bool read_x2apic_msr(uint32_t, uint64_t&) override { return false; }
  bool write_x2apic_msr(uint32_t, uint64_t) override { return false; }
  uint64_t tsc_deadline() override { return 0; }
  void set_tsc_deadline(uint64_t, uint64_t) override {}
  int acknowledge_interrupt() override {
    ++acks;
    if (acks == 1) {
      cpu->set_intr(true);  // a new request lands while this cycle finds none
      return -1;
    }
    if (acks == 2) {
      cpu->set_intr(false);
      return 0x20;
    }
    return -1;
  }
};

TEST_P(X86Run, IntrRaisedDuringASpuriousAcknowledgeWakesHlt) {
  TestMachine m(default_cpu_model(), GetParam());
  const std::string src = std::string(kModeSwitch) + kStiHltOut + kTables;
  const auto code = assemble(src, 16);
  ASSERT_FALSE(code.empty());
  start_real_mode(m, code);
  gate(m, 0x20, label(code, 0xfeedf00d));
  RaceApic apic;
  apic.cpu = m.cpu.get();
  m.cpu->set_local_apic(&apic);
  m.cpu->set_intr(true);
  // The OUT kicks the vCPU once the vector was taken. A HLT whose wake-up was lost sleeps for
  // good instead: the watchdog ends it.
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    while (!done.load())
      if (m.cpu->wait_until_halted(std::chrono::milliseconds(100))) {
        m.cpu->kick();
        return;
      }
  });
  EXPECT_EQ(m.cpu->run(), ExitKind::Kicked);
  done.store(true);
  watchdog.join();
  EXPECT_EQ(apic.acks, 2);
  EXPECT_EQ(m.exit_port.values, std::vector<uint64_t>{0x77}) << "HLT never woke";
  EXPECT_EQ(m.s().gpr[kRbx], 1u) << "vector 0x20 taken once";
}

TEST_P(X86Run, TrapFlagRaisesDebugAfterOneInstruction) {
  TestMachine m(default_cpu_model(), GetParam());
  const std::string src = std::string(kModeSwitch) + R"(
  mov rsp, 0x9000
  xor r15, r15
  push 0x10
  push 0x9000
  push 0x102          ; TF
  push 0x18
  lea rax, [rel stepped]
  push rax
  iretq               ; TF is clear as IRETQ starts: no trap after it
stepped:
  nop
  nop
  mov al, 0x88
  out 0xf4, al
  hlt
  dd 0xfeedf00d
db_handler:
  inc r15
  mov r14, [rsp]      ; the return RIP
  and qword [rsp + 16], ~0x100
  iretq
)" + kTables;
  const auto code = assemble(src, 16);
  ASSERT_FALSE(code.empty());
  start_real_mode(m, code);
  const uint64_t handler = label(code, 0xfeedf00d);
  gate(m, vec::kDb, handler);
  ASSERT_EQ(m.cpu->run(), ExitKind::Kicked);
  EXPECT_EQ(m.s().gpr[kR15], 1u);
  // The trap follows the first NOP: the return RIP is the second NOP (then nop, mov al, out,
  // hlt and the marker's dd lie before the handler).
  EXPECT_EQ(m.s().gpr[kR14], handler - 4 - 1 - 2 - 2 - 1);
  EXPECT_NE(m.s().dr[6] & (1u << 14), 0u);
}

TEST_P(X86Run, UnassignedMemoryReadsZeroWithoutAnException) {
  TestMachine m(default_cpu_model(), GetParam());
  const auto code = assemble(
      "org 0x100000\nmov ebx, -1\nmov dword [0x10000000], 5\nmov ebx, [0x10000000]\n"
      "mov al, 0x99\nout 0xf4, al\nhlt",
      32);
  ASSERT_FALSE(code.empty());
  m.memory.write_bytes(0x100000, code.data(), code.size());
  m.cpu->reset_multiboot(0x100000, 0x2badb002, 0);
  ASSERT_EQ(m.cpu->run(), ExitKind::Kicked);
  EXPECT_EQ(m.s().gpr[kRbx], 0u);
  EXPECT_EQ(m.exit_port.values, std::vector<uint64_t>{0x99});
}

TEST_P(X86Run, GlobalPagesSurviveCr3WritesUntilInvpcid) {
  TestMachine m(*find_cpu_model("max"), GetParam());
  m.wr(0x200000, 0x1111, 8);
  m.wr(0x400000, 0x2222, 8);
  const std::string src = std::string(kModeSwitch) + R"(
  mov rax, cr4
  or rax, 0x20080               ; PCIDE, PGE
  mov cr4, rax
  mov qword [0x22008], 0x200187 ; PDE 1: global 2M page
  mov rax, cr3
  mov cr3, rax
  mov r8, [0x200000]
  mov qword [0x22008], 0x400187 ; remap
  mov rax, cr3
  mov cr3, rax                  ; drops non-global entries only
  mov r9, [0x200000]
  mov qword [0x9100], 0
  mov qword [0x9108], 0
  mov eax, 2
  invpcid rax, [0x9100]         ; every entry, global ones too
  mov r10, [0x200000]
  mov al, 0x5a
  out 0xf4, al
  hlt
)" + kTables;
  const auto code = assemble(src, 16);
  ASSERT_FALSE(code.empty());
  start_real_mode(m, code);
  ASSERT_EQ(m.cpu->run(), ExitKind::Kicked);
  EXPECT_EQ(m.exit_port.values, std::vector<uint64_t>{0x5a});
  EXPECT_EQ(m.s().gpr[kR8], 0x1111u);
  EXPECT_EQ(m.s().gpr[kR9], 0x1111u) << "a global entry survives MOV CR3";
  EXPECT_EQ(m.s().gpr[kR10], 0x2222u);
}

// The TLB caches one PCID's non-global entries at a time: a MOV CR3 to another PCID must
// drop the entries of the PCID it leaves (it dropped the new PCID's instead, so the old
// process's user mappings stayed visible to the next one).
TEST_P(X86Run, Cr3WriteToAnotherPcidDropsTheOldPcidsEntries) {
  TestMachine m(*find_cpu_model("max"), GetParam());
  m.wr(0x200000, 0x1111, 8);
  m.wr(0x400000, 0x2222, 8);
  const std::string src = std::string(kModeSwitch) + R"(
  mov rax, cr4
  or rax, 0x20080               ; PCIDE, PGE
  mov cr4, rax
  mov qword [0x22008], 0x200087 ; PDE 1: non-global 2M page
  mov rax, cr3
  or rax, 1
  mov cr3, rax                  ; PCID 1
  mov r8, [0x200000]
  mov qword [0x22008], 0x400087 ; PCID 2's mapping of the same address
  and rax, ~0xfff
  or rax, 2
  mov cr3, rax                  ; PCID 2, flushing (bit 63 clear)
  mov r9, [0x200000]
  mov al, 0x5a
  out 0xf4, al
  hlt
)" + kTables;
  const auto code = assemble(src, 16);
  ASSERT_FALSE(code.empty());
  start_real_mode(m, code);
  ASSERT_EQ(m.cpu->run(), ExitKind::Kicked);
  EXPECT_EQ(m.exit_port.values, std::vector<uint64_t>{0x5a});
  EXPECT_EQ(m.s().gpr[kR8], 0x1111u);
  EXPECT_EQ(m.s().gpr[kR9], 0x2222u) << "PCID 1's entry survived the switch to PCID 2";
}

TEST_P(X86Run, RepOutsAndRepIns) {
  TestMachine m(default_cpu_model(), GetParam());
  const auto code = assemble(R"(
org 0x100000
  cld
  mov esi, msg
  mov ecx, 3
  mov dx, 0xf4
  rep outsb
  mov edi, 0x200000
  mov ecx, 2
  mov dx, 0x80        ; unassigned: reads all ones
  rep insw
  mov ebx, [0x200000]
  mov al, 0xee
  out 0xf4, al
  hlt
msg: db "abc"
)",
                             32);
  ASSERT_FALSE(code.empty());
  m.memory.write_bytes(0x100000, code.data(), code.size());
  m.cpu->reset_multiboot(0x100000, 0x2badb002, 0);
  // Each write to the exit port kicks the vCPU: run until the final marker.
  for (int i = 0; i < 8 && (m.exit_port.values.empty() || m.exit_port.values.back() != 0xee); ++i)
    ASSERT_EQ(m.cpu->run(), ExitKind::Kicked);
  EXPECT_EQ(m.exit_port.values, (std::vector<uint64_t>{'a', 'b', 'c', 0xee}));
  EXPECT_EQ(m.s().gpr[kRbx], 0xffffffffu);
  EXPECT_EQ(m.s().gpr[kRcx], 0u);
  EXPECT_EQ(m.s().gpr[kRdi], 0x200004u);
}

std::string tier_label(const ::testing::TestParamInfo<tcg::exec::Tier>& info) {
  switch (info.param) {
    case tcg::exec::Tier::Interp:
      return "Interp";
    case tcg::exec::Tier::Baseline:
      return "Baseline";
    case tcg::exec::Tier::Llvm:
      return "Llvm";
    case tcg::exec::Tier::Auto:
      return "Auto";
  }
  return "Unknown";
}

INSTANTIATE_TEST_SUITE_P(Tiers, X86Run,
                         ::testing::Values(tcg::exec::Tier::Interp, tcg::exec::Tier::Baseline,
                                           tcg::exec::Tier::Llvm),
                         tier_label);

}  // namespace
}  // namespace orrery::cpu::x86::test
