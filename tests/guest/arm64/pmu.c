// PMUv3 at EL1: PMCR_EL0, SW_INCR, INST_RETIRED, BR_RETIRED and MEM_ACCESS counts of known
// loops (as differences between two loop lengths, which no counting convention for the
// MSR/MRS around them changes), the EL filter, the cycle counter, CHAIN, and the overflow
// interrupt (PPI 7, INTID 23) through the GICv2. The expected output is Orrery's: QEMU 7.2
// counts INST_RETIRED only with -icount, and implements neither CHAIN nor the branch and
// memory events; with -icount shift=0 it agrees on every other line.
#include "rt.h"
#include "vectors.h"

#define GICD 0x08000000UL
#define GICC 0x08010000UL
#define REG32(a) (*(volatile uint32_t *)(a))
#define PMU_INTID 23

#define SW_INCR 0x00
#define INST_RETIRED 0x08
#define BR_RETIRED 0x21
#define MEM_ACCESS 0x13
#define CHAIN 0x1e
#define FILTER_P (1ull << 31) // do not count at EL1

static volatile uint64_t irqs, irq_ovs;

void handle_exception(struct frame *f, uint64_t slot)
{
    if (slot != 5) rt_unexpected_exception(slot, f->esr, f->elr, 0);
    uint32_t iar = REG32(GICC + 0x0c);
    if ((iar & 0x3ff) == PMU_INTID) {
        irq_ovs = READ_SYSREG(pmovsset_el0);
        WRITE_SYSREG(pmovsclr_el0, irq_ovs); // lowers the line
        irqs++;
    }
    REG32(GICC + 0x10) = iar;
}

static uint64_t counter(unsigned n)
{
    WRITE_SYSREG(pmselr_el0, n);
    __asm__ volatile("isb");
    return READ_SYSREG(pmxevcntr_el0);
}

static void set_counter(unsigned n, uint64_t type, uint64_t value)
{
    WRITE_SYSREG(pmselr_el0, n);
    __asm__ volatile("isb");
    WRITE_SYSREG(pmxevtyper_el0, type);
    WRITE_SYSREG(pmxevcntr_el0, value);
}

// Counts an event over a loop of n iterations of 4 instructions (one load, one branch).
static uint64_t count_loop(uint64_t type, uint64_t n)
{
    static volatile uint64_t word;
    uint64_t before, after, tmp;
    set_counter(0, type, 0);
    WRITE_SYSREG(pmcntenset_el0, 1);
    __asm__ volatile("isb\n"
                     "mrs %0, pmevcntr0_el0\n"
                     "1: ldr %2, [%4]\n"
                     "add %2, %2, #1\n"
                     "subs %3, %3, #1\n"
                     "b.ne 1b\n"
                     "mrs %1, pmevcntr0_el0\n"
                     : "=&r"(before), "=&r"(after), "=&r"(tmp), "+r"(n)
                     : "r"(&word)
                     : "memory", "cc");
    WRITE_SYSREG(pmcntenclr_el0, 1);
    return after - before;
}

static void report_loop(const char *what, uint64_t type)
{
    uint64_t a = count_loop(type, 1000), b = count_loop(type, 3000);
    printf("%s: 2000 more iterations count %lu more\n", what, b - a);
}

int main(void)
{
    install_vectors();
    REG32(GICD + 0x000) = 1;
    REG32(GICD + 0x100) = 1u << PMU_INTID;
    REG32(GICC + 0x004) = 0xf0;
    REG32(GICC + 0x000) = 1;

    uint64_t pmcr = READ_SYSREG(pmcr_el0);
    printf("PMCR_EL0.N %lu\n", (pmcr >> 11) & 31);
    WRITE_SYSREG(pmcr_el0, 1 | 2 | 4); // E, reset the event and cycle counters
    __asm__ volatile("isb");

    // SW_INCR is exact.
    set_counter(1, SW_INCR, 0);
    WRITE_SYSREG(pmcntenset_el0, 2);
    for (int i = 0; i < 5; i++) WRITE_SYSREG(pmswinc_el0, 2);
    WRITE_SYSREG(pmswinc_el0, 1); // counter 0 is not enabled
    printf("SW_INCR: counter 1 = %lu\n", counter(1));
    WRITE_SYSREG(pmcntenclr_el0, 2);
    WRITE_SYSREG(pmswinc_el0, 2);
    printf("SW_INCR disabled: counter 1 = %lu\n", counter(1));

    report_loop("INST_RETIRED", INST_RETIRED);
    report_loop("INST_RETIRED, EL1 filtered out", INST_RETIRED | FILTER_P);
    report_loop("BR_RETIRED", BR_RETIRED);
    report_loop("MEM_ACCESS", MEM_ACCESS);

    // The cycle counter moves while enabled.
    WRITE_SYSREG(pmcntenset_el0, 1ull << 31);
    uint64_t c0 = READ_SYSREG(pmccntr_el0);
    for (volatile int i = 0; i < 100; i++) {
    }
    uint64_t c1 = READ_SYSREG(pmccntr_el0);
    printf("PMCCNTR advances %s\n", c1 > c0 ? "yes" : "no");
    WRITE_SYSREG(pmcntenclr_el0, 1ull << 31);

    // CHAIN: counter 3 counts counter 2's overflows.
    set_counter(2, SW_INCR, 0xffffffff);
    set_counter(3, CHAIN, 7);
    WRITE_SYSREG(pmcntenset_el0, 0xc);
    WRITE_SYSREG(pmswinc_el0, 4);
    printf("CHAIN: counter 2 = %lu counter 3 = %lu overflow flags %lx\n", counter(2),
           counter(3), READ_SYSREG(pmovsset_el0));
    WRITE_SYSREG(pmovsclr_el0, ~0ull);
    WRITE_SYSREG(pmcntenclr_el0, 0xc);

    // An overflow with its interrupt enabled raises PPI 7.
    set_counter(1, SW_INCR, 0xfffffffe);
    WRITE_SYSREG(pmcntenset_el0, 2);
    WRITE_SYSREG(pmintenset_el1, 2);
    __asm__ volatile("msr daifclr, #2\n isb" ::: "memory");
    WRITE_SYSREG(pmswinc_el0, 2);
    __asm__ volatile("isb" ::: "memory");
    uint64_t after_one = irqs;
    WRITE_SYSREG(pmswinc_el0, 2);
    __asm__ volatile("isb\n nop\n nop\n nop\n nop" ::: "memory");
    __asm__ volatile("msr daifset, #2" ::: "memory");
    printf("overflow: interrupts %lu then %lu, flags %lx, counter 1 = %lu\n", after_one, irqs,
           irq_ovs, counter(1));
    WRITE_SYSREG(pmintenclr_el1, ~0ull);
    WRITE_SYSREG(pmcntenclr_el0, ~0ull);
    WRITE_SYSREG(pmcr_el0, 0);
    puts("pmu done");
    return 0;
}
