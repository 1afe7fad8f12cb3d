// Exceptions in long mode (where the trap frame always carries SS:RSP):
// #DE, #UD for opcodes invalid in 64-bit mode, INT3, #GP/#NP/#SS with
// selector error codes for segment loads, IRETQ to a data selector.
#include "rt.h"

int main(void)
{
    puts("exc64 start");
    puts("#DE");
    TRY("xor %%ecx, %%ecx\n\tdiv %%rcx", : : : "rax", "rcx", "rdx");
    TRY("mov $1, %%edx\n\tmov $1, %%ecx\n\tdiv %%rcx", : : : "rax", "rcx", "rdx");
    puts("#UD for opcodes invalid in 64-bit mode");
    TRY(".byte 0x06");        // PUSH ES
    TRY(".byte 0xce");        // INTO
    TRY(".byte 0x27");        // DAA
    TRY(".byte 0x0f, 0x0b");  // UD2
    puts("INT3");
    TRY("int3");

    puts("segment loads");
    rt_gdt_set(0x60, 0, 0xfffff, 0x12, 0xc);  // data, not present
    rt_gdt_set(0x68, 0, 0xfffff, 0x92, 0xc);  // data, DPL 0
    TRY("mov $0x60, %%ax\n\tmov %%ax, %%ds", : : : "rax");  // #NP(0x60)
    TRY("mov $0x60, %%ax\n\tmov %%ax, %%ss", : : : "rax");  // #SS(0x60)
    TRY("mov $0x78, %%ax\n\tmov %%ax, %%es", : : : "rax");  // #GP(0x78)
    TRY("mov $0x6b, %%ax\n\tmov %%ax, %%fs", : : : "rax");  // #GP(0x68)
    TRY("mov $0x18, %%ax\n\tmov %%ax, %%ss", : : : "rax");  // #GP(0x18)
    TRY("mov $0x93, %%ax\n\tmov %%ax, %%gs", : : : "rax");  // #GP(0x90)
    rt_reload_segments();

    puts("IRETQ to a data selector");
    __asm__ volatile(RT_TRY_PRE
                     "mov %%rsp, %%rbx\n\t"
                     "pushq $0x10\n\tpushq %%rbx\n\tpushq $2\n\t"
                     "pushq $0x10\n\tpushq $0\n\t"
                     "iretq" RT_TRY_POST "mov %%rbx, %%rsp"
                     :
                     :
                     : "rbx", "memory");

    // Not tested: reserved CR4 bits and clearing CR4.PAE in long mode,
    // which QEMU 7.2 accepts where hardware raises #GP(0).
    printf("traps %u\n", rt_trap_count);
    puts("exc64 done");
    return 0;
}
