// The pc board's gdb target (64-bit multiboot guest, tests/guest/x86 runtime): a few calls to
// break in and step through, and two TSC reads around clock_mark, which gdb holds for a while
// (the TSC counts the machine's virtual nanoseconds, which stand still meanwhile).
#include "rt.h"

volatile int counter;
volatile uint64_t ticks_before, ticks_after;

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

__attribute__((noinline)) int bump(int x)
{
    counter += x;
    return counter;
}

__attribute__((noinline)) void clock_mark(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void marker(void) { __asm__ volatile("" ::: "memory"); }

int main(void)
{
    int result = 0;
    for (int i = 1; i <= 5; i++)
        result += bump(i);
    ticks_before = rdtsc();
    clock_mark();
    ticks_after = rdtsc();
    marker();
    printf("counter=%d result=%d\n", counter, result);
    return 0;
}
