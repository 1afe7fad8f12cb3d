// Hardware task switches in 32-bit protected mode (SDM vol. 3A chapter 7):
// CALL to a TSS and IRET back along the previous-task link (NT, busy bits,
// CR0.TS, registers saved and restored), JMP through a task gate and back
// (no nesting), INT n through a task gate in the IDT, an exception (#NP)
// through a task gate with its error code on the new task's stack, and
// the faults before the switch: #TS for a TSS limit below 0x67, #NP for a
// TSS not present, #GP for a busy TSS, #TS for IRET to a link that is not
// busy.
#include "rt.h"

#define SEL_B 0x60     // 32-bit TSS of task B
#define SEL_GATE 0x68  // task gate to B
#define SEL_C 0x70     // task C: INT 0x90 through a task gate
#define SEL_D 0x78     // task D: TSSs that fault before the switch
#define SEL_NP 0x80    // data segment, not present at first
#define SEL_E 0x88     // task E: #NP through a task gate

static struct rt_tss tss_b, tss_c, tss_d, tss_e;
static uint8_t stack_b[4096], stack_c[4096], stack_e[4096];
__attribute__((used)) static volatile uint32_t e_error;
static volatile uint32_t b_returns_by_jmp;

static unsigned str(void)
{
    uint16_t v;
    __asm__ volatile("str %0" : "=r"(v));
    return v;
}
static unsigned nt(void)
{
    uint32_t f;
    __asm__ volatile("pushf; pop %0" : "=r"(f));
    return (f >> 14) & 1;
}
static unsigned cr0_ts(void)
{
    uint32_t v;
    __asm__ volatile("mov %%cr0, %0" : "=r"(v));
    return (v >> 3) & 1;
}
static unsigned type_of(unsigned sel)
{
    return (unsigned)(rt_gdt[sel >> 3] >> 40) & 0xf;
}

// Task bodies: each returns to its caller task by IRET (nested) or JMP.
__attribute__((used)) static uint32_t task_b_body(void)
{
    printf("  task B: TR %x NT %u link %x types main %x B %x CR0.TS %u\n", str(), nt(),
           tss_b.link, type_of(SEL_TSS), type_of(SEL_B), cr0_ts());
    __asm__ volatile("clts");
    return b_returns_by_jmp;
}
__attribute__((used)) static void task_c_body(void)
{
    printf("  task C (INT 0x90): TR %x NT %u link %x\n", str(), nt(), tss_c.link);
    __asm__ volatile("clts");
}
__attribute__((used)) static void task_e_body(void)
{
    printf("  task E (#NP): error code %x, link %x; marking %x present\n", e_error, tss_e.link,
           SEL_NP);
    rt_gdt_set(SEL_NP, 0, 0xfffff, 0x92, 0xc);
    __asm__ volatile("clts");
}

__asm__(".text\n"
        "task_b_entry:\n"
        "  call task_b_body\n"
        "  test %eax, %eax\n"
        "  jnz 1f\n"
        "  iret\n"
        "  jmp task_b_entry\n"
        "1: ljmp $0x50, $0\n"
        "  jmp task_b_entry\n"
        "task_c_entry:\n"
        "  call task_c_body\n"
        "  iret\n"
        "  jmp task_c_entry\n"
        "task_e_entry:\n"
        "  pop e_error\n"  // the error code, on this task's stack
        "  call task_e_body\n"
        "  iret\n"
        "  jmp task_e_entry\n");
extern char task_b_entry[], task_c_entry[], task_e_entry[];

static void tss_init(struct rt_tss *t, char *entry, uint8_t *stack)
{
    uint32_t cr3;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    memset(t, 0, sizeof *t);
    t->eip = (uint32_t)entry;
    t->eflags = 0x2;
    t->esp = (uint32_t)stack + 4096;
    t->cs = SEL_KCODE32;
    t->ss = t->ds = t->es = t->fs = t->gs = SEL_KDATA;
    t->cr3 = cr3;
    t->iomap = sizeof *t;
}
static void tss_desc(unsigned sel, void *tss, unsigned limit)
{
    rt_gdt_set(sel, (uint32_t)tss, limit, 0x89, 0);  // available 32-bit TSS
}

