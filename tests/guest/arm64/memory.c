// Loads and stores: every width, signed and unsigned, all addressing modes
// (scaled/unscaled immediate, register offset with extend, pre/post index,
// pairs, PC-relative literals), struct copies and the runtime's mem*
// routines. All accesses are naturally aligned (MMU off => Device memory).
#include "rt.h"

static volatile uint8_t vbuf[256] __attribute__((aligned(16)));
static uint64_t words[64];

struct record {
    uint64_t id;
    int32_t score;
    int16_t delta;
    uint8_t flags;
    int8_t bias;
    uint64_t payload[5];
};

static struct record records[8];

static uint64_t hash_bytes(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void fill_pattern(volatile uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 37);
}

static void test_widths(void)
{
    fill_pattern(vbuf, sizeof vbuf, 0x81);
    volatile uint8_t *b = vbuf;
    volatile int8_t *sb = (volatile int8_t *)vbuf;
    volatile uint16_t *h = (volatile uint16_t *)vbuf;
    volatile int16_t *sh = (volatile int16_t *)vbuf;
    volatile uint32_t *w = (volatile uint32_t *)vbuf;
    volatile int32_t *sw = (volatile int32_t *)vbuf;
    volatile uint64_t *d = (volatile uint64_t *)vbuf;

    printf("u8 %u %u s8 %d %d\n", b[0], b[3], sb[0], sb[3]);
    printf("u16 %u %u s16 %d %d\n", h[0], h[5], sh[0], sh[5]);
    printf("u32 %x %x s32 %d %d\n", w[0], w[7], sw[0], sw[7]);
    printf("u64 %lx %lx\n", d[0], d[9]);
    // Sign-extending loads straight into 64-bit values (LDRSB/LDRSH/LDRSW
    // to X registers).
    int64_t wide = (int64_t)sb[1] + (int64_t)sh[1] + (int64_t)sw[1];
    printf("widened %ld\n", wide);

    // Stores of each width into a fresh area, read back as 64-bit words.
    b[128] = 0xfe;
    h[65] = 0xbeef;
    w[33] = 0xcafef00d;
    d[17] = 0x0123456789abcdefULL;
    b[129] = 0x11;
    printf("stored %lx %lx\n", d[16], d[17]);
}

static void test_indexing(void)
{
    for (unsigned i = 0; i < 64; i++)
        words[i] = (uint64_t)i * 0x0101010101010101ULL ^ 0xa5;

    // Register offsets with scaling and sign/zero extension of the index.
    volatile int32_t idx_s = -3;
    volatile uint32_t idx_u = 40;
    uint64_t *mid = &words[32];
    printf("reg-offset %lx %lx %lx\n", mid[idx_s], words[idx_u],
           mid[(int64_t)idx_s * 2]);

    uint64_t r1, r2, r3, r4, r5;
    uint64_t *p = &words[4];
    __asm__ volatile(
        "ldr  %0, [%5, #8]!\n\t" // pre-index: p += 1 word, then load
        "ldr  %1, [%5], #16\n\t" // post-index: load, then p += 2 words
        "ldur %2, [%5, #-24]\n\t" // unscaled negative offset
        "ldp  %3, %4, [%5, #-16]!\n\t"
        : "=&r"(r1), "=&r"(r2), "=&r"(r3), "=&r"(r4), "=&r"(r5), "+r"(p)
        :
        : "memory");
    printf("pre %lx post %lx ldur %lx ldp %lx %lx at %ld\n", r1, r2, r3, r4, r5,
           (long)(p - words));

    int64_t s1, s2;
    int32_t pairs[2] = {-5, 0x7fffffff};
    __asm__ volatile("ldpsw %0, %1, [%2]"
                     : "=r"(s1), "=r"(s2)
                     : "r"(pairs)
                     : "memory");
    printf("ldpsw %ld %ld\n", s1, s2);

    uint64_t *q = &words[50];
    __asm__ volatile(
        "stp %1, %2, [%0], #16\n\t"
        "str %w3, [%0, #-4]\n\t"
        "strh %w3, [%0, #-6]\n\t"
        "strb %w3, [%0, #-7]!\n\t"
        : "+r"(q)
        : "r"(0x1111111111111111ULL), "r"(0x2222222222222222ULL),
          "r"(0x33445566u)
        : "memory");
    printf("stores %lx %lx at +%ld\n", words[50], words[51],
           (long)((uint8_t *)q - (uint8_t *)&words[50]));

    // A PC-relative literal load (LDR Xt, =imm puts imm in a literal pool).
    uint64_t lit;
    __asm__ volatile("ldr %0, =0x0badc0ffee0ddf00d" : "=r"(lit));
    printf("literal %lx\n", lit);

    // Walk with post-increment both ways.
    uint64_t sum = 0;
    for (uint64_t *it = words; it < words + 64; it += 3)
        sum += *it;
    for (uint64_t *it = words + 63; it >= words; it -= 5)
        sum ^= *it << 1;
    printf("walk %lx\n", sum);
}

static void test_structs(void)
{
    for (unsigned i = 0; i < 8; i++) {
        struct record *r = &records[i];
        r->id = 1000 + i;
        r->score = (int32_t)(i * 1000003) - 4000000;
        r->delta = (int16_t)(i * 9999 - 30000);
        r->flags = (uint8_t)(0xf0 | i);
        r->bias = (int8_t)(i * 40 - 128);
        for (unsigned k = 0; k < 5; k++)
            r->payload[k] = (uint64_t)i << (k * 8) | k;
    }
    // Whole-struct assignment and rotation (LDP/STP or Q-register copies).
    struct record tmp = records[0];
    for (unsigned i = 0; i < 7; i++)
        records[i] = records[i + 1];
    records[7] = tmp;

    int64_t total = 0;
    for (unsigned i = 0; i < 8; i++)
        total += records[i].score + records[i].delta + records[i].bias +
                 records[i].flags;
    printf("records hash %lx total %ld first id %lu\n",
           hash_bytes(records, sizeof records), total, records[0].id);
}

static void test_mem_routines(void)
{
    static uint8_t src[300], dst[300];
    for (unsigned i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i * 7 + 3);

    uint64_t h = 0;
    // Every (dst offset, src offset, length) mix of alignments.
    for (unsigned doff = 0; doff < 8; doff++) {
        for (unsigned soff = 0; soff < 8; soff++) {
            for (unsigned len = 0; len < 80; len += 13) {
                memset(dst, 0xcc, sizeof dst);
                memcpy(dst + doff, src + soff, len);
                h = h * 31 + hash_bytes(dst, 100);
            }
        }
    }
    printf("memcpy sweep %lx\n", h);

    memcpy(dst, src, sizeof dst);
    memmove(dst + 3, dst, 200);      // overlap, forward
    memmove(dst + 40, dst + 48, 100); // overlap, backward-safe
    memmove(dst + 16, dst, 64);       // same alignment, overlapping
    printf("memmove %lx\n", hash_bytes(dst, sizeof dst));

    memset(dst + 1, 0x5a, 133);
    memset(dst + 200, 0, 77);
    printf("memset %lx\n", hash_bytes(dst, sizeof dst));
    printf("memcmp %d %d %d\n", memcmp(src, src, 50),
           memcmp(src, dst, 50) > 0, memcmp(dst, src, 50) > 0);
}

int main(void)
{
    puts("memory start");
    test_widths();
    test_indexing();
    test_structs();
    test_mem_routines();
    puts("memory done");
    return 0;
}
