// Bitfield moves (UBFX/SBFX/BFI/BFXIL/UBFIZ/SBFIZ), EXTR, and sign/zero
// extension, reached through C bitfields and mask-and-shift idioms.
#include "rt.h"

static volatile uint64_t inputs[] = {
    0x0123456789abcdefULL, 0xfedcba9876543210ULL, 0x8000000000000001ULL,
    0x00000000ffff8000ULL, 0xffffffffffffffffULL, 0, 0x5a5a5a5aa5a5a5a5ULL,
    0x00000000000000ffULL, 0x0000000000008080ULL, 0x7fffffff80000000ULL,
};
#define N (sizeof inputs / sizeof inputs[0])

// A packed hardware-register-like layout; gcc reaches for BFI/UBFX/SBFX.
struct packed_reg {
    uint64_t enable : 1;
    uint64_t mode : 3;
    int64_t offset : 12;
    uint64_t addr : 36;
    int64_t delta : 7;
    uint64_t tag : 5;
};

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h;
}

static __attribute__((noinline)) uint64_t extract_u(uint64_t x, unsigned lsb,
                                                    unsigned width)
{
    return (x >> lsb) & ((width == 64) ? ~0ULL : ((1ULL << width) - 1));
}

static __attribute__((noinline)) int64_t extract_s(uint64_t x, unsigned lsb,
                                                   unsigned width)
{
    // Move the field to the top, then arithmetic-shift it back down.
    return (int64_t)(x << (64 - lsb - width)) >> (64 - width);
}

static __attribute__((noinline)) uint64_t insert(uint64_t dst, uint64_t src,
                                                 unsigned lsb, unsigned width)
{
    uint64_t mask = ((width == 64) ? ~0ULL : ((1ULL << width) - 1)) << lsb;
    return (dst & ~mask) | ((src << lsb) & mask);
}

static void test_fixed_fields(void)
{
    uint64_t x = inputs[0], y = inputs[1];
    // Constant positions compile to single UBFX/SBFX/BFI/BFXIL/EXTR ops.
    printf("ubfx %lx %lx\n", (x >> 12) & 0xfff, (y >> 60) & 0xf);
    printf("sbfx %ld %ld\n", (int64_t)(x << 40) >> 52,
           (int64_t)(y << 4) >> 56);
    printf("bfi %lx\n", (x & ~(0xffUL << 16)) | ((y & 0xff) << 16));
    printf("bfxil %lx\n", (x & ~0xffffUL) | ((y >> 20) & 0xffff));
    printf("ubfiz %lx sbfiz %lx\n", (x & 0x3ff) << 7,
           (uint64_t)((int64_t)(int16_t)y << 9));
    printf("extr %lx %lx\n", (x << 24) | (y >> 40), (x >> 8) | (x << 56));
    printf("extr32 %x\n", ((uint32_t)x << 5) | ((uint32_t)y >> 27));
}

static void test_extension(void)
{
    for (unsigned i = 0; i < N; i++) {
        uint64_t v = inputs[i];
        printf("ext %016lx: sb %ld sh %ld sw %ld ub %lu uh %lu uw %lu\n", v,
               (int64_t)(int8_t)v, (int64_t)(int16_t)v, (int64_t)(int32_t)v,
               (uint64_t)(uint8_t)v, (uint64_t)(uint16_t)v,
               (uint64_t)(uint32_t)v);
    }
    // 32-bit results must zero the upper half of the X register.
    uint32_t w = (uint32_t)inputs[4] + 1;
    uint64_t widened = w;
    printf("w-zero-extend %lx\n", widened);
}

static void test_struct_fields(void)
{
    struct packed_reg r;
    uint64_t h = 0;
    for (unsigned i = 0; i < N; i++) {
        __builtin_memcpy(&r, (const void *)&inputs[i], sizeof r);
        h = mix(h, r.enable);
        h = mix(h, r.mode);
        h = mix(h, (uint64_t)r.offset);
        h = mix(h, r.addr);
        h = mix(h, (uint64_t)r.delta);
        h = mix(h, r.tag);
        r.offset -= 3;
        r.delta = r.delta * 5;
        r.mode ^= 5;
        r.addr += 0x12345;
        r.tag = i;
        uint64_t raw;
        __builtin_memcpy(&raw, &r, sizeof raw);
        h = mix(h, raw);
        if (i < 3)
            printf("struct[%u] off %ld delta %ld addr %lx raw %016lx\n", i,
                   (int64_t)r.offset, (int64_t)r.delta, (uint64_t)r.addr, raw);
    }
    printf("struct hash %lx\n", h);
}

static void test_sweep(void)
{
    uint64_t hu = 0, hs = 0, hi = 0;
    for (unsigned i = 0; i < N; i++) {
        for (unsigned width = 1; width <= 64; width += 7) {
            for (unsigned lsb = 0; lsb + width <= 64; lsb += 5) {
                uint64_t x = inputs[i];
                hu = mix(hu, extract_u(x, lsb, width));
                hs = mix(hs, (uint64_t)extract_s(x, lsb, width));
                hi = mix(hi, insert(x, inputs[(i + 3) % N], lsb, width));
            }
        }
    }
    printf("sweep u %lx s %lx i %lx\n", hu, hs, hi);
}

int main(void)
{
    puts("bitfield start");
    test_fixed_fields();
    test_extension();
    test_struct_fields();
    test_sweep();
    puts("bitfield done");
    return 0;
}
