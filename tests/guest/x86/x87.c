// x87 results in protected mode, printed as raw 80-bit values (sign/exponent
// word, then the 64-bit significand): constants, arithmetic, FSQRT,
// FSCALE/FXTRACT/FPREM/FPREM1, FRNDINT and FIST under each FCW rounding
// mode, precision control, integer and BCD loads/stores, comparisons and
// FXAM classes, and exceptions both masked (status word flags, default
// results) and unmasked (#MF at FWAIT).
// Transcendentals (FSIN, FCOS, FPTAN) are left out: QEMU computes them
// through the host's double-precision libm.
#include "rt.h"

typedef struct {
    uint64_t mant;
    uint16_t se;
} __attribute__((packed)) f80;

static void pr80(const char *name, const f80 *v)
{
    printf("%s %04x:%016llx\n", name, v->se, (unsigned long long)v->mant);
}

static uint16_t fcw(uint16_t cw)
{
    __asm__ volatile("fldcw %0" : : "m"(cw));
    return cw;
}

static uint16_t fsw(void)
{
    uint16_t sw;
    __asm__ volatile("fnstsw %0" : "=m"(sw));
    return sw;
}

static const double dvals[] = {1.0, 3.0, -2.5, 0.1, 1e300};

static void constants(void)
{
    f80 v;
#define K(insn)                                                  \
    __asm__ volatile(insn "\n\tfstpt %0" : "=m"(v));             \
    pr80(insn, &v)
    K("fld1");
    K("fldz");
    K("fldpi");
    K("fldl2t");
    K("fldl2e");
    K("fldlg2");
    K("fldln2");
#undef K
}

static void arith(void)
{
    f80 v;
    for (unsigned i = 0; i < sizeof dvals / sizeof dvals[0]; i++) {
        for (unsigned j = 0; j < sizeof dvals / sizeof dvals[0]; j++) {
            printf("a=%u b=%u:", i, j);
            __asm__ volatile("fldl %1\n\tfldl %2\n\tfaddp\n\tfstpt %0"
                             : "=m"(v) : "m"(dvals[i]), "m"(dvals[j]));
            printf(" add %04x:%016llx", v.se, (unsigned long long)v.mant);
            __asm__ volatile("fldl %1\n\tfldl %2\n\tfsubrp\n\tfstpt %0"
                             : "=m"(v) : "m"(dvals[i]), "m"(dvals[j]));
            printf(" sub %04x:%016llx", v.se, (unsigned long long)v.mant);
            __asm__ volatile("fldl %1\n\tfmull %2\n\tfstpt %0"
                             : "=m"(v) : "m"(dvals[i]), "m"(dvals[j]));
            printf(" mul %04x:%016llx", v.se, (unsigned long long)v.mant);
            __asm__ volatile("fldl %1\n\tfdivl %2\n\tfstpt %0"
                             : "=m"(v) : "m"(dvals[i]), "m"(dvals[j]));
            printf(" div %04x:%016llx\n", v.se, (unsigned long long)v.mant);
        }
    }
    __asm__ volatile("fldl %1\n\tfsqrt\n\tfstpt %0" : "=m"(v) : "m"(dvals[1]));
    pr80("sqrt(3)", &v);
    __asm__ volatile("fld1\n\tfldl %1\n\tfscale\n\tfstp %%st(1)\n\tfstpt %0"
                     : "=m"(v) : "m"(dvals[1]));
    pr80("fscale 1*2^3", &v);
    f80 sig, ex;
    __asm__ volatile("fldl %2\n\tfxtract\n\tfstpt %0\n\tfstpt %1"
                     : "=m"(sig), "=m"(ex) : "m"(dvals[4]));
    pr80("fxtract sig", &sig);
    pr80("fxtract exp", &ex);
    static const double big = 1000.75, m = 3.0;
    uint16_t sw;
    __asm__ volatile("fldl %2\n\tfldl %3\n\tfprem\n\tfnstsw %1\n\t"
                     "fstpt %0\n\tfstp %%st(0)"
                     : "=m"(v), "=m"(sw) : "m"(m), "m"(big));
    printf("fprem sw&4700=%04x ", sw & 0x4700);
    pr80("", &v);
    __asm__ volatile("fldl %1\n\tfldl %2\n\tfprem1\n\t"
                     "fstpt %0\n\tfstp %%st(0)"
                     : "=m"(v) : "m"(m), "m"(big));
    // Only the value: QEMU 7.2 leaves FPREM1's quotient bits (C0 C3 C1)
    // clear where hardware reports them.
    pr80("fprem1", &v);
}

