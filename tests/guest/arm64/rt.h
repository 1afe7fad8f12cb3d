// Minimal runtime shared by Orrery's bare-metal AArch64 guest programs
// (tests and benchmarks). Output goes to the virt board's PL011 UART.
#ifndef ORRERY_GUEST_RT_H
#define ORRERY_GUEST_RT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define NORETURN __attribute__((noreturn))

// Console (PL011 at 0x09000000). puts() appends '\n' like the C library.
int putchar(int c);
int puts(const char *s);
void print_str(const char *s);
void print_hex(uint64_t v);  // "0x" + minimal hex digits
void print_dec(int64_t v);
void print_udec(uint64_t v);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);

// gcc emits calls to these even in freestanding code.
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

// PSCI SYSTEM_OFF. A nonzero exit code is printed first ("EXIT n"),
// since PSCI cannot carry it to the host.
NORETURN void exit(int code);
NORETURN void poweroff(void);

// Called by crt0's vector table for any exception: reports and powers off.
NORETURN void rt_unexpected_exception(uint64_t kind, uint64_t esr,
                                      uint64_t elr, uint64_t far);

// Cheap deterministic PRNG (xorshift64*) for tests and benchmarks.
static inline uint64_t rt_rand_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

#define READ_SYSREG(name) ({                                     \
    uint64_t v_;                                                 \
    __asm__ volatile("mrs %0, " #name : "=r"(v_));               \
    v_;                                                          \
})

#define WRITE_SYSREG(name, val)                                  \
    __asm__ volatile("msr " #name ", %0" : : "r"((uint64_t)(val)))

#endif
