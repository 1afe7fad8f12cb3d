// Integer arithmetic: add/sub/mul/div in 32 and 64 bits, wraparound,
// high multiplies, count/reverse bit ops, shifts and rotates. Operands come
// from volatile storage so gcc cannot fold the operations away.
#include "rt.h"

static volatile uint64_t v64[] = {
    0, 1, 2, 3, 7, 0xff, 0x7fffffffffffffffULL, 0x8000000000000000ULL,
    0xffffffffffffffffULL, 0x123456789abcdef0ULL, 0xfedcba9876543210ULL,
    0x00000000ffffffffULL, 0x0000000080000000ULL, 12345678901234ULL,
    0xdeadbeefULL, 0x5555555555555555ULL,
};
#define N64 (sizeof v64 / sizeof v64[0])

static volatile uint32_t v32[] = {
    0, 1, 2, 5, 0x7fffffff, 0x80000000u, 0xffffffffu, 0x12345678u,
    0xdeadbeefu, 1000000007u, 0xaaaaaaaau, 65536,
};
#define N32 (sizeof v32 / sizeof v32[0])

// Division through the instructions themselves: C leaves x/0 and
// INT_MIN/-1 undefined, the architecture defines them (x/0 == 0).
static inline uint64_t udiv64(uint64_t a, uint64_t b)
{
    uint64_t r;
    __asm__("udiv %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

static inline int64_t sdiv64(int64_t a, int64_t b)
{
    int64_t r;
    __asm__("sdiv %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

static inline uint32_t udiv32(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("udiv %w0, %w1, %w2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

static inline int32_t sdiv32(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("sdiv %w0, %w1, %w2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

static inline uint64_t ror64(uint64_t x, unsigned n)
{
    n &= 63;
    return n ? (x >> n) | (x << (64 - n)) : x;
}

static inline uint32_t ror32(uint32_t x, unsigned n)
{
    n &= 31;
    return n ? (x >> n) | (x << (32 - n)) : x;
}

static inline uint64_t rbit64(uint64_t x)
{
    uint64_t r;
    __asm__("rbit %0, %1" : "=r"(r) : "r"(x));
    return r;
}

static inline uint32_t rbit32(uint32_t x)
{
    uint32_t r;
    __asm__("rbit %w0, %w1" : "=r"(r) : "r"(x));
    return r;
}

static inline uint32_t rev16_32(uint32_t x)
{
    uint32_t r;
    __asm__("rev16 %w0, %w1" : "=r"(r) : "r"(x));
    return r;
}

// Shift by a register without masking in C, to see the hardware's modulo.
static inline uint64_t lslv64(uint64_t x, uint64_t n)
{
    uint64_t r;
    __asm__("lsl %0, %1, %2" : "=r"(r) : "r"(x), "r"(n));
    return r;
}

static inline uint32_t lslv32(uint32_t x, uint32_t n)
{
    uint32_t r;
    __asm__("lsl %w0, %w1, %w2" : "=r"(r) : "r"(x), "r"(n));
    return r;
}

// FNV-1a style mixing so a whole table of results shrinks to one number.
static uint64_t mix(uint64_t h, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        h ^= (v >> (8 * i)) & 0xff;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void test_named(void)
{
    uint64_t a = v64[9], b = v64[10];
    uint32_t c = v32[7], d = v32[8];

    printf("add64 %lx sub64 %lx mul64 %lx\n", a + b, a - b, a * b);
    printf("add32 %x sub32 %x mul32 %x\n", c + d, c - d, c * d);
    printf("wrap64 %lx wrap32 %x\n", v64[8] + v64[1], v32[6] + v32[1]);
    printf("smax+1 %ld\n", (int64_t)(v64[6] + v64[1]));
    printf("neg %ld %d\n", -(int64_t)v64[13], -(int32_t)v32[9]);

    printf("udiv64 %lx urem64 %lx\n", a / v64[4], a % v64[4]);
    printf("sdiv64 %ld srem64 %ld\n", (int64_t)b / (int64_t)v64[4],
           (int64_t)b % (int64_t)v64[4]);
    printf("udiv32 %u sdiv32 %d srem32 %d\n", d / v32[3],
           (int32_t)d / (int32_t)v32[3], (int32_t)d % (int32_t)v32[3]);
    printf("div0: %lx %ld %x %d\n", udiv64(a, v64[0]), sdiv64(-5, v64[0]),
           udiv32(c, v32[0]), sdiv32(-5, v32[0]));
    printf("min/-1: %lx %x\n", (uint64_t)sdiv64(v64[7], -1),
           (uint32_t)sdiv32(v32[5], -1));

    unsigned __int128 up = (unsigned __int128)a * b;
    __int128 sp = (__int128)(int64_t)a * (int64_t)b;
    printf("umulh %lx lo %lx\n", (uint64_t)(up >> 64), (uint64_t)up);
    printf("smulh %lx\n", (uint64_t)((unsigned __int128)sp >> 64));
    printf("umull %lx smull %lx\n", (uint64_t)c * d,
           (uint64_t)((int64_t)(int32_t)c * (int32_t)d));
    printf("madd %lx msub %lx\n", a * b + v64[13], v64[13] - a * b);

    printf("clz %d %d %d\n", __builtin_clzll(v64[12]), __builtin_clz(v32[11]),
           __builtin_clzll(v64[1]));
    printf("ctz %d %d\n", __builtin_ctzll(v64[9]), __builtin_ctz(v32[11]));
    printf("popcount %d %d\n", __builtin_popcountll(v64[9]),
           __builtin_popcount(v32[8]));
    printf("clrsb %d %d\n", __builtin_clrsbll(v64[15]),
           __builtin_clrsb((int32_t)v32[6]));
    printf("rbit %lx %x\n", rbit64(a), rbit32(c));
    printf("rev %lx %x rev16 %x\n", __builtin_bswap64(a),
           __builtin_bswap32(c), rev16_32(c));
    printf("ror %lx %x\n", ror64(a, v64[4]), ror32(c, v32[3]));
    printf("shifts %lx %lx %lx\n", a << v64[4], a >> v64[4],
           (uint64_t)((int64_t)b >> v64[4]));
    // Register shift amounts use only the low 5/6 bits (LSLV & co).
    printf("lslv-mod %lx %x\n", lslv64(a, 68), lslv32(c, 36));
}

// Every operation over every operand pair, folded into one checksum per
// operation group; catches corner cases the named tests miss.
static void test_table(void)
{
    uint64_t h_add = 0, h_mul = 0, h_div = 0, h_sh = 0;
    uint64_t h_add32 = 0, h_mul32 = 0, h_div32 = 0, h_sh32 = 0;

    for (unsigned i = 0; i < N64; i++) {
        for (unsigned j = 0; j < N64; j++) {
            uint64_t a = v64[i], b = v64[j];
            h_add = mix(h_add, a + b);
            h_add = mix(h_add, a - b);
            h_add = mix(h_add, (int64_t)a < (int64_t)b);
            h_add = mix(h_add, a < b);
            h_mul = mix(h_mul, a * b);
            h_mul = mix(h_mul, (uint64_t)(((unsigned __int128)a * b) >> 64));
            h_mul = mix(h_mul,
                        (uint64_t)(((__int128)(int64_t)a * (int64_t)b) >> 64));
            h_div = mix(h_div, udiv64(a, b));
            h_div = mix(h_div, (uint64_t)sdiv64(a, b));
            h_div = mix(h_div, a - udiv64(a, b) * b);
            h_sh = mix(h_sh, lslv64(a, b));
            h_sh = mix(h_sh, a >> (b & 63));
            h_sh = mix(h_sh, (uint64_t)((int64_t)a >> (b & 63)));
            h_sh = mix(h_sh, ror64(a, b));
        }
    }
    for (unsigned i = 0; i < N32; i++) {
        for (unsigned j = 0; j < N32; j++) {
            uint32_t a = v32[i], b = v32[j];
            h_add32 = mix(h_add32, a + b);
            h_add32 = mix(h_add32, a - b);
            h_add32 = mix(h_add32, (int32_t)a < (int32_t)b);
            h_add32 = mix(h_add32, (uint64_t)a + b); // carry out
            h_mul32 = mix(h_mul32, a * b);
            h_mul32 = mix(h_mul32, (uint64_t)a * b);
            h_mul32 = mix(h_mul32, (uint64_t)((int64_t)(int32_t)a * (int32_t)b));
            h_div32 = mix(h_div32, udiv32(a, b));
            h_div32 = mix(h_div32, (uint32_t)sdiv32(a, b));
            h_sh32 = mix(h_sh32, lslv32(a, b));
            h_sh32 = mix(h_sh32, a >> (b & 31));
            h_sh32 = mix(h_sh32, (uint32_t)((int32_t)a >> (b & 31)));
            h_sh32 = mix(h_sh32, ror32(a, b));
        }
    }
    printf("table64 add %lx mul %lx div %lx shift %lx\n", h_add, h_mul, h_div,
           h_sh);
    printf("table32 add %lx mul %lx div %lx shift %lx\n", h_add32, h_mul32,
           h_div32, h_sh32);
}

// Add-with-carry chains (ADDS/ADCS, SUBS/SBCS) through 128-bit values.
static void test_carry(void)
{
    unsigned __int128 acc = 0;
    __int128 sacc = 0;
    for (unsigned i = 0; i < N64; i++) {
        unsigned __int128 x = ((unsigned __int128)v64[i] << 64) | v64[N64 - 1 - i];
        acc += x;
        acc -= (unsigned __int128)v64[(i * 7) % N64] * (i + 1);
        sacc -= (__int128)x;
    }
    printf("carry %lx %lx\n", (uint64_t)(acc >> 64), (uint64_t)acc);
    printf("sborrow %lx %lx\n", (uint64_t)((unsigned __int128)sacc >> 64),
           (uint64_t)sacc);
}

int main(void)
{
    puts("arith start");
    test_named();
    test_table();
    test_carry();
    puts("arith done");
    return 0;
}
