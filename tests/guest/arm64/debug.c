// Self-hosted debug at EL1: the OS lock, hardware breakpoints (DBGBVR/DBGBCR), watchpoints
// (DBGWVR/DBGWCR: loads, stores, byte selects and sizes, FAR) and software step
// (MDSCR_EL1.SS with SPSR.SS), each exception's syndrome and return address.
#include "rt.h"
#include "vectors.h"

#define MDSCR_SS (1u << 0)
#define MDSCR_KDE (1u << 13)
#define MDSCR_MDE (1u << 15)

static volatile uint64_t last_esr, last_elr, last_far, hits;
static volatile int mode; // what the handler does: 0 report, 1 breakpoint, 2 watchpoint, 3 step
static uint64_t step_log[16];
static volatile unsigned steps;
extern char step_start[], step_end[];

static uint64_t watched[2] __attribute__((aligned(16)));

void handle_exception(struct frame *f, uint64_t slot)
{
    if (slot != 4) rt_unexpected_exception(slot, f->esr, f->elr, READ_SYSREG(far_el1));
    last_esr = f->esr;
    last_elr = f->elr;
    last_far = READ_SYSREG(far_el1);
    hits++;
    switch (mode) {
    case 1: // breakpoint: disable it and return to the instruction, which now runs
        WRITE_SYSREG(dbgbcr0_el1, 0);
        break;
    case 2: // watchpoint: disable it and re-execute the access
        WRITE_SYSREG(dbgwcr0_el1, 0);
        break;
    case 3: // software step: log where it stopped and step on
        if (steps < 16) step_log[steps] = f->elr - (uint64_t)step_start;
        steps++;
        if (f->elr == (uint64_t)step_end || steps >= 16)
            WRITE_SYSREG(mdscr_el1, MDSCR_KDE | MDSCR_MDE); // done stepping
        else
            f->spsr |= 1u << 21; // SPSR.SS: step the next instruction too
        break;
    default:
        rt_unexpected_exception(slot, f->esr, f->elr, last_far);
    }
    __asm__ volatile("isb");
}

static __attribute__((noinline)) uint64_t target(uint64_t x)
{
    __asm__ volatile("" : "+r"(x));
    return x * 3 + 1;
}

static void test_os_lock(void)
{
    printf("OSLSR after reset %lx\n", READ_SYSREG(oslsr_el1));
    WRITE_SYSREG(oslar_el1, 0);
    __asm__ volatile("isb");
    printf("OSLSR unlocked %lx\n", READ_SYSREG(oslsr_el1));
    uint64_t dfr0 = READ_SYSREG(id_aa64dfr0_el1);
    printf("breakpoints %lu watchpoints %lu\n", ((dfr0 >> 12) & 15) + 1,
           ((dfr0 >> 20) & 15) + 1);
}

static void try_breakpoint(const char *what, uint64_t bcr, uint64_t x)
{
    hits = 0;
    WRITE_SYSREG(dbgbvr0_el1, (uint64_t)target);
    WRITE_SYSREG(dbgbcr0_el1, bcr);
    __asm__ volatile("isb" ::: "memory");
    uint64_t r = target(x);
    printf("breakpoint %s: hits %lu", what, hits);
    if (hits) printf(" ESR %lx at target %d", last_esr, last_elr == (uint64_t)target);
    printf(" result %lu\n", r);
    WRITE_SYSREG(dbgbcr0_el1, 0);
    __asm__ volatile("isb" ::: "memory");
}

static void test_breakpoint(void)
{
    mode = 1;
    WRITE_SYSREG(mdscr_el1, MDSCR_KDE | MDSCR_MDE);
    __asm__ volatile("msr daifclr, #8\n isb" ::: "memory");
    // E, BAS 0b1111, PMC: 0b11 EL0 and EL1, 0b01 EL1, 0b10 EL0.
    try_breakpoint("EL0+EL1", 0x1e7, 5);
    try_breakpoint("EL1", 0x1e3, 6);
    try_breakpoint("EL0 only", 0x1e5, 7);
    __asm__ volatile("msr daifset, #8\n isb" ::: "memory");
    try_breakpoint("with PSTATE.D set", 0x1e7, 8);
    __asm__ volatile("msr daifclr, #8\n isb" ::: "memory");
    WRITE_SYSREG(mdscr_el1, MDSCR_KDE);
    try_breakpoint("with MDE clear", 0x1e7, 9);
    WRITE_SYSREG(mdscr_el1, MDSCR_MDE);
    try_breakpoint("with KDE clear", 0x1e7, 10);
    WRITE_SYSREG(mdscr_el1, MDSCR_KDE | MDSCR_MDE);
    try_breakpoint("again", 0x1e7, 11);
}

