// Benchmark: the mixed workload: alternating quicksort of key arrays and
// SHA-256 of the sorted keys, so both workloads' code stay hot together.
#include "rt.h"
#include "sha256.h"
#include "sort.h"

#ifndef NKEYS
#define NKEYS (1u << 18)
#endif
#ifndef ROUNDS
#define ROUNDS 24
#endif

static uint64_t keys[NKEYS];

int main(void)
{
    uint64_t rng = 0xabcdef0123456789ULL;
    uint8_t digest[32] = {0};
    for (int round = 0; round < ROUNDS; round++) {
        uint64_t salt;
        memcpy(&salt, digest, sizeof salt);
        for (size_t i = 0; i < NKEYS; i++)
            keys[i] = rt_rand_next(&rng) ^ salt;
        quicksort_u64(keys, NKEYS);
        sha256(keys, sizeof keys, digest);
    }
    printf("sha_sort bench: %u keys x %d rounds, digest ", NKEYS, ROUNDS);
    for (int i = 0; i < 32; i++)
        printf("%02x", digest[i]);
    putchar('\n');
    return 0;
}
