// System registers an EL1 guest touches: identification, thread pointers,
// NZCV/DAIF/SPSel/CurrentEL, FPCR, and the generic timer. Only
// run-independent facts are printed (e.g. "counter advanced"), never raw
// counter values.
#include "rt.h"

extern char crt0_vectors[];

static uint64_t nzcv_after_cmp(uint64_t a, uint64_t b)
{
    uint64_t flags;
    __asm__ volatile("cmp %1, %2\n\tmrs %0, nzcv"
                     : "=r"(flags)
                     : "r"(a), "r"(b)
                     : "cc");
    return flags >> 28;
}

static uint64_t nzcv_after_cmp32(uint32_t a, uint32_t b)
{
    uint64_t flags;
    __asm__ volatile("cmp %w1, %w2\n\tmrs %0, nzcv"
                     : "=r"(flags)
                     : "r"(a), "r"(b)
                     : "cc");
    return flags >> 28;
}

static uint64_t nzcv_after_adds(uint64_t a, uint64_t b)
{
    uint64_t flags, sum;
    __asm__ volatile("adds %1, %2, %3\n\tmrs %0, nzcv"
                     : "=r"(flags), "=r"(sum)
                     : "r"(a), "r"(b)
                     : "cc");
    return flags >> 28;
}

static void test_identification(void)
{
    printf("CurrentEL %lu\n", READ_SYSREG(CurrentEL) >> 2);
    printf("SPSel %lu\n", READ_SYSREG(SPSel));
    printf("MIDR_EL1 %lx\n", READ_SYSREG(midr_el1));
    printf("MPIDR_EL1 %lx\n", READ_SYSREG(mpidr_el1));
    printf("SCTLR_EL1.M %lu\n", READ_SYSREG(sctlr_el1) & 1);
    uint64_t vbar = READ_SYSREG(vbar_el1);
    printf("VBAR_EL1 is crt0_vectors %d\n", vbar == (uintptr_t)crt0_vectors);
    printf("CPACR_EL1.FPEN %lu\n", (READ_SYSREG(cpacr_el1) >> 20) & 3);
}

static void test_thread_registers(void)
{
    WRITE_SYSREG(tpidr_el0, 0x1122334455667788ULL);
    WRITE_SYSREG(tpidrro_el0, 0xa5a5a5a5a5a5a5a5ULL);
    WRITE_SYSREG(tpidr_el1, 0xfeedfacecafebeefULL);
    WRITE_SYSREG(contextidr_el1, 0x4242);
    printf("TPIDR_EL0 %lx\n", READ_SYSREG(tpidr_el0));
    printf("TPIDRRO_EL0 %lx\n", READ_SYSREG(tpidrro_el0));
    printf("TPIDR_EL1 %lx\n", READ_SYSREG(tpidr_el1));
    printf("CONTEXTIDR_EL1 %lx\n", READ_SYSREG(contextidr_el1));
}

static void test_flags(void)
{
    printf("nzcv cmp 5,5 %lx\n", nzcv_after_cmp(5, 5));
    printf("nzcv cmp 3,5 %lx\n", nzcv_after_cmp(3, 5));
    printf("nzcv cmp 5,3 %lx\n", nzcv_after_cmp(5, 3));
    printf("nzcv cmp min,1 %lx\n", nzcv_after_cmp(0x8000000000000000ULL, 1));
    printf("nzcv cmp32 0,1 %lx\n", nzcv_after_cmp32(0, 1));
    printf("nzcv cmp32 min,1 %lx\n", nzcv_after_cmp32(0x80000000u, 1));
    printf("nzcv adds max,1 %lx\n", nzcv_after_adds(0x7fffffffffffffffULL, 1));
    printf("nzcv adds -1,1 %lx\n", nzcv_after_adds(~0ULL, 1));

    // NZCV is directly writable; only bits [31:28] exist.
    uint64_t back;
    __asm__ volatile("msr nzcv, %1\n\tmrs %0, nzcv"
                     : "=r"(back)
                     : "r"(0x1a00000ffULL)
                     : "cc");
    printf("nzcv write %lx\n", back);

    printf("DAIF at entry %lx\n", READ_SYSREG(daif));
    __asm__ volatile("msr daifclr, #0xf" ::: "memory");
    uint64_t cleared = READ_SYSREG(daif);
    __asm__ volatile("msr daifset, #0x3" ::: "memory");
    uint64_t some = READ_SYSREG(daif);
    WRITE_SYSREG(daif, 0x3c0);
    printf("DAIF cleared %lx set-IF %lx restored %lx\n", cleared, some,
           READ_SYSREG(daif));
}

static void test_fpcr(void)
{
    uint64_t old = READ_SYSREG(fpcr);
    // DN | FZ | RMode=0b11 (toward zero): all architected, all writable.
    WRITE_SYSREG(fpcr, 0x03c00000);
    uint64_t now = READ_SYSREG(fpcr);
    WRITE_SYSREG(fpcr, old);
    WRITE_SYSREG(fpsr, 0x08000000); // QC
    printf("FPCR reset %lx written %lx FPSR %lx\n", old, now,
           READ_SYSREG(fpsr));
    WRITE_SYSREG(fpsr, 0);
}

static void test_timer(void)
{
    uint64_t freq = READ_SYSREG(cntfrq_el0);
    printf("CNTFRQ nonzero %d\n", freq != 0);

    __asm__ volatile("isb");
    uint64_t t0 = READ_SYSREG(cntvct_el0);
    uint64_t t1 = READ_SYSREG(cntvct_el0);
    printf("CNTVCT monotonic %s\n", t1 >= t0 ? "ok" : "BAD");

    // Wait for about a millisecond of counter time; bounded so a stuck
    // counter fails the test instead of hanging it.
    uint64_t target = t1 + freq / 1000;
    uint64_t spins = 0;
    while (READ_SYSREG(cntvct_el0) < target && spins < 100000000)
        spins++;
    printf("CNTVCT advances %s\n",
           READ_SYSREG(cntvct_el0) >= target ? "ok" : "BAD");

    uint64_t p0 = READ_SYSREG(cntpct_el0);
    uint64_t p1 = READ_SYSREG(cntpct_el0);
    printf("CNTPCT monotonic %s\n", p1 >= p0 ? "ok" : "BAD");

    // Virtual timer with its interrupt masked: ISTATUS reflects the
    // comparison without any interrupt being delivered.
    WRITE_SYSREG(cntv_cval_el0, READ_SYSREG(cntvct_el0));
    WRITE_SYSREG(cntv_ctl_el0, 3); // ENABLE | IMASK
    __asm__ volatile("isb");
    printf("CNTV_CTL expired %lx\n", READ_SYSREG(cntv_ctl_el0));
    WRITE_SYSREG(cntv_cval_el0, ~0ULL);
    __asm__ volatile("isb");
    printf("CNTV_CTL pending %lx\n", READ_SYSREG(cntv_ctl_el0));

    // TVAL counts down from what was written.
    WRITE_SYSREG(cntv_tval_el0, 0x10000000);
    uint64_t tval = READ_SYSREG(cntv_tval_el0) & 0xffffffff;
    printf("CNTV_TVAL counts down %s\n",
           tval <= 0x10000000 && tval > 0x08000000 ? "ok" : "BAD");
    WRITE_SYSREG(cntv_ctl_el0, 0);
    printf("CNTV_CTL disabled %lx\n", READ_SYSREG(cntv_ctl_el0));
}

int main(void)
{
    puts("sysregs start");
    test_identification();
    test_thread_registers();
    test_flags();
    test_fpcr();
    test_timer();
    puts("sysregs done");
    return 0;
}
