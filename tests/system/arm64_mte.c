// A static arm64 Linux program without a C library (raw system calls), run by mte_linux.sh in
// the busybox initramfs: it enables synchronous tag checks with prctl, maps a PROT_MTE page,
// tags a granule with IRG/STG, stores through the right tag, and then, in a child, through a
// wrong one, which must die of SIGSEGV with si_code SEGV_MTESERR.
typedef unsigned long u64;
typedef long i64;

static i64 sys(i64 n, i64 a, i64 b, i64 c, i64 d, i64 e, i64 f)
{
    register i64 x8 __asm__("x8") = n;
    register i64 x0 __asm__("x0") = a;
    register i64 x1 __asm__("x1") = b;
    register i64 x2 __asm__("x2") = c;
    register i64 x3 __asm__("x3") = d;
    register i64 x4 __asm__("x4") = e;
    register i64 x5 __asm__("x5") = f;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                     : "memory");
    return x0;
}

enum { SYS_write = 64, SYS_exit_group = 94, SYS_rt_sigaction = 134, SYS_clone = 220,
       SYS_mmap = 222, SYS_wait4 = 260, SYS_prctl = 167 };
enum { PR_SET_TAGGED_ADDR_CTRL = 55, PR_TAGGED_ADDR_ENABLE = 1, PR_MTE_TCF_SYNC = 1 << 1,
       PR_MTE_TAG_SHIFT = 3, PROT_READ = 1, PROT_WRITE = 2, PROT_MTE = 0x20,
       MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, SIGSEGV = 11, SA_SIGINFO = 4, SA_EXPOSETAGBITS = 0x800,
       SEGV_MTESERR = 9 };

static void out(const char *s)
{
    u64 n = 0;
    while (s[n]) n++;
    sys(SYS_write, 1, (i64)s, n, 0, 0, 0);
}

static void out_num(const char *label, i64 v)
{
    char buf[32];
    int i = 31;
    u64 u = v < 0 ? -(u64)v : (u64)v;
    buf[i] = 0;
    do {
        buf[--i] = '0' + u % 10;
        u /= 10;
    } while (u);
    if (v < 0) buf[--i] = '-';
    out(label);
    out(buf + i);
    out("\n");
}

static u64 bad_ptr;

static void out_hex(const char *label, u64 v)
{
    char buf[19];
    buf[18] = 0;
    for (int i = 17; i >= 2; i--, v >>= 4) buf[i] = "0123456789abcdef"[v & 15];
    buf[0] = '0', buf[1] = 'x';
    out(label);
    out(buf);
    out("\n");
}

struct siginfo_head {
    int si_signo, si_errno, si_code, pad;
    u64 si_addr;
};

static void on_segv(int sig, struct siginfo_head *si, void *uc)
{
    (void)uc;
    out_num("signal: ", sig);
    out_num("si_code: ", si->si_code);
    // With SA_EXPOSETAGBITS the kernel reports FAR_EL1's tag (bits 59:56; 63:60 are UNKNOWN).
    if ((si->si_addr & 0x0fffffffffffffffull) == (bad_ptr & 0x0fffffffffffffffull)) {
        out("si_addr: the mismatched pointer\n");
    } else {
        out_hex("si_addr: another address: ", si->si_addr);
        out_hex("the mismatched pointer: ", bad_ptr);
    }
    sys(SYS_exit_group, 0, 0, 0, 0, 0, 0);
}

struct kernel_sigaction {
    void *handler;
    u64 flags;
    void *restorer;
    u64 mask;
};

void _start(void)
{
    i64 r = sys(SYS_prctl, PR_SET_TAGGED_ADDR_CTRL,
                PR_TAGGED_ADDR_ENABLE | PR_MTE_TCF_SYNC | (0xfffe << PR_MTE_TAG_SHIFT), 0, 0, 0, 0);
    out_num("prctl: ", r);
    i64 p = sys(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE | PROT_MTE, MAP_PRIVATE | MAP_ANONYMOUS,
                -1, 0);
    out(p > 0 ? "mmap PROT_MTE: ok\n" : "mmap PROT_MTE: failed\n");
    if (p <= 0) sys(SYS_exit_group, 1, 0, 0, 0, 0, 0);
    u64 q;
    __asm__ volatile(".arch armv8.5-a+memtag\n irg %0, %1\n stg %0, [%0]" : "=&r"(q) : "r"(p)
                     : "memory");
    out_num("tag nonzero: ", ((q >> 56) & 0xf) != 0);
    *(volatile u64 *)q = 42;
    u64 t;
    __asm__ volatile(".arch armv8.5-a+memtag\n ldg %0, [%1]" : "=r"(t) : "r"(p));
    out_num("ldg matches irg: ", ((t >> 56) & 0xf) == ((q >> 56) & 0xf));
    out_num("tagged load: ", *(volatile u64 *)q);
    bad_ptr = q ^ (1ull << 56);  // another tag for the same granule
    struct kernel_sigaction sa = {(void *)on_segv, SA_SIGINFO | SA_EXPOSETAGBITS, 0, 0};
    out_num("sigaction: ", sys(SYS_rt_sigaction, SIGSEGV, (i64)&sa, 0, 8, 0, 0));
    i64 pid = sys(SYS_clone, 17 /* SIGCHLD */, 0, 0, 0, 0, 0);
    if (pid == 0) {
        *(volatile u64 *)bad_ptr = 1;  // tag check fault
        out("no fault\n");
        sys(SYS_exit_group, 3, 0, 0, 0, 0, 0);
    }
    int status = 0;
    sys(SYS_wait4, pid, (i64)&status, 0, 0, 0, 0);
    out_num("child exit: ", (status >> 8) & 0xff);
    out("ORRERY-MTE-DONE\n");
    sys(SYS_exit_group, 0, 0, 0, 0, 0, 0);
}
