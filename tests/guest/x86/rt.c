// Minimal runtime for Orrery's bare-metal x86 guest programs (32-bit and
// 64-bit builds of the same file; see rt.h).
#include "rt.h"

#define COM1 0x3f8
#define LSR_THRE 0x20
#define DEBUG_EXIT_PORT 0xf4

int main(void);

int putchar(int c)
{
    while (!(inb(COM1 + 5) & LSR_THRE))
        ;
    outb(COM1, (uint8_t)c);
    return (uint8_t)c;
}

#include "../common/libc.c"

void exit(int code)
{
    if (code != 0)
        printf("EXIT %d\n", code);
    outb(DEBUG_EXIT_PORT, (uint8_t)code);
    // No debug-exit device: park with interrupts off.
    for (;;)
        __asm__ volatile("cli; hlt");
}

// --- Descriptors and traps ---------------------------------------------------

#ifdef __x86_64__
#define IDT_WORDS 2
#else
#define IDT_WORDS 1
#endif
static uint64_t rt_idt[256 * IDT_WORDS] __attribute__((aligned(16)));
extern const ureg rt_stubs[256];

struct rt_tss rt_tss __attribute__((aligned(16)));
uint8_t rt_kstack[RT_STACK_SIZE] __attribute__((aligned(16)));
uint8_t rt_ist[RT_STACK_SIZE] __attribute__((aligned(16)));
uint8_t rt_ustack[RT_STACK_SIZE] __attribute__((aligned(16)));

int (*rt_trap_hook)(struct rt_frame *f);
volatile ureg rt_try_start;
volatile ureg rt_resume_ip;
volatile unsigned rt_trap_count;

ureg rt_stub(unsigned vector)
{
    return rt_stubs[vector & 255];
}

void rt_idt_set(unsigned vector, ureg handler, unsigned dpl, unsigned type,
                unsigned ist)
{
    uint64_t h = handler;
    uint64_t lo = (h & 0xffff) | ((uint64_t)SEL_KCODE << 16) |
                  ((uint64_t)(ist & 7) << 32) |
                  ((uint64_t)(0x80 | (dpl & 3) << 5 | (type & 0xf)) << 40) |
                  ((h >> 16 & 0xffff) << 48);
    rt_idt[(vector & 255) * IDT_WORDS] = lo;
#ifdef __x86_64__
    rt_idt[(vector & 255) * 2 + 1] = h >> 32;
#endif
}

void rt_idt_set_present(unsigned vector, int present)
{
    uint64_t *g = &rt_idt[(vector & 255) * IDT_WORDS];
    *g = present ? *g | 1ull << 47 : *g & ~(1ull << 47);
}

