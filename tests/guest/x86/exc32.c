// 32-bit protected-mode exceptions and their error codes: #DE, #DB (single
// step), INT3, INTO, #BR, #UD, #NP and #GP for IDT vectors, #GP/#NP/#SS
// for segment selectors (GDT index and limit, type, RPL/DPL). The
// runtime's trap handler prints vector, error code, faulting IP (relative
// to the TRY block) and CR2, then resumes after the block.
#include "rt.h"

static int32_t bounds[2] = {10, 20};

// #DB from EFLAGS.TF: clear TF in the frame so execution continues.
static int step_hook(struct rt_frame *f)
{
    if (f->vector != 1)
        return 0;
    printf("trap 01 ip=try+%x\n", (unsigned)(f->ip - rt_try_start));
    f->flags &= ~0x100u;
    return 1;
}

int main(void)
{
    puts("exc32 start");

    puts("#DE div by zero");
    TRY("xor %%ecx, %%ecx\n\tdiv %%ecx", : : : "eax", "ecx", "edx");
    puts("#DE idiv overflow");
    TRY("mov $0x80000000, %%eax\n\tcltd\n\tmov $-1, %%ecx\n\tidiv %%ecx", :
        :
        : "eax", "ecx", "edx");
    puts("#DE 8-bit with prefix bytes");
    TRY("mov $0x1000, %%ax\n\tmov $2, %%cl\n\tdata16 div %%cl", : : : "eax", "ecx");

    puts("INT3 and INTO (traps: ip after the instruction)");
    TRY("int3\n\tnop");
    TRY("mov $0x7fffffff, %%eax\n\tadd $1, %%eax\n\tinto\n\tnop", : : : "eax");
    TRY("xor %%eax, %%eax\n\tinto\n\tnop", : : : "eax");  // OF clear: nothing

    puts("#BR");
    TRY("mov $15, %%eax\n\tbound %%eax, %0", : : "m"(bounds) : "eax");
    TRY("mov $21, %%eax\n\tbound %%eax, %0", : : "m"(bounds) : "eax");
    TRY("mov $9, %%eax\n\tbound %%eax, %0", : : "m"(bounds) : "eax");

    puts("#UD");
    TRY("ud2");
    TRY(".byte 0xf0, 0x90");  // lock nop
    TRY(".byte 0x0f, 0x20, 0xc8");  // mov %cr1, %eax

    puts("#DB single step");
    rt_trap_hook = step_hook;
    TRY("pushf\n\torl $0x100, (%%esp)\n\tpopf\n\tnop\n\tnop", : : : "memory");
    rt_trap_hook = 0;

    puts("IDT: not-present gate, DPL-checked gate, beyond IDT limit");
    rt_idt_set_present(0x82, 0);
    TRY("int $0x82");                       // #NP(0x82 * 8 + 2)
    rt_idt_set_present(0x82, 1);
    rt_idt_load(0x90);                      // vectors >= 0x90 out of limit
    TRY("int $0xa0");                       // #GP(0xa0 * 8 + 2)
    rt_idt_load(256);
    TRY("int $0xa0");                       // now delivered: trap a0

    puts("GDT selectors");
    // 0x60: not-present data; 0x68: data with limit 0xfff; 0x70: code.
    rt_gdt_set(0x60, 0, 0xfffff, 0x12, 0xc);  // P = 0
    rt_gdt_set(0x68, 0, 0xfff, 0x92, 0x4);
    rt_gdt_set(0x70, 0, 0xfffff, 0x9a, 0xc);
    TRY("mov $0x60, %%ax\n\tmov %%ax, %%es", : : : "eax");      // #NP(0x60)
    TRY("mov $0x60, %%ax\n\tmov %%ax, %%ss", : : : "eax");      // #SS(0x60)
    TRY("mov $0x78, %%ax\n\tmov %%ax, %%fs", : : : "eax");      // #GP(0x78): null desc
    TRY("mov $0x93, %%ax\n\tmov %%ax, %%gs", : : : "eax");      // #GP(0x90): past limit
    TRY("mov $0x70, %%ax\n\tmov %%ax, %%ss", : : : "eax");      // #GP(0x70): code in SS
    TRY("mov $0x6b, %%ax\n\tmov %%ax, %%ds", : : : "eax");      // #GP(0x68): RPL > DPL
    TRY("ljmp $0x10, $0", : : : "memory");                     // #GP(0x10): data as code
    TRY("mov $0x50, %%ax\n\tmov %%ax, %%ds", : : : "eax");      // #GP(0x50): TSS
    // Not tested: data-segment limit violations and use of a null
    // selector, which QEMU's TCG does not check (it would print nothing
    // where hardware raises #GP(0)).
    TRY("mov $0x10, %%ax\n\tmov %%ax, %%gs", : : : "eax");

    printf("traps taken %u\n", rt_trap_count);
    puts("exc32 done");
    return 0;
}
