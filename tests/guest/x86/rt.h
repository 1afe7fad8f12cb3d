// Minimal runtime shared by Orrery's bare-metal x86 guest programs, built
// once for 32-bit protected mode (crt32.asm) and once for 64-bit long mode
// (crt64.asm). Output goes to COM1 (16550 at 0x3f8, polled); exit goes
// through QEMU's isa-debug-exit device at port 0xf4.
#ifndef ORRERY_X86_GUEST_RT_H
#define ORRERY_X86_GUEST_RT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define NORETURN __attribute__((noreturn))

#ifdef __x86_64__
typedef uint64_t ureg;
#else
typedef uint32_t ureg;
#endif

// GDT selectors (gdt.inc).
enum {
    SEL_KCODE32 = 0x08,
    SEL_KDATA = 0x10,
    SEL_KCODE64 = 0x18,
    SEL_KDATA2 = 0x20,
    SEL_UCODE32 = 0x28 | 3,
    SEL_UDATA = 0x30 | 3,
    SEL_UCODE64 = 0x38 | 3,
    SEL_CODE16 = 0x40,
    SEL_DATA16 = 0x48,
    SEL_TSS = 0x50,
    SEL_SPARE0 = 0x60,  // spare slots 0x60, 0x68, ... 0x88
};
#ifdef __x86_64__
#define SEL_KCODE SEL_KCODE64
#define SEL_UCODE SEL_UCODE64
#else
#define SEL_KCODE SEL_KCODE32
#define SEL_UCODE SEL_UCODE32
#endif

// The frame crt*.asm pushes for every vector.
#ifdef __x86_64__
struct rt_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
    uint64_t vector, error;
    uint64_t ip, cs, flags, sp, ss;  // sp/ss always present in long mode
};
#else
struct rt_frame {
    uint32_t edi, esi, ebp, esp_unused, ebx, edx, ecx, eax;
    uint32_t vector, error;
    uint32_t ip, cs, flags;
    uint32_t sp, ss;  // only when the trap came from ring 3
};
#endif
#ifdef __x86_64__
#define FRAME_AX(f) ((f)->rax)
#define FRAME_BX(f) ((f)->rbx)
#define FRAME_CX(f) ((f)->rcx)
#define FRAME_DX(f) ((f)->rdx)
#else
#define FRAME_AX(f) ((f)->eax)
#define FRAME_BX(f) ((f)->ebx)
#define FRAME_CX(f) ((f)->ecx)
#define FRAME_DX(f) ((f)->edx)
#endif

// Console.
int putchar(int c);
int puts(const char *s);
void print_str(const char *s);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

// isa-debug-exit: QEMU exits with status (code << 1) | 1. A nonzero code
// is printed first ("EXIT n").
NORETURN void exit(int code);

// --- Traps -----------------------------------------------------------------
// rt_trap (called by the stubs) first offers the frame to rt_trap_hook; if
// that returns nonzero the trap is done. Otherwise it prints
//   trap VV err=E ip=try+N cpl=C cr2=A
// and resumes at rt_resume_ip if set (see TRY), else returns for the trap
// vectors 1, 3 and 4, else reports "unexpected trap" and exits with 2.
extern int (*rt_trap_hook)(struct rt_frame *f);
extern volatile ureg rt_try_start;  // IPs are printed relative to this
extern volatile ureg rt_resume_ip;
extern volatile unsigned rt_trap_count;

// TRY("insns") or TRY("insns", : outputs : inputs : clobbers): runs insns
// (extended asm when operands follow, so write %% then); a fault inside
// resumes right after them. Faulting IPs are printed as offsets from the
// first instruction, so the output does not depend on the link layout.
#ifdef __x86_64__
#define RT_TRY_PRE                                                     \
    "movq $8881f, rt_try_start\n\tmovq $8882f, rt_resume_ip\n8881:\n\t"
#else
#define RT_TRY_PRE                                                     \
    "movl $8881f, rt_try_start\n\tmovl $8882f, rt_resume_ip\n8881:\n\t"
