// Two-CPU guest program for the gdb SMP tests (tests/gdb/run_gdb_test.sh, -smp 2): CPU 0 starts
// CPU 1 with PSCI CPU_ON over HVC and waits for it; CPU 1 calls secondary_work (the symbol the
// tests break on, so only thread 2 ever hits it) and turns itself off with PSCI CPU_OFF.
#include "rt.h"

#define PSCI_CPU_OFF 0x84000002u
#define PSCI_CPU_ON_64 0xC4000003u

volatile uint64_t cpu0_spins;  // CPU 0's wait loop: it only grows while thread 1 runs
volatile uint64_t cpu1_spins;
volatile uint64_t park_cpu1;  // set by the debugger: CPU 1 spins until the debugger clears it
volatile uint64_t cpu0_tlbi;  // set by the debugger: CPU 0's wait loop broadcasts TLB flushes
volatile uint64_t cpu0_sleep;  // set by the debugger: CPU 0 waits in WFI, CPU 1 wakes it (SGI)
volatile uint64_t cpu0_sleeps;  // WFIs CPU 0 has entered
volatile uint64_t cpu1_counter;
volatile uint64_t cpu1_done;
volatile int64_t cpu_on_status = -99;

// CPU 1's stack; CPU_ON passes its top as the context id.
static uint8_t cpu1_stack[16384] __attribute__((aligned(16)));

// CPU 1 starts here at EL1 with the MMU off and X0 = context id. FP/SIMD access and the vector
// base are per-CPU, so it repeats that part of crt0 before entering C.
__asm__(
    "    .section .text\n"
    "    .global secondary_entry\n"
    "    .type secondary_entry, %function\n"
    "secondary_entry:\n"
    "    mov sp, x0\n"
    "    mov x1, #(3 << 20)\n"
    "    msr cpacr_el1, x1\n"
    "    adrp x1, crt0_vectors\n"
    "    add x1, x1, :lo12:crt0_vectors\n"
    "    msr vbar_el1, x1\n"
    "    isb\n"
    "    bl secondary_main\n"
    "1:  wfi\n"
    "    b 1b\n"
    "    .size secondary_entry, . - secondary_entry\n");
void secondary_entry(void);

// SMC Calling Convention over HVC #0: X0..X3 in, X0 out, X4..X17 not preserved.
// TLBI VMALLE1IS: completes only once every running CPU has applied it.
static inline void tlbi_broadcast(void)
{
    __asm__ volatile("tlbi vmalle1is\n\tdsb ish\n\tisb" ::: "memory");
}

// GICv2 of -M virt. CPU 1 wakes CPU 0 from WFI with SGI 0: a pending interrupt ends WFI even
// while PSTATE masks it (Arm ARM D1.16.2), and CPU 0 acknowledges it without taking it.
#define GICD 0x08000000UL
#define GICC 0x08010000UL
#define REG32(a) (*(volatile uint32_t *)(a))

static void gic_init_cpu0(void)
{
    REG32(GICD + 0x000) = 1;     // GICD_CTLR: forward interrupts (SGIs are always enabled)
    REG32(GICC + 0x004) = 0xf0;  // GICC_PMR: SGI 0's priority (0) passes
    REG32(GICC + 0x000) = 1;     // GICC_CTLR: signal them to the CPU
}

static void wake_cpu0(void)
{
    __asm__ volatile("dsb sy" ::: "memory");
    REG32(GICD + 0xf00) = 1u << 16;  // GICD_SGIR: SGI 0 to CPU interface 0
}

static void ack_interrupts(void)
{
    for (;;) {
        const uint32_t iar = REG32(GICC + 0x00c);  // GICC_IAR
        if ((iar & 0x3ff) == 1023)
            return;
        REG32(GICC + 0x010) = iar;  // GICC_EOIR
    }
}

// Busy-waits on the virtual counter (the machine's one time base).
static void delay_us(uint64_t us)
{
    const uint64_t start = READ_SYSREG(cntvct_el0);
    const uint64_t ticks = READ_SYSREG(cntfrq_el0) / 1000000 * us;
    while (READ_SYSREG(cntvct_el0) - start < ticks)
        ;
}

static int64_t psci(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3)
{
    register uint64_t x0 __asm__("x0") = fn;
    register uint64_t x1 __asm__("x1") = a1;
    register uint64_t x2 __asm__("x2") = a2;
    register uint64_t x3 __asm__("x3") = a3;
    __asm__ volatile("hvc #0"
                     : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
                     :
                     : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14",
                       "x15", "x16", "x17", "memory");
    return (int64_t)x0;
}

__attribute__((noipa)) uint64_t secondary_work(uint64_t x)
{
    return x * 3 + 1;
}

// CPU 1 has woken CPU 0 from WFI and waited a while.
__attribute__((noipa)) void cpu0_woken(void)
{
    __asm__ volatile("nop");
}

__attribute__((noipa)) void primary_after(void)
{
    __asm__ volatile("nop");
}

NORETURN void secondary_main(void)
{
    // Wait until CPU 0 is in its wait loop, so its PC is known when thread 2 stops.
    while (cpu0_spins == 0)
        ;
    while (park_cpu1)
        cpu1_spins = cpu1_spins + 1;
    uint64_t acc = 0;
    for (uint64_t i = 0; i < 3; i++) {
        // In sleep mode secondary_work is reached only once CPU 0 has been asleep in WFI for a
        // while, and an SGI wakes it afterwards; the waits leave CPU 0 time to get back into
        // its run loop before CPU 1 reaches cpu0_woken.
        if (cpu0_sleep) {
            while (cpu0_sleeps < i + 1)
                ;
            delay_us(2000);
        }
        acc += secondary_work(i);
        if (cpu0_sleep) {
            wake_cpu0();
            delay_us(2000);
            cpu0_woken();
        }
    }
    cpu1_counter = acc;
    // CPU 0 counts one more spin before it can see cpu1_done, so that a run after a continue
    // shows in cpu0_spins whether or not the host scheduled CPU 0's thread meanwhile.
    if (!cpu0_sleep) {
        const uint64_t seen = cpu0_spins;
        while (cpu0_spins == seen)
            ;
    }
    __atomic_store_n(&cpu1_done, 1, __ATOMIC_RELEASE);
    if (cpu0_sleep)
        wake_cpu0();  // CPU 0 may be back in WFI
    psci(PSCI_CPU_OFF, 0, 0, 0);
    for (;;)
        __asm__ volatile("wfi");
}

int main(void)
{
    puts("smp target start");
    gic_init_cpu0();
    cpu_on_status = psci(PSCI_CPU_ON_64, 1, (uint64_t)&secondary_entry,
                         (uint64_t)(cpu1_stack + sizeof cpu1_stack));
    printf("cpu_on=%ld\n", (long)cpu_on_status);
    if (cpu_on_status != 0)
        return 1;
    while (!__atomic_load_n(&cpu1_done, __ATOMIC_ACQUIRE)) {
        cpu0_spins = cpu0_spins + 1;
        if (cpu0_tlbi)
            tlbi_broadcast();
        if (cpu0_sleep) {
            cpu0_sleeps = cpu0_sleeps + 1;
            __asm__ volatile("dsb sy\n\twfi" ::: "memory");
            ack_interrupts();
        }
    }
    primary_after();
    printf("cpu1 counter=%lu\n", (unsigned long)cpu1_counter);
    puts("smp done");
    return 0;
}
