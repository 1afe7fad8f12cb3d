// Privilege changes in 32-bit protected mode: IRET to ring 3, INT 0x80
// back to ring 0 on the TSS ESP0 stack, privileged instructions and
// DPL-checked gates/segments faulting at CPL 3, IOPL 3, a call gate with
// parameter copying, and SYSENTER/SYSEXIT.
#include "rt.h"

#define SYSENTER_CS 0x60  // 0x60 kcode, 0x68 kdata, 0x70 ucode, 0x78 udata
#define GATE_SEL 0x80

static volatile uint32_t u_cs, u_ss, u_flags, u_sys_cs, u_sys_ss, u_sys_eax;
volatile uint32_t g_cs, g_ss, g_p1, g_p2, g_ret_cs, g_old_ss, g_esp_off;
volatile uint32_t se_cs, se_ss, se_esp_ok;

// Call gate target: at entry the ring-0 stack holds EIP, CS, the two
// copied parameters, then the caller's ESP and SS.
__asm__(".text\n"
        "gate_target:\n"
        "  mov %cs, g_cs\n  mov %ss, g_ss\n"
        "  mov 8(%esp), %eax\n  mov %eax, g_p1\n"
        "  mov 12(%esp), %eax\n  mov %eax, g_p2\n"
        "  mov 4(%esp), %eax\n  mov %eax, g_ret_cs\n"
        "  mov 20(%esp), %eax\n  mov %eax, g_old_ss\n"
        "  mov $rt_kstack + 16384, %eax\n  sub %esp, %eax\n"
        "  mov %eax, g_esp_off\n"
        "  mov $0x1234, %eax\n"
        "  lret $8\n"
        // SYSENTER: CS/SS from IA32_SYSENTER_CS, ESP from the MSR; back
        // with SYSEXIT to EDX (EIP) / ECX (ESP).
        "sysenter_target:\n"
        "  mov %cs, se_cs\n  mov %ss, se_ss\n"
        "  cmp $rt_kstack + 8192, %esp\n  sete se_esp_ok\n"
        "  add %eax, %eax\n"
        "  sysexit\n");
extern char gate_target[], sysenter_target[];

static void user_main(void)
{
    uint32_t v;
    __asm__ volatile("mov %%cs, %0" : "=r"(v));
    u_cs = v;
    __asm__ volatile("mov %%ss, %0" : "=r"(v));
    u_ss = v;
    __asm__ volatile("pushf; pop %0" : "=r"(v));
    u_flags = v;

    // Privileged or DPL-checked from CPL 3: #GP.
    TRY("cli");
    TRY("hlt");
    TRY("mov %%cr0, %%eax", : : : "eax");
    TRY("inb $0x80, %%al", : : : "eax");
    TRY("int $0x81");                  // gate DPL 0: #GP(0x81*8+2)
    TRY("rdmsr", : : "c"(0x10) : "eax", "edx");
    TRY("mov $0x10, %%ax\n\tmov %%ax, %%es", : : : "eax");  // #GP(0x10)
    TRY("lcall $0x08, $0");            // #GP(0x08)
    TRY("lgdt (%%esp)", : : : "memory");
    // DPL 3 gates work.
    TRY("int3");
    TRY("mov $0x7f, %%al\n\tadd $1, %%al\n\tinto", : : : "eax");

    // Call gate with two parameters.
    uint32_t r;
    __asm__ volatile("pushl $0xaaaa\n\tpushl $0xbbbb\n\t"
                     "lcall $0x83, $0\n\t"  // RPL 3 for the gate
                     : "=a"(r)
                     :
                     : "memory");
    u_sys_eax = r;

    // SYSENTER / SYSEXIT.
    __asm__ volatile("mov %%esp, %%ecx\n\tlea 1f, %%edx\n\tsysenter\n1:\n\t"
                     "mov %%cs, %1\n\tmov %%ss, %2"
                     : "+a"(r), "=m"(u_sys_cs), "=m"(u_sys_ss)
                     :
                     : "ecx", "edx", "memory");
    u_sys_eax = r;
    rt_user_exit(0x600d);
}

// INT 0x80 with EAX = 1 from ring 3: report where the frame landed.
static int int80_hook(struct rt_frame *f)
{
    if (f->vector != 0x80 || FRAME_AX(f) != 1)
        return 0;
    // (The user ESP itself depends on the compiler's frame layout.)
    printf("int80: cpl %u, frame %s at TSS ESP0, user ss %x esp %s\n",
           f->cs & 3,
           (uintptr_t)(&f->ss + 1) == RT_TOP(rt_kstack) ? "ends" : "not",
           f->ss,
           RT_TOP(rt_ustack) - 64 - f->sp < 256 ? "on user stack" : "bad");
    FRAME_AX(f) = 0x80;
    return 1;
}

static void user_int80(void)
{
    uint32_t r = 1;
    __asm__ volatile("int $0x80" : "+a"(r) : : "memory");
    rt_user_exit(r);
}

static void user_iopl(void)
{
    // IOPL 3: port I/O and CLI are allowed at CPL 3.
    const char *s = "user with IOPL 3 writes COM1\n";
    for (; *s; s++) {
        while (!(inb(0x3fd) & 0x20))
            ;
        outb(0x3f8, (uint8_t)*s);
    }
    __asm__ volatile("cli");
    rt_user_exit(3);
}

int main(void)
{
    puts("priv32 start");
    rt_gdt_set(0x60, 0, 0xfffff, 0x9a, 0xc);
    rt_gdt_set(0x68, 0, 0xfffff, 0x92, 0xc);
    rt_gdt_set(0x70, 0, 0xfffff, 0xfa, 0xc);
    rt_gdt_set(0x78, 0, 0xfffff, 0xf2, 0xc);
    // 32-bit call gate, DPL 3, 2 parameters, to SEL_KCODE32:gate_target.
    uint32_t t = (uint32_t)(uintptr_t)gate_target;
    rt_gdt_set_raw(GATE_SEL, (t & 0xffff) | (uint64_t)SEL_KCODE32 << 16 |
                                 (uint64_t)2 << 32 | (uint64_t)0xec << 40 |
                                 (uint64_t)(t >> 16) << 48);
    wrmsr(0x174, SYSENTER_CS);
    wrmsr(0x175, RT_TOP(rt_kstack) - 8192);
    wrmsr(0x176, (uintptr_t)sysenter_target);

    ureg r = rt_user_call(user_main, RT_TOP(rt_ustack));
    printf("back in ring 0, exit value %lx\n", (unsigned long)r);
    printf("user cs %x ss %x eflags.IOPL/IF/TF %x\n", u_cs, u_ss,
           u_flags & 0x3300);
    printf("call gate: cs %x ss %x params %x %x caller cs %x ss %x "
           "esp=top-%x\n",
           g_cs, g_ss, g_p1, g_p2, g_ret_cs, g_old_ss, g_esp_off);
    printf("sysenter: cs %x ss %x esp from MSR %u; sysexit to cs %x ss %x, "
           "eax %x\n",
           se_cs, se_ss, se_esp_ok, u_sys_cs, u_sys_ss, u_sys_eax);

    rt_trap_hook = int80_hook;
    r = rt_user_call(user_int80, RT_TOP(rt_ustack) - 64);
    rt_trap_hook = 0;
    printf("int80 returned %lx\n", (unsigned long)r);

    r = rt_user_call_flags(user_iopl, RT_TOP(rt_ustack), 0x3002);
    printf("iopl user exit %lx\n", (unsigned long)r);
    printf("traps %u\n", rt_trap_count);
    puts("priv32 done");
    return 0;
}
