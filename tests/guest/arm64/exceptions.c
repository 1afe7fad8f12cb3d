// Synchronous exceptions and exception return: SVC, BRK and UDF taken at
// EL1, a round trip to EL0 and back, system calls from EL0, and EL0 traps
// for privileged or disabled system register accesses. Installs its own
// vector table (vectors.h) that saves a full register frame and ERETs.
#include "vectors.h"

enum vector_kind { VEC_CURRENT_SYNC = 1, VEC_LOWER_SYNC = 2, VEC_OTHER = 3 };

#define EC_UNKNOWN 0x00
#define EC_SVC64 0x15
#define EC_SYSREG 0x18
#define EC_BRK 0x3c

__asm__(
    "    .text\n"
    // uint64_t run_at_el0(uint64_t (*fn)(uint64_t), uint64_t arg,
    //                     void *el0_stack_top)
    // Drops to EL0t at el0_trampoline; EL0's exit SVC makes the handler
    // ERET to el0_return at EL1h with SP_EL1 exactly as left here.
    "    .global run_at_el0\n"
    "run_at_el0:\n"
    "    stp x29, x30, [sp, #-96]!\n"
    "    stp x19, x20, [sp, #16]\n"
    "    stp x21, x22, [sp, #32]\n"
    "    stp x23, x24, [sp, #48]\n"
    "    stp x25, x26, [sp, #64]\n"
    "    stp x27, x28, [sp, #80]\n"
    "    msr sp_el0, x2\n"
    "    adr x3, el0_trampoline\n"
    "    msr elr_el1, x3\n"
    "    mov x3, #0x3c0\n" // EL0t, DAIF masked
    "    msr spsr_el1, x3\n"
    "    mov x3, x1\n"
    "    mov x1, x0\n"
    "    mov x0, x3\n"
    "    mov x29, #0\n"
    "    mov x30, #0\n"
    "    eret\n"
    "el0_trampoline:\n"
    "    blr x1\n"
    "    svc #0\n"
    "1:  b 1b\n"
    "    .global el0_return\n"
    "el0_return:\n"
    "    ldp x19, x20, [sp, #16]\n"
    "    ldp x21, x22, [sp, #32]\n"
    "    ldp x23, x24, [sp, #48]\n"
    "    ldp x25, x26, [sp, #64]\n"
    "    ldp x27, x28, [sp, #80]\n"
    "    ldp x29, x30, [sp], #96\n"
    "    ret\n");

extern char el0_return[];
uint64_t run_at_el0(uint64_t (*fn)(uint64_t), uint64_t arg, void *stack_top);

static uint64_t el0_stack[512] __attribute__((aligned(16)));

// What the handler saw, for main to report.
static struct {
    unsigned count;
    uint64_t kind, esr, elr_offset, spsr_low;
} last;
static uint64_t el0_traps, el0_trap_esr;

void handle_exception(struct frame *f, uint64_t slot)
{
    // Slot 4: current EL with SP_ELx, synchronous; slot 8: lower EL (AArch64), synchronous.
    const uint64_t kind = slot == 4 ? VEC_CURRENT_SYNC : slot == 8 ? VEC_LOWER_SYNC : VEC_OTHER;
    last.count++;
    last.kind = kind;
    last.esr = f->esr;
    last.spsr_low = f->spsr & 0x3ff;

    if (kind == VEC_CURRENT_SYNC) {
        switch (EC(f->esr)) {
        case EC_SVC64: // preferred return is already past the SVC
            f->x[0] = (f->esr & 0xffff) + 1000;
            return;
        case EC_BRK:
        case EC_UNKNOWN: // ELR points at the instruction: skip it
            f->x[0] = 0xb0 + EC(f->esr);
            f->elr += 4;
            return;
        }
    } else if (kind == VEC_LOWER_SYNC) {
        switch (EC(f->esr)) {
        case EC_SVC64:
            switch (f->esr & 0xffff) {
            case 0: // exit: resume run_at_el0's caller at EL1h
                f->elr = (uintptr_t)el0_return;
                f->spsr = 0x3c5;
                return;
            case 1: // putchar
                putchar((int)f->x[0]);
                return;
            case 2: // add two arguments
                f->x[0] = f->x[0] + f->x[1];
                return;
            }
            break;
        case EC_UNKNOWN:
        case EC_SYSREG: // trapped or undefined at EL0: skip, report
            el0_traps++;
            el0_trap_esr = f->esr;
            f->x[0] = 0xdead0000 | EC(f->esr);
            f->elr += 4;
            return;
        }
    }
    printf("UNEXPECTED kind %lu esr %lx\n", kind, f->esr);
    poweroff();
}

static uint64_t user_putchar(uint64_t c)
{
    register uint64_t x0 __asm__("x0") = c;
    __asm__ volatile("svc #1" : "+r"(x0) : : "memory");
    return x0;
}

