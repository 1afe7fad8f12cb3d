// Integer instructions and flags at the native width (built as int32 in
// protected mode and int64 in long mode): ALU ops with carry in, shifts and
// rotates with odd counts, SHLD/SHRD, MUL/IMUL/DIV/IDIV, BT*, BSF/BSR,
// BSWAP, CMPXCHG/XADD, SETcc/CMOVcc, 8/16-bit partial registers, string
// instructions, LAHF/SAHF, ENTER/LEAVE, LOOP/JECXZ. Flags are
// printed masked to the bits the SDM defines for each instruction.
#include "rt.h"

#define W ((int)sizeof(ureg) * 8)
#define ALL 0x8d5u  // OF SF ZF AF PF CF
#define CF 0x001u
#define ZF 0x040u
#define OF 0x800u
#define NOAF (ALL & ~0x010u)
#define SZPC (ALL & ~0x810u)

#ifdef __x86_64__
static const ureg vals[] = {0, 1, 0x7fffffffffffffffull, 0x8000000000000000ull,
                            0xffffffffffffffffull, 0xfedcba9876543210ull,
                            0x00000000ffffffffull};
#else
static const ureg vals[] = {0,          1,          0x7fffffff, 0x80000000,
                            0xffffffff, 0x89abcdef, 0x0000ffff};
#endif
#define NVALS (sizeof vals / sizeof vals[0])

static void pr(ureg v)
{
    printf(" %lx", (unsigned long)v);
}

// Binary op: r = a OP b with flags fin on entry; prints r:flags.
#define BIN(name, insn, fin, mask)                                          \
    do {                                                                    \
        for (unsigned i = 0; i < NVALS; i++) {                              \
            printf("%s %lx:", name, (unsigned long)vals[i]);                \
            for (unsigned j = 0; j < NVALS; j++) {                          \
                ureg r = vals[i], f;                                        \
                __asm__ volatile("push %[fi]\n\tpopf\n\t" insn              \
                                 " %[b], %[r]\n\tpushf\n\tpop %[f]"         \
                                 : [r] "+r"(r), [f] "=&r"(f)                \
                                 : [b] "r"(vals[j]), [fi] "r"((ureg)(fin))  \
                                 : "cc");                                   \
                printf(" %lx/%x", (unsigned long)r, (unsigned)(f & (mask))); \
            }                                                               \
            putchar('\n');                                                  \
        }                                                                   \
    } while (0)

// Unary op on each value.
#define UN(name, insn, fin, mask)                                          \
    do {                                                                   \
        printf("%s:", name);                                               \
        for (unsigned i = 0; i < NVALS; i++) {                             \
            ureg r = vals[i], f;                                           \
            __asm__ volatile("push %[fi]\n\tpopf\n\t" insn " %[r]\n\t"     \
                             "pushf\n\tpop %[f]"                           \
                             : [r] "+r"(r), [f] "=&r"(f)                   \
                             : [fi] "r"((ureg)(fin))                       \
                             : "cc");                                      \
            printf(" %lx/%x", (unsigned long)r, (unsigned)(f & (mask)));   \
        }                                                                  \
        putchar('\n');                                                     \
    } while (0)

// Shift/rotate by CL for a set of counts (odd ones, 0, >= width).
static const unsigned counts[] = {0, 1, 3, 7, 13, 31, 33, 63, 65};
#define SHIFT(name, insn, fin, rotate)                                       \
    do {                                                                     \
        for (unsigned i = 2; i < NVALS; i++) {                               \
            printf("%s %lx:", name, (unsigned long)vals[i]);                 \
            for (unsigned k = 0; k < sizeof counts / sizeof counts[0]; k++) { \
                ureg r = vals[i], f;                                         \
                unsigned c = counts[k] & (W - 1);                            \
                __asm__ volatile("push %[fi]\n\tpopf\n\t" insn               \
                                 " %%cl, %[r]\n\tpushf\n\tpop %[f]"          \
                                 : [r] "+r"(r), [f] "=&r"(f)                 \
                                 : "c"(counts[k]), [fi] "r"((ureg)(fin))     \
                                 : "cc");                                    \
                unsigned m = c == 0 ? ALL                                    \
                             : rotate ? (c == 1 ? ALL : ALL & ~OF)           \
                                      : (c == 1 ? NOAF : SZPC);              \
                printf(" %lx/%x", (unsigned long)r, (unsigned)(f & m));      \
            }                                                                \
            putchar('\n');                                                   \
        }                                                                    \
    } while (0)