static void show(const char *what)
{
    printf("%s: TR %x NT %u types main %x B %x\n", what, str(), nt(), type_of(SEL_TSS),
           type_of(SEL_B));
}

/// A task gate to TSS sel in the IDT (rt_idt_set always names SEL_KCODE).
static void idt_task_gate(unsigned vector, unsigned sel)
{
    struct __attribute__((packed)) {
        uint16_t limit;
        uint32_t base;
    } idtr;
    __asm__ volatile("sidt %0" : "=m"(idtr));
    ((volatile uint64_t *)idtr.base)[vector] = (uint64_t)sel << 16 | (uint64_t)0x85 << 40;
}

int main(void)
{
    puts("task32 start");
    tss_init(&tss_b, task_b_entry, stack_b);
    tss_init(&tss_c, task_c_entry, stack_c);
    tss_init(&tss_e, task_e_entry, stack_e);
    tss_desc(SEL_B, &tss_b, sizeof tss_b - 1);
    rt_gdt_set_raw(SEL_GATE, (uint64_t)SEL_B << 16 | (uint64_t)0x85 << 40);  // task gate, DPL 0
    tss_desc(SEL_C, &tss_c, sizeof tss_c - 1);
    tss_desc(SEL_E, &tss_e, sizeof tss_e - 1);
    rt_gdt_set(SEL_NP, 0, 0xfffff, 0x12, 0xc);  // data, not present
    show("main");

    puts("CALL to TSS B, IRET back");
    uint32_t a = 0x1234, b = 0x5678;
    __asm__ volatile("lcall $0x60, $0" : "+a"(a), "+b"(b) : : "memory", "ecx", "edx");
    __asm__ volatile("clts");
    printf("registers kept: %x %x, B resumes %s\n", a, b,
           tss_b.eip > (uint32_t)task_b_entry && tss_b.eip < (uint32_t)task_b_entry + 32
               ? "after its IRET"
               : "elsewhere");
    show("back");

    puts("JMP through the task gate, JMP back");
    b_returns_by_jmp = 1;
    __asm__ volatile("ljmp $0x68, $0" : : : "memory", "eax", "ecx", "edx");
    __asm__ volatile("clts");
    show("back");
    b_returns_by_jmp = 0;

    puts("INT 0x90 through a task gate");
    idt_task_gate(0x90, SEL_C);
    __asm__ volatile("int $0x90" : : : "memory", "eax", "ecx", "edx");
    __asm__ volatile("clts");
    show("back");

    puts("#NP through a task gate, error code on the new stack");
    idt_task_gate(11, SEL_E);
    __asm__ volatile("mov %0, %%es" : : "r"(SEL_NP) : "memory");
    __asm__ volatile("clts; mov %0, %%es" : : "r"(SEL_KDATA) : "memory");
    rt_idt_set(11, rt_stub(11), 0, 0xe, 0);
    show("back");

    puts("faults before the switch");
    tss_desc(SEL_D, &tss_d, 0x60);  // limit below 0x67: #TS
    TRY("lcall $0x78, $0", : : : "memory");
    rt_gdt_set(SEL_D, (uint32_t)&tss_d, sizeof tss_d - 1, 0x09, 0);  // not present: #NP
    TRY("lcall $0x78, $0", : : : "memory");
    TRY("ljmp $0x50, $0", : : : "memory");  // the running task is busy: #GP
    rt_tss.link = SEL_C;                     // IRET with NT to an available TSS: #TS
    TRY("pushf\n\torl $0x4000, (%%esp)\n\tpopf\n\tiret", : : : "memory");
    __asm__ volatile("pushf\n\tandl $~0x4000, (%%esp)\n\tpopf" : : : "memory", "cc");
    show("after");

    // Not tested here: a fault loading the new task's segments (after the
    // point of no return), where QEMU 7.2 hangs; the unit tests cover it.
    printf("traps taken %u\n", rt_trap_count);
    exit(0);
}
