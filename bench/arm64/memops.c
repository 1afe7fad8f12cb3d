// Benchmark: memcpy/memmove/memset-heavy work over a few megabytes with
// mixed sizes and alignments: wide aligned copies, byte-at-a-time
// misaligned copies, overlapping moves and fills. Stresses the emulated
// load/store path rather than ALU throughput.
#include "rt.h"

#ifndef ARENA
#define ARENA (4u << 20)
#endif
#ifndef ROUNDS
#define ROUNDS 56
#endif

static uint8_t src[ARENA], dst[ARENA];

static uint64_t checksum_words(const uint8_t *p, size_t n)
{
    const uint64_t *w = (const uint64_t *)p;
    uint64_t h = 0;
    for (size_t i = 0; i < n / 8; i += 61)
        h = (h ^ w[i]) * 0x100000001b3ULL;
    return h;
}

int main(void)
{
    uint64_t rng = 0x5eed;
    for (size_t i = 0; i < ARENA; i += 8) {
        uint64_t v = rt_rand_next(&rng);
        memcpy(&src[i], &v, 8);
    }

    uint64_t checksum = 0;
    for (int round = 0; round < ROUNDS; round++) {
        // Bulk aligned copy.
        memcpy(dst, src, ARENA);
        // Many medium copies at assorted (mis)alignments.
        for (size_t off = 0; off + 4096 + 64 < ARENA; off += 4099) {
            size_t len = 64 + (off & 2047);
            memcpy(dst + off + (round & 7), src + off + 3, len);
        }
        // Overlapping moves in both directions.
        memmove(dst + 1000, dst, ARENA / 2);
        memmove(dst + 17, dst + 4096, ARENA / 4);
        // Fills of varying lengths.
        for (size_t off = 0; off + 8192 < ARENA; off += 65536)
            memset(dst + off + round, (int)(off >> 16), 5000 + round);
        memset(src + ARENA / 2, round, ARENA / 8);
        checksum = checksum * 31 + checksum_words(dst, ARENA);
        checksum ^= memcmp(dst, src, 4096) + 0x100;
    }
    printf("memops bench: %u bytes x %d rounds, checksum %lx\n", ARENA, ROUNDS,
           checksum);
    return 0;
}
