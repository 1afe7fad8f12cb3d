// SSE, SSE2, SSE3, SSSE3, SSE4.1, SSE4.2, AES-NI and PCLMULQDQ results in
// long mode (-cpu max), each printed as the two 64-bit halves of the
// destination (high first), plus MXCSR rounding, flags and DAZ/FTZ.
// Left out because QEMU 7.2 differs from hardware there: RCPPS/RSQRTPS
// (approximations), DPPS/DPPD rounding, the denormal-operand flag (DE is
// masked out of printed MXCSR flags) and unmasked SIMD exceptions (#XM,
// which QEMU never raises).
#include "rt.h"

typedef uint64_t v2 __attribute__((vector_size(16)));

static const v2 A = {0x0123456789abcdefull, 0xfedcba9876543210ull};
static const v2 B = {0x7f80ff0001fe8001ull, 0x00ff7f80fffe0102ull};
// floats {1.5, -2.25, 3e38, 1e-40 (denormal)} and {0.5, 4, 10, 2}
static const v2 FA = {0xc01000003fc00000ull, 0x000116c27f61b1e6ull};
static const v2 FB = {0x408000003f000000ull, 0x4000000041200000ull};
// doubles {1/3, -2.5} and {3, 1e-310 (denormal)}
static const v2 DA = {0x3fd5555555555555ull, 0xc004000000000000ull};
static const v2 DB = {0x4008000000000000ull, 0x00001268d4b9b5c0ull};
// strings for PCMPxSTRx
static const v2 HAY = {0x6f77206f6c6c6568ull, 0x0000000000646c72ull};  // "hello world"
static const v2 NEEDLE = {0x0000000000646c72ull, 0};                  // "rld"

static void pv(const char *name, v2 r)
{
    printf("%-10s %016llx %016llx\n", name, (unsigned long long)r[1],
           (unsigned long long)r[0]);
}

#define OP(insn, a, b)                                                    \
    do {                                                                  \
        v2 r_ = a;                                                        \
        __asm__ volatile(insn " %1, %0" : "+x"(r_) : "x"(b));             \
        pv(insn, r_);                                                     \
    } while (0)
