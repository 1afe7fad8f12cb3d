// 32-bit paging (4 KiB and 4 MiB pages) and PAE paging (2 MiB pages, NX,
// reserved bits) in protected mode: page faults with their CR2 and error
// codes, CR0.WP, user/supervisor checks from ring 3, accessed/dirty bits
// read back from the page tables, aliases, INVLPG, a REP MOVSB that faults
// part-way, and a store split across a present and a missing page.
#include "rt.h"

#define P 0x1u
#define RW 0x2u
#define US 0x4u
#define A 0x20u
#define D 0x40u
#define PS 0x80u
#define TEST_VA 0x40000000u
#define NX (1ull << 63)

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt0[1024] __attribute__((aligned(4096)));
static uint32_t pt_test[1024] __attribute__((aligned(4096)));
static uint8_t buf[4][4096] __attribute__((aligned(4096)));

static uint64_t pdpt[4] __attribute__((aligned(32)));
static uint64_t pae_pd0[512] __attribute__((aligned(4096)));
static uint64_t pae_pd1[512] __attribute__((aligned(4096)));
static uint64_t pae_pt[512] __attribute__((aligned(4096)));

static volatile uint32_t user_result;

static uint32_t peek(uint32_t va)
{
    uint32_t v = 0xeeeeeeee;
    TRY("mov (%1), %0", : "+r"(v) : "r"(va) : "memory");
    return v;
}

static void poke(uint32_t va, uint32_t v)
{
    TRY("movl %1, (%0)", : : "r"(va), "r"(v) : "memory");
}

static void print_ad32(const char *what, uint32_t e)
{
    printf("%s: A=%u D=%u\n", what, !!(e & A), !!(e & D));
}

static void user_probe(void)
{
    uint32_t v = 0;
    // Supervisor page: #PF err=5 (read) / 7 (write).
    TRY("mov (%1), %0", : "+r"(v) : "r"(TEST_VA) : "memory");
    TRY("movl $1, (%0)", : : "r"(TEST_VA) : "memory");
    // User read-only page: reads work, writes fault (err=7) whatever WP.
    TRY("mov (%1), %0", : "+r"(v) : "r"(TEST_VA + 0x4000) : "memory");
    user_result = v;
    TRY("movl $1, (%0)", : : "r"(TEST_VA + 0x4000) : "memory");
    rt_user_exit(0);
}

static int rep_hook(struct rt_frame *f)
{
    if (f->vector != 14)
        return 0;
    printf("rep movsb fault: cr2=%lx ecx=%x esi=+%x edi=+%x\n",
           (unsigned long)READ_CR(2), f->ecx,
           f->esi - (uint32_t)(uintptr_t)buf[3],
           f->edi - (TEST_VA + 0x1000));
    f->ip = rt_resume_ip;
    rt_resume_ip = 0;
    return 1;
}

static void legacy_paging(void)
{
    puts("-- 32-bit paging");
    for (unsigned i = 0; i < 1024; i++)
        pt0[i] = i * 4096 | P | RW | US;
    pd[0] = (uint32_t)(uintptr_t)pt0 | P | RW | US;
    pd[1] = 0x400000 | P | RW | US | PS;  // one 4 MiB page
    pd[TEST_VA >> 22] = (uint32_t)(uintptr_t)pt_test | P | RW | US;
    pt_test[0] = (uint32_t)(uintptr_t)buf[0] | P | RW;   // supervisor RW
    pt_test[1] = (uint32_t)(uintptr_t)buf[1] | P;        // supervisor RO
    pt_test[2] = 0;                                       // not present
    pt_test[3] = (uint32_t)(uintptr_t)buf[0] | P | RW | US;  // alias of 0
    pt_test[4] = (uint32_t)(uintptr_t)buf[1] | P | US;       // user RO
    buf[0][0] = 0x11;
    buf[1][0] = 0x22;

    WRITE_CR(4, READ_CR(4) | 0x10);  // PSE
    WRITE_CR(3, (uintptr_t)pd);
    WRITE_CR(0, READ_CR(0) | 0x80000000u);
    printf("paging on, cr0 %lx\n", (unsigned long)READ_CR(0));

    print_ad32("fresh pte0", pt_test[0]);
    printf("read va+0: %x\n", peek(TEST_VA));
    print_ad32("pte0 after read", pt_test[0]);
    print_ad32("pde after read", pd[TEST_VA >> 22]);
    poke(TEST_VA + 8, 0xcafe);
    print_ad32("pte0 after write", pt_test[0]);
    printf("alias va+3000: %x\n", peek(TEST_VA + 0x3008));
    print_ad32("pte3 after read", pt_test[3]);

    puts("not present: read, write");
    peek(TEST_VA + 0x2010);
    poke(TEST_VA + 0x2ffc, 1);
    puts("read-only, WP=0: supervisor write allowed");
    poke(TEST_VA + 0x1000, 0x33);
    printf("buf1 %x\n", buf[1][0]);
    print_ad32("pte1 after write", pt_test[1]);
    WRITE_CR(0, READ_CR(0) | 0x10000);
    puts("read-only, WP=1");
    poke(TEST_VA + 0x1004, 0x44);
    printf("buf1[4] %x\n", buf[1][4]);

    puts("fetch from a not-present page");
    TRY("lea 1f, %%edx\n\tjmp *%0\n1:", : : "r"(TEST_VA + 0x2000) : "edx");

    puts("ring 3");
    rt_user_call(user_probe, RT_TOP(rt_ustack));
    printf("user read of user page: %x\n", user_result);

    puts("4 MiB page");
    print_ad32("pde1 fresh", pd[1]);
    peek(0x400100);
    print_ad32("pde1 after read", pd[1]);
    poke(0x400100, 7);
    print_ad32("pde1 after write", pd[1]);

    puts("remap + invlpg");
    pt_test[0] = (uint32_t)(uintptr_t)buf[2] | P | RW;
    buf[2][0] = 0x99;
    invlpg(TEST_VA);
    printf("va+0 now %x\n", peek(TEST_VA));

    puts("rep movsb into a missing page");
    WRITE_CR(0, READ_CR(0) & ~0x10000u);  // WP=0: page 1 is writable
    for (unsigned i = 0; i < 64; i++)
        buf[3][i] = (uint8_t)i;
    pt_test[5] = (uint32_t)(uintptr_t)buf[3] | P | RW;
    rt_trap_hook = rep_hook;
    TRY("cld\n\trep movsb",
        :
        : "S"(buf[3]), "D"(TEST_VA + 0x1ff0), "c"(40)
        : "memory");
    rt_trap_hook = 0;
    // The bytes before the missing page were copied (the 4 KiB at 0x1000
    // is buf[1]; offset 0xff0).
    printf("copied: %x %x\n", buf[1][0xff0], buf[1][0xfff]);

    puts("split store across present/missing pages");
    buf[0][0xffe] = 0;
    buf[0][0xfff] = 0;
    pt_test[0] = (uint32_t)(uintptr_t)buf[0] | P | RW;
    pt_test[1] = 0;
    invlpg(TEST_VA);
    invlpg(TEST_VA + 0x1000);
    poke(TEST_VA + 0xffe, 0xaabbccdd);
    printf("low half stored? %x %x\n", buf[0][0xffe], buf[0][0xfff]);

    WRITE_CR(0, READ_CR(0) & ~0x80010000u);
    WRITE_CR(4, READ_CR(4) & ~0x10u);
    puts("paging off");
}

