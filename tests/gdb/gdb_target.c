// Guest program driven by the gdb tests (tests/gdb/run_gdb_test.sh): small noinline functions
// to break on and step through, a global to watch, and an optional spin loop that a debugger
// interrupts (Ctrl-C) and releases.
#include "rt.h"

volatile uint64_t counter;            // watched by the watchpoint tests
volatile uint64_t result;
volatile uint64_t wait_for_debugger;  // set by the debugger: spin until it sets release
volatile uint64_t release;
volatile uint64_t spins;
volatile uint64_t ticks_before, ticks_after;  // CNTVCT_EL0 around clock_mark (clock_stop case)

__attribute__((noipa)) uint64_t step_fn(uint64_t x)
{
    return x * 3 + 1;
}

__attribute__((noipa)) void bump(void)
{
    counter = counter + 1;
}

static inline uint64_t cntvct(void)
{
    uint64_t v;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v));
    return v;
}

/* A debugger stops here for a while: the counter must not count the stop. */
__attribute__((noipa)) void clock_mark(void)
{
    __asm__ volatile("nop");
}

__attribute__((noipa)) void marker(void)
{
    __asm__ volatile("nop");
}

int main(void)
{
    puts("gdb target start");
    while (wait_for_debugger && !release)
        spins = spins + 1;
    uint64_t acc = 0;
    for (uint64_t i = 0; i < 5; i++) {
        acc += step_fn(i);
        bump();
    }
    result = acc;
    ticks_before = cntvct();
    clock_mark();
    ticks_after = cntvct();
    marker();
    printf("counter=%lu result=%lu\n", (unsigned long)counter, (unsigned long)result);
    return 0;
}
