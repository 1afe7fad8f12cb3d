// 4-level paging in long mode (-cpu max): 4 KiB, 2 MiB and 1 GiB pages,
// accessed/dirty bits at every level, NX at the leaf and at an upper level,
// CR0.WP, SMEP, reserved bits, non-canonical addresses, INVLPG.
#include "rt.h"

#define P 0x1ull
#define RW 0x2ull
#define US 0x4ull
#define A 0x20ull
#define D 0x40ull
#define PS 0x80ull
#define NX (1ull << 63)
#define HI 0x8000000000ull  // PML4 slot 1: the test area

static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt_lo[512] __attribute__((aligned(4096)));
static uint64_t pd_lo[512] __attribute__((aligned(4096)));
static uint64_t pdpt_hi[512] __attribute__((aligned(4096)));
static uint64_t pd_hi[512] __attribute__((aligned(4096)));
static uint64_t pt_hi[512] __attribute__((aligned(4096)));
// Test pages at fixed physical addresses (free RAM above the image), so
// printed addresses do not depend on the link layout.
#define buf ((uint8_t(*)[4096])(uintptr_t)0x400000)
#define marker (*(volatile uint64_t *)(uintptr_t)0x500010)

static uint64_t peek(uint64_t va)
{
    uint64_t v = 0xeeeeeeeeeeeeeeeeull;
    TRY("mov (%1), %0", : "+r"(v) : "r"(va) : "memory");
    return v;
}

static void poke(uint64_t va, uint64_t v)
{
    TRY("movq %1, (%0)", : : "r"(va), "r"(v) : "memory");
}

// Runs "mov $0x5a5a, %eax; jmp *%rdx" at va.
static uint64_t exec(uint64_t va)
{
    uint64_t r = 0;
    TRY("lea 1f(%%rip), %%rdx\n\tjmp *%1\n1:", : "+a"(r) : "r"(va) : "rdx");
    return r;
}

static void ad(const char *what, uint64_t e)
{
    printf("%s: A=%u D=%u\n", what, !!(e & A), !!(e & D));
}

static int rsvd_hook(struct rt_frame *f)
{
    if (f->vector != 14)
        return 0;
    // QEMU 7.2 leaves P clear on reserved-bit faults; hardware sets it.
    printf("reserved-bit #PF err&~P=%lx cr2=%lx\n",
           (unsigned long)(f->error & ~1ull), (unsigned long)READ_CR(2));
    f->ip = rt_resume_ip;
    rt_resume_ip = 0;
    return 1;
}

