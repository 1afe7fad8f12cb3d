// Benchmark: quicksort of large pseudo-random arrays, several rounds with
// different key distributions. Unpredictable compare branches, swaps and
// recursion.
#include "rt.h"
#include "sort.h"

#ifndef NKEYS
#define NKEYS (1u << 20)
#endif
#ifndef ROUNDS
#define ROUNDS 9
#endif

static uint64_t keys[NKEYS];

int main(void)
{
    uint64_t rng = 0xfeedface12345678ULL;
    uint64_t checksum = 0;
    for (int round = 0; round < ROUNDS; round++) {
        // Alternate full-range keys with narrow ranges full of duplicates.
        unsigned shift = (round & 1) ? 48 : 0;
        for (size_t i = 0; i < NKEYS; i++)
            keys[i] = rt_rand_next(&rng) >> shift;
        quicksort_u64(keys, NKEYS);
        if (!is_sorted_u64(keys, NKEYS)) {
            printf("quicksort bench: round %d NOT SORTED\n", round);
            return 1;
        }
        for (size_t i = 0; i < NKEYS; i += 97)
            checksum = checksum * 31 + keys[i];
    }
    printf("quicksort bench: %u keys x %d rounds, checksum %lx\n", NKEYS,
           ROUNDS, checksum);
    return 0;
}