static void rounding(void)
{
    static const char *names[] = {"nearest", "down", "up", "zero"};
    static const double r[] = {2.5, -2.5, 1.5, -0.5, 7.49999};
    for (unsigned rc = 0; rc < 4; rc++) {
        fcw((uint16_t)(0x037f | rc << 10));
        printf("%-7s:", names[rc]);
        for (unsigned i = 0; i < sizeof r / sizeof r[0]; i++) {
            int32_t n;
            f80 v;
            __asm__ volatile("fldl %2\n\tfistl %0\n\tfrndint\n\tfstpt %1"
                             : "=m"(n), "=m"(v) : "m"(r[i]));
            printf(" %d/%04x:%llx", n, v.se, (unsigned long long)v.mant);
        }
        f80 third;
        __asm__ volatile("fld1\n\tfdivl %1\n\tfstpt %0"
                         : "=m"(third) : "m"(dvals[1]));
        printf(" 1/3=%04x:%016llx\n", third.se,
               (unsigned long long)third.mant);
    }
    static const char *pcs[] = {"single", "res", "double", "extended"};
    for (unsigned pc = 0; pc < 4; pc++) {
        if (pc == 1)
            continue;
        fcw((uint16_t)(0x007f | pc << 8));
        f80 third;
        __asm__ volatile("fld1\n\tfdivl %1\n\tfstpt %0"
                         : "=m"(third) : "m"(dvals[1]));
        printf("precision %s: 1/3=%04x:%016llx\n", pcs[pc], third.se,
               (unsigned long long)third.mant);
    }
    fcw(0x037f);
    // FISTTP truncates whatever the rounding mode (SSE3).
    int32_t t;
    fcw(0x037f | 2 << 10);
    __asm__ volatile("fldl %1\n\tfisttpl %0" : "=m"(t) : "m"(r[4]));
    fcw(0x037f);
    printf("fisttp 7.49999 (rc=up): %d\n", t);
}

static void conversions(void)
{
    static const int64_t q = -1234567890123456789LL;
    static const int16_t w = -321;
    f80 v;
    int64_t q2;
    int16_t w2;
    __asm__ volatile("fildll %2\n\tfld %%st(0)\n\tfstpt %0\n\tfistpll %1"
                     : "=m"(v), "=m"(q2) : "m"(q));
    pr80("fild q", &v);
    printf("fistp q %lld\n", (long long)q2);
    __asm__ volatile("filds %1\n\tfistps %0" : "=m"(w2) : "m"(w));
    printf("fild/fistp w %d\n", w2);
    // Out of range: the integer indefinite, IE set.
    __asm__ volatile("fnclex\n\tfldl %1\n\tfistps %0" : "=m"(w2) : "m"(dvals[4]));
    printf("fistp 1e300 -> w %x sw&3f %x\n", (uint16_t)w2, fsw() & 0x3f);
    uint8_t bcd[10], bcd2[10] = {0x21, 0x43, 0x65, 0x87, 0x09, 0, 0, 0, 0,
                                 0x80};
    static const double pi100 = 31415926.5;
    __asm__ volatile("fldl %1\n\tfbstp %0" : "=m"(bcd) : "m"(pi100));
    printf("fbstp:");
    for (int i = 9; i >= 0; i--)
        printf(" %02x", bcd[i]);
    __asm__ volatile("fbld %1\n\tfstpt %0" : "=m"(v) : "m"(bcd2));
    pr80("\nfbld -987654321", &v);
    float f;
    double d;
    __asm__ volatile("fldpi\n\tfsts %0\n\tfstpl %1" : "=m"(f), "=m"(d));
    uint32_t fb;
    uint64_t db;
    memcpy(&fb, &f, 4);
    memcpy(&db, &d, 8);
    printf("pi as float %08x double %016llx\n", fb, (unsigned long long)db);
}

