// The generic timer's ISTATUS and its interrupt agree: 1,000 times, arm the virtual timer a
// few microseconds ahead with IRQs masked, busy-wait (no WFI) until CNTV_CTL_EL0.ISTATUS
// reads 1, then unmask and expect the interrupt (GICv2 PPI 27) to be taken within a few
// instructions. A guest that sees ISTATUS=1 with no interrupt pending fails here.
#include "rt.h"
#include "vectors.h"

#define GICD 0x08000000UL
#define GICC 0x08010000UL
#define REG32(a) (*(volatile uint32_t *)(a))
#define VTIMER_INTID 27
#define ROUNDS 1000

static volatile uint64_t irqs, wrong_intid;

void handle_exception(struct frame *f, uint64_t slot)
{
    if (slot != 5) rt_unexpected_exception(slot, f->esr, f->elr, 0);
    uint32_t iar = REG32(GICC + 0x0c);
    if ((iar & 0x3ff) == VTIMER_INTID) {
        WRITE_SYSREG(cntv_ctl_el0, 0); // lowers the line
        irqs++;
    } else {
        wrong_intid++;
    }
    REG32(GICC + 0x10) = iar; // EOI
}

int main(void)
{
    install_vectors();
    REG32(GICD + 0x000) = 1;                        // GICD_CTLR: enable
    REG32(GICD + 0x100) = 1u << VTIMER_INTID;       // GICD_ISENABLER0
    REG32(GICC + 0x004) = 0xf0;                     // GICC_PMR
    REG32(GICC + 0x000) = 1;                        // GICC_CTLR: enable

    unsigned prompt = 0, late = 0, never = 0, stuck = 0;
    for (unsigned i = 0; i < ROUNDS; i++) {
        uint64_t before = irqs;
        WRITE_SYSREG(cntv_tval_el0, 100 + (i % 7) * 37); // 1.6 to 5.2 us at 62.5 MHz
        WRITE_SYSREG(cntv_ctl_el0, 1);                   // ENABLE, not masked
        __asm__ volatile("isb");
        uint64_t spins = 0;
        while (!(READ_SYSREG(cntv_ctl_el0) & 4) && spins < 100000000)
            spins++;
        if (!(READ_SYSREG(cntv_ctl_el0) & 4)) {
            stuck++;
            WRITE_SYSREG(cntv_ctl_el0, 0);
            continue;
        }
        // ISTATUS=1: the interrupt is pending now. Unmask, give it eight instructions.
        __asm__ volatile("msr daifclr, #2\n"
                         "nop\n nop\n nop\n nop\n nop\n nop\n nop\n nop\n"
                         "msr daifset, #2\n" ::: "memory");
        if (irqs != before) {
            prompt++;
            continue;
        }
        __asm__ volatile("msr daifclr, #2" ::: "memory");
        for (spins = 0; irqs == before && spins < 10000000; spins++)
            __asm__ volatile("" ::: "memory");
        __asm__ volatile("msr daifset, #2" ::: "memory");
        if (irqs != before) {
            late++;
        } else {
            never++;
            WRITE_SYSREG(cntv_ctl_el0, 0);
        }
    }
    printf("timer irq: %u/%u taken at once, %u late, %u never, %u ISTATUS stuck, "
           "%lu wrong INTID\n", prompt, ROUNDS, late, never, stuck, (unsigned long)wrong_intid);
    puts("timer_irq done");
    return 0;
}
