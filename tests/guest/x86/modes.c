// Mode switches at run time from long mode: the same code bytes run in
// 64-bit mode, in compatibility mode (CS.L = 0 under long mode) and, after
// leaving long mode altogether, in real mode; then back to long mode with
// paging, the IDT and the control registers as they were.
#include "rt.h"

extern uint8_t probe_rex[], probe_push[];

typedef uint64_t (*probe_fn)(void);

int main(void)
{
    puts("modes start");
    ureg cr0 = READ_CR(0), cr3 = READ_CR(3), cr4 = READ_CR(4);
    uint64_t efer = rdmsr(0xc0000080);

    uint64_t rex = ((probe_fn)(uintptr_t)probe_rex)();
    uint64_t push = ((probe_fn)(uintptr_t)probe_push)();
    printf("long mode:   rex probe %lx, stack slot %lu\n", (unsigned long)rex,
           (unsigned long)push & 0xff);
    rex = rt_call_compat((uint32_t)(uintptr_t)probe_rex);
    push = rt_call_compat((uint32_t)(uintptr_t)probe_push);
    printf("compat mode: rex probe %lx, stack slot %lu\n", (unsigned long)rex,
           (unsigned long)push & 0xff);
    rex = rt_call_real((uint32_t)(uintptr_t)probe_rex);
    push = rt_call_real((uint32_t)(uintptr_t)probe_push);
    printf("real mode:   rex probe %lx, stack slot %lu\n",
           (unsigned long)rex & 0xffff, (unsigned long)push & 0xff);

    printf("restored: cr0 %d cr3 %d cr4 %d efer %d\n", READ_CR(0) == cr0,
           READ_CR(3) == cr3, READ_CR(4) == cr4,
           rdmsr(0xc0000080) == efer);
    TRY("int3");  // the IDT is back
    uint64_t sum = 0;
    for (unsigned i = 0; i < 10; i++)
        sum += rt_call_real((uint32_t)(uintptr_t)probe_push) & 0xff;
    printf("ten round trips: %lu\n", (unsigned long)sum);
    puts("modes done");
    return 0;
}