#define DSHIFT(name, insn)                                                   \
    do {                                                                     \
        printf("%s:", name);                                                 \
        for (unsigned k = 0; k < sizeof counts / sizeof counts[0]; k++) {    \
            ureg r = vals[5], f;                                             \
            unsigned c = counts[k] & (W - 1);                                \
            __asm__ volatile("push %[fi]\n\tpopf\n\t" insn                   \
                             " %%cl, %[b], %[r]\n\tpushf\n\tpop %[f]"        \
                             : [r] "+r"(r), [f] "=&r"(f)                     \
                             : "c"(counts[k]), [b] "r"(vals[4] ^ 0x5a5a),    \
                               [fi] "r"((ureg)0)                             \
                             : "cc");                                        \
            unsigned m = c == 0 ? ALL : c == 1 ? NOAF : SZPC;                \
            printf(" %lx/%x", (unsigned long)r, (unsigned)(f & m));          \
        }                                                                    \
        putchar('\n');                                                       \
    } while (0)

static void muldiv(void)
{
    for (unsigned i = 0; i < NVALS; i++) {
        printf("mul %lx:", (unsigned long)vals[i]);
        for (unsigned j = 0; j < NVALS; j++) {
            ureg lo = vals[i], hi, f;
            __asm__ volatile("mul %[b]\n\tpushf\n\tpop %[f]"
                             : "+a"(lo), "=d"(hi), [f] "=&r"(f)
                             : [b] "r"(vals[j])
                             : "cc");
            printf(" %lx:%lx/%x", (unsigned long)hi, (unsigned long)lo,
                   (unsigned)(f & (CF | OF)));
        }
        putchar('\n');
        printf("imul %lx:", (unsigned long)vals[i]);
        for (unsigned j = 0; j < NVALS; j++) {
            ureg lo = vals[i], hi, f, r2 = vals[i], f2, r3, f3;
            __asm__ volatile("imul %[b]\n\tpushf\n\tpop %[f]"
                             : "+a"(lo), "=d"(hi), [f] "=&r"(f)
                             : [b] "r"(vals[j])
                             : "cc");
            __asm__ volatile("imul %[b], %[r]\n\tpushf\n\tpop %[f]"
                             : [r] "+r"(r2), [f] "=&r"(f2)
                             : [b] "r"(vals[j])
                             : "cc");
            __asm__ volatile("imul $-7, %[b], %[r]\n\tpushf\n\tpop %[f]"
                             : [r] "=r"(r3), [f] "=&r"(f3)
                             : [b] "r"(vals[j])
                             : "cc");
            printf(" %lx:%lx/%x,%lx/%x,%lx/%x", (unsigned long)hi,
                   (unsigned long)lo, (unsigned)(f & (CF | OF)),
                   (unsigned long)r2, (unsigned)(f2 & (CF | OF)),
                   (unsigned long)r3, (unsigned)(f3 & (CF | OF)));
        }
        putchar('\n');
    }
    // Division: dividends hi:lo chosen so the quotient fits.
    static const ureg divisors[] = {1, 3, 7, 0x10, (ureg)-1, (ureg)-3,
                                    (ureg)1 << (W - 1)};
    for (unsigned j = 0; j < sizeof divisors / sizeof divisors[0]; j++) {
        ureg d = divisors[j];
        ureg q = vals[5], r = 0;
        __asm__ volatile("div %[d]" : "+a"(q), "+d"(r) : [d] "r"(d) : "cc");
        printf("div %lx: %lx r %lx", (unsigned long)d, (unsigned long)q,
               (unsigned long)r);
        ureg sq = (ureg)-123457, sr = (ureg)-1;
        __asm__ volatile("idiv %[d]" : "+a"(sq), "+d"(sr) : [d] "r"(d) : "cc");
        printf("  idiv: %lx r %lx\n", (unsigned long)sq, (unsigned long)sr);
    }
    // Double-width unsigned division with a nonzero high half.
    ureg q = vals[5], r = 5;
    __asm__ volatile("div %[d]" : "+a"(q), "+d"(r) : [d] "r"(vals[5]) : "cc");
    printf("div wide: %lx r %lx\n", (unsigned long)q, (unsigned long)r);
}