#define OPI(insn, imm, a, b)                                              \
    do {                                                                  \
        v2 r_ = a;                                                        \
        __asm__ volatile(insn " $" #imm ", %1, %0" : "+x"(r_) : "x"(b));  \
        pv(insn " " #imm, r_);                                            \
    } while (0)
#define SHIFTI(insn, imm, a)                                              \
    do {                                                                  \
        v2 r_ = a;                                                        \
        __asm__ volatile(insn " $" #imm ", %0" : "+x"(r_));               \
        pv(insn " " #imm, r_);                                            \
    } while (0)

static uint32_t mxcsr(void)
{
    uint32_t m;
    __asm__ volatile("stmxcsr %0" : "=m"(m));
    return m;
}

static void set_mxcsr(uint32_t m)
{
    __asm__ volatile("ldmxcsr %0" : : "m"(m));
}

static void sse1(void)
{
    puts("-- SSE");
    set_mxcsr(0x1f80);
    OP("addps", FA, FB);
    OP("subps", FA, FB);
    OP("mulps", FA, FB);
    OP("divps", FA, FB);
    OP("sqrtps", FB, FB);
    OP("minps", FA, FB);
    OP("maxps", FA, FB);
    OPI("cmpps", 1, FA, FB);
    OPI("cmpps", 6, FA, FB);
    OP("andps", FA, FB);
    OP("andnps", FA, FB);
    OPI("shufps", 0x1b, FA, FB);
    OP("unpcklps", FA, FB);
    OP("unpckhps", FA, FB);
    OP("movhlps", FA, FB);
    OP("movlhps", FA, FB);
    OP("addss", FA, FB);
    OP("divss", FB, FA);
    printf("mxcsr flags %x\n", mxcsr() & 0x3d);
    uint64_t msk;
    __asm__ volatile("movmskps %1, %k0" : "=r"(msk) : "x"(FA));
    printf("movmskps %lx\n", (unsigned long)msk);
}

static void conversions(void)
{
    puts("-- conversions and MXCSR rounding");
    static const char *names[] = {"nearest", "down", "up", "zero"};
    // 2.5f, -2.5f, 1e10f
    static const uint32_t fs[] = {0x40200000, 0xc0200000, 0x501502f9};
    for (unsigned rc = 0; rc < 4; rc++) {
        set_mxcsr(0x1f80 | rc << 13);
        printf("%-7s:", names[rc]);
        for (unsigned i = 0; i < 3; i++) {
            v2 x = {fs[i], 0};
            int32_t n, t;
            __asm__ volatile("cvtss2si %1, %0" : "=r"(n) : "x"(x));
            __asm__ volatile("cvttss2si %1, %0" : "=r"(t) : "x"(x));
            printf(" %x/%x", (uint32_t)n, (uint32_t)t);
        }
        v2 r = DA;
        __asm__ volatile("cvtpd2ps %0, %0" : "+x"(r));
        printf(" cvtpd2ps %016llx", (unsigned long long)r[0]);
        v2 q = {0x123456789abcdefull, 0};
        __asm__ volatile("cvtsi2sdq %1, %0" : "+x"(r) : "r"(q[0] * 3));
        printf(" cvtsi2sd %016llx\n", (unsigned long long)r[0]);
    }
    set_mxcsr(0x1f80);
    printf("mxcsr flags %x\n", mxcsr() & 0x3d);
    v2 r = FA;
    __asm__ volatile("cvtps2pd %0, %0" : "+x"(r));
    pv("cvtps2pd", r);
    r = DA;
    __asm__ volatile("cvttpd2dq %0, %0" : "+x"(r));
    pv("cvttpd2dq", r);
    r = B;
    __asm__ volatile("cvtdq2ps %0, %0" : "+x"(r));
    pv("cvtdq2ps", r);
    // COMISS/UCOMISS against a QNaN: unordered (ZF PF CF), IE only for
    // COMISS.
    v2 nan = {0x7fc00000, 0}, one = {0x3f800000, 0};
    unsigned long f1, f2;
    set_mxcsr(0x1f80);
    __asm__ volatile("ucomiss %2, %1\n\tpushf\n\tpop %0" : "=r"(f1) : "x"(one), "x"(nan));
    uint32_t m1 = mxcsr() & 0x3d;
    __asm__ volatile("comiss %2, %1\n\tpushf\n\tpop %0" : "=r"(f2) : "x"(one), "x"(nan));
    printf("ucomiss nan %lx ie %x, comiss nan %lx ie %x\n", f1 & 0x8d5, m1,
           f2 & 0x8d5, mxcsr() & 0x3d);
    __asm__ volatile("comiss %2, %1\n\tpushf\n\tpop %0" : "=r"(f1) : "x"(FB), "x"(one));
    printf("comiss 0.5 vs 1: %lx\n", f1 & 0x8d5);
    // DAZ/FTZ.
    set_mxcsr(0x1f80);
    v2 d = FA, h = {0x3f0000003f000000ull, 0x3f0000003f000000ull};
    __asm__ volatile("mulps %1, %0" : "+x"(d) : "x"(h));
    pv("mulps den", d);
    printf("mxcsr flags %x\n", mxcsr() & 0x3d);
    set_mxcsr(0x1f80 | 0x8040);
    d = FA;
    __asm__ volatile("mulps %1, %0" : "+x"(d) : "x"(h));
    pv("daz+ftz", d);
    set_mxcsr(0x1f80);
}

static void sse2(void)
{
    puts("-- SSE2");
    OP("addpd", DA, DB);
    OP("mulpd", DA, DB);
    OP("divpd", DA, DB);
    OP("sqrtpd", DB, DB);
    OP("minpd", DA, DB);
    OPI("cmppd", 2, DA, DB);
    OP("paddb", A, B);
    OP("paddsw", A, B);
    OP("paddusb", A, B);
    OP("psubsb", A, B);
    OP("psubq", A, B);
    OP("pmullw", A, B);
    OP("pmulhw", A, B);
    OP("pmulhuw", A, B);
    OP("pmuludq", A, B);
    OP("pmaddwd", A, B);
    OP("psadbw", A, B);
    OP("pavgb", A, B);
    OP("pavgw", A, B);
    OP("pminub", A, B);
    OP("pmaxsw", A, B);
    OP("pcmpeqb", A, B);
    OP("pcmpgtd", A, B);
    OP("packsswb", A, B);
    OP("packuswb", A, B);
    OP("packssdw", A, B);
    OP("punpcklbw", A, B);
    OP("punpckhwd", A, B);
    OP("punpckhqdq", A, B);
    OPI("pshufd", 0x4e, A, B);
    OPI("pshuflw", 0x1b, A, B);
    OPI("pshufhw", 0xb1, A, B);
    SHIFTI("psllw", 3, A);
    SHIFTI("psrad", 5, A);
    SHIFTI("psrlq", 7, A);
    SHIFTI("pslldq", 3, A);
    SHIFTI("psrldq", 5, A);
    v2 cnt = {9, 0};
    OP("psllq", A, cnt);
    OP("psraw", A, cnt);
    OP("pandn", A, B);
    OP("pxor", A, B);
    uint64_t m, w;
    __asm__ volatile("pmovmskb %1, %k0" : "=r"(m) : "x"(B));
    __asm__ volatile("pextrw $5, %1, %k0" : "=r"(w) : "x"(A));
    printf("pmovmskb %lx pextrw %lx\n", (unsigned long)m, (unsigned long)w);
    v2 r = A;
    __asm__ volatile("pinsrw $2, %k1, %0" : "+x"(r) : "r"(0xbeefu));
    pv("pinsrw", r);
    __asm__ volatile("movq %1, %0" : "=x"(r) : "x"(B));
    pv("movq", r);
    r = A;
    __asm__ volatile("movsd %1, %0" : "+x"(r) : "x"(B));
    pv("movsd", r);
}

static void sse3_ssse3(void)
{
    puts("-- SSE3");
    OP("addsubps", FA, FB);
    OP("haddps", FA, FB);
    OP("hsubpd", DA, DB);
    OP("movshdup", A, B);
    OP("movsldup", A, B);
    OP("movddup", A, B);
    puts("-- SSSE3");
    OP("pshufb", A, B);
    OP("phaddw", A, B);
    OP("phaddd", A, B);
    OP("phsubsw", A, B);
    OP("pmaddubsw", A, B);
    OP("pmulhrsw", A, B);
    OPI("palignr", 5, A, B);
    OPI("palignr", 20, A, B);
    OP("pabsb", A, B);
    OP("pabsw", A, B);
    OP("pabsd", A, B);
    OP("psignb", A, B);
    OP("psignd", A, B);
}

static void sse41(void)
{
    puts("-- SSE4.1");
    {
        // "Yz" is xmm0, the implicit mask of PBLENDVB/BLENDVPD.
        v2 r = A;
        __asm__ volatile("pblendvb %%xmm0, %1, %0" : "+x"(r) : "x"(FA), "Yz"(B));
        pv("pblendvb", r);
        r = DA;
        __asm__ volatile("blendvpd %%xmm0, %1, %0" : "+x"(r) : "x"(DB), "Yz"(B));
        pv("blendvpd", r);
    }
    OPI("blendps", 5, FA, FB);
    OPI("pblendw", 0xa5, A, B);
    OP("pminsb", A, B);
    OP("pmaxsd", A, B);
    OP("pminuw", A, B);
    OP("pmulld", A, B);
    OP("pmuldq", A, B);
    OP("pmovzxbw", A, B);
    OP("pmovsxwd", A, B);
    OP("pmovsxbq", A, B);
    OP("pmovzxdq", A, B);
    OPI("insertps", 0x4d, FA, FB);
    OPI("mpsadbw", 5, A, B);
    OP("phminposuw", A, B);
    OP("packusdw", A, B);
    OP("pcmpeqq", A, A);
    // ROUNDPS/ROUNDSD with each immediate rounding mode.
    static const v2 s = {0x3fc000003f400000ull, 0xc0600000bfc00000ull};  // .75 1.5 -1.5 -3.5
    static const v2 d5 = {0xc004000000000000ull, 0};                     // -2.5
#define ROUND(m)                                                          \
    do {                                                                  \
        v2 r_, d_ = d5;                                                   \
        __asm__ volatile("roundps $" #m ", %1, %0" : "=x"(r_) : "x"(s));  \
        __asm__ volatile("roundsd $" #m ", %0, %0" : "+x"(d_));           \
        printf("round mode " #m ": ps %016llx %016llx sd %016llx\n",     \
               (unsigned long long)r_[1], (unsigned long long)r_[0],      \
               (unsigned long long)d_[0]);                                \
    } while (0)
    ROUND(0);
    ROUND(1);
    ROUND(2);
    ROUND(3);
#undef ROUND
    uint64_t e1, e2, e3;
    __asm__ volatile("extractps $2, %1, %k0" : "=r"(e1) : "x"(FA));
    __asm__ volatile("pextrb $13, %1, %k0" : "=r"(e2) : "x"(A));
    __asm__ volatile("pextrq $1, %1, %0" : "=r"(e3) : "x"(B));
    printf("extractps %lx pextrb %lx pextrq %lx\n", (unsigned long)e1,
           (unsigned long)e2, (unsigned long)e3);
    v2 r = A;
    __asm__ volatile("pinsrb $7, %k1, %0\n\tpinsrd $3, %k1, %0" : "+x"(r) : "r"(0x99u));
    pv("pinsrb/d", r);
    unsigned long f;
    __asm__ volatile("ptest %2, %1\n\tpushf\n\tpop %0" : "=r"(f) : "x"(A), "x"(B));
    printf("ptest A,B flags %lx\n", f & 0x8d5);
    v2 z = {0, 0};
    __asm__ volatile("ptest %2, %1\n\tpushf\n\tpop %0" : "=r"(f) : "x"(A), "x"(z));
    printf("ptest A,0 flags %lx\n", f & 0x8d5);
}

static void sse42(void)
{
    puts("-- SSE4.2");
    OP("pcmpgtq", A, B);
    uint64_t c = 0xffffffff;
    __asm__ volatile("crc32b %b1, %k0" : "+r"(c) : "r"(0x61));
    printf("crc32b %lx\n", (unsigned long)c);
    c = 0;
    __asm__ volatile("crc32w %w1, %k0\n\tcrc32l %k1, %k0\n\tcrc32q %1, %0"
                     : "+r"(c)
                     : "r"(0x0123456789abcdefull));
    printf("crc32 w/l/q %lx\n", (unsigned long)c);
    unsigned long idx, f;
    // Equal-ordered substring search for "rld" in "hello world".
    // AT&T order: pcmpistri $imm, xmm2 (haystack), xmm1 (needle).
    __asm__ volatile("pcmpistri $0x0c, %3, %2\n\tpushf\n\tpop %0"
                     : "=r"(f), "=c"(idx)
                     : "x"(HAY), "x"(NEEDLE));
    printf("pcmpistri hay/needle: ecx %lx flags %lx\n", idx, f & 0x8d5);
    __asm__ volatile("pcmpistri $0x0c, %3, %2\n\tpushf\n\tpop %0"
                     : "=r"(f), "=c"(idx)
                     : "x"(NEEDLE), "x"(HAY));
    printf("pcmpistri substring: ecx %lx flags %lx\n", idx, f & 0x8d5);
    // Ranges: which bytes of the haystack are in 'a'..'m'.
    v2 range = {0x6d61, 0};
    v2 x0;  // PCMPxSTRM write xmm0 ("Yz")
    __asm__ volatile("pcmpistrm $0x44, %2, %1" : "=Yz"(x0) : "x"(range), "x"(HAY));
    pv("pcmpistrm", x0);
    __asm__ volatile("pcmpestri $0x00, %3, %2\n\tpushf\n\tpop %0"
                     : "=r"(f), "=c"(idx)
                     : "x"(NEEDLE), "x"(HAY), "a"(3), "d"(11));
    printf("pcmpestri equal-any: ecx %lx flags %lx\n", idx, f & 0x8d5);
    __asm__ volatile("pcmpestrm $0x48, %2, %1" : "=Yz"(x0) : "x"(NEEDLE), "x"(HAY), "a"(3), "d"(11));
    pv("pcmpestrm", x0);
    uint64_t p;
    __asm__ volatile("popcnt %2, %0\n\tpushf\n\tpop %1" : "=r"(p), "=&r"(f) : "r"(A[1]));
    printf("popcnt %lx flags %lx\n", (unsigned long)p, f & 0x8d5);
}

static void aes_clmul(void)
{
    puts("-- AES-NI, PCLMULQDQ");
    OP("aesenc", A, B);
    OP("aesenclast", A, B);
    OP("aesdec", A, B);
    OP("aesdeclast", A, B);
    OP("aesimc", A, B);
    OPI("aeskeygenassist", 0x1b, A, B);
    OPI("pclmulqdq", 0x00, A, B);
    OPI("pclmulqdq", 0x11, A, B);
    OPI("pclmulqdq", 0x10, A, B);
}

static void exceptions(void)
{
    puts("-- MXCSR exceptions");
    v2 z = {0, 0}, r = FB;
    set_mxcsr(0x1f80);
    __asm__ volatile("divps %1, %0" : "+x"(r) : "x"(z));
    pv("divps/0", r);
    printf("masked: mxcsr flags %x\n", mxcsr() & 0x3d);
}

int main(void)
{
    puts("sse start");
    sse1();
    conversions();
    sse2();
    sse3_ssse3();
    sse41();
    sse42();
    aes_clmul();
    exceptions();
    puts("sse done");
    return 0;
}