static void compares(void)
{
    static const double a[] = {1.0, 2.0, -0.0, 0.0};
    uint32_t nan_bits[2] = {0, 0x7ff80000};
    double qnan;
    memcpy(&qnan, nan_bits, 8);
    for (unsigned i = 0; i < 3; i++) {
        uint16_t sw;
        unsigned fl;
        __asm__ volatile("fldl %2\n\tfldl %3\n\tfcompp\n\tfnstsw %0\n\t"
                         "fldl %2\n\tfldl %3\n\tfcomip %%st(1), %%st\n\t"
                         "fstp %%st(0)\n\tpushf\n\tpop %1"
                         : "=m"(sw), "=r"(fl) : "m"(a[i + 1]), "m"(a[i]));
        printf("fcom %u: C3C2C0 %04x  fcomi ZPC %x\n", i, sw & 0x4500,
               fl & 0x45);
    }
    uint16_t sw;
    unsigned fl;
    __asm__ volatile("fnclex\n\tfldl %2\n\tfld1\n\tfucomip %%st(1), %%st\n\t"
                     "pushf\n\tpop %1\n\tfstp %%st(0)\n\tfnstsw %0"
                     : "=m"(sw), "=r"(fl) : "m"(qnan));
    printf("fucomi qnan: ZPC %x IE %x\n", fl & 0x45, sw & 1);
    __asm__ volatile("fnclex\n\tfldl %2\n\tfld1\n\tfcomip %%st(1), %%st\n\t"
                     "pushf\n\tpop %1\n\tfstp %%st(0)\n\tfnstsw %0"
                     : "=m"(sw), "=r"(fl) : "m"(qnan));
    printf("fcomi qnan: ZPC %x IE %x\n", fl & 0x45, sw & 1);
    __asm__ volatile("fnclex");
    // FXAM: C3 C2 C1 C0 of each class.
    static const double classes[] = {1.5, -0.0, 1e-310};
    for (unsigned i = 0; i < 3; i++) {
        __asm__ volatile("fldl %1\n\tfxam\n\tfnstsw %0\n\tfstp %%st(0)"
                         : "=m"(sw) : "m"(classes[i]));
        printf("fxam %u: %04x\n", i, sw & 0x4700);
    }
    __asm__ volatile("fldl %1\n\tfxam\n\tfnstsw %0\n\tfstp %%st(0)"
                     : "=m"(sw) : "m"(qnan));
    printf("fxam nan: %04x\n", sw & 0x4700);
    __asm__ volatile("ffree %%st(7)\n\tfxam\n\tfnstsw %0" : "=m"(sw));
    printf("fxam empty: %04x\n", sw & 0x4700);
    __asm__ volatile("fninit");
}

static void masked_exceptions(void)
{
    f80 v;
    __asm__ volatile("fninit\n\tfld1\n\tfldz\n\tfdivrp\n\tfstpt %0" : "=m"(v));
    printf("1/0: sw&7f %02x ", fsw() & 0x7f);
    pr80("", &v);
    static const double m1 = -1.0;
    __asm__ volatile("fnclex\n\tfldl %1\n\tfsqrt\n\tfstpt %0"
                     : "=m"(v) : "m"(m1));
    printf("sqrt(-1): sw&7f %02x ", fsw() & 0x7f);
    pr80("", &v);
    __asm__ volatile("fnclex\n\tfldl %1\n\tfmul %%st(0), %%st\n\tfstpl %0"
                     : "=m"(v) : "m"(dvals[4]));
    printf("1e300^2 to double: sw&7f %02x %016llx\n", fsw() & 0x7f,
           (unsigned long long)v.mant);
    static const double tiny = 1e-300;
    __asm__ volatile("fnclex\n\tfldl %1\n\tfmul %%st(0), %%st\n\tfstpl %0"
                     : "=m"(v) : "m"(tiny));
    printf("1e-300^2 to double: sw&7f %02x %016llx\n", fsw() & 0x7f,
           (unsigned long long)v.mant);
    // Stack overflow/underflow are not tested: QEMU does not raise the
    // x87 stack fault (SF|IE) that hardware does.
    __asm__ volatile("fninit");
}

static int mf_hook(struct rt_frame *f)
{
    if (f->vector != 16)
        return 0;
    uint16_t sw = fsw();
    printf("trap 10 ip=try+%x sw&ff %02x\n", (unsigned)(f->ip - rt_try_start),
           sw & 0xff);
    __asm__ volatile("fnclex");
    f->ip = rt_resume_ip;
    rt_resume_ip = 0;
    return 1;
}

static void unmasked_exceptions(void)
{
    rt_trap_hook = mf_hook;
    fcw(0x037f & ~0x04);  // unmask ZE
    // The #MF is taken at the FWAIT. (QEMU checks pending exceptions only
    // at FWAIT, not before every waiting x87 instruction as hardware does,
    // so each test ends with one.)
    TRY("fld1\n\tfldz\n\tfdivrp\n\tnop\n\tfwait\n\tnop");
    fcw(0x037f & ~0x01);  // unmask IE
    static const double m1 = -1.0;
    TRY("fldl %0\n\tfsqrt\n\tnop\n\tfwait", : : "m"(m1));
    __asm__ volatile("fninit");
    rt_trap_hook = 0;
}

int main(void)
{
    puts("x87 start");
    constants();
    arith();
    rounding();
    conversions();
    compares();
    masked_exceptions();
    unmasked_exceptions();
    puts("x87 done");
    return 0;
}
