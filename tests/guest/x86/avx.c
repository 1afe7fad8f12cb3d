// AVX, AVX2, FMA, F16C, BMI1/BMI2, ADX, MOVBE and VEX-encoded AES/PCLMUL
// results in long mode (-cpu max; QEMU 7.2's TCG implements all of
// these, but not the SHA extensions, which raise #UD there). 256-bit results are printed as four 64-bit lanes, high first.
// The C code is built without -mavx, so every AVX instruction is in the
// asm blocks, after CR4.OSXSAVE and XCR0 enable the YMM state.
#include "rt.h"

typedef uint64_t y4[4];

static const y4 A = {0x0123456789abcdefull, 0xfedcba9876543210ull,
                     0x8000000180000002ull, 0x7fffffff00000003ull};
static const y4 B = {0x7f80ff0001fe8001ull, 0x00ff7f80fffe0102ull,
                     0x0000000300000001ull, 0x0000000700000002ull};
// floats {1.5, -2.25, 3, 0.1, 1e10, -0.5, 7, 2^-10} and {0.5, 4, 10, 2, ...}
static const y4 FA = {0xc01000003fc00000ull, 0x3dcccccd40400000ull,
                      0xbf000000501502f9ull, 0x3a80000040e00000ull};
static const y4 FB = {0x408000003f000000ull, 0x4000000041200000ull,
                      0x3f8000003f000000ull, 0x4120000040400000ull};
// doubles {1/3, -2.5, 1e300, 0.1} and {3, 3, 1e-300, 10}
static const y4 DA = {0x3fd5555555555555ull, 0xc004000000000000ull,
                      0x7e37e43c8800759cull, 0x3fb999999999999aull};
static const y4 DB = {0x4008000000000000ull, 0x4008000000000000ull,
                      0x01a56e1fc2f8f359ull, 0x4024000000000000ull};

// Prints an asm template as the instruction text ("%%ymm1" -> "%ymm1").
static void py(const char *name, const y4 r)
{
    int n = 0;
    for (const char *p = name; *p; p++, n++) {
        if (p[0] == '%' && p[1] == '%')
            p++;
        putchar(*p);
    }
    for (; n < 40; n++)
        putchar(' ');
    printf("%016llx %016llx %016llx %016llx\n",
           (unsigned long long)r[3], (unsigned long long)r[2],
           (unsigned long long)r[1], (unsigned long long)r[0]);
}

// ymm2 = OP(ymm0 = a, ymm1 = b); ymm2 starts as all-ones so merges and
// zeroing of the upper half are visible.
#define Y(text, a, b)                                                     \
    do {                                                                  \
        y4 r_;                                                            \
        __asm__ volatile("vmovdqu %1, %%ymm0\n\tvmovdqu %2, %%ymm1\n\t"   \
                         "vpcmpeqd %%ymm2, %%ymm2, %%ymm2\n\t" text "\n\t" \
                         "vmovdqu %%ymm2, %0"                             \
                         : "=m"(r_)                                       \
                         : "m"(a), "m"(b)                                 \
                         : "xmm0", "xmm1", "xmm2", "memory");             \
        py(text, r_);                                                     \
    } while (0)

#define Y3(text, a, b, c)                                                 \
    do {                                                                  \
        y4 r_;                                                            \
        __asm__ volatile("vmovdqu %1, %%ymm0\n\tvmovdqu %2, %%ymm1\n\t"   \
                         "vmovdqu %3, %%ymm2\n\t" text "\n\t"             \
                         "vmovdqu %%ymm2, %0"                             \
                         : "=m"(r_)                                       \
                         : "m"(a), "m"(b), "m"(c)                         \
                         : "xmm0", "xmm1", "xmm2", "memory");             \
        py(text, r_);                                                     \
    } while (0)

static void enable_avx(void)
{
    WRITE_CR(4, READ_CR(4) | (1u << 18));  // OSXSAVE
    __asm__ volatile("xsetbv" : : "c"(0), "a"(7), "d"(0));
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    printf("xcr0 %x\n", lo);
}

