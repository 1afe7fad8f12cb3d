// Guest program driven by the gdb tests (tests/gdb/run_gdb_test.sh): small noinline functions
// to break on and step through, a global to watch, and an optional spin loop that a debugger
// interrupts (Ctrl-C) and releases.
#include "rt.h"

volatile uint64_t counter;            // watched by the watchpoint tests
volatile uint64_t result;
volatile uint64_t wait_for_debugger;  // set by the debugger: spin until it sets release
volatile uint64_t release;
volatile uint64_t spins;

__attribute__((noipa)) uint64_t step_fn(uint64_t x)
{
    return x * 3 + 1;
}

__attribute__((noipa)) void bump(void)
{
    counter = counter + 1;
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
    marker();
    printf("counter=%lu result=%lu\n", (unsigned long)counter, (unsigned long)result);
    return 0;
}
