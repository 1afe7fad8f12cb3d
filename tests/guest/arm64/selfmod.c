// Self-modifying code: instructions are written to a RAM buffer, made
// visible with the architected cache maintenance sequence, executed, then
// overwritten and executed again. An emulator that caches translations
// must notice every rewrite.
#include "rt.h"

static uint32_t code[256] __attribute__((aligned(64)));

// A64 encodings used below.
#define MOVZ_W(rd, imm) (0x52800000u | ((uint32_t)(imm) << 5) | (rd))
#define ADD_W_IMM(rd, rn, imm) \
    (0x11000000u | ((uint32_t)(imm) << 10) | ((rn) << 5) | (rd))
#define SUBS_W_IMM(rd, rn, imm) \
    (0x71000000u | ((uint32_t)(imm) << 10) | ((rn) << 5) | (rd))
#define B_NE(words) (0x54000001u | (((uint32_t)(words) & 0x7ffff) << 5))
#define B(words) (0x14000000u | ((uint32_t)(words) & 0x3ffffff))
#define RET 0xd65f03c0u

typedef uint32_t (*code_fn)(uint32_t);

// The ARMv8 recipe for publishing new instructions: clean D-cache lines to
// the point of unification, invalidate the matching I-cache lines, then a
// context synchronisation.
static void sync_icache(const void *start, size_t len)
{
    uint64_t ctr = READ_SYSREG(ctr_el0);
    uintptr_t dline = 4u << ((ctr >> 16) & 0xf);
    uintptr_t iline = 4u << (ctr & 0xf);
    uintptr_t begin = (uintptr_t)start, end = begin + len;

    for (uintptr_t p = begin & ~(dline - 1); p < end; p += dline)
        __asm__ volatile("dc cvau, %0" : : "r"(p) : "memory");
    __asm__ volatile("dsb ish" ::: "memory");
    for (uintptr_t p = begin & ~(iline - 1); p < end; p += iline)
        __asm__ volatile("ic ivau, %0" : : "r"(p) : "memory");
    __asm__ volatile("dsb ish\n\tisb" ::: "memory");
}

static uint32_t call_at(unsigned index, uint32_t arg)
{
    code_fn fn = (code_fn)(uintptr_t)&code[index];
    return fn(arg);
}

static void emit_constant_fn(unsigned at, uint32_t value)
{
    code[at] = MOVZ_W(0, value);
    code[at + 1] = RET;
    sync_icache(&code[at], 8);
}

int main(void)
{
    puts("selfmod start");

    emit_constant_fn(0, 1);
    printf("first %u\n", call_at(0, 0));
    emit_constant_fn(0, 2);
    printf("second %u\n", call_at(0, 0));

    // Repatch the same slot many times, calling in between.
    uint32_t sum = 0;
    for (uint32_t i = 0; i < 300; i++) {
        emit_constant_fn(0, i * 7 + 3);
        sum += call_at(0, 0);
    }
    printf("repatch sum %u\n", sum);

    // A function with a loop: w0 += K, N times. Patch only the ADD's
    // immediate in the middle, leaving its neighbours untouched.
    code[16] = MOVZ_W(1, 10);
    code[17] = ADD_W_IMM(0, 0, 5);
    code[18] = SUBS_W_IMM(1, 1, 1);
    code[19] = B_NE(-2);
    code[20] = RET;
    sync_icache(&code[16], 5 * 4);
    uint32_t loop_a = call_at(16, 100);
    code[17] = ADD_W_IMM(0, 0, 300);
    sync_icache(&code[17], 4);
    uint32_t loop_b = call_at(16, 100);
    printf("loop %u %u\n", loop_a, loop_b);

    // Redirect a branch: code[32] jumps to one of two constant functions.
    emit_constant_fn(40, 111);
    emit_constant_fn(48, 222);
    code[32] = B(40 - 32);
    sync_icache(&code[32], 4);
    uint32_t via_a = call_at(32, 0);
    code[32] = B(48 - 32);
    sync_icache(&code[32], 4);
    uint32_t via_b = call_at(32, 0);
    printf("branch retarget %u %u\n", via_a, via_b);

    // Whole-I-cache invalidation instead of by-address.
    code[64] = MOVZ_W(0, 77);
    code[65] = RET;
    __asm__ volatile("dc cvau, %0\n\tdsb ish\n\tic iallu\n\tdsb ish\n\tisb"
                     : : "r"(&code[64]) : "memory");
    uint32_t iallu_a = call_at(64, 0);
    code[64] = MOVZ_W(0, 78);
    __asm__ volatile("dc cvau, %0\n\tdsb ish\n\tic iallu\n\tdsb ish\n\tisb"
                     : : "r"(&code[64]) : "memory");
    printf("ic iallu %u %u\n", iallu_a, call_at(64, 0));

    // Generate a long straight-line function, run it, then rewrite every
    // other instruction and run it again.
    unsigned base = 128, n = 100;
    for (unsigned i = 0; i < n; i++)
        code[base + i] = ADD_W_IMM(0, 0, i + 1);
    code[base + n] = RET;
    sync_icache(&code[base], (n + 1) * 4);
    uint32_t long_a = call_at(base, 0);
    for (unsigned i = 0; i < n; i += 2)
        code[base + i] = ADD_W_IMM(0, 0, 1000);
    sync_icache(&code[base], n * 4);
    uint32_t long_b = call_at(base, 0);
    printf("long %u %u\n", long_a, long_b);

    puts("selfmod done");
    return 0;
}