int main(void)
{
    puts("paging64 start");
    static const uint8_t code[] = {0xb8, 0x5a, 0x5a, 0, 0, 0xff, 0xe2};
    for (unsigned i = 0; i < 4; i++)
        memcpy(buf[i], code, sizeof code);
    marker = 0x1234567890abcdefull;

    // Supervisor-only identity map of the low 1 GiB (2 MiB pages).
    for (unsigned i = 0; i < 512; i++)
        pd_lo[i] = (uint64_t)i << 21 | P | RW | PS;
    pdpt_lo[0] = (uintptr_t)pd_lo | P | RW;
    pml4[0] = (uintptr_t)pdpt_lo | P | RW;
    // Test area at HI:
    //   HI + 0          1 GiB page -> phys 0 (user, RW)
    //   HI + 1G + 0     2 MiB page -> phys 4M (supervisor, RO)
    //   HI + 1G + 2M    2 MiB page -> phys 4M, NX
    //   HI + 1G + 4M    4 KiB pages: buf0 RW, buf1 NX, buf2 user, -, buf3 RO
    //   HI + 2G         NX on the PDPTE: 2 MiB pages below are NX too
    //   HI + 3G         PDPTE with a reserved bit
    pml4[1] = (uintptr_t)pdpt_hi | P | RW | US;
    pdpt_hi[0] = 0 | P | RW | US | PS;
    pdpt_hi[1] = (uintptr_t)pd_hi | P | RW | US;
    pdpt_hi[2] = (uintptr_t)pd_lo | P | RW | US | NX;
    pdpt_hi[3] = (uintptr_t)pd_lo | P | RW | US | (1ull << 51);
    pd_hi[0] = 0x400000 | P | PS;
    pd_hi[1] = 0x400000 | P | RW | PS | NX;
    pd_hi[2] = (uintptr_t)pt_hi | P | RW | US;
    pt_hi[0] = (uintptr_t)buf[0] | P | RW;
    pt_hi[1] = (uintptr_t)buf[1] | P | RW | NX;
    pt_hi[2] = (uintptr_t)buf[2] | P | RW | US;
    pt_hi[4] = (uintptr_t)buf[3] | P;

    wrmsr(0xc0000080, rdmsr(0xc0000080) | 0x800);  // NXE
    WRITE_CR(3, (uintptr_t)pml4);
    puts("own page tables loaded");

    uint64_t m = (uintptr_t)&marker;
    printf("1G page read: %lx\n", (unsigned long)peek(HI + m));
    ad("pml4e[1]", pml4[1]);
    ad("1G pdpte", pdpt_hi[0]);
    poke(HI + m, 0x1111);
    ad("1G pdpte after write", pdpt_hi[0]);
    printf("marker now %lx\n", (unsigned long)marker);

    printf("2M page read: %lx\n", (unsigned long)peek(HI + 0x40000000 + m - 0x400000));
    ad("pdpte[1]", pdpt_hi[1]);
    ad("2M pde", pd_hi[0]);
    puts("2M read-only page, WP=0 then WP=1");
    poke(HI + 0x40000000 + m - 0x400000, 0x2222);
    printf("marker now %lx\n", (unsigned long)marker);
    ad("2M pde after write", pd_hi[0]);
    WRITE_CR(0, READ_CR(0) | 0x10000);
    poke(HI + 0x40000000 + m - 0x400000, 0x3333);
    printf("marker now %lx\n", (unsigned long)marker);

    puts("4K pages");
    uint64_t pt_va = HI + 0x40000000 + 0x400000;
    printf("exec buf0: %lx\n", (unsigned long)exec(pt_va));
    ad("pte0", pt_hi[0]);
    printf("exec buf1 (NX): %lx\n", (unsigned long)exec(pt_va + 0x1000));
    printf("exec 2M NX page: %lx\n",
           (unsigned long)exec(HI + 0x40000000 + 0x200000));
    printf("exec below NX pdpte: %lx\n",
           (unsigned long)exec(HI + 0x80000000ull + (uintptr_t)buf[0]));
    printf("read missing page: %lx\n", (unsigned long)peek(pt_va + 0x3008));
    poke(pt_va + 0x4000, 1);  // RO with WP=1

    puts("SMEP");
    printf("exec user page, SMEP=0: %lx\n",
           (unsigned long)exec(pt_va + 0x2000));
    WRITE_CR(4, READ_CR(4) | (1u << 20));
    printf("exec user page, SMEP=1: %lx\n",
           (unsigned long)exec(pt_va + 0x2000));
    printf("read user page, SMEP=1: %lx\n",
           (unsigned long)peek(pt_va + 0x2000) & 0xffff);
    WRITE_CR(4, READ_CR(4) & ~(1ull << 20));

    puts("reserved bit in a PDPTE");
    rt_trap_hook = rsvd_hook;
    peek(HI + 0xc0000000ull);
    rt_trap_hook = 0;

    puts("non-canonical addresses: #GP(0), CR2 unchanged");
    peek(0x0000800000000000ull);
    poke(0xffff7fffffffff00ull, 1);

    puts("remap + invlpg");
    peek(pt_va);
    pt_hi[0] = (uintptr_t)buf[2] | P | RW;
    buf[2][0x100] = 0x77;
    invlpg(pt_va);
    printf("va now reads %lx\n", (unsigned long)peek(pt_va + 0x100) & 0xff);

    WRITE_CR(0, READ_CR(0) & ~0x10000ull);
    puts("paging64 done");
    return 0;
}
