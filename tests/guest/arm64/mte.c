// FEAT_MTE2/MTE3 on -M virt,mte=on -cpu max: the ID fields, IRG from a fixed seed, the tag
// stores and loads (STG, ST2G, STZG, STGP, LDG, STGM/LDGM, DC GVA/GZVA), ADDG/SUBG/GMI/SUBP,
// and tag checks: synchronous faults (ESR, FAR), asynchronous accumulation in TFSR_EL1,
// asymmetric mode, PSTATE.TCO, TCR_EL1.TCMA0 and untagged memory. Runs with the MMU on: RAM is
// identity-mapped Tagged (MAIR 0xF0), and also at 0x80000000 as untagged Normal memory.
//
// Each case tags only granules 0 and 1 of its own 4K page and reads tags back only there:
// qemu-system-aarch64 7.2 drops the page offset when it locates tag storage for LDG/STG and the
// checks (fixed upstream in 8.0, "Fix physical address resolution for MTE"), so on it every even
// granule of a page shares one tag and every odd granule another. Within those two granules
// both agree with the architecture.
#pragma GCC target("arch=armv8.5-a+memtag")
#include "vectors.h"

#define GCR_EL1 "S3_0_C1_C0_6"
#define RGSR_EL1 "S3_0_C1_C0_5"
#define TFSR_EL1 "S3_0_C5_C6_0"
#define GMID_EL1 "S3_1_C0_C0_4"
#define PFR1 "S3_0_C0_C4_1"
#define TCO "S3_3_C4_C2_7"

#define MRS(r) ({ uint64_t v_; __asm__ volatile("mrs %0, " r : "=r"(v_)); v_; })
#define MSR(r, v) __asm__ volatile("msr " r ", %0\n isb" ::"r"((uint64_t)(v)) : "memory")

static uint64_t l1[512] __attribute__((aligned(4096)));
static uint64_t l2[2][512] __attribute__((aligned(4096)));  // 2M blocks: RAM, its alias
static uint8_t pages[10][4096] __attribute__((aligned(4096)));
#define PAGE(i) ((uint64_t)pages[i])

#define TAG(p, t) ((uint64_t)(p) | ((uint64_t)(t) << 56))
#define TAG_OF(v) (((v) >> 56) & 0xf)
#define UNTAGGED(p) (0x80000000ull + ((uint64_t)(p) - 0x40000000ull))  // the Normal alias

static struct {
    unsigned count;
    uint64_t esr, far;
} fault;

void handle_exception(struct frame *f, uint64_t slot) {
    if (slot != 4 || EC(f->esr) != 0x25) rt_unexpected_exception(slot, f->esr, f->elr, MRS("far_el1"));
    fault.count++;
    fault.esr = f->esr;
    fault.far = MRS("far_el1");
    f->elr += 4;  // skip the faulting access
}

static void report_fault(const char *what) {
    if (!fault.count) {
        printf("%s: no fault\n", what);
        return;
    }
    printf("%s: fault DFSC=0x%x WnR=%u far=pages+0x%x tag=%u\n", what,
           (unsigned)(fault.esr & 0x3f), (unsigned)((fault.esr >> 6) & 1),
           (unsigned)((fault.far & 0xffffffffffffull) - PAGE(0)), (unsigned)TAG_OF(fault.far));
    fault.count = 0;
}

static void set_tcf(unsigned tcf) {
    uint64_t s = MRS("sctlr_el1");
    s &= ~(3ull << 40);
    s |= (1ull << 43) | ((uint64_t)tcf << 40);  // ATA, TCF
    MSR("sctlr_el1", s);
}

static void mmu_on(void) {
    l1[0] = 0x00000000ull | (1 << 10) | (1 << 2) | 1;  // devices: attr 1 (Device-nGnRnE)
    for (unsigned i = 0; i < 512; i++) {
        const uint64_t pa = 0x40000000ull + ((uint64_t)i << 21);
        l2[0][i] = pa | (1 << 10) | (3 << 8) | (0 << 2) | 1;  // RAM: attr 0 (Tagged)
        l2[1][i] = pa | (1 << 10) | (3 << 8) | (2 << 2) | 1;  // alias: attr 2 (Normal)
    }
    l1[1] = (uint64_t)l2[0] | 3;
    l1[2] = (uint64_t)l2[1] | 3;
    MSR("mair_el1", 0xff00f0ull);
    // T0SZ 25, WB cacheable inner shareable walks, EPD1, 40-bit IPS, TBI0.
    MSR("tcr_el1", 25 | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23) | (2ull << 32) | (1ull << 37));
    MSR("ttbr0_el1", (uint64_t)l1);
    __asm__ volatile("tlbi vmalle1\n dsb sy\n isb");
    MSR("sctlr_el1", MRS("sctlr_el1") | 1 | (1 << 2) | (1 << 12));
}

