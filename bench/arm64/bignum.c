// Benchmark: modular exponentiation of 2048-bit numbers by Montgomery multiplication with 64-bit
// limbs, as an RSA signature check does (the Linux kernel verifies its built-in certificates
// this way at boot): 64x64->128-bit multiplies and add-with-carry chains.
#include "rt.h"

#ifndef LIMBS
#define LIMBS 32
#endif
#ifndef EXPS
#define EXPS 32
#endif

typedef unsigned __int128 u128;

// t = a * b / 2^(64*LIMBS) mod m (CIOS), with a, b < m; minv = -m^-1 mod 2^64.
static void mont_mul(uint64_t *out, const uint64_t *a, const uint64_t *b, const uint64_t *m,
                     uint64_t minv)
{
    uint64_t t[LIMBS + 2];
    for (int i = 0; i < LIMBS + 2; i++)
        t[i] = 0;
    for (int i = 0; i < LIMBS; i++) {
        uint64_t c = 0;
        for (int j = 0; j < LIMBS; j++) {
            u128 p = (u128)a[j] * b[i] + t[j] + c;
            t[j] = (uint64_t)p;
            c = (uint64_t)(p >> 64);
        }
        u128 s = (u128)t[LIMBS] + c;
        t[LIMBS] = (uint64_t)s;
        t[LIMBS + 1] = (uint64_t)(s >> 64);
        uint64_t q = t[0] * minv;
        u128 p = (u128)q * m[0] + t[0];
        c = (uint64_t)(p >> 64);
        for (int j = 1; j < LIMBS; j++) {
            p = (u128)q * m[j] + t[j] + c;
            t[j - 1] = (uint64_t)p;
            c = (uint64_t)(p >> 64);
        }
        s = (u128)t[LIMBS] + c;
        t[LIMBS - 1] = (uint64_t)s;
        t[LIMBS] = t[LIMBS + 1] + (uint64_t)(s >> 64);
    }
    // One subtraction of m at most brings the result below m.
    int ge = t[LIMBS] != 0;
    if (!ge) {
        ge = 1;
        for (int j = LIMBS - 1; j >= 0; j--)
            if (t[j] != m[j]) {
                ge = t[j] > m[j];
                break;
            }
    }
    uint64_t borrow = 0;
    for (int j = 0; j < LIMBS; j++) {
        uint64_t d = t[j] - (ge ? m[j] : 0);
        uint64_t b2 = t[j] < (ge ? m[j] : 0) || (d == 0 && borrow);
        out[j] = d - borrow;
        borrow = b2;
    }
}

static uint64_t m[LIMBS], base[LIMBS], e[LIMBS], x[LIMBS], acc[LIMBS];

int main(void)
{
    uint64_t rng = 0x243f6a8885a308d3ULL;
    uint64_t checksum = 0;
    for (int round = 0; round < EXPS; round++) {
        for (int j = 0; j < LIMBS; j++) {
            m[j] = rt_rand_next(&rng);
            base[j] = rt_rand_next(&rng);
            e[j] = rt_rand_next(&rng);
        }
        m[0] |= 1;
        m[LIMBS - 1] |= 1ULL << 63;
        base[LIMBS - 1] >>= 1;  // below m
        uint64_t inv = m[0];    // m^-1 mod 2^64 by Newton's iteration
        for (int k = 0; k < 6; k++)
            inv *= 2 - m[0] * inv;
        const uint64_t minv = -inv;
        // base^e in the Montgomery domain: squares and multiplies from the top bit down. The
        // accumulator starts at base (its top bit of e taken as set).
        for (int j = 0; j < LIMBS; j++)
            acc[j] = x[j] = base[j];
        for (int bit = 64 * LIMBS - 2; bit >= 0; bit--) {
            mont_mul(acc, acc, acc, m, minv);
            if ((e[bit / 64] >> (bit % 64)) & 1)
                mont_mul(acc, acc, x, m, minv);
        }
        for (int j = 0; j < LIMBS; j++)
            checksum = checksum * 31 + acc[j];
    }
    printf("bignum bench: %d-bit x %d exponentiations, checksum %lx\n", 64 * LIMBS, EXPS,
           checksum);
    return 0;
}
