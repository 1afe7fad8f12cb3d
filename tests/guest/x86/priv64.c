// Privilege changes in long mode (-cpu max): IRETQ to ring 3 (64-bit and
// compatibility mode), INT 0x80 on TSS RSP0, an IST stack, SYSCALL/SYSRET
// with STAR/LSTAR/FMASK, SWAPGS with KERNEL_GS_BASE, FS/GS bases through
// the MSRs and RD/WRFSBASE, and #GP for privileged instructions at CPL 3.
#include "rt.h"

#define MSR_EFER 0xc0000080
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_FMASK 0xc0000084
#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102

// Per-CPU block reached through GS after SWAPGS in the SYSCALL entry.
struct percpu {
    uint64_t kstack;
    uint64_t user_rsp;
    uint64_t rcx, r11, rflags, cs, ss, gs_base;
};
struct percpu percpu;

__asm__(".text\n"
        "syscall_entry:\n"
        "  swapgs\n"
        "  mov %rsp, %gs:8\n"
        "  mov %gs:0, %rsp\n"
        "  mov %rcx, %gs:16\n"
        "  mov %r11, %gs:24\n"
        "  pushfq\n  popq %gs:32\n"
        "  mov %cs, %gs:40\n  mov %ss, %gs:48\n"
        "  lea 1(%rax,%rax), %rax\n"  // result = 2 * rax + 1
        "  mov %gs:8, %rsp\n"
        "  swapgs\n"
        "  sysretq\n");
extern char syscall_entry[];

static volatile uint64_t u_cs, u_ss, u_sys_rax, u_flags_after, u_fs_read,
    u_gs_read, u_rdfs;
static uint64_t fs_area[4] = {0xf5f5f5f5f5f50000ull, 0xf5f5f5f5f5f50001ull};
static uint64_t gs_area[4] = {0x6565656565650000ull, 0x6565656565650001ull};

static void user_main(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cs, %0" : "=r"(v));
    u_cs = v;
    __asm__ volatile("mov %%ss, %0" : "=r"(v));
    u_ss = v;

    TRY("swapgs");
    TRY("sysretq");
    TRY("wrmsr", : : "c"(MSR_FS_BASE), "a"(0), "d"(0));
    TRY("mov %%cr3, %%rax", : : : "rax");
    TRY("invlpg (%%rax)", : : "a"(0) : "memory");
    // No INT to a DPL 0 gate here: QEMU 7.2 reports #GP(vector * 16 + 2)
    // in long mode where hardware gives vector * 8 + 2 (priv32 tests it).
    TRY("int3");  // DPL 3 gate; the handler runs on IST1

    // SYSCALL with DF set: FMASK clears it in the kernel, R11 restores it.
    uint64_t r = 20;
    __asm__ volatile("std\n\tsyscall\n\tpushfq\n\tpopq %1\n\tcld"
                     : "+a"(r), "=r"(v)
                     :
                     : "rcx", "r11", "memory");
    u_sys_rax = r;
    u_flags_after = v & 0x400;

    // FS/GS bases set by the kernel; RDFSBASE/WRGSBASE need CR4.FSGSBASE.
    __asm__ volatile("mov %%fs:8, %0" : "=r"(v));
    u_fs_read = v;
    __asm__ volatile("mov %%gs:0, %0" : "=r"(v));
    u_gs_read = v;
    __asm__ volatile("rdfsbase %0" : "=r"(v));
    u_rdfs = v;
    __asm__ volatile("wrgsbase %0" : : "r"((uintptr_t)&gs_area[1]));
    rt_user_exit(0x64);
}

static int int3_hook(struct rt_frame *f)
{
    if (f->vector == 3) {
        uint64_t top = RT_TOP(rt_ist);
        printf("int3 on IST1: frame=top-%lx cpl %lu ss %lx\n",
               (unsigned long)(top - (uintptr_t)f), (unsigned long)(f->cs & 3),
               (unsigned long)f->ss);
        return 1;
    }
    if (f->vector == 0x80 && FRAME_AX(f) == 1) {
        printf("int80 frame=rsp0top-%lx cs %lx ss %lx\n",
               (unsigned long)(RT_TOP(rt_kstack) - (uintptr_t)f),
               (unsigned long)f->cs, (unsigned long)f->ss);
        FRAME_AX(f) = 0x80;
        return 1;
    }
    return 0;
}