static void bits(void)
{
    static const ureg bitvals[] = {1, 0x80, (ureg)1 << (W - 1), 0x00f0f000,
                                   (ureg)0x123456789abcdef0ull};
    for (unsigned i = 0; i < sizeof bitvals / sizeof bitvals[0]; i++) {
        ureg v = bitvals[i], fs, fr, s, r;
        __asm__ volatile("bsf %[v], %[s]\n\tpushf\n\tpop %[f]"
                         : [s] "=r"(s), [f] "=&r"(fs)
                         : [v] "r"(v)
                         : "cc");
        __asm__ volatile("bsr %[v], %[s]\n\tpushf\n\tpop %[f]"
                         : [s] "=r"(r), [f] "=&r"(fr)
                         : [v] "r"(v)
                         : "cc");
        ureg sw = v;
        __asm__ volatile("bswap %0" : "+r"(sw));
        printf("bsf/bsr/bswap %lx: %lx/%x %lx/%x %lx\n", (unsigned long)v,
               (unsigned long)s, (unsigned)(fs & ZF), (unsigned long)r,
               (unsigned)(fr & ZF), (unsigned long)sw);
    }
    ureg z = 0, f, d = 0x55;
    __asm__ volatile("bsf %[v], %[s]\n\tpushf\n\tpop %[f]"
                     : [s] "+r"(d), [f] "=&r"(f)
                     : [v] "r"(z)
                     : "cc");
    printf("bsf 0: zf %x\n", (unsigned)(f & ZF));

    // BT* with register offsets, including memory forms where the offset
    // selects another word of the bit string (and negative offsets).
    static ureg mem[4];
    static const long offs[] = {0, 5, W - 1, W + 3, 2 * W + 17, -3};
    for (unsigned i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        for (unsigned k = 0; k < 4; k++)
            mem[k] = (ureg)0xa5a5a5a5a5a5a5a5ull;
        ureg off = (ureg)offs[i];
        uint8_t c[4];
        ureg *base = offs[i] < 0 ? &mem[2] : &mem[0];
        // SETC into memory keeps register pressure low enough for -O0.
        __asm__ volatile("bt %[o], %[m]\n\tsetc %[c0]\n\t"
                         "bts %[o], %[m]\n\tsetc %[c1]\n\t"
                         "btc %[o], %[m]\n\tsetc %[c2]\n\t"
                         "btc %[o], %[m]\n\tbtr %[o], %[m]\n\t"
                         "setc %[c3]"
                         : [m] "+m"(*base), [c0] "=m"(c[0]), [c1] "=m"(c[1]),
                           [c2] "=m"(c[2]), [c3] "=m"(c[3])
                         : [o] "r"(off)
                         : "cc", "memory");
        printf("bt mem %ld: %x%x%x%x", offs[i], c[0], c[1], c[2], c[3]);
        for (unsigned k = 0; k < 4; k++)
            pr(mem[k]);
        putchar('\n');
    }
    ureg rv = 0x1234, rf;
    __asm__ volatile("btc $35, %[r]\n\tpushf\n\tpop %[f]"
                     : [r] "+r"(rv), [f] "=&r"(rf)
                     :
                     : "cc");
    printf("btc reg imm 35: %lx/%x\n", (unsigned long)rv, (unsigned)(rf & CF));
}