static uint64_t user_add(uint64_t a, uint64_t b)
{
    register uint64_t x0 __asm__("x0") = a;
    register uint64_t x1 __asm__("x1") = b;
    __asm__ volatile("svc #2" : "+r"(x0) : "r"(x1) : "memory");
    return x0;
}

static uint64_t user_print_and_sum(uint64_t arg)
{
    static const char msg[] = "hello from EL0\n";
    for (const char *p = msg; *p; p++)
        user_putchar(*p);
    uint64_t total = 0;
    for (uint64_t i = 1; i <= arg; i++)
        total = user_add(total, i * i);
    return total;
}

static uint64_t user_current_el(uint64_t unused)
{
    (void)unused;
    uint64_t v;
    // UNDEFINED at EL0: the handler skips it and puts a marker in x0.
    __asm__ volatile("mov x0, #0\n\tmrs x0, CurrentEL\n\tmov %0, x0"
                     : "=r"(v)
                     :
                     : "x0");
    return v;
}

static uint64_t user_read_counter_twice(uint64_t unused)
{
    (void)unused;
    uint64_t a, b;
    __asm__ volatile("mov x0, #0\n\tmrs x0, cntvct_el0\n\tmov %0, x0"
                     : "=r"(a)
                     :
                     : "x0");
    __asm__ volatile("mov x0, #0\n\tmrs x0, cntvct_el0\n\tmov %0, x0"
                     : "=r"(b)
                     :
                     : "x0");
    // Report only whether the reads trapped, not the counter values.
    return ((a >> 16) == 0xdead) + ((b >> 16) == 0xdead) * 2;
}

// LDADD x2, x0, [x1] (ARMv8.1 LSE, absent from a Cortex-A57): UNDEFINED, so
// the handler skips it with a marker in x0 and the counter stays 0.
static uint64_t ldadd(uint64_t *counter)
{
    uint64_t v;
    __asm__ volatile("mov x0, #0\n\tmov x1, %1\n\tmov x2, #1\n\t"
                     ".inst 0xf8220020\n\tmov %0, x0"
                     : "=r"(v)
                     : "r"(counter)
                     : "x0", "x1", "x2", "memory");
    return v;
}

static uint64_t ldadd_counter;

static uint64_t user_ldadd(uint64_t unused)
{
    (void)unused;
    return ldadd(&ldadd_counter);
}

static uint64_t svc_at_el1(void)
{
    register uint64_t x0 __asm__("x0") = 0;
    __asm__ volatile("svc #0x42" : "+r"(x0) : : "memory");
    return x0;
}

int main(void)
{
    puts("exceptions start");
    install_vectors();

    uint64_t r = svc_at_el1();
    printf("svc: x0 %lu esr %lx kind %lu spsr %lx\n", r, last.esr, last.kind,
           last.spsr_low);

    register uint64_t x0 __asm__("x0") = 0;
    __asm__ volatile("brk #7" : "+r"(x0) : : "memory");
    printf("brk: x0 %lx esr %lx\n", x0, last.esr);

    x0 = 0;
    __asm__ volatile("udf #0x1234" : "+r"(x0) : : "memory");
    printf("udf: x0 %lx esr %lx\n", x0, last.esr);

    // Callee-saved registers and the stack must survive the EL0 trip.
    uint64_t total = run_at_el0(user_print_and_sum, 10,
                                el0_stack + sizeof el0_stack / 8);
    printf("el0 sum %lu current el %lu\n", total,
           READ_SYSREG(CurrentEL) >> 2);

    uint64_t el = run_at_el0(user_current_el, 0,
                             el0_stack + sizeof el0_stack / 8);
    printf("el0 mrs CurrentEL -> %lx esr %lx\n", el, el0_trap_esr);

    WRITE_SYSREG(cntkctl_el1, 0); // EL0 counter access disabled
    __asm__ volatile("isb");
    uint64_t trapped = run_at_el0(user_read_counter_twice, 0,
                                  el0_stack + sizeof el0_stack / 8);
    printf("el0 cntvct disabled: trapped mask %lu esr %lx\n", trapped,
           el0_trap_esr);
    WRITE_SYSREG(cntkctl_el1, 2); // EL0VCTEN
    __asm__ volatile("isb");
    trapped = run_at_el0(user_read_counter_twice, 0,
                         el0_stack + sizeof el0_stack / 8);
    printf("el0 cntvct enabled: trapped mask %lu\n", trapped);

    r = ldadd(&ldadd_counter);
    printf("el1 ldadd -> %lx esr %lx counter %lu\n", r, last.esr, ldadd_counter);
    r = run_at_el0(user_ldadd, 0, el0_stack + sizeof el0_stack / 8);
    printf("el0 ldadd -> %lx esr %lx counter %lu\n", r, el0_trap_esr,
           ldadd_counter);

    printf("exceptions taken %u el0 traps %lu\n", last.count, el0_traps);
    puts("exceptions done");
    return 0;
}