// Compatibility-mode code (32-bit CS under long mode):
//   mov $1, %eax; int $0x80; mov %eax, %ebx; xor %eax, %eax; int $0x80
static const uint8_t compat_code[] = {0xb8, 1, 0, 0, 0, 0xcd, 0x80, 0x89,
                                      0xc3, 0x31, 0xc0, 0xcd, 0x80};
static uint8_t compat_buf[64];

int main(void)
{
    puts("priv64 start");
    percpu.kstack = RT_TOP(rt_kstack) - 4096;
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1);  // SCE
    wrmsr(MSR_STAR, (uint64_t)0x28 << 48 | (uint64_t)SEL_KCODE64 << 32);
    wrmsr(MSR_LSTAR, (uintptr_t)syscall_entry);
    wrmsr(MSR_FMASK, 0x700);  // TF IF DF
    wrmsr(MSR_KERNEL_GS_BASE, (uintptr_t)&percpu);
    wrmsr(MSR_GS_BASE, (uintptr_t)&gs_area[0]);
    wrmsr(MSR_FS_BASE, (uintptr_t)&fs_area[0]);
    WRITE_CR(4, READ_CR(4) | (1u << 16));  // FSGSBASE
    rt_idt_set(3, rt_stub(3), 3, 0xe, 1);
    rt_trap_hook = int3_hook;

    uint64_t r = rt_user_call(user_main, RT_TOP(rt_ustack));
    printf("exit %lx; user cs %lx ss %lx\n", (unsigned long)r,
           (unsigned long)u_cs, (unsigned long)u_ss);
    printf("syscall: rax %lx, rcx=ret %s, r11 DF %lx, kernel rflags %lx "
           "cs %lx ss %lx\n",
           (unsigned long)u_sys_rax, percpu.rcx ? "set" : "zero",
           (unsigned long)(percpu.r11 & 0x400),
           (unsigned long)(percpu.rflags & 0x702), (unsigned long)percpu.cs,
           (unsigned long)percpu.ss);
    printf("user rsp saved %s, DF after sysret %lx\n",
           RT_TOP(rt_ustack) - percpu.user_rsp < 256 ? "ok" : "bad",
           (unsigned long)u_flags_after);
    printf("fs:8 %lx gs:0 %lx rdfsbase==&fs_area %d\n",
           (unsigned long)u_fs_read, (unsigned long)u_gs_read,
           u_rdfs == (uintptr_t)fs_area);
    printf("gs base after wrgsbase is &gs_area[1]: %d, kernel gs base "
           "unchanged: %d\n",
           rdmsr(MSR_GS_BASE) == (uintptr_t)&gs_area[1],
           rdmsr(MSR_KERNEL_GS_BASE) == (uintptr_t)&percpu);
    __asm__ volatile("swapgs");
    printf("after swapgs: gs base is percpu %d, kernel gs base is "
           "gs_area[1] %d\n",
           rdmsr(MSR_GS_BASE) == (uintptr_t)&percpu,
           rdmsr(MSR_KERNEL_GS_BASE) == (uintptr_t)&gs_area[1]);
    uint64_t k;
    __asm__ volatile("mov %%gs:0, %0" : "=r"(k));
    printf("gs:0 = kstack %d\n", k == percpu.kstack);
    __asm__ volatile("swapgs");

    puts("compatibility mode");
    memcpy(compat_buf, compat_code, sizeof compat_code);
    r = rt_user_call_seg((void (*)(void))compat_buf,
                         RT_TOP(rt_ustack) - 128, 0x2, SEL_UCODE32);
    printf("compat exit %lx\n", (unsigned long)r);
    rt_trap_hook = 0;
    printf("traps %u\n", rt_trap_count);
    puts("priv64 done");
    return 0;
}
