// Alignment checking (#AC, SDM vol. 3A 6.15 "Interrupt 17"): with CR0.AM
// and EFLAGS.AC, a misaligned data access at CPL 3 raises #AC(0); aligned
// and byte accesses do not, nor do CPL 0 code, CR0.AM = 0 or EFLAGS.AC = 0.
//
// QEMU 7.2's TCG does not implement #AC (it never raises it), so the
// expected output is not QEMU's (the program is labelled noqemu): each
// line follows from the SDM's table "Alignment Requirements by Data Type"
// (word 2, doubleword 4, double precision and quadword 8 bytes), and the
// same instruction classes were checked against the host CPU through KVM
// with x86-diff --align-check (which also found that SGDT, SIDT and SMSW
// to memory raise no #AC there; tested below).
#include "rt.h"

static uint8_t buf[64] __attribute__((aligned(16)));

static void user_main(void)
{
    uint8_t *p = buf;
    TRY("movl 1(%0), %%eax", : : "r"(p) : "eax");          // #AC: doubleword at +1
    TRY("movl 4(%0), %%eax", : : "r"(p) : "eax");          // aligned: nothing
    TRY("movw 3(%0), %%ax", : : "r"(p) : "eax");           // #AC: word at +3
    TRY("movw 2(%0), %%ax", : : "r"(p) : "eax");           // aligned
    TRY("movb 3(%0), %%al", : : "r"(p) : "eax");           // bytes never fault
    TRY("movl %%eax, 6(%0)", : : "r"(p) : "eax", "memory");  // #AC: a store
    TRY("addl %%eax, 9(%0)", : : "r"(p) : "eax", "memory");  // #AC: read-modify-write
    TRY("lock incl 5(%0)", : : "r"(p) : "memory");         // #AC: locked
    TRY("fldl 4(%0)", : : "r"(p) : "memory");              // #AC: double needs 8
    TRY("flds 4(%0)\n\tfstp %%st(0)", : : "r"(p) : "memory");  // single at 4: fine
    TRY("lea 1(%0), %%esi\n\tlea 32(%0), %%edi\n\tmov $2, %%ecx\n\trep movsw", :
        : "r"(p)
        : "esi", "edi", "ecx", "memory");                  // #AC: the string's first word
    TRY("sgdt 1(%0)", : : "r"(p) : "memory");              // no #AC (as silicon)
    TRY("smsw 1(%0)", : : "r"(p) : "memory");              // no #AC (as silicon)
    // EFLAGS.AC cleared by POPF at CPL 3: no checks, then set again.
    TRY("pushf\n\tandl $~0x40000, (%%esp)\n\tpopf\n\tmovl 1(%0), %%eax\n\t"
        "pushf\n\torl $0x40000, (%%esp)\n\tpopf\n\tmovl 1(%0), %%eax",
        :
        : "r"(p)
        : "eax", "memory", "cc");                          // #AC on the second load only
    rt_user_exit(0);
}

static void user_plain(void)
{
    TRY("movl 1(%0), %%eax", : : "r"(buf) : "eax");  // AC = 0 or AM = 0: nothing
    rt_user_exit(0);
}

int main(void)
{
    uint32_t cr0;
    puts("ac32 start");
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0 | 0x40000));  // CR0.AM
    puts("CPL 3, AM = 1, AC = 1");
    rt_user_call_flags(user_main, RT_TOP(rt_ustack), 0x40002);

    puts("CPL 3, AM = 1, AC = 0");
    rt_user_call_flags(user_plain, RT_TOP(rt_ustack), 0x2);
    puts("CPL 0, AM = 1, AC = 1");
    TRY("pushf\n\torl $0x40000, (%%esp)\n\tpopf\n\tmovl 1(%0), %%eax\n\t"
        "pushf\n\tandl $~0x40000, (%%esp)\n\tpopf",
        :
        : "r"(buf)
        : "eax", "memory", "cc");
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0));
    puts("CPL 3, AM = 0, AC = 1");
    rt_user_call_flags(user_plain, RT_TOP(rt_ustack), 0x40002);

    printf("traps taken %u\n", rt_trap_count);
    exit(0);
}
