// Smallest end-to-end check: multiboot entry, COM1 output, printf, a
// breakpoint trap through the IDT, isa-debug-exit.
#include "rt.h"

int main(void)
{
    puts("Hello from Orrery x86 guest");
    printf("printf: %d %u %x %s %c %%\n", -42, 4000000000u, 0xabcdu, "str",
           'Z');
    printf("long long: %lld %llx\n", -9000000000000000000LL,
           0xfedcba9876543210ULL);
    printf("width: [%8d] [%-3d] [%08x] [%5s]\n", 123, 5, 0xbeef, "ab");
    printf("mode: %s\n", sizeof(void *) == 8 ? "long" : "protected");
    TRY("int3");
    unsigned sum = 0;
    for (unsigned i = 1; i <= 100; i++)
        sum += i;
    printf("sum 1..100 = %u\n", sum);
    puts("hello done");
    return 0;
}
