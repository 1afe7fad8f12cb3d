// Minimal runtime for Orrery's bare-metal AArch64 guest programs.
#include "rt.h"

#define UART_BASE 0x09000000UL
#define UART_DR 0x00
#define UART_FR 0x18
#define UART_FR_TXFF (1u << 5)

#define PSCI_SYSTEM_OFF 0x84000008UL

static inline void mmio_write32(uintptr_t addr, uint32_t v)
{
    *(volatile uint32_t *)addr = v;
}

static inline uint32_t mmio_read32(uintptr_t addr)
{
    return *(volatile uint32_t *)addr;
}

int putchar(int c)
{
    while (mmio_read32(UART_BASE + UART_FR) & UART_FR_TXFF)
        ;
    mmio_write32(UART_BASE + UART_DR, (uint8_t)c);
    return (uint8_t)c;
}

#include "../common/libc.c"

void print_udec(uint64_t v)
{
    char buf[24];
    char *end = buf + sizeof buf - 1;
    *end = 0;
    print_str(format_unsigned(end, v, 10));
}

void print_dec(int64_t v)
{
    if (v < 0) {
        putchar('-');
        print_udec(-(uint64_t)v);
    } else {
        print_udec((uint64_t)v);
    }
}

void print_hex(uint64_t v)
{
    char buf[20];
    char *end = buf + sizeof buf - 1;
    *end = 0;
    print_str("0x");
    print_str(format_unsigned(end, v, 16));
}

void poweroff(void)
{
    register uint64_t x0 __asm__("x0") = PSCI_SYSTEM_OFF;
    __asm__ volatile("hvc #0" : "+r"(x0) : : "memory");
    // SYSTEM_OFF should not return; if the platform ignores it, park.
    for (;;)
        __asm__ volatile("wfi");
}

void exit(int code)
{
    if (code != 0)
        printf("EXIT %d\n", code);
    poweroff();
}

void rt_unexpected_exception(uint64_t kind, uint64_t esr, uint64_t elr,
                             uint64_t far)
{
    printf("EXCEPTION kind=%lu esr=%lx elr=%lx far=%lx\n",
           (unsigned long)kind, (unsigned long)esr, (unsigned long)elr,
           (unsigned long)far);
    poweroff();
}
