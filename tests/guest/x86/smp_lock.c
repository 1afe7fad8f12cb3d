// LOCK atomicity across two vCPUs (run with -smp 2; label "smp", since it
// needs a LAPIC). The BSP starts the AP with INIT-SIPI-SIPI through the
// local APIC ICR (the AP enters rt_ap_trampoline at 0x7000 in real mode),
// then both increment shared counters a million times each with LOCK ADD,
// LOCK XADD, LOCK CMPXCHG loops and an XCHG spinlock; the totals must be
// exactly two million.
#include "rt.h"

#define LAPIC 0xfee00000u
#define LAPIC_ID 0x20
#define LAPIC_SVR 0xf0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define ITERATIONS 1000000u

static volatile uint32_t add_counter, xadd_counter, cas_counter,
    spin_counter, spin_lock;
static volatile uint32_t ap_started, ap_done, go;
static uint8_t ap_stack[8192] __attribute__((aligned(16)));

static uint32_t lapic_read(uint32_t reg)
{
    return *(volatile uint32_t *)(uintptr_t)(LAPIC + reg);
}

static void lapic_write(uint32_t reg, uint32_t v)
{
    *(volatile uint32_t *)(uintptr_t)(LAPIC + reg) = v;
}

static void send_ipi(uint32_t apic_id, uint32_t lo)
{
    lapic_write(LAPIC_ICR_HI, apic_id << 24);
    lapic_write(LAPIC_ICR_LO, lo);
    while (lapic_read(LAPIC_ICR_LO) & (1u << 12))  // delivery pending
        ;
}

static void work(void)
{
    for (uint32_t i = 0; i < ITERATIONS; i++) {
        __asm__ volatile("lock addl $1, %0" : "+m"(add_counter) : : "memory");
        uint32_t one = 1;
        __asm__ volatile("lock xaddl %0, %1"
                         : "+r"(one), "+m"(xadd_counter)
                         :
                         : "memory");
        uint32_t old = cas_counter, nv;
        do {
            nv = old + 1;
            __asm__ volatile("lock cmpxchgl %2, %1"
                             : "+a"(old), "+m"(cas_counter)
                             : "r"(nv)
                             : "memory", "cc");
        } while (old + 1 != nv);
        uint32_t taken;
        do {
            taken = 1;
            __asm__ volatile("xchgl %0, %1"
                             : "+r"(taken), "+m"(spin_lock)
                             :
                             : "memory");
            while (taken && spin_lock)
                __asm__ volatile("pause");
        } while (taken);
        spin_counter = spin_counter + 1;  // plain read-modify-write
        __asm__ volatile("" ::: "memory");
        spin_lock = 0;
    }
}

static void ap_main(void)
{
    ap_started = (lapic_read(LAPIC_ID) >> 24) + 1;
    while (!go)
        __asm__ volatile("pause");
    work();
    __asm__ volatile("lock addl $1, %0" : "+m"(ap_done) : : "memory");
}

int main(void)
{
    puts("smp_lock start");
    lapic_write(LAPIC_SVR, 0x1ff);  // software enable, spurious vector 0xff
    printf("bsp apic id %u\n", lapic_read(LAPIC_ID) >> 24);
    rt_ap_stack = (uint32_t)(uintptr_t)(ap_stack + sizeof ap_stack);
    rt_ap_entry = (uint32_t)(uintptr_t)ap_main;
    uint32_t vector = (uint32_t)(uintptr_t)rt_ap_trampoline >> 12;
    send_ipi(1, 0x4500);           // INIT
    send_ipi(1, 0x4600 | vector);  // SIPI
    send_ipi(1, 0x4600 | vector);  // second SIPI (ignored once running)
    while (!ap_started)
        __asm__ volatile("pause");
    printf("ap started, apic id %u\n", ap_started - 1);
    go = 1;
    work();
    while (!ap_done)
        __asm__ volatile("pause");
    printf("lock add %u\n", add_counter);
    printf("lock xadd %u\n", xadd_counter);
    printf("lock cmpxchg %u\n", cas_counter);
    printf("xchg spinlock %u\n", spin_counter);
    puts("smp_lock done");
    return 0;
}