static uint64_t ldg(uint64_t p) {
    uint64_t v = p;
    __asm__ volatile("ldg %0, [%1]" : "+r"(v) : "r"(p) : "memory");
    return v;
}
static void stg(uint64_t p) { __asm__ volatile("stg %0, [%0]" ::"r"(p) : "memory"); }
static void st2g(uint64_t p) { __asm__ volatile("st2g %0, [%0]" ::"r"(p) : "memory"); }
static void stzg(uint64_t p) { __asm__ volatile("stzg %0, [%0]" ::"r"(p) : "memory"); }
static uint64_t load(uint64_t p) {
    uint64_t v;
    __asm__ volatile("ldr %0, [%1]" : "=r"(v) : "r"(p) : "memory");
    return v;
}
static void store(uint64_t p, uint64_t v) {
    __asm__ volatile("str %1, [%0]" ::"r"(p), "r"(v) : "memory");
}

#define T(p) ((unsigned)TAG_OF(ldg(p)))

int main(void) {
    install_vectors();
    const uint64_t pfr1 = MRS(PFR1);
    printf("ID_AA64PFR1_EL1.MTE=%u GMID_EL1=%u\n", (unsigned)((pfr1 >> 8) & 0xf),
           (unsigned)MRS(GMID_EL1));
    mmu_on();
    set_tcf(0);

    // IRG from a fixed seed, tag 0 excluded by GCR_EL1, tag 3 by the register.
    MSR(GCR_EL1, 0x0001);
    MSR(RGSR_EL1, 0x1234ull << 8 | 5);
    printf("irg:");
    for (int i = 0; i < 12; i++) {
        uint64_t r;
        __asm__ volatile("irg %0, %1, %2" : "=r"(r) : "r"(PAGE(9)), "r"(1ull << 3));
        printf(" %u", (unsigned)TAG_OF(r));
    }
    printf(" rgsr=0x%x\n", (unsigned)MRS(RGSR_EL1));

    // ADDG/SUBG (GCR excludes 0), GMI, SUBP/SUBPS.
    const uint64_t base = PAGE(9);
    uint64_t a, b, g, d, nzcv;
    __asm__ volatile("addg %0, %1, #48, #3" : "=r"(a) : "r"(TAG(base, 14)));
    __asm__ volatile("subg %0, %1, #16, #1" : "=r"(b) : "r"(TAG(base + 64, 15)));
    __asm__ volatile("gmi %0, %1, %2" : "=r"(g) : "r"(TAG(base, 9)), "r"(0x10ull));
    __asm__ volatile("subps %0, %2, %3\n mrs %1, nzcv"
                     : "=r"(d), "=r"(nzcv)
                     : "r"(TAG(base, 2)), "r"(TAG(base + 32, 7)));
    printf("addg tag=%u off=%d subg tag=%u off=%d gmi=0x%x subps=%d nzcv=0x%x\n",
           (unsigned)TAG_OF(a), (int)((a & 0xffffffffffffull) - base), (unsigned)TAG_OF(b),
           (int)((b & 0xffffffffffffull) - base), (unsigned)g, (int)d, (unsigned)(nzcv >> 28));

    // Tag stores and loads, one page each (see the top of the file).
    memset(pages, 0xa5, sizeof pages);
    stg(TAG(PAGE(0), 1));
    st2g(TAG(PAGE(1), 2));
    stzg(TAG(PAGE(2), 3));
    __asm__ volatile("stz2g %0, [%0]" ::"r"(TAG(PAGE(3), 4)) : "memory");
    __asm__ volatile("stgp %1, %2, [%0, #16]" ::"r"(TAG(PAGE(4) - 16, 5)), "r"(0x1111ull),
                     "r"(0x2222ull)
                     : "memory");
    stg(TAG(PAGE(8), 1));
    stg(TAG(PAGE(8) + 16, 5));
    printf("tags: stg=%u,%u st2g=%u,%u stzg=%u,%u stz2g=%u,%u stgp=%u,%u pair=%u,%u\n",
           T(PAGE(0)), T(PAGE(0) + 16), T(PAGE(1)), T(PAGE(1) + 16), T(PAGE(2)),
           T(PAGE(2) + 16), T(PAGE(3)), T(PAGE(3) + 16), T(PAGE(4)), T(PAGE(4) + 16),
           T(PAGE(8)), T(PAGE(8) + 16));
    printf("data: stzg %x %x stz2g %x %x stgp %x %x\n", pages[2][8], pages[2][16], pages[3][24],
           pages[3][32], (unsigned)*(volatile uint64_t *)PAGE(4),
           (unsigned)*(volatile uint64_t *)(PAGE(4) + 8));
    const uint64_t kept = ldg(PAGE(1) + 0x7);  // aligns down, keeps Xt's other bits
    printf("ldg: low=0x%x tag=%u\n", (unsigned)(kept & 0xfff), (unsigned)TAG_OF(kept));

    // STGM/LDGM move 16 tags (256 bytes).
    uint64_t back = 0;
    __asm__ volatile("stgm %0, [%1]" ::"r"(0x0123456789abcdefull), "r"(PAGE(5)) : "memory");
    __asm__ volatile("ldgm %0, [%1]" : "=r"(back) : "r"(PAGE(5) + 0x40) : "memory");
    printf("ldgm=0x%x%08x\n", (unsigned)(back >> 32), (unsigned)back);
    // DC GVA/GZVA act on a DCZID_EL0 block; only its first granule is compared.
    __asm__ volatile("dc gva, %0" ::"r"(TAG(PAGE(6), 6)) : "memory");
    __asm__ volatile("dc gzva, %0" ::"r"(TAG(PAGE(7), 7)) : "memory");
    printf("dc gva=%u gzva=%u data=%x\n", T(PAGE(6)), T(PAGE(7)), pages[7][8]);

    // Synchronous tag checks (PAGE(0) granule 0 has tag 1; PAGE(8) has 1 then 5).
    set_tcf(1);
    (void)load(TAG(PAGE(0), 1));
    report_fault("sync load match");
    (void)load(TAG(PAGE(0) + 8, 2));
    report_fault("sync load mismatch");
    store(TAG(PAGE(0), 3), 1);
    report_fault("sync store mismatch");
    uint64_t p0, p1;
    __asm__ volatile("ldp %0, %1, [%2, #8]" : "=r"(p0), "=r"(p1) : "r"(TAG(PAGE(8), 1)) : "memory");
    report_fault("sync ldp across granules");
    __asm__ volatile("ldp %0, %1, [%2]" : "=r"(p0), "=r"(p1) : "r"(TAG(PAGE(8), 1)) : "memory");
    report_fault("sync ldp in one granule");
    (void)load(TAG(UNTAGGED(PAGE(0)), 9));
    report_fault("untagged memory");
    __asm__ volatile("msr tco, #1");
    (void)load(TAG(PAGE(0), 9));
    report_fault("tco set");
    __asm__ volatile("msr tco, #0");
    printf("tco=0x%x\n", (unsigned)MRS(TCO));
    MSR("tcr_el1", MRS("tcr_el1") | (1ull << 57));  // TCMA0: tag 0 unchecked
    (void)load(PAGE(0));
    report_fault("tcma0 tag 0");
    MSR("tcr_el1", MRS("tcr_el1") & ~(1ull << 57));
    (void)load(PAGE(0));
    report_fault("no tcma0 tag 0");

    // Asynchronous: accumulated in TFSR_EL1.TF0.
    set_tcf(2);
    MSR(TFSR_EL1, 0);
    (void)load(TAG(PAGE(0), 1));
    printf("async match tfsr=%u\n", (unsigned)MRS(TFSR_EL1));
    (void)load(TAG(PAGE(0), 7));
    report_fault("async load mismatch");
    printf("async tfsr=%u\n", (unsigned)MRS(TFSR_EL1));

    // Asymmetric (MTE3): reads are synchronous, writes asynchronous.
    set_tcf(3);
    MSR(TFSR_EL1, 0);
    store(TAG(PAGE(0), 7), 2);
    report_fault("asym store mismatch");
    printf("asym tfsr=%u\n", (unsigned)MRS(TFSR_EL1));
    (void)load(TAG(PAGE(0), 7));
    report_fault("asym load mismatch");

    set_tcf(0);
    printf("mte done\n");
    return 0;
}
