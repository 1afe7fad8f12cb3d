// Quicksort of pseudo-random keys plus SHA-256 digests: long dependent
// integer chains, loops, loads/stores and calls, checked against known
// answers.
#include "rt.h"
#include "sha256.h"
#include "sort.h"

#define NKEYS 4096

static uint64_t keys[NKEYS];
static uint8_t message[10000];

static void print_digest(const char *label, const uint8_t d[32])
{
    printf("%s ", label);
    for (int i = 0; i < 32; i++)
        printf("%02x", d[i]);
    putchar('\n');
}

int main(void)
{
    puts("sort_hash start");

    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    uint64_t xor_before = 0, sum_before = 0;
    for (int i = 0; i < NKEYS; i++) {
        // Narrow the range sometimes so duplicates exercise the partition.
        keys[i] = rt_rand_next(&rng) >> (i % 3 == 0 ? 52 : 0);
        xor_before ^= keys[i];
        sum_before += keys[i];
    }
    quicksort_u64(keys, NKEYS);
    uint64_t xor_after = 0, sum_after = 0, weighted = 0;
    for (int i = 0; i < NKEYS; i++) {
        xor_after ^= keys[i];
        sum_after += keys[i];
        weighted = weighted * 1000003 + keys[i];
    }
    printf("sorted %d preserved %d\n", is_sorted_u64(keys, NKEYS),
           xor_before == xor_after && sum_before == sum_after);
    printf("min %lx max %lx median %lx weighted %lx\n", keys[0],
           keys[NKEYS - 1], keys[NKEYS / 2], weighted);

    uint8_t digest[32];
    // FIPS 180-4 known answers.
    sha256("abc", 3, digest);
    print_digest("sha256(abc)", digest);
    sha256("", 0, digest);
    print_digest("sha256()", digest);
    const char *two_block =
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256(two_block, strlen(two_block), digest);
    print_digest("sha256(448 bits)", digest);

    for (unsigned i = 0; i < sizeof message; i++)
        message[i] = (uint8_t)(i * i + (i >> 3));
    sha256(message, sizeof message, digest);
    print_digest("sha256(message)", digest);

    // Same message in odd-sized pieces must give the same digest.
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    for (size_t off = 0, step = 1; off < sizeof message; step = step * 3 + 1) {
        size_t n = step % 200;
        if (n > sizeof message - off)
            n = sizeof message - off;
        sha256_update(&ctx, message + off, n);
        off += n;
    }
    uint8_t digest2[32];
    sha256_final(&ctx, digest2);
    printf("incremental match %d\n", memcmp(digest, digest2, 32) == 0);

    // Hash the sorted keys, tying both halves together.
    sha256(keys, sizeof keys, digest);
    print_digest("sha256(keys)", digest);

    puts("sort_hash done");
    return 0;
}
