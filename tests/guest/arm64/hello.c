// Smallest end-to-end check: boot, UART output, printf formatting, PSCI off.
#include "rt.h"

static const char banner[] = "Hello from Orrery guest";

int main(void)
{
    puts(banner);
    print_str("print_dec: ");
    print_dec(-1234567890123LL);
    print_str(" print_udec: ");
    print_udec(18446744073709551615ULL);
    print_str(" print_hex: ");
    print_hex(0xdeadbeefcafef00dULL);
    putchar('\n');

    printf("printf: %d %i %u %x %s %c %%\n", -42, 7, 4000000000u, 0xabcdu,
           "str", 'Z');
    printf("longs: %ld %lu %lx %llx\n", -9000000000000000000L,
           18000000000000000000UL, 0x123456789abcdefUL, 0xfedcba9876543210ULL);
    printf("width: [%8d] [%-3d] [%08x] [%5s] [%3c] [%08d]\n", 123, 5, 0xbeef,
           "ab", 'q', -77);
    printf("pointer: %p\n", (void *)0x40001000UL);
    printf("strlen(banner) = %zu\n", strlen(banner));

    unsigned sum = 0;
    for (unsigned i = 1; i <= 100; i++)
        sum += i;
    printf("sum 1..100 = %u\n", sum);
    puts("hello done");
    return 0;
}
