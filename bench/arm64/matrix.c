// Benchmark: integer matrix multiply (i-k-j order) repeated with the
// result fed back in. Tight inner loops of loads, multiply-adds and stores;
// gcc vectorizes part of it, so NEON integer ops get exercised too.
#include "rt.h"

#ifndef N
#define N 256
#endif
#ifndef ROUNDS
#define ROUNDS 32
#endif

static uint32_t a[N][N], b[N][N], c[N][N];

static void multiply(void)
{
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++)
            c[i][j] = 0;
        for (int k = 0; k < N; k++) {
            uint32_t aik = a[i][k];
            for (int j = 0; j < N; j++)
                c[i][j] += aik * b[k][j];
        }
    }
}

int main(void)
{
    uint64_t rng = 42;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            a[i][j] = (uint32_t)rt_rand_next(&rng) & 0xffff;
            b[i][j] = (uint32_t)rt_rand_next(&rng) & 0xffff;
        }

    uint64_t checksum = 0;
    for (int round = 0; round < ROUNDS; round++) {
        multiply();
        // Feed back: A <- C with a twist so rounds differ.
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                a[i][j] = (c[i][j] >> 3) ^ (uint32_t)(i * j + round);
        for (int i = 0; i < N; i++)
            checksum = checksum * 1000003 + c[i][(i * 7) % N];
    }
    printf("matrix bench: %dx%d x %d rounds, checksum %lx\n", N, N, ROUNDS,
           checksum);
    return 0;
}
