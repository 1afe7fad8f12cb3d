// A static arm64 Linux program without a C library (raw system calls), run by
// pmu_debug_linux.sh in the busybox initramfs: it counts the user-space instructions of two
// loops through perf_event_open, and sets a hardware watchpoint on a child through ptrace
// (PTRACE_SETREGSET NT_ARM_HW_WATCH) and sees it fire.
typedef unsigned long u64;
typedef unsigned int u32;
typedef long i64;

// gcc emits calls to memset for zeroed structures.
void *memset(void *d, int c, unsigned long n)
{
    volatile unsigned char *p = d;
    while (n--) *p++ = (unsigned char)c;
    return d;
}

static i64 sys(i64 n, i64 a, i64 b, i64 c, i64 d, i64 e)
{
    register i64 x8 __asm__("x8") = n;
    register i64 x0 __asm__("x0") = a;
    register i64 x1 __asm__("x1") = b;
    register i64 x2 __asm__("x2") = c;
    register i64 x3 __asm__("x3") = d;
    register i64 x4 __asm__("x4") = e;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4)
                     : "memory");
    return x0;
}

enum { SYS_ioctl = 29, SYS_write = 64, SYS_read = 63, SYS_exit = 93, SYS_kill = 129,
       SYS_getpid = 172, SYS_ptrace = 117, SYS_clone = 220, SYS_wait4 = 260,
       SYS_perf_event_open = 241 };

static void out(const char *s)
{
    u64 n = 0;
    while (s[n]) n++;
    sys(SYS_write, 1, (i64)s, n, 0, 0);
}

static void out_num(const char *label, i64 v)
{
    char buf[32];
    int i = 31;
    int neg = v < 0;
    u64 u = neg ? -(u64)v : (u64)v;
    buf[i] = 0;
    do {
        buf[--i] = '0' + u % 10;
        u /= 10;
    } while (u);
    if (neg) buf[--i] = '-';
    out(label);
    out(buf + i);
    out("\n");
}

// struct perf_event_attr, the fields used (version 0 size is 64 bytes; we pass 112).
struct perf_attr {
    u32 type, size;
    u64 config, sample_period, sample_type, read_format, flags;
    u64 rest[8];
};

static u64 count_loop(u64 n)
{
    struct perf_attr a = {0};
    a.type = 0;   // PERF_TYPE_HARDWARE
    a.size = sizeof a;
    a.config = 1; // PERF_COUNT_HW_INSTRUCTIONS
    a.flags = 1 | 1 << 5 | 1 << 6; // disabled, exclude_kernel, exclude_hv
    i64 fd = sys(SYS_perf_event_open, (i64)&a, 0, -1, -1, 0);
    if (fd < 0) {
        out_num("perf_event_open failed: ", fd);
        return 0;
    }
    sys(SYS_ioctl, fd, 0x2400, 0, 0, 0); // PERF_EVENT_IOC_ENABLE
    __asm__ volatile("1: add x9, x9, #1\n"
                     "subs %0, %0, #1\n"
                     "b.ne 1b\n"
                     : "+r"(n) : : "x9", "cc");
    sys(SYS_ioctl, fd, 0x2401, 0, 0, 0); // PERF_EVENT_IOC_DISABLE
    u64 count = 0;
    sys(SYS_read, fd, (i64)&count, 8, 0, 0);
    return count;
}

static volatile u64 watched;

struct hw_debug_state {
    u32 dbg_info, pad;
    struct {
        u64 addr;
        u32 ctrl, pad;
    } regs[16];
};

static void test_watchpoint(void)
{
    i64 pid = sys(SYS_clone, 17 /* SIGCHLD */, 0, 0, 0, 0);
    if (pid == 0) {
        sys(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0, 0);
        sys(SYS_kill, sys(SYS_getpid, 0, 0, 0, 0, 0), 19 /* SIGSTOP */, 0, 0, 0);
        watched = 42; // the watchpoint fires here
        sys(SYS_exit, 0, 0, 0, 0, 0);
    }
    int status = 0;
    sys(SYS_wait4, pid, (i64)&status, 0, 0, 0);
    struct hw_debug_state st = {0};
    struct { void *base; u64 len; } iov = {&st, sizeof st};
    sys(SYS_ptrace, 0x4204 /* PTRACE_GETREGSET */, pid, 0x403 /* NT_ARM_HW_WATCH */, (i64)&iov, 0);
    out_num("watchpoint slots: ", st.dbg_info & 0xff);
    st.regs[0].addr = (u64)&watched;
    // Enable, EL0, stores, 8 bytes (Linux's ptrace encoding is DBGWCR's).
    st.regs[0].ctrl = 1 | 2 << 1 | 2 << 3 | 0xff << 5;
    iov.len = 8 + 16;
    i64 r = sys(SYS_ptrace, 0x4205 /* PTRACE_SETREGSET */, pid, 0x403, (i64)&iov, 0);
    out_num("setregset: ", r);
    sys(SYS_ptrace, 7 /* PTRACE_CONT */, pid, 0, 0, 0);
    sys(SYS_wait4, pid, (i64)&status, 0, 0, 0);
    out_num("stopped by signal: ", (status & 0xff) == 0x7f ? (status >> 8) & 0xff : -1);
    struct { int signo, errno_, code, pad; u64 addr; u64 rest[12]; } si = {0};
    sys(SYS_ptrace, 0x4202 /* PTRACE_GETSIGINFO */, pid, 0, (i64)&si, 0);
    out_num("si_code: ", si.code); // TRAP_HWBKPT = 4
    out(si.addr == (u64)&watched ? "si_addr: the watched variable\n" : "si_addr: wrong\n");
    out_num("child's store done before the stop: ", watched == 42); // separate address spaces
    sys(SYS_ptrace, 8 /* PTRACE_KILL */, pid, 0, 0, 0);
    sys(SYS_wait4, pid, (i64)&status, 0, 0, 0);
}

void _start(void)
{
    u64 a = count_loop(100000), b = count_loop(300000);
    i64 diff = (i64)(b - a) - 600000; // three instructions per iteration
    out_num("perf instructions, 200000 more iterations: 600000 + ", diff);
    out(diff >= -50 && diff <= 50 ? "perf instructions: exact within 50\n"
                                   : "perf instructions: WRONG\n");
    test_watchpoint();
    out("ORRERY-PMU-DEBUG-DONE\n");
    sys(SYS_exit, 0, 0, 0, 0, 0);
    for (;;) {
    }
}