static void exchange(void)
{
    static ureg cell;
    for (unsigned i = 0; i < 2; i++) {
        cell = 0x1111;
        ureg expect = i ? 0x1111 : 0x2222, f;
        __asm__ volatile("lock cmpxchg %[n], %[m]\n\tpushf\n\tpop %[f]"
                         : [m] "+m"(cell), "+a"(expect), [f] "=&r"(f)
                         : [n] "r"((ureg)0x3333)
                         : "cc", "memory");
        printf("cmpxchg %u: cell %lx ax %lx f %x\n", i, (unsigned long)cell,
               (unsigned long)expect, (unsigned)(f & ALL));
    }
    ureg add = vals[2], f;
    cell = 1;
    __asm__ volatile("lock xadd %[a], %[m]\n\tpushf\n\tpop %[f]"
                     : [m] "+m"(cell), [a] "+r"(add), [f] "=&r"(f)
                     :
                     : "cc", "memory");
    printf("xadd: cell %lx old %lx f %x\n", (unsigned long)cell,
           (unsigned long)add, (unsigned)(f & ALL));
    ureg x = 5;
    cell = 9;
    __asm__ volatile("xchg %0, %1" : "+r"(x), "+m"(cell));
    printf("xchg: %lx %lx\n", (unsigned long)x, (unsigned long)cell);
}

static void conditions(void)
{
    static const ureg pairs[][2] = {{0, 0}, {1, 2}, {2, 1},
                                    {(ureg)1 << (W - 1), 1},
                                    {1, (ureg)1 << (W - 1)},
                                    {(ureg)-1, 0}, {5, (ureg)-5}};
    for (unsigned i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        uint8_t s[16];
        ureg a = pairs[i][0], b = pairs[i][1];
        __asm__ volatile(
            "cmp %[b], %[a]\n\t"
            "seto 0(%[s])\n\tsetno 1(%[s])\n\tsetb 2(%[s])\n\t"
            "setae 3(%[s])\n\tsete 4(%[s])\n\tsetne 5(%[s])\n\t"
            "setbe 6(%[s])\n\tseta 7(%[s])\n\tsets 8(%[s])\n\t"
            "setns 9(%[s])\n\tsetp 10(%[s])\n\tsetnp 11(%[s])\n\t"
            "setl 12(%[s])\n\tsetge 13(%[s])\n\tsetle 14(%[s])\n\t"
            "setg 15(%[s])"
            :
            : [a] "r"(a), [b] "r"(b), [s] "r"(s)
            : "cc", "memory");
        unsigned mask = 0;
        for (unsigned k = 0; k < 16; k++)
            mask |= (unsigned)s[k] << k;
        ureg c1 = 0x111, c2 = 0x111;
        __asm__ volatile("cmp %[b], %[a]\n\tcmovl %[y], %[c1]\n\t"
                         "cmova %[y], %[c2]"
                         : [c1] "+r"(c1), [c2] "+r"(c2)
                         : [a] "r"(a), [b] "r"(b), [y] "r"((ureg)0x222)
                         : "cc");
        printf("cmp %lx,%lx: setcc %04x cmovl %lx cmova %lx\n",
               (unsigned long)a, (unsigned long)b, mask, (unsigned long)c1,
               (unsigned long)c2);
    }
}

static void partial(void)
{
    ureg r = (ureg)0x1122334455667788ull, f;
    __asm__ volatile("addb $0x90, %b0\n\tpushf\n\tpop %1"
                     : "+q"(r), "=&r"(f)
                     :
                     : "cc");
    printf("addb: %lx/%x\n", (unsigned long)r, (unsigned)(f & ALL));
    __asm__ volatile("subw $0x8000, %w0\n\tpushf\n\tpop %1"
                     : "+r"(r), "=&r"(f)
                     :
                     : "cc");
    printf("subw: %lx/%x\n", (unsigned long)r, (unsigned)(f & ALL));
    __asm__ volatile("movb $0xee, %h0" : "+Q"(r));
    printf("movb ah: %lx\n", (unsigned long)r);
    ureg s = 0x80;
    ureg sx, zx;
    __asm__ volatile("movsbl %b2, %k0\n\tmovzwl %w2, %k1"
                     : "=&r"(sx), "=r"(zx)
                     : "q"(s | 0xf000));
    printf("movsx/movzx: %lx %lx\n", (unsigned long)sx, (unsigned long)zx);
#ifdef __x86_64__
    ureg t = (ureg)-1;
    __asm__ volatile("addl $1, %k0" : "+r"(t) : : "cc");
    printf("32-bit op zero-extends: %lx\n", (unsigned long)t);
    ureg u = (ureg)-1;
    __asm__ volatile("movw $1, %w0" : "+r"(u));
    printf("16-bit op keeps upper: %lx\n", (unsigned long)u);
    ureg sxd;
    __asm__ volatile("movslq %k1, %0" : "=r"(sxd) : "r"((ureg)0x80000000u));
    printf("movsxd: %lx\n", (unsigned long)sxd);
#endif
}