static void watch(uint64_t wcr)
{
    WRITE_SYSREG(dbgwvr0_el1, (uint64_t)&watched[0]);
    WRITE_SYSREG(dbgwcr0_el1, wcr);
    __asm__ volatile("isb");
    hits = 0;
    last_far = 0;
}

static void report(const char *what)
{
    printf("watch %s: hits %lu", what, hits);
    if (hits)
        printf(" ESR %lx FAR +%ld", last_esr, (long)(last_far - (uint64_t)&watched[0]));
    putchar('\n');
    WRITE_SYSREG(dbgwcr0_el1, 0);
    __asm__ volatile("isb");
}

static void test_watchpoint(void)
{
    mode = 2;
    uint8_t *b = (uint8_t *)watched;
    uint64_t v;
    // Stores of the whole doubleword.
    watch(0x1ff7); // E, PAC EL0+EL1, LSC store, BAS 0xff
    __asm__ volatile("str %1, [%0]" : : "r"(watched), "r"(0x1122334455667788ull) : "memory");
    report("store 8");
    printf("stored %lx\n", watched[0]);
    // A load does not match a store watchpoint.
    watch(0x1ff7);
    __asm__ volatile("ldr %0, [%1]" : "=r"(v) : "r"(watched) : "memory");
    report("load vs store-only");
    // Loads, bytes 4 and 5 selected (BAS 0x30).
    watch(0x60f);
    __asm__ volatile("ldrb %w0, [%1, #3]" : "=r"(v) : "r"(b) : "memory");
    report("ldrb +3 vs bytes 4-5");
    watch(0x60f);
    __asm__ volatile("ldrb %w0, [%1, #5]" : "=r"(v) : "r"(b) : "memory");
    report("ldrb +5 vs bytes 4-5");
    watch(0x60f);
    __asm__ volatile("ldrh %w0, [%1, #2]" : "=r"(v) : "r"(b) : "memory");
    report("ldrh +2 vs bytes 4-5");
    watch(0x60f);
    __asm__ volatile("ldr %w0, [%1, #4]" : "=r"(v) : "r"(b) : "memory");
    report("ldr w +4 vs bytes 4-5");
    watch(0x60f);
    __asm__ volatile("ldr %0, [%1]" : "=r"(v) : "r"(b) : "memory");
    report("ldr x +0 vs bytes 4-5");
    watch(0x60f);
    __asm__ volatile("strb wzr, [%0, #4]" : : "r"(b) : "memory");
    report("strb +4 vs load-only");
    // Loads and stores; a pair that reaches the watched doubleword from below.
    watch(0x1fff);
    uint64_t v2;
    __asm__ volatile("ldp %0, %1, [%2, #-8]" : "=&r"(v), "=&r"(v2) : "r"(b) : "memory");
    report("ldp -8 vs both");
    // Disabled by MDSCR_EL1.MDE.
    watch(0x1fff);
    WRITE_SYSREG(mdscr_el1, MDSCR_KDE);
    __asm__ volatile("isb\n str xzr, [%0]" : : "r"(b) : "memory");
    report("store with MDE clear");
    WRITE_SYSREG(mdscr_el1, MDSCR_KDE | MDSCR_MDE);
}

static void test_step(void)
{
    mode = 3;
    steps = 0;
    uint64_t x1;
    __asm__ volatile("msr daifset, #8\n"
                     "msr mdscr_el1, %1\n"
                     "isb\n"
                     "adr x9, step_start\n"
                     "msr elr_el1, x9\n"
                     "mov x9, #0x1c5\n" // EL1h, D clear, A I F masked
                     "orr x9, x9, #0x200000\n" // SS
                     "msr spsr_el1, x9\n"
                     "mov x1, #1\n"
                     "eret\n"
                     "step_start:\n"
                     "add x1, x1, #1\n"
                     "add x1, x1, #2\n"
                     "b 1f\n"
                     "nop\n"
                     "1: mul x1, x1, x1\n"
                     "cbz x1, 1b\n"
                     "step_end:\n"
                     "msr daifset, #8\n"
                     "mov %0, x1\n"
                     : "=r"(x1)
                     : "r"((uint64_t)(MDSCR_SS | MDSCR_KDE | MDSCR_MDE))
                     : "x1", "x9", "memory");
    WRITE_SYSREG(mdscr_el1, MDSCR_KDE | MDSCR_MDE);
    printf("step: %u steps, x1 %lu, ESR %lx:", steps, x1, last_esr);
    for (unsigned i = 0; i < steps && i < 16; i++) printf(" %lu", step_log[i]);
    putchar('\n');
}

int main(void)
{
    install_vectors();
    test_os_lock();
    test_breakpoint();
    test_watchpoint();
    test_step();
    __asm__ volatile("msr daifset, #8");
    WRITE_SYSREG(mdscr_el1, 0);
    puts("debug done");
    return 0;
}
