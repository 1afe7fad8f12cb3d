// Self-modifying code in long mode: a store that patches an instruction
// later in the same block, a patch to another (already executed) block, a
// patch to the second half of an instruction that straddles a page
// boundary, a patch through an alias mapping of the code page, a loop
// that rewrites its own immediate every iteration, and REP STOSB over code.
#include "rt.h"

__asm__(".text\n"
        // The store patches the immediate of the MOV two instructions on.
        ".global smc_same_block\n"
        "smc_same_block:\n"
        "  movb %dil, 1f+1(%rip)\n"
        "  nop\n"
        "1: mov $0x11, %eax\n"
        "  ret\n"
        ".global smc_other\n"
        "smc_other:\n"
        "  mov $0x22, %eax\n"
        "  ret\n"
        // Loop: each iteration writes i into the imm8 of the ADD it then runs.
        ".global smc_loop\n"
        "smc_loop:\n"
        "  xor %eax, %eax\n"
        "  xor %ecx, %ecx\n"
        "2: movb %cl, 3f+3(%rip)\n"
        "3: add $0, %rax\n"   // 48 83 c0 ib
        "  inc %ecx\n"
        "  cmp $100, %ecx\n"
        "  jne 2b\n"
        "  ret\n"
        // An instruction whose imm32 straddles a page boundary.
        ".balign 4096\n"
        ".skip 4096 - 3\n"
        ".global smc_straddle\n"
        "smc_straddle:\n"
        "  mov $0x11223344, %eax\n"  // b8 | 44 33 | 22 11 on the next page
        "  ret\n"
        ".balign 64\n"
        ".global smc_stos_target\n"
        "smc_stos_target:\n"
        "  mov $0x33, %eax\n"
        "  ret\n"
        "  .skip 32, 0x90\n");
uint64_t smc_same_block(uint64_t imm);
uint64_t smc_other(void);
uint64_t smc_loop(void);
uint64_t smc_straddle(void);
uint64_t smc_stos_target(void);
extern uint8_t smc_other_bytes[] __asm__("smc_other");
extern uint8_t smc_straddle_bytes[] __asm__("smc_straddle");
extern uint8_t smc_stos_bytes[] __asm__("smc_stos_target");

// An alias of the low 1 GiB at 512 GiB (PML4 slot 1, one 1 GiB page).
static uint64_t alias_pdpt[512] __attribute__((aligned(4096)));
extern uint64_t rt_pml4[];
#define ALIAS 0x8000000000ull

int main(void)
{
    puts("smc start");
    printf("same block: %lx\n", (unsigned long)smc_same_block(0x5a));
    printf("same block again: %lx\n", (unsigned long)smc_same_block(0x6b));

    printf("other block before: %lx\n", (unsigned long)smc_other());
    smc_other_bytes[1] = 0x44;
    printf("other block after: %lx\n", (unsigned long)smc_other());

    printf("loop sum: %lx\n", (unsigned long)smc_loop());

    printf("straddle before: %lx\n", (unsigned long)smc_straddle());
    smc_straddle_bytes[4] = 0x99;  // on the second page
    printf("straddle after: %lx\n", (unsigned long)smc_straddle());
    smc_straddle_bytes[1] = 0x55;  // on the first page
    printf("straddle after first-page patch: %lx\n",
           (unsigned long)smc_straddle());

    // The 1 GiB alias needs pdpe1gb; use 2 MiB pages instead so the default
    // CPU works: PML4[1] -> alias_pdpt -> the runtime's first PD.
    extern uint64_t rt_pd[];
    alias_pdpt[0] = (uintptr_t)rt_pd | 7;
    rt_pml4[1] = (uintptr_t)alias_pdpt | 7;
    WRITE_CR(3, READ_CR(3));
    volatile uint8_t *alias = (volatile uint8_t *)(ALIAS + (uintptr_t)smc_other_bytes);
    alias[1] = 0x55;
    printf("other block after alias write: %lx\n", (unsigned long)smc_other());

    printf("stos target before: %lx\n", (unsigned long)smc_stos_target());
    // Rewrite the low two immediate bytes with REP STOSB, then run it.
    __asm__ volatile("cld\n\trep stosb"
                     :
                     : "D"(smc_stos_bytes + 1), "c"(2), "a"(0x7)
                     : "memory");
    printf("stos target after: %lx\n", (unsigned long)smc_stos_target());
    puts("smc done");
    return 0;
}