#endif
#define RT_TRY_POST "\n8882:\n\t"
#define TRY(insns, ...) \
    __asm__ volatile(RT_TRY_PRE insns RT_TRY_POST __VA_ARGS__)

// IDT gate: type 0xe interrupt gate, 0xf trap gate. ist only in long mode.
void rt_idt_set(unsigned vector, ureg handler, unsigned dpl, unsigned type,
                unsigned ist);
void rt_idt_set_present(unsigned vector, int present);
// Loads IDTR with room for the first `entries` vectors.
void rt_idt_load(unsigned entries);
// The runtime's own stub for a vector (to restore a gate).
ureg rt_stub(unsigned vector);

// --- Descriptors -----------------------------------------------------------
extern uint64_t rt_gdt[];
void rt_gdt_set(unsigned sel, uint32_t base, uint32_t limit, unsigned access,
                unsigned flags);  // flags: G, D/B, L nibble (bits 55:52)
void rt_gdt_set_raw(unsigned sel, uint64_t desc);
void rt_reload_segments(void);

#ifdef __x86_64__
struct __attribute__((packed)) rt_tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3, iomap;
};
#else
struct __attribute__((packed)) rt_tss {
    uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
    uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint32_t es, cs, ss, ds, fs, gs, ldt;
    uint16_t trap, iomap;
};
#endif
extern struct rt_tss rt_tss;
#define RT_STACK_SIZE 16384
extern uint8_t rt_kstack[];  // TSS ESP0/RSP0
extern uint8_t rt_ist[];     // IST1 (long mode)
extern uint8_t rt_ustack[];  // a user-mode stack
#define RT_TOP(stack) ((ureg)((stack) + RT_STACK_SIZE))

// Runs fn at CPL 3 (IRET with the user selectors) on the user stack; fn
// returns to the kernel with rt_user_exit(value) (INT 0x80, EAX = 0), and
// rt_user_call returns that value.
ureg rt_user_call(void (*fn)(void), ureg user_sp);
ureg rt_user_call_flags(void (*fn)(void), ureg user_sp, ureg flags);
// The same with any user code selector (e.g. SEL_UCODE32 in long mode).
ureg rt_user_call_seg(void (*fn)(void), ureg user_sp, ureg flags, ureg cs);
NORETURN void rt_user_exit(ureg value);

// setjmp/longjmp for leaving a trap handler for a saved kernel context.
typedef ureg rt_jmp_buf[8];
int rt_setjmp(rt_jmp_buf b) __attribute__((returns_twice));
NORETURN void rt_longjmp(rt_jmp_buf b, int value);

// --- Other modes -------------------------------------------------------------
// Runs the near function at 0:func (below 64 KiB, e.g. in .lowmem) in real
// mode and returns DX:AX. From long mode it leaves long mode (paging off)
// and re-enters it afterwards, so the low 1 MiB must be identity-mapped.
uint32_t rt_call_real(uint32_t func);
#ifdef __x86_64__
// Calls func (below 4 GiB) as 32-bit compatibility-mode code at CPL 0.
uint32_t rt_call_compat(uint32_t func);
#else
extern volatile uint32_t rt_ap_stack, rt_ap_entry;
extern uint8_t rt_ap_trampoline[];
#endif

// --- Machine access --------------------------------------------------------
static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr"
                     :
                     : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid"
                     : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                     : "a"(leaf), "c"(sub));
}
#define READ_CR(n) ({ ureg v_; __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v_)); v_; })
#define WRITE_CR(n, v) __asm__ volatile("mov %0, %%cr" #n : : "r"((ureg)(v)) : "memory")
static inline void invlpg(ureg addr)
{
    __asm__ volatile("invlpg (%0)" : : "r"(addr) : "memory");
}

// Arithmetic flags of EFLAGS (CF PF AF ZF SF OF) for printing.
#define RT_FLAGS_MASK 0x8d5u

// Cheap deterministic PRNG (xorshift64*), the same as the AArch64 runtime's,
// so the benchmarks (bench/) compute the same data on both guests.
static inline uint64_t rt_rand_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

#endif
