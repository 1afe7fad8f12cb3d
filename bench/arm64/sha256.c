// Benchmark: SHA-256 over a multi-megabyte buffer, several passes, each
// pass's digest feeding into the buffer so no pass can be skipped.
// Dominated by 32-bit rotates, adds and logic ops in long dependent chains.
#include "rt.h"
#include "sha256.h"

#ifndef BUF_SIZE
#define BUF_SIZE (4u << 20)
#endif
#ifndef PASSES
#define PASSES 32
#endif

static uint8_t buf[BUF_SIZE];

int main(void)
{
    uint64_t rng = 0x0123456789abcdefULL;
    for (size_t i = 0; i < BUF_SIZE; i += 8) {
        uint64_t v = rt_rand_next(&rng);
        memcpy(&buf[i], &v, 8);
    }

    uint8_t digest[32];
    for (int pass = 0; pass < PASSES; pass++) {
        sha256(buf, BUF_SIZE, digest);
        memcpy(&buf[(pass * 4096) % (BUF_SIZE - 32)], digest, 32);
    }

    printf("sha256 bench: %u bytes x %d passes, digest ", BUF_SIZE, PASSES);
    for (int i = 0; i < 32; i++)
        printf("%02x", digest[i]);
    putchar('\n');
    return 0;
}