// String instructions (REP/REPE/REPNE, both directions, all widths),
// LAHF/SAHF, sign extensions, ENTER/LEAVE, LOOP/JECXZ, 8/16-bit RCL/RCR
// (count mod 9 / mod 17).
static void strings_misc(void)
{
    static uint8_t src[64], dst[64];
    for (unsigned i = 0; i < 64; i++)
        src[i] = (uint8_t)(i * 7 + 1);
    memset(dst, 0, sizeof dst);
    ureg si, di, cx;
    __asm__ volatile("cld\n\trep movsb"
                     : "=S"(si), "=D"(di), "=c"(cx)
                     : "0"(src), "1"(dst), "2"(13)
                     : "memory");
    printf("rep movsb: si+%lx di+%lx cx %lx\n", (unsigned long)(si - (ureg)src),
           (unsigned long)(di - (ureg)dst), (unsigned long)cx);
    __asm__ volatile("std\n\trep movsl\n\tcld"
                     : "=S"(si), "=D"(di), "=c"(cx)
                     : "0"(src + 40), "1"(dst + 40), "2"(3)
                     : "memory");
    printf("std rep movsl: si+%lx di+%lx\n", (unsigned long)(si - (ureg)src),
           (unsigned long)(di - (ureg)dst));
#ifdef __x86_64__
    __asm__ volatile("rep movsq"
                     : "=S"(si), "=D"(di), "=c"(cx)
                     : "0"(src + 48), "1"(dst + 48), "2"(2)
                     : "memory");
#endif
    __asm__ volatile("rep stosw"
                     : "=D"(di), "=c"(cx)
                     : "0"(dst + 20), "1"(3), "a"(0xabcd)
                     : "memory");
    printf("dst:");
    for (unsigned i = 0; i < 64; i += 8) {
        uint64_t w;
        memcpy(&w, dst + i, 8);
        printf(" %016llx", (unsigned long long)w);
    }
    putchar('\n');
    dst[5] = 0xee;
    ureg f;
    __asm__ volatile("repe cmpsb\n\tpushf\n\tpop %3"
                     : "=S"(si), "=D"(di), "=c"(cx), "=r"(f)
                     : "0"(src), "1"(dst), "2"(13)
                     : "memory", "cc");
    printf("repe cmpsb: si+%lx cx %lx flags %lx\n",
           (unsigned long)(si - (ureg)src), (unsigned long)cx,
           (unsigned long)(f & 0x8d5));
    __asm__ volatile("repne scasb\n\tpushf\n\tpop %2"
                     : "=D"(di), "=c"(cx), "=r"(f)
                     : "0"(src), "1"(64), "a"(src[30])
                     : "memory", "cc");
    printf("repne scasb: di+%lx cx %lx flags %lx\n",
           (unsigned long)(di - (ureg)src), (unsigned long)cx,
           (unsigned long)(f & 0x8d5));
    ureg a;
    __asm__ volatile("lodsw" : "=S"(si), "=a"(a) : "0"(src + 3), "1"(0) : "memory");
    printf("lodsw: %lx\n", (unsigned long)a);
    __asm__ volatile("rep stosb" : "=D"(di), "=c"(cx) : "0"(dst), "1"(0), "a"(1) : "memory");
    printf("rep with cx 0: di+%lx\n", (unsigned long)(di - (ureg)dst));

    // LAHF/SAHF.
    ureg ah_out;
    __asm__ volatile("mov $0xd5, %%ah\n\tsahf\n\tmov $0, %%ah\n\tlahf\n\t"
                     "shr $8, %0"
                     : "=a"(ah_out)
                     :
                     : "cc");
    printf("sahf/lahf: %lx\n", (unsigned long)(ah_out & 0xff));
    // Sign extensions.
    ureg r1 = 0x1280, r2, r3, d3;
    __asm__ volatile("cbw" : "+a"(r1));
    r2 = 0x87654321;
    __asm__ volatile("cwtl" : "+a"(r2));  // CWDE
    r3 = (ureg)0xfedcba9876543210ull;
    __asm__ volatile("cltd" : "+a"(r3), "=d"(d3));  // CDQ
    printf("cbw %lx cwde %lx cdq %lx\n", (unsigned long)(r1 & 0xffff),
           (unsigned long)r2, (unsigned long)(d3 & 0xffffffff));
    // ENTER with nesting level 2 copies one outer frame pointer.
    ureg depth;
#ifdef __x86_64__
    __asm__ volatile("mov %%rsp, %%rcx\n\tpush %%rbp\n\tmov %%rsp, %%rbp\n\t"
                     "enter $24, $2\n\tmov %%rcx, %0\n\tsub %%rsp, %0\n\t"
                     "leave\n\tpop %%rbp"
                     : "=r"(depth) : : "rcx", "memory");
#else
    __asm__ volatile("mov %%esp, %%ecx\n\tpush %%ebp\n\tmov %%esp, %%ebp\n\t"
                     "enter $24, $2\n\tmov %%ecx, %0\n\tsub %%esp, %0\n\t"
                     "leave\n\tpop %%ebp"
                     : "=r"(depth) : : "ecx", "memory");
#endif
    printf("enter 24,2 depth %lx\n", (unsigned long)depth);
    // LOOP, LOOPE, JECXZ.
    ureg n = 0, c = 5;
    __asm__ volatile("1:\n\tinc %0\n\tloop 1b" : "+r"(n), "+c"(c));
    ureg m = 0;
    c = 0;
    __asm__ volatile("jecxz 1f\n\tmov $1, %0\n1:" : "+r"(m) : "c"(c));
    printf("loop %lx jecxz-taken %lx\n", (unsigned long)n, (unsigned long)(m == 0));
    // 8/16-bit RCL/RCR: count masked to 5 bits, then mod 9 / mod 17.
    for (unsigned k = 0; k < 4; k++) {
        static const uint8_t cnt[] = {8, 9, 10, 31};
        uint32_t b8 = 0x81, b16 = 0x8001;
        __asm__ volatile("stc\n\trclb %%cl, %b0" : "+q"(b8) : "c"(cnt[k]) : "cc");
        __asm__ volatile("stc\n\trcrw %%cl, %w0" : "+r"(b16) : "c"(cnt[k] + 8) : "cc");
        printf("rcl8/rcr16 by %u/%u: %x %x\n", cnt[k], cnt[k] + 8, b8 & 0xff,
               b16 & 0xffff);
    }
}

int main(void)
{
    printf("intops start (%d-bit)\n", W);
    BIN("add", "add", 0, ALL);
    BIN("adc", "adc", CF, ALL);
    BIN("sub", "sub", 0, ALL);
    BIN("sbb", "sbb", CF, ALL);
    BIN("and", "and", 0, NOAF);
    BIN("or", "or", 0, NOAF);
    BIN("xor", "xor", ALL, NOAF);
    UN("neg", "neg", 0, ALL);
    UN("not", "not", ALL, ALL);
    UN("inc", "inc", CF, ALL);
    UN("dec", "dec", 0, ALL);
    SHIFT("shl", "shl", 0, 0);
    SHIFT("shr", "shr", ALL, 0);
    SHIFT("sar", "sar", 0, 0);
    SHIFT("rol", "rol", 0, 1);
    SHIFT("ror", "ror", ALL & ~CF, 1);
    SHIFT("rcl", "rcl", CF, 1);
    SHIFT("rcr", "rcr", 0, 1);
    DSHIFT("shld", "shld");
    DSHIFT("shrd", "shrd");
    muldiv();
    bits();
    exchange();
    conditions();
    partial();
    strings_misc();
    puts("intops done");
    return 0;
}