static void avx(void)
{
    puts("-- AVX");
    Y("vaddps %%ymm1, %%ymm0, %%ymm2", FA, FB);
    Y("vmulps %%ymm1, %%ymm0, %%ymm2", FA, FB);
    Y("vdivpd %%ymm1, %%ymm0, %%ymm2", DA, DB);
    Y("vsqrtpd %%ymm1, %%ymm2", DA, DB);
    Y("vaddsubps %%ymm1, %%ymm0, %%ymm2", FA, FB);
    Y("vhaddpd %%ymm1, %%ymm0, %%ymm2", DA, DB);
    Y("vmaxps %%ymm1, %%ymm0, %%ymm2", FA, FB);
    Y("vcmpltps %%ymm1, %%ymm0, %%ymm2", FA, FB);
    Y("vcmpps $0x1d, %%ymm1, %%ymm0, %%ymm2", FA, FB);  // GE_OQ
    Y("vshufps $0x4e, %%ymm1, %%ymm0, %%ymm2", A, B);
    Y("vunpcklpd %%ymm1, %%ymm0, %%ymm2", A, B);
    Y("vperm2f128 $0x21, %%ymm1, %%ymm0, %%ymm2", A, B);
    Y("vpermilps $0x1b, %%ymm0, %%ymm2", A, B);
    Y("vpermilpd %%ymm1, %%ymm0, %%ymm2", A, B);
    Y("vblendps $0x5a, %%ymm1, %%ymm0, %%ymm2", A, B);
    Y("vblendvps %%ymm0, %%ymm1, %%ymm0, %%ymm2", A, B);
    Y("vinsertf128 $1, %%xmm1, %%ymm0, %%ymm2", A, B);
    Y("vextractf128 $1, %%ymm0, %%xmm2", A, B);
    Y("vbroadcastss %1, %%ymm2", A, B);
    Y("vbroadcastsd %2, %%ymm2", A, B);
    Y("vroundps $1, %%ymm0, %%ymm2", FA, FB);
    Y("vcvtps2pd %%xmm0, %%ymm2", FA, FB);
    Y("vcvtpd2ps %%ymm0, %%xmm2", DA, DB);
    Y("vcvttps2dq %%ymm0, %%ymm2", FA, FB);
    Y("vmaskmovps %1, %%ymm0, %%ymm2", A, B);
    Y("vaddps %%xmm1, %%xmm0, %%xmm2", FA, FB);   // VEX.128 zeroes bits 255:128
    Y("vzeroupper", A, B);
    unsigned long f;
    __asm__ volatile("vmovdqu %1, %%ymm0\n\tvmovdqu %2, %%ymm1\n\t"
                     "vtestps %%ymm1, %%ymm0\n\tpushf\n\tpop %0"
                     : "=r"(f)
                     : "m"(A), "m"(B)
                     : "xmm0", "xmm1");
    printf("vtestps flags %lx\n", f & 0x8d5);
    uint32_t m;
    __asm__ volatile("vmovdqu %1, %%ymm0\n\tvmovmskpd %%ymm0, %0"
                     : "=r"(m) : "m"(A) : "xmm0");
    printf("vmovmskpd %x\n", m);
}

