// Interprocessor interrupts between two vCPUs (run with -smp 2; label "smp"). The BSP starts
// the AP with INIT-SIPI-SIPI; the AP loads the IDT, enables its local APIC with logical ID
// bit 1 (flat model) and waits with interrupts on. The BSP then sends vector 0x60 to the AP
// by physical ID, by logical destination, by lowest priority and by the all-excluding-self
// shorthand; each time the AP's handler answers with vector 0x61 to the BSP (physical ID 0)
// from its own APIC page. Both sides count what they took.
#include "rt.h"

#define LAPIC 0xfee00000u
#define LAPIC_ID 0x20
#define LAPIC_TPR 0x80
#define LAPIC_EOI 0xb0
#define LAPIC_LDR 0xd0
#define LAPIC_DFR 0xe0
#define LAPIC_SVR 0xf0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310

static volatile uint32_t ap_got, bsp_got, ap_started, ap_id_seen;
static uint8_t ap_stack[8192] __attribute__((aligned(16)));

static uint32_t lapic_read(uint32_t reg)
{
    return *(volatile uint32_t *)(uintptr_t)(LAPIC + reg);
}

static void lapic_write(uint32_t reg, uint32_t v)
{
    *(volatile uint32_t *)(uintptr_t)(LAPIC + reg) = v;
}

static void send_ipi(uint32_t dest, uint32_t lo)
{
    lapic_write(LAPIC_ICR_HI, dest << 24);
    lapic_write(LAPIC_ICR_LO, lo);
    while (lapic_read(LAPIC_ICR_LO) & (1u << 12))  // delivery pending
        ;
}

static int on_interrupt(struct rt_frame *f)
{
    unsigned v = (unsigned)f->vector;
    if (v == 0x60) {  // on the AP: answer the BSP
        ap_id_seen = lapic_read(LAPIC_ID) >> 24;
        __asm__ volatile("lock incl %0" : "+m"(ap_got));
        send_ipi(0, 0x4061);
        lapic_write(LAPIC_EOI, 0);
        return 1;
    }
    if (v == 0x61) {  // on the BSP
        __asm__ volatile("lock incl %0" : "+m"(bsp_got));
        lapic_write(LAPIC_EOI, 0);
        return 1;
    }
    return 0;
}

static void ap_main(void)
{
    rt_idt_load(256);
    lapic_write(LAPIC_SVR, 0x1ff);
    lapic_write(LAPIC_DFR, 0xffffffff);
    lapic_write(LAPIC_LDR, 0x02000000);
    lapic_write(LAPIC_TPR, 0);
    ap_started = 1;
    for (;;)
        __asm__ volatile("sti; hlt");
}

static void round_trip(const char *how, uint32_t dest, uint32_t lo)
{
    uint32_t want = bsp_got + 1;
    send_ipi(dest, lo);
    while (bsp_got < want)
        __asm__ volatile("sti; hlt; cli");
    printf("%s: ap took %u, bsp took %u\n", how, ap_got, bsp_got);
}

int main(void)
{
    puts("smp_ipi start");
    rt_trap_hook = on_interrupt;
    lapic_write(LAPIC_SVR, 0x1ff);
    lapic_write(LAPIC_DFR, 0xffffffff);
    lapic_write(LAPIC_LDR, 0x01000000);
    lapic_write(LAPIC_TPR, 0x20);  // the AP wins lowest-priority arbitration
    rt_ap_stack = (uint32_t)(uintptr_t)(ap_stack + sizeof ap_stack);
    rt_ap_entry = (uint32_t)(uintptr_t)ap_main;
    uint32_t vector = (uint32_t)(uintptr_t)rt_ap_trampoline >> 12;
    send_ipi(1, 0x4500);  // INIT
    send_ipi(1, 0x4600 | vector);
    send_ipi(1, 0x4600 | vector);
    while (!ap_started)
        __asm__ volatile("pause");
    puts("ap up");
    round_trip("physical", 1, 0x4060);
    round_trip("logical", 0x02, 0x4860);
    round_trip("lowest priority", 0x03, 0x4960);
    round_trip("all but self", 0, 0xc4060);
    printf("ap apic id %u\n", ap_id_seen);
    puts("smp_ipi done");
    return 0;
}
