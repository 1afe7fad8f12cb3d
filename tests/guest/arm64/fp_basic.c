// A light pass over scalar FP and a little SIMD: arithmetic, conversions,
// rounding, compares, and the ARM-specific corners an x86 host gets wrong
// if emulated naively (default NaN is positive, float->int conversions
// saturate and NaN converts to 0). Values are printed as integers or raw
// bit patterns, never through a float formatter.
#include "rt.h"

static volatile double dv[] = {1.5, -2.25, 3.0, 0.1, 1e300, -0.0, 7.0};
static volatile float fv[] = {0.5f, -3.75f, 1e20f, 2.0f};

static uint64_t bits_of(double d)
{
    uint64_t u;
    __builtin_memcpy(&u, &d, sizeof u);
    return u;
}

static uint32_t fbits_of(float f)
{
    uint32_t u;
    __builtin_memcpy(&u, &f, sizeof u);
    return u;
}

// Scaled to micro-units so fractional results print as integers.
static int64_t micro(double d)
{
    return (int64_t)(d * 1e6);
}

typedef uint32_t u32x4 __attribute__((vector_size(16)));
typedef int16_t i16x8 __attribute__((vector_size(16)));

int main(void)
{
    puts("fp_basic start");
    double a = dv[0], b = dv[1], c = dv[2], tenth = dv[3];

    printf("add %ld sub %ld mul %ld div %ld\n", micro(a + b), micro(a - b),
           micro(a * b), micro(a / b));
    printf("fma %ld sqrt2 %ld\n", micro(__builtin_fma(a, c, b)),
           micro(__builtin_sqrt(a + 0.5)));
    printf("tenth bits %lx tenth*3 bits %lx\n", bits_of(tenth),
           bits_of(tenth * 3));
    printf("neg zero bits %lx abs %lx\n", bits_of(dv[5]),
           bits_of(__builtin_fabs(dv[5])));

    printf("floor %ld ceil %ld trunc %ld round %ld\n",
           (int64_t)__builtin_floor(b), (int64_t)__builtin_ceil(b),
           (int64_t)__builtin_trunc(b), (int64_t)__builtin_round(b));
    printf("cvt %ld %lu %d\n", (int64_t)(b * 1000), (uint64_t)(a * 1e12),
           (int32_t)(c * -7.9));

    double big = dv[4];
    double zero = dv[5];
    double inf = big * big;
    double nan = zero / zero;
    // ARM's default NaN is 0x7ff8000000000000 (positive, quiet).
    printf("inf %lx nan %lx\n", bits_of(inf), bits_of(nan));
    // FCVTZS/FCVTZU saturate; NaN converts to zero.
    int64_t sat_hi, sat_lo, sat_nan;
    uint64_t usat_neg;
    int32_t sat32;
    __asm__("fcvtzs %0, %d1" : "=r"(sat_hi) : "w"(big));
    __asm__("fcvtzs %0, %d1" : "=r"(sat_lo) : "w"(-big));
    __asm__("fcvtzs %0, %d1" : "=r"(sat_nan) : "w"(nan));
    __asm__("fcvtzu %0, %d1" : "=r"(usat_neg) : "w"(b));
    __asm__("fcvtzs %w0, %d1" : "=r"(sat32) : "w"(big));
    printf("saturate %lx %lx %lx %lx %x\n", sat_hi, sat_lo, sat_nan, usat_neg,
           sat32);

    printf("compare %d %d %d %d\n", a < b, a > b, nan == nan, nan != nan);
    printf("minmax %ld %ld\n", micro(__builtin_fmin(a, b)),
           micro(__builtin_fmax(a, b)));

    float fa = fv[0], fb = fv[1];
    printf("float mul %x div %x widen %lx narrow %x\n", fbits_of(fa * fb),
           fbits_of(fb / fa), bits_of((double)fb), fbits_of((float)tenth));
    printf("float sat %d\n", (int32_t)__builtin_fminf(fv[2], 3e9f));

    // FPSR cumulative flags: divide by zero (DZC) and inexact (IXC).
    WRITE_SYSREG(fpsr, 0);
    volatile double q = c / zero;
    (void)q;
    uint64_t fpsr_dz = READ_SYSREG(fpsr);
    WRITE_SYSREG(fpsr, 0);
    volatile double r = c / dv[6];
    (void)r;
    printf("fpsr dz %lx inexact %lx\n", fpsr_dz, READ_SYSREG(fpsr));
    WRITE_SYSREG(fpsr, 0);

    // A fixed-iteration series: pi via the Leibniz formula.
    double pi4 = 0;
    for (int k = 0; k < 2000; k++)
        pi4 += (k & 1 ? -1.0 : 1.0) / (2 * k + 1);
    printf("pi approx %ld bits %lx\n", micro(4 * pi4), bits_of(4 * pi4));

    // GCC vector extensions map straight onto NEON.
    u32x4 va = {1, 2, 3, 0xffffffffu}, vb = {10, 20, 30, 2};
    u32x4 vs = va + vb, vm = va * vb, vx = (va << 4) ^ vb;
    i16x8 h = {1, -2, 3, -4, 32767, -32768, 100, 0};
    i16x8 hs = h + h;
    printf("simd add %x %x %x %x\n", vs[0], vs[1], vs[2], vs[3]);
    printf("simd mul %x %x shift-xor %x %x\n", vm[2], vm[3], vx[1], vx[3]);
    printf("simd i16 %d %d %d %d\n", hs[1], hs[4], hs[5], hs[6]);

    puts("fp_basic done");
    return 0;
}