static void avx2(void)
{
    puts("-- AVX2");
    Y("vpaddd %%ymm1, %%ymm0, %%ymm2", A, B);
    Y("vpsubusb %%ymm1, %%ymm0, %%ymm2", A, B);
    Y("vpmulld %%ymm1, %%ymm0, %%ymm2", A, B);
    Y("vpmuludq %%ymm1, %%ymm0, %%ymm2", A, B);
    Y("vpmaddubsw %%ymm1, %%ymm0, %%ymm2", A, B);
    Y("vpshufb %%ymm1, %%ymm0, %%ymm2", A, B);
    Y("vpermd %%ymm0, %%ymm1, %%ymm2", A, B);
    Y("vpermq $0x1b, %%ymm0, %%ymm2", A, B);
    Y("vperm2i128 $0x13, %%ymm1, %%ymm0, %%ymm2", A, B);
    Y("vpblendd $0x96, %%ymm1, %%ymm0, %%ymm2", A, B);
    Y("vpsllvd %%ymm1, %%ymm0, %%ymm2", A, B);
    Y("vpsravd %%ymm1, %%ymm0, %%ymm2", A, B);
    Y("vpsrlvq %%ymm1, %%ymm0, %%ymm2", A, B);
    Y("vpbroadcastb %%xmm1, %%ymm2", A, B);
    Y("vpbroadcastw %%xmm1, %%ymm2", A, B);
    Y("vpmovzxbd %%xmm0, %%ymm2", A, B);
    Y("vpmovsxwq %%xmm0, %%ymm2", A, B);
    Y("vpackssdw %%ymm1, %%ymm0, %%ymm2", A, B);
    Y("vpunpckhbw %%ymm1, %%ymm0, %%ymm2", A, B);
    Y("vpalignr $3, %%ymm1, %%ymm0, %%ymm2", A, B);
    Y("vpsadbw %%ymm1, %%ymm0, %%ymm2", A, B);
    Y("vmpsadbw $0x2d, %%ymm1, %%ymm0, %%ymm2", A, B);
    Y("vpcmpgtq %%ymm1, %%ymm0, %%ymm2", A, B);
    Y("vpabsw %%ymm0, %%ymm2", A, B);
    Y("vpslldq $5, %%ymm0, %%ymm2", A, B);
    Y("vpsraw $3, %%ymm0, %%ymm2", A, B);
    // Gather: dwords from table[index], mask selects lanes.
    static const uint32_t table[16] = {100, 101, 102, 103, 104, 105, 106, 107,
                                       108, 109, 110, 111, 112, 113, 114, 115};
    static const uint32_t idx[8] = {15, 0, 7, 3, 3, 9, 1, 12};
    static const uint32_t mask[8] = {~0u, ~0u, 0, ~0u, ~0u, 0, ~0u, ~0u};
    uint32_t out[8], mask_after[8];
    __asm__ volatile("vmovdqu %2, %%ymm1\n\tvmovdqu %3, %%ymm3\n\t"
                     "vpcmpeqd %%ymm2, %%ymm2, %%ymm2\n\t"
                     "vpgatherdd %%ymm3, (%4,%%ymm1,4), %%ymm2\n\t"
                     "vmovdqu %%ymm2, %0\n\tvmovdqu %%ymm3, %1"
                     : "=m"(out), "=m"(mask_after)
                     : "m"(idx), "m"(mask), "r"(table)
                     : "xmm1", "xmm2", "xmm3", "memory");
    printf("vpgatherdd");
    for (int i = 7; i >= 0; i--)
        printf(" %x", out[i]);
    printf(" mask after %x\n", mask_after[0] | mask_after[7]);
}

static void fma_f16c(void)
{
    puts("-- FMA");
    // FMA rounds once: 0.1 * 10 - 1 is 2^-54 fused, 0 unfused.
    static const y4 one = {0x3ff0000000000000ull, 0x3ff0000000000000ull,
                           0x3ff0000000000000ull, 0x3ff0000000000000ull};
    y4 r;
    __asm__ volatile("vmovdqu %1, %%ymm0\n\tvmovdqu %2, %%ymm1\n\t"
                     "vmovdqu %3, %%ymm2\n\t"
                     "vfmsub231pd %%ymm1, %%ymm0, %%ymm2\n\t"
                     "vmovdqu %%ymm2, %0"
                     : "=m"(r)
                     : "m"(DA), "m"(DB), "m"(one)
                     : "xmm0", "xmm1", "xmm2", "memory");
    py("vfmsub231pd %%ymm1, %%ymm0, %%ymm2", r);
    // The third operand (ymm2) is set to C for these.
    Y3("vfmadd132ps %%ymm1, %%ymm0, %%ymm2", FA, FB, FB);
    Y3("vfmadd213ps %%ymm1, %%ymm0, %%ymm2", FA, FB, FA);
    Y3("vfnmadd231pd %%ymm1, %%ymm0, %%ymm2", DA, DB, DB);
    Y3("vfmaddsub213ps %%ymm1, %%ymm0, %%ymm2", FA, FB, FB);
    Y3("vfmsubadd231ps %%ymm1, %%ymm0, %%ymm2", FA, FB, FA);
    Y3("vfnmsub132pd %%ymm1, %%ymm0, %%ymm2", DA, DB, DA);
    Y3("vfmadd213sd %%xmm1, %%xmm0, %%xmm2", DA, DB, DB);
    puts("-- F16C");
    Y("vcvtps2ph $0, %%ymm0, %%xmm2", FA, FB);
    Y("vcvtps2ph $3, %%ymm0, %%xmm2", FA, FB);
    Y("vcvtph2ps %%xmm1, %%ymm2", FA, B);
}