// QEMU 7.2 reports reserved-bit faults without the P bit that hardware
// sets, so only the other bits are printed.
static int rsvd_hook(struct rt_frame *f)
{
    if (f->vector != 14)
        return 0;
    printf("reserved-bit #PF err&~P=%x cr2=%lx\n", f->error & ~1u,
           (unsigned long)READ_CR(2));
    f->ip = rt_resume_ip;
    rt_resume_ip = 0;
    return 1;
}

static void pae_paging(void)
{
    puts("-- PAE paging");
    for (unsigned i = 0; i < 512; i++)
        pae_pd0[i] = (uint64_t)i << 21 | P | RW | US | PS;
    pdpt[0] = (uintptr_t)pae_pd0 | P;
    pdpt[1] = (uintptr_t)pae_pd1 | P;
    pae_pd1[0] = (uintptr_t)pae_pt | P | RW | US;
    pae_pd1[1] = 0x400000 | P | RW | US | PS;  // VA 0x40200000: 2 MiB page
    pae_pt[0] = (uintptr_t)buf[0] | P | RW;
    pae_pt[1] = (uintptr_t)buf[1] | P | RW | NX;
    pae_pt[2] = (uintptr_t)buf[2] | P | RW | (1ull << 50);  // reserved bit
    pae_pt[3] = (uintptr_t)buf[3] | P | RW;
    // buf[1] and buf[3]: "mov $0x5a5a, %eax; jmp *%edx"
    static const uint8_t code[] = {0xb8, 0x5a, 0x5a, 0, 0, 0xff, 0xe2};
    memcpy(buf[1], code, sizeof code);
    memcpy(buf[3], code, sizeof code);

    WRITE_CR(4, READ_CR(4) | 0x20);  // PAE
    WRITE_CR(3, (uintptr_t)pdpt);
    wrmsr(0xc0000080, rdmsr(0xc0000080) | 0x800);  // EFER.NXE
    WRITE_CR(0, READ_CR(0) | 0x80000000u);
    printf("PAE paging on, efer %llx\n",
           (unsigned long long)rdmsr(0xc0000080));

    printf("read va+0: %x\n", peek(TEST_VA) & 0xff);
    printf("pte0 %llx pde %llx\n", (unsigned long long)(pae_pt[0] & 0x60),
           (unsigned long long)(pae_pd1[0] & 0x60));
    uint32_t r = 0;
    puts("execute from an executable page");
    TRY("lea 1f, %%edx\n\tjmp *%1\n1:", : "+a"(r) : "r"(TEST_VA + 0x3000) : "edx");
    printf("eax %x\n", r);
    puts("execute from an NX page");
    TRY("lea 1f, %%edx\n\tjmp *%0\n1:", : : "r"(TEST_VA + 0x1000) : "eax", "edx");
    puts("reserved bit: read, write");
    rt_trap_hook = rsvd_hook;
    peek(TEST_VA + 0x2000);
    poke(TEST_VA + 0x2000, 5);
    rt_trap_hook = 0;
    puts("2 MiB page A/D");
    peek(0x40200000 + 0x1234);
    printf("pde: %llx\n", (unsigned long long)(pae_pd1[1] & 0x60));
    poke(0x40200000 + 0x1234, 9);
    printf("pde: %llx\n", (unsigned long long)(pae_pd1[1] & 0x60));
    puts("NXE=0 makes bit 63 reserved");
    wrmsr(0xc0000080, rdmsr(0xc0000080) & ~0x800ull);
    invlpg(TEST_VA + 0x1000);
    rt_trap_hook = rsvd_hook;
    peek(TEST_VA + 0x1000);
    rt_trap_hook = 0;

    WRITE_CR(0, READ_CR(0) & ~0x80000000u);
    WRITE_CR(4, READ_CR(4) & ~0x20u);
    puts("paging off");
}

int main(void)
{
    puts("paging32 start");
    legacy_paging();
    pae_paging();
    puts("paging32 done");
    return 0;
}
