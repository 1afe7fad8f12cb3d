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

void print_str(const char *s)
{
    while (*s)
        putchar(*s++);
}

int puts(const char *s)
{
    print_str(s);
    putchar('\n');
    return 0;
}

// Formats v in the given base into buf (filled from the end); returns the
// start of the digits.
static char *format_unsigned(char *end, uint64_t v, unsigned base)
{
    static const char digits[] = "0123456789abcdef";
    char *p = end;
    do {
        *--p = digits[v % base];
        v /= base;
    } while (v);
    return p;
}

// Writes s (len bytes, with a '-' sign first if negative) padded to width.
// pad is ' ' or '0'; left == 1 pads on the right instead.
static int emit_padded(const char *s, size_t len, int width, char pad,
                       int left, int negative)
{
    int n = (int)len + negative;
    int fill = width > n ? width - n : 0;

    if (left) {
        if (negative)
            putchar('-');
        for (size_t i = 0; i < len; i++)
            putchar(s[i]);
        for (int i = 0; i < fill; i++)
            putchar(' ');
        return n + fill;
    }
    if (negative && pad == '0')
        putchar('-');
    for (int i = 0; i < fill; i++)
        putchar(pad);
    if (negative && pad != '0')
        putchar('-');
    for (size_t i = 0; i < len; i++)
        putchar(s[i]);
    return n + fill;
}

// Supports %d %i %u %x %X(lowercase) %s %c %p %%, the 'l'/'ll'/'z' length
// modifiers, the '0' and '-' flags and a field width: enough for test output.
int vprintf(const char *fmt, va_list ap)
{
    int count = 0;
    char buf[24];
    char *end = buf + sizeof buf;

    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            putchar(*fmt);
            count++;
            continue;
        }
        fmt++;
        char pad = ' ';
        int left = 0;
        int width = 0;
        int longness = 0;
        for (;; fmt++) {
            if (*fmt == '0')
                pad = '0';
            else if (*fmt == '-')
                left = 1;
            else
                break;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        // 'l' is 32-bit in the 32-bit build; 'll' is always 64-bit.
        while (*fmt == 'l' || *fmt == 'z') {
            longness += *fmt == 'z' ? (sizeof(size_t) == 8 ? 2 : 0)
                                    : (sizeof(long) == 8 ? 2 : 1);
            fmt++;
        }
        longness = longness >= 2;

        switch (*fmt) {
        case 'd':
        case 'i': {
            int64_t v = longness ? va_arg(ap, int64_t) : va_arg(ap, int);
            uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;
            char *s = format_unsigned(end, mag, 10);
            count += emit_padded(s, end - s, width, pad, left, v < 0);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v = longness ? va_arg(ap, uint64_t)
                                  : va_arg(ap, unsigned int);
            char *s = format_unsigned(end, v, *fmt == 'u' ? 10 : 16);
            count += emit_padded(s, end - s, width, pad, left, 0);
            break;
        }
        case 'p': {
            uint64_t v = (uintptr_t)va_arg(ap, void *);
            char *s = format_unsigned(end, v, 16);
            print_str("0x");
            count += 2 + emit_padded(s, end - s, width, pad, left, 0);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            count += emit_padded(s, strlen(s), width, ' ', left, 0);
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            count += emit_padded(&c, 1, width, ' ', left, 0);
            break;
        }
        case '%':
            putchar('%');
            count++;
            break;
        case '\0':
            return count;
        default:
            // Unknown conversion: echo it so the mistake shows up in output.
            putchar('%');
            putchar(*fmt);
            count += 2;
            break;
        }
    }
    return count;
}

int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

// The memory routines work a 64-bit word at a time when both pointers
// share alignment. This file is built with -fno-tree-loop-distribute-patterns
// so gcc cannot turn these loops back into calls to themselves.
void *memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;

    if ((((uintptr_t)d ^ (uintptr_t)s) & 7) == 0) {
        while (n && ((uintptr_t)d & 7)) {
            *d++ = *s++;
            n--;
        }
        uint64_t *dw = (uint64_t *)d;
        const uint64_t *sw = (const uint64_t *)s;
        for (; n >= 32; n -= 32, dw += 4, sw += 4) {
            uint64_t a = sw[0], b = sw[1], c = sw[2], e = sw[3];
            dw[0] = a;
            dw[1] = b;
            dw[2] = c;
            dw[3] = e;
        }
        for (; n >= 8; n -= 8)
            *dw++ = *sw++;
        d = (uint8_t *)dw;
        s = (const uint8_t *)sw;
    }
    while (n--)
        *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;

    if (d <= s || d >= s + n)
        return memcpy(dst, src, n);

    // Overlapping with dst above src: copy backwards.
    d += n;
    s += n;
    if ((((uintptr_t)d ^ (uintptr_t)s) & 7) == 0) {
        while (n && ((uintptr_t)d & 7)) {
            *--d = *--s;
            n--;
        }
        uint64_t *dw = (uint64_t *)d;
        const uint64_t *sw = (const uint64_t *)s;
        for (; n >= 8; n -= 8)
            *--dw = *--sw;
        d = (uint8_t *)dw;
        s = (const uint8_t *)sw;
    }
    while (n--)
        *--d = *--s;
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    uint8_t *d = dst;
    uint64_t pattern = 0x0101010101010101ULL * (uint8_t)c;

    while (n && ((uintptr_t)d & 7)) {
        *d++ = (uint8_t)c;
        n--;
    }
    uint64_t *dw = (uint64_t *)d;
    for (; n >= 32; n -= 32, dw += 4) {
        dw[0] = pattern;
        dw[1] = pattern;
        dw[2] = pattern;
        dw[3] = pattern;
    }
    for (; n >= 8; n -= 8)
        *dw++ = pattern;
    d = (uint8_t *)dw;
    while (n--)
        *d++ = (uint8_t)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

size_t strlen(const char *s)
{
    const char *p = s;
    while (*p)
        p++;
    return p - s;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (uint8_t)*a - (uint8_t)*b;
}


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
