// Resets the machine RESETS times (PSCI SYSTEM_RESET) and checks that every boot starts clean.
// The boot count lives in RAM far above the image: a reset reloads the image and zeroes .bss,
// but leaves the rest of RAM as it was (QEMU and Orrery alike). Each boot runs a hot loop, so
// the execution tiers compile fresh code in every epoch and must free the old epoch's code.
#include "rt.h"

#ifndef RESETS
#define RESETS 50
#endif

// 112 MiB into a 128 MiB RAM: above the image, its stack and the device tree.
#define BOOT_COUNT ((volatile uint64_t *)0x47000000ul)
#define PSCI_SYSTEM_RESET 0x84000009u

static uint64_t zeroed;  // .bss: must read 0 on every boot
static uint64_t loaded = 0x1234;  // .data: the reload must restore it

static uint64_t hot_loop(uint64_t n)
{
    uint64_t x = 0;
    for (uint64_t i = 0; i < n; i++) x = x * 31 + (i ^ (x >> 7));
    return x;
}

NORETURN static void system_reset(void)
{
    register uint64_t x0 __asm__("x0") = PSCI_SYSTEM_RESET;
    __asm__ volatile("hvc #0" : "+r"(x0) : : "memory");
    for (;;) __asm__ volatile("wfi");
}

int main(void)
{
    uint64_t boot = BOOT_COUNT[0];
    uint64_t r = hot_loop(1000);
    if (zeroed != 0 || loaded != 0x1234) {
        printf("boot %lu: image not restored\n", (unsigned long)boot);
        exit(1);
    }
    if (boot == 0) BOOT_COUNT[1] = r;  // the first boot's result, kept like the count
    if (BOOT_COUNT[1] != r) {
        printf("boot %lu: hot loop gave a different result\n", (unsigned long)boot);
        exit(1);
    }
    zeroed = 1;
    loaded = 0;
    BOOT_COUNT[0] = boot + 1;
    if (boot < RESETS) system_reset();
    printf("booted %lu times, hot loop 0x%lx\n", (unsigned long)(boot + 1), (unsigned long)r);
    puts("reset_loop done");
    return 0;
}