static void bmi_adx(void)
{
    puts("-- BMI1/BMI2/ADX/MOVBE/LZCNT");
    uint64_t a = A[1], b = B[0], r, f;
#define G3(insn, x, y)                                                    \
    __asm__ volatile(insn " %3, %2, %0\n\tpushf\n\tpop %1"                \
                     : "=&r"(r), "=&r"(f) : "r"(x), "r"(y) : "cc");       \
    printf("%-6s %016lx\n", insn, (unsigned long)r)
    G3("andn", a, b);
    G3("bextr", a, (uint64_t)0x0c08);
    G3("bzhi", a, (uint64_t)37);
    G3("pdep", a, b);
    G3("pext", a, b);
    G3("sarx", a, (uint64_t)13);
    G3("shlx", a, (uint64_t)67);
    G3("shrx", a, (uint64_t)5);
#undef G3
    __asm__ volatile("rorx $12, %1, %0" : "=r"(r) : "r"(a));
    printf("rorx   %016lx\n", (unsigned long)r);
#define G2M(insn, x, mask)                                                \
    __asm__ volatile(insn " %2, %0\n\tpushf\n\tpop %1"                    \
                     : "=&r"(r), "=r"(f) : "r"(x) : "cc");                \
    printf("%-6s %016lx flags %lx\n", insn, (unsigned long)r,             \
           (unsigned long)(f & (mask)))
#define G2(insn, x) G2M(insn, x, 0x41)
    // BLSI sets CF when the source is nonzero (SDM; silicon does); QEMU 7.2's TCG
    // clears it, so only ZF is printed for it.
    G2M("blsi", b, 0x40);
    G2("blsr", b);
    G2("blsmsk", b);
    G2("tzcnt", b);
    G2("lzcnt", b);
    G2("tzcnt", (uint64_t)0);
    G2("lzcnt", (uint64_t)0);
#undef G2
#undef G2M
    uint64_t hi, lo;
    __asm__ volatile("mulx %3, %0, %1" : "=r"(lo), "=r"(hi) : "d"(a), "r"(b));
    printf("mulx   %016lx:%016lx\n", (unsigned long)hi, (unsigned long)lo);
    uint64_t x = ~0ull, y = 1, c;
    __asm__ volatile("stc\n\tadcx %2, %0\n\tpushf\n\tpop %1"
                     : "+r"(x), "=r"(c) : "r"(y) : "cc");
    printf("adcx   %016lx cf %lx\n", (unsigned long)x, (unsigned long)(c & 1));
    x = 0x7fffffffffffffffull;
    __asm__ volatile("xor %%eax, %%eax\n\tadox %2, %0\n\tpushf\n\tpop %1"
                     : "+r"(x), "=r"(c) : "r"(y) : "cc", "rax");
    printf("adox   %016lx of %lx\n", (unsigned long)x, (unsigned long)(c & 0x800));
    static uint64_t mem = 0x0102030405060708ull;
    __asm__ volatile("movbe %1, %0" : "=r"(r) : "m"(mem));
    printf("movbe  %016lx\n", (unsigned long)r);
}

static void vex_crypto(void)
{
    puts("-- VEX AES/PCLMUL");
    Y("vaesenc %%xmm1, %%xmm0, %%xmm2", A, B);
    Y("vaesdeclast %%xmm1, %%xmm0, %%xmm2", A, B);
    Y("vpclmulqdq $0x01, %%xmm1, %%xmm0, %%xmm2", A, B);
}

int main(void)
{
    puts("avx start");
    enable_avx();
    avx();
    avx2();
    fma_f16c();
    bmi_adx();
    vex_crypto();
    puts("avx done");
    return 0;
}