void rt_idt_load(unsigned entries)
{
    struct __attribute__((packed)) {
        uint16_t limit;
        ureg base;
    } idtr = {(uint16_t)(entries * IDT_WORDS * 8 - 1), (ureg)rt_idt};
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

void rt_gdt_set_raw(unsigned sel, uint64_t desc)
{
    rt_gdt[sel >> 3] = desc;
}

void rt_gdt_set(unsigned sel, uint32_t base, uint32_t limit, unsigned access,
                unsigned flags)
{
    uint64_t d = (limit & 0xffff) | ((uint64_t)(base & 0xffffff) << 16) |
                 ((uint64_t)(access & 0xff) << 40) |
                 ((uint64_t)(limit >> 16 & 0xf) << 48) |
                 ((uint64_t)(flags & 0xf) << 52) |
                 ((uint64_t)(base >> 24) << 56);
    rt_gdt_set_raw(sel, d);
}

void rt_reload_segments(void)
{
    __asm__ volatile("mov %0, %%ds; mov %0, %%es; mov %0, %%ss"
                     :
                     : "r"(SEL_KDATA)
                     : "memory");
}

static void print_ip(ureg ip)
{
    ureg start = rt_try_start;
    if (start && ip >= start && ip - start < 0x1000)
        printf("try+%x", (unsigned)(ip - start));
    else
        printf("%lx", (unsigned long)ip);
}

void rt_trap(struct rt_frame *f)
{
    rt_trap_count++;
    if (rt_trap_hook && rt_trap_hook(f))
        return;
    printf("trap %02x err=%x ip=", (unsigned)f->vector, (unsigned)f->error);
    print_ip(f->ip);
    printf(" cpl=%u cr2=%lx\n", (unsigned)(f->cs & 3),
           (unsigned long)READ_CR(2));
    if (rt_resume_ip) {
        f->ip = rt_resume_ip;
        rt_resume_ip = 0;
        return;
    }
    if (f->vector == 1 || f->vector == 3 || f->vector == 4)
        return;
    puts("unexpected trap");
    exit(2);
}

// --- setjmp/longjmp and ring 3 -------------------------------------------------

#ifdef __x86_64__
__asm__(".text\n"
        ".global rt_setjmp\n"
        "rt_setjmp:\n"
        "  mov %rbx, 0(%rdi)\n  mov %rbp, 8(%rdi)\n  mov %r12, 16(%rdi)\n"
        "  mov %r13, 24(%rdi)\n  mov %r14, 32(%rdi)\n  mov %r15, 40(%rdi)\n"
        "  lea 8(%rsp), %rdx\n  mov %rdx, 48(%rdi)\n"
        "  mov (%rsp), %rdx\n  mov %rdx, 56(%rdi)\n"
        "  xor %eax, %eax\n  ret\n"
        ".global rt_longjmp\n"
        "rt_longjmp:\n"
        "  mov %esi, %eax\n"
        "  mov 0(%rdi), %rbx\n  mov 8(%rdi), %rbp\n  mov 16(%rdi), %r12\n"
        "  mov 24(%rdi), %r13\n  mov 32(%rdi), %r14\n  mov 40(%rdi), %r15\n"
        "  mov 48(%rdi), %rsp\n  jmp *56(%rdi)\n");
#else
__asm__(".text\n"
        ".global rt_setjmp\n"
        "rt_setjmp:\n"
        "  mov 4(%esp), %eax\n"
        "  mov %ebx, 0(%eax)\n  mov %esi, 4(%eax)\n  mov %edi, 8(%eax)\n"
        "  mov %ebp, 12(%eax)\n"
        "  lea 4(%esp), %ecx\n  mov %ecx, 16(%eax)\n"
        "  mov (%esp), %ecx\n  mov %ecx, 20(%eax)\n"
        "  xor %eax, %eax\n  ret\n"
        ".global rt_longjmp\n"
        "rt_longjmp:\n"
        "  mov 4(%esp), %edx\n  mov 8(%esp), %eax\n"
        "  mov 0(%edx), %ebx\n  mov 4(%edx), %esi\n  mov 8(%edx), %edi\n"
        "  mov 12(%edx), %ebp\n  mov 16(%edx), %esp\n  jmp *20(%edx)\n");
#endif

static rt_jmp_buf rt_user_ctx;
static ureg rt_user_value;
static int (*rt_user_saved_hook)(struct rt_frame *f);

// INT 0x80 with EAX = 0 from ring 3 ends rt_user_call. Other traps go to
// the hook the program installed.
static int rt_user_trap(struct rt_frame *f)
{
    if (f->vector == 0x80 && (f->cs & 3) == 3 && FRAME_AX(f) == 0) {
        rt_user_value = FRAME_BX(f);
        rt_longjmp(rt_user_ctx, 1);
    }
    return rt_user_saved_hook ? rt_user_saved_hook(f) : 0;
}

ureg rt_user_call(void (*fn)(void), ureg user_sp)
{
    return rt_user_call_flags(fn, user_sp, 0x2);
}

ureg rt_user_call_flags(void (*fn)(void), ureg user_sp, ureg flags)
{
    return rt_user_call_seg(fn, user_sp, flags, SEL_UCODE);
}

ureg rt_user_call_seg(void (*fn)(void), ureg user_sp, ureg flags, ureg cs)
{
    rt_user_saved_hook = rt_trap_hook;
    rt_trap_hook = rt_user_trap;
    if (rt_setjmp(rt_user_ctx)) {
        rt_trap_hook = rt_user_saved_hook;
        rt_reload_segments();
        return rt_user_value;
    }
#ifdef __x86_64__
    __asm__ volatile("pushq %0\n\tpushq %1\n\tpushq %4\n\tpushq %2\n\t"
                     "pushq %3\n\tiretq"
                     :
                     : "i"(SEL_UDATA), "r"(user_sp), "r"(cs),
                       "r"((ureg)fn), "r"(flags)
                     : "memory");
#else
    __asm__ volatile("mov %0, %%ds\n\tmov %0, %%es\n\t"
                     "pushl %0\n\tpushl %1\n\tpushl %4\n\tpushl %2\n\t"
                     "pushl %3\n\tiretl"
                     :
                     : "r"((ureg)SEL_UDATA), "r"(user_sp), "r"(cs),
                       "r"((ureg)fn), "r"(flags)
                     : "memory");
#endif
    __builtin_unreachable();
}

void rt_user_exit(ureg value)
{
    __asm__ volatile("int $0x80" : : "a"(0), "b"(value) : "memory");
    __builtin_unreachable();
}

// --- Start ------------------------------------------------------------------

extern uint8_t __lowmem_load[], __lowmem_start[], __lowmem_end[];

static void rt_init_uart(void)
{
    outb(COM1 + 1, 0x00);  // no interrupts
    outb(COM1 + 3, 0x80);  // DLAB
    outb(COM1 + 0, 0x01);  // 115200 baud
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03);  // 8N1
    outb(COM1 + 2, 0x07);  // FIFOs on and cleared
    outb(COM1 + 4, 0x03);  // DTR, RTS
}

NORETURN void rt_start(void)
{
    rt_init_uart();
    memcpy(__lowmem_start, __lowmem_load,
           (size_t)(__lowmem_end - __lowmem_start));

    for (unsigned v = 0; v < 256; v++) {
        unsigned dpl = (v == 3 || v == 4 || v == 0x80) ? 3 : 0;
        rt_idt_set(v, rt_stubs[v], dpl, 0xe, 0);
    }
    rt_idt_load(256);

    // TSS: ring-0 stack for traps from ring 3 (and IST1 in long mode).
    ureg tss = (ureg)&rt_tss;
#ifdef __x86_64__
    rt_tss.rsp[0] = RT_TOP(rt_kstack);
    rt_tss.ist[0] = RT_TOP(rt_ist);
    rt_tss.iomap = sizeof rt_tss;
    rt_gdt_set(SEL_TSS, (uint32_t)tss, sizeof rt_tss - 1, 0x89, 0);
    rt_gdt[(SEL_TSS >> 3) + 1] = (uint64_t)tss >> 32;
#else
    rt_tss.esp0 = RT_TOP(rt_kstack);
    rt_tss.ss0 = SEL_KDATA;
    rt_tss.iomap = sizeof rt_tss;
    rt_gdt_set(SEL_TSS, tss, sizeof rt_tss - 1, 0x89, 0);
#endif
    __asm__ volatile("ltr %w0" : : "r"(SEL_TSS));

    exit(main());
}
