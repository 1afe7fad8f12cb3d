// Atomic operations as ARMv8.0 builds them (no LSE): LDXR/STXR and
// LDAXR/STLXR retry loops, LDAR/STLR, barriers, and the exclusive
// monitor's architected behaviour (CLREX makes the next STXR fail).
#include "rt.h"

static uint8_t a8;
static uint16_t a16;
static uint32_t a32;
static uint64_t a64;
static uint64_t pair[2] __attribute__((aligned(16)));

static void test_fetch_ops(void)
{
    for (int i = 0; i < 1000; i++) {
        __atomic_fetch_add(&a8, 3, __ATOMIC_RELAXED);
        __atomic_fetch_add(&a16, 7, __ATOMIC_ACQUIRE);
        __atomic_fetch_add(&a32, 11, __ATOMIC_RELEASE);
        __atomic_fetch_add(&a64, 0x100000001ULL, __ATOMIC_SEQ_CST);
    }
    printf("add %u %u %u %lx\n", a8, a16, a32, a64);

    uint64_t old_sub = __atomic_fetch_sub(&a64, 5, __ATOMIC_ACQ_REL);
    uint64_t old_and = __atomic_fetch_and(&a64, 0xff00ff00ff00ff00ULL,
                                          __ATOMIC_SEQ_CST);
    uint64_t old_or = __atomic_fetch_or(&a64, 0x11, __ATOMIC_SEQ_CST);
    uint64_t old_xor = __atomic_fetch_xor(&a64, 0xffff, __ATOMIC_SEQ_CST);
    uint64_t nand = __atomic_nand_fetch(&a64, 0x0f0f, __ATOMIC_SEQ_CST);
    printf("old %lx %lx %lx %lx nand %lx final %lx\n", old_sub, old_and, old_or,
           old_xor, nand, a64);

    uint32_t prev = __atomic_exchange_n(&a32, 0xdeadbeef, __ATOMIC_SEQ_CST);
    uint8_t prev8 = __atomic_exchange_n(&a8, 0x80, __ATOMIC_ACQUIRE);
    printf("xchg %u %u now %x %x\n", prev, prev8, a32, a8);
    // Sub-word atomics must not disturb neighbours or sign-extend.
    uint8_t add8 = __atomic_add_fetch(&a8, 0x90, __ATOMIC_RELAXED);
    uint16_t sub16 = __atomic_sub_fetch(&a16, 0x9000, __ATOMIC_RELAXED);
    printf("narrow %u %u\n", add8, sub16);
}

static void test_cas(void)
{
    uint64_t v = 10;
    uint64_t expected = 10;
    int ok1 = __atomic_compare_exchange_n(&v, &expected, 20, 0,
                                          __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    expected = 10;
    int ok2 = __atomic_compare_exchange_n(&v, &expected, 30, 0,
                                          __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    printf("cas %d %d v %lu seen %lu\n", ok1, ok2, v, expected);

    // A CAS-based update loop (weak CAS may fail spuriously; loop handles it).
    uint32_t counter = 1;
    for (int i = 0; i < 500; i++) {
        uint32_t cur = __atomic_load_n(&counter, __ATOMIC_RELAXED);
        while (!__atomic_compare_exchange_n(&counter, &cur, cur * 3 + 1, 1,
                                            __ATOMIC_ACQ_REL,
                                            __ATOMIC_RELAXED))
            ;
    }
    printf("cas loop %x\n", counter);

    uint16_t h = 0xfffe;
    uint16_t eh = 0xfffe;
    int ok3 = __atomic_compare_exchange_n(&h, &eh, 0x1234, 0,
                                          __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    printf("cas16 %d %x\n", ok3, h);
}

static void test_acquire_release(void)
{
    static uint64_t flag, data;
    __atomic_store_n(&data, 0x1234, __ATOMIC_RELAXED);
    __atomic_store_n(&flag, 1, __ATOMIC_RELEASE); // STLR
    uint64_t f = __atomic_load_n(&flag, __ATOMIC_ACQUIRE); // LDAR
    uint64_t d = __atomic_load_n(&data, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST); // DMB ISH
    __asm__ volatile("dmb sy\n\tdsb sy\n\tisb" ::: "memory");
    printf("acq/rel %lu %lx\n", f, d);

    uint8_t lock = 0;
    int first = __atomic_test_and_set(&lock, __ATOMIC_ACQUIRE);
    int second = __atomic_test_and_set(&lock, __ATOMIC_ACQUIRE);
    __atomic_clear(&lock, __ATOMIC_RELEASE);
    printf("tas %d %d %d\n", first, second, lock);
}

static void test_monitor(void)
{
    uint64_t word = 5, loaded;
    uint32_t status;

    // Plain LDXR/STXR pair: must succeed (status 0).
    __asm__ volatile("ldxr %0, [%2]\n\t"
                     "add %0, %0, #1\n\t"
                     "stxr %w1, %0, [%2]"
                     : "=&r"(loaded), "=&r"(status)
                     : "r"(&word)
                     : "memory");
    printf("ldxr/stxr status %u word %lu\n", status, word);

    // CLREX puts the monitor in Open Access: the STXR must fail, no store.
    __asm__ volatile("ldxr %0, [%2]\n\t"
                     "clrex\n\t"
                     "stxr %w1, %0, [%2]"
                     : "=&r"(loaded), "=&r"(status)
                     : "r"(&word), "0"(99)
                     : "memory");
    printf("clrex stxr status %u word %lu\n", status, word);

    // 128-bit exclusive pair.
    uint64_t lo, hi;
    pair[0] = 0x1111;
    pair[1] = 0x2222;
    do {
        __asm__ volatile("ldaxp %0, %1, [%3]\n\t"
                         "add %0, %0, #1\n\t"
                         "add %1, %1, #2\n\t"
                         "stlxp %w2, %0, %1, [%3]"
                         : "=&r"(lo), "=&r"(hi), "=&r"(status)
                         : "r"(pair)
                         : "memory");
    } while (status != 0);
    printf("ldaxp/stlxp %lx %lx\n", pair[0], pair[1]);

    // Byte and halfword exclusives.
    uint8_t b = 0xf0;
    uint16_t hw = 0xfff0;
    uint32_t rb, rh;
    do {
        __asm__ volatile("ldxrb %w0, [%2]\n\t"
                         "add %w0, %w0, #0x20\n\t"
                         "stxrb %w1, %w0, [%2]"
                         : "=&r"(rb), "=&r"(status)
                         : "r"(&b)
                         : "memory");
    } while (status != 0);
    do {
        __asm__ volatile("ldaxrh %w0, [%2]\n\t"
                         "add %w0, %w0, #0x20\n\t"
                         "stlxrh %w1, %w0, [%2]"
                         : "=&r"(rh), "=&r"(status)
                         : "r"(&hw)
                         : "memory");
    } while (status != 0);
    printf("narrow exclusive %x %x\n", b, hw);
}

int main(void)
{
    puts("atomics start");
    test_fetch_ops();
    test_cas();
    test_acquire_release();
    test_monitor();
    puts("atomics done");
    return 0;
}
