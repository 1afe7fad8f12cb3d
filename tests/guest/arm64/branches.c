// Control flow: jump tables, computed goto, recursion, function pointers,
// conditional selects/compares, test-and-branch and loops.
#include "rt.h"

static volatile int seeds[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -1, 100};
#define NSEEDS (sizeof seeds / sizeof seeds[0])

// Dense enough for gcc to emit a jump table (ADR + LDRB + ADD + BR).
static __attribute__((noinline)) int dispatch(int op, int a)
{
    switch (op) {
    case 0: return a + 1;
    case 1: return a * 3;
    case 2: return a - 17;
    case 3: return a ^ 0x55;
    case 4: return (int)((unsigned)a << 2);
    case 5: return a >> 1;
    case 6: return -a;
    case 7: return a * a;
    case 8: return a | 0x100;
    case 9: return a & 0xf0f;
    case 10: return a % 7;
    case 11: return ~a;
    default: return 12345;
    }
}

// Computed goto: a threaded-code loop with BR to labels.
static __attribute__((noinline)) int threaded(const unsigned char *prog, int x)
{
    static void *const ops[] = {&&op_inc, &&op_dbl, &&op_dec, &&op_end};
    const unsigned char *pc = prog;
    goto *ops[*pc++];
op_inc:
    x += 1;
    goto *ops[*pc++];
op_dbl:
    x *= 2;
    goto *ops[*pc++];
op_dec:
    x -= 3;
    goto *ops[*pc++];
op_end:
    return x;
}

static __attribute__((noinline)) uint64_t fib(unsigned n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static __attribute__((noinline)) unsigned ackermann(unsigned m, unsigned n)
{
    if (m == 0)
        return n + 1;
    if (n == 0)
        return ackermann(m - 1, 1);
    return ackermann(m - 1, ackermann(m, n - 1));
}

// Mutual recursion through function pointers defeats inlining.
typedef int (*parity_fn)(unsigned);
static int is_even(unsigned n);
static int is_odd(unsigned n);
static volatile parity_fn parity_table[2] = {is_even, is_odd};
static int is_even(unsigned n) { return n == 0 ? 1 : parity_table[1](n - 1); }
static int is_odd(unsigned n) { return n == 0 ? 0 : parity_table[0](n - 1); }

typedef int64_t (*binop)(int64_t, int64_t);
static int64_t op_add(int64_t a, int64_t b) { return a + b; }
static int64_t op_sub(int64_t a, int64_t b) { return a - b; }
static int64_t op_mul(int64_t a, int64_t b) { return a * b; }
static int64_t op_max(int64_t a, int64_t b) { return a > b ? a : b; }
static volatile binop binops[] = {op_add, op_sub, op_mul, op_max};

// Branch-free forms: CSEL, CSINC, CSINV, CSNEG, CSET, CCMP.
static __attribute__((noinline)) int64_t selects(int64_t a, int64_t b)
{
    int64_t r = 0;
    r += a < b ? a : b;
    r += a == b ? 1 : a + 1 - b;
    r += (uint64_t)a > (uint64_t)b ? ~a : b;
    r += a >= 0 ? a : -a;
    r += (a > 5 && b < 3) ? 100 : 7;
    r += (a == 2 || b == 9);
    r += a != 0 ? b : 0;
    return r;
}

static __attribute__((noinline)) int bit_tests(uint64_t v)
{
    int r = 0;
    if (v & (1ULL << 63))
        r |= 1;
    if (!(v & (1ULL << 5)))
        r |= 2;
    if (v == 0)
        r |= 4;
    if ((uint32_t)v != 0)
        r |= 8;
    if ((int64_t)v < 0)
        r |= 16;
    return r;
}

int main(void)
{
    puts("branches start");

    uint32_t acc = 0;
    for (unsigned i = 0; i < NSEEDS; i++) {
        int v = dispatch(seeds[i], seeds[(i + 5) % NSEEDS] * 37);
        acc = acc * 31 + (uint32_t)v;
        printf("dispatch(%d) = %d\n", seeds[i], v);
    }
    printf("dispatch acc %x\n", acc);

    static const unsigned char prog[] = {0, 1, 1, 2, 0, 1, 2, 2, 1, 3};
    printf("threaded %d %d\n", threaded(prog, seeds[3]),
           threaded(prog + 4, seeds[13]));

    printf("fib(25) = %lu\n", fib(seeds[10] + 15));
    printf("ackermann(2,3) = %u ackermann(3,3) = %u\n",
           ackermann(seeds[2], seeds[3]), ackermann(seeds[3], seeds[3]));
    printf("is_even(1001) = %d is_odd(777) = %d\n", is_even(1001),
           is_odd(777));

    int64_t fsum = 0;
    for (int i = 0; i < 40; i++)
        fsum = binops[i & 3](fsum, seeds[i % NSEEDS] + i);
    printf("binops %ld\n", fsum);

    uint64_t ssum = 0;
    for (unsigned i = 0; i < NSEEDS; i++)
        for (unsigned j = 0; j < NSEEDS; j++)
            ssum = ssum * 3 + (uint64_t)selects(seeds[i] - 4, seeds[j] - 2);
    printf("selects %lx\n", ssum);

    static volatile uint64_t bits[] = {0, 1, 0x20, 0x8000000000000000ULL,
                                       0xffffffff00000000ULL, 0x1234};
    for (unsigned i = 0; i < sizeof bits / sizeof bits[0]; i++)
        printf("bit_tests(%lx) = %d\n", bits[i], bit_tests(bits[i]));

    // A loop whose trip count comes from memory, with an early exit.
    unsigned steps = 0;
    uint64_t n = 27;
    while (n != 1 && steps < 1000) {
        n = (n & 1) ? 3 * n + 1 : n >> 1;
        steps++;
    }
    printf("collatz(27) steps %u\n", steps);

    puts("branches done");
    return 0;
}
