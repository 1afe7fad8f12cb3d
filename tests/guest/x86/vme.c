// Virtual-8086 mode extensions (CR4.VME) and protected-mode virtual interrupts (CR4.PVI).
// The monitor enters V86 fragments (vme.asm) by IRET with chosen IOPL, VIF and VIP, from its
// own TSS whose interrupt-redirection bitmap sends INT 0x41 through the real-mode IVT and INT
// 0x42 to the protected-mode IDT. Each run prints the trap that ended it (vector, error code,
// IP within the fragment, EFLAGS VIP/VIF/IOPL/IF/TF) and the FLAGS images the fragment recorded
// (IF as the V86 code sees it, IOPL, TF).
//
// Expected output from the SDM (vol. 3 20.3 "Interrupt and exception handling in virtual-8086
// mode", 20.4 "Protected-mode virtual interrupts", the CLI/STI/PUSHF/POPF/INT n/IRET pages):
// QEMU 7.2's TCG has no VME (CPUID.1:EDX.VME clear, CR4.VME/PVI accepted but ignored), so the
// program is labelled noqemu. With VME and IOPL < 3, CLI/STI and 16-bit PUSHF/POPF/IRET use VIF
// for IF (PUSHF shows IOPL 3), STI or POPF/IRET setting IF with VIP set raise #GP(0), POPF
// with TF set and PUSHFD raise #GP(0); INT n whose redirection bit is clear goes through the
// IVT pushing the image with IF = VIF and clearing VIF (IOPL 3: the real IF, cleared with TF);
// a set bit means the IDT with IOPL 3 and #GP(0) with IOPL < 3. Without VME every one of them
// is IOPL-sensitive. With PVI at CPL 3 and IOPL < 3, CLI/STI clear and set VIF (STI with VIP:
// #GP(0)); PUSHFD shows VIF.
#include "rt.h"

#define TSS_SEL SEL_SPARE0
#define V86_SP 0x6800
#define FL_TF 0x100u
#define FL_IF 0x200u
#define FL_IOPL3 0x3000u
#define FL_VM 0x20000u
#define FL_VIF 0x80000u
#define FL_VIP 0x100000u
#define CR4_VME 1u
#define CR4_PVI 2u

extern uint8_t t_redirect[], t_virt[], t_vip_sti[], t_vip_popf[], t_tf_popf[], t_pushfd[];
extern uint8_t t_cli[], t_int41[], t_iopl3_cli[], vme_ivt_h41[];
extern uint16_t vme_recs[], vme_rec_ptr;
extern char vme_stub_gp[], vme_stub_ud[], vme_stub_41[], vme_stub_42[];

// The monitor's TSS: the 104-byte 32-bit TSS, the 32-byte interrupt-redirection bitmap right
// below the I/O bitmap, and one I/O bitmap byte (all ports denied).
static struct __attribute__((packed)) {
    struct rt_tss tss;
    uint8_t redirect[32];
    uint8_t io[1];
} vtss;

struct v86_frame {
    uint32_t vector, error, eip, cs, eflags, esp, ss, es, ds, fs, gs;
};
static struct v86_frame last;
static rt_jmp_buf v86_jmp;

void vme_trap(struct v86_frame *f)
{
    last = *f;
    rt_longjmp(v86_jmp, 1);
}

// Runs the fragment at `entry` in V86 mode with the given EFLAGS (VM added) and prints how it
// ended and what it recorded.
static void run_v86(const char *name, uint8_t *entry, uint32_t eflags)
{
    vme_rec_ptr = (uint16_t)(uintptr_t)vme_recs;
    if (!rt_setjmp(v86_jmp)) {
        __asm__ volatile("pushl $0\n\tpushl $0\n\tpushl $0\n\tpushl $0\n\t"
                         "pushl $0\n\tpushl %0\n\tpushl %1\n\tpushl $0\n\tpushl %2\n\t"
                         "iretl"
                         :
                         : "i"(V86_SP), "r"(eflags | FL_VM | 2), "r"((uint32_t)entry)
                         : "memory");
        __builtin_unreachable();
    }
    rt_reload_segments();
    printf("%-10s vec=%02x err=%x ip=+%x fl=%s%siopl=%u%s%s recs:", name,
           (unsigned)last.vector, (unsigned)last.error,
           (unsigned)(last.eip - (uint32_t)entry),
           last.eflags & FL_VIP ? "VIP " : "", last.eflags & FL_VIF ? "VIF " : "",
           (unsigned)(last.eflags >> 12) & 3, last.eflags & FL_IF ? " IF" : "",
           last.eflags & FL_TF ? " TF" : "");
    unsigned n = (unsigned)(vme_rec_ptr - (uint16_t)(uintptr_t)vme_recs) / 2;
    for (unsigned i = 0; i < n; ++i)  // FLAGS images: TF, IF and IOPL
        printf(" %04x", vme_recs[i] & (FL_TF | FL_IF | FL_IOPL3));
    printf("\n");
}

static void set_cr4(uint32_t bits)
{
    uint32_t cr4 = (uint32_t)READ_CR(4);
    WRITE_CR(4, (cr4 & ~(CR4_VME | CR4_PVI)) | bits);
}

// --- PVI at CPL 3 ---------------------------------------------------------------
static volatile uint32_t p_recs[8];
static volatile unsigned p_n;

static inline void pushfd_rec(void)
{
    uint32_t v;
    __asm__ volatile("pushfl\n\tpopl %0" : "=r"(v) : : "memory");
    p_recs[p_n++] = v;
}
#define PUSHFD_REC() pushfd_rec()

static void pvi_user(void)
{
    PUSHFD_REC();
    TRY("cli");
    PUSHFD_REC();
    TRY("sti");
    PUSHFD_REC();
    // POPF at CPL 3 with IOPL 0 changes neither IF nor VIF.
    __asm__ volatile("pushl $0\n\tpopfl");
    PUSHFD_REC();
    rt_user_exit(0);
}

static void pvi_vip_user(void)
{
    PUSHFD_REC();
    TRY("cli");
    PUSHFD_REC();
    TRY("sti");  // #GP(0): VIP is set
    PUSHFD_REC();
    rt_user_exit(0);
}

static void run_pvi(const char *name, void (*fn)(void), uint32_t flags)
{
    p_n = 0;
    rt_user_call_flags(fn, RT_TOP(rt_ustack), flags);
    printf("%-10s", name);
    for (unsigned i = 0; i < p_n; ++i)
        printf(" %s%s%s", p_recs[i] & FL_VIP ? "VIP," : "", p_recs[i] & FL_VIF ? "VIF," : "",
               p_recs[i] & FL_IF ? "IF" : "-");
    printf("\n");
}

int main(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    printf("cpuid.1:edx.vme=%u\n", (unsigned)(r[3] & 1));

    // The monitor's TSS and the gates V86 code reaches.
    vtss.tss.esp0 = RT_TOP(rt_kstack);
    vtss.tss.ss0 = SEL_KDATA;
    vtss.tss.iomap = (uint16_t)offsetof(__typeof__(vtss), io);
    vtss.io[0] = 0xff;
    vtss.redirect[0x42 / 8] |= 1u << (0x42 % 8);  // INT 0x42: protected mode; 0x41: the IVT
    rt_gdt_set(TSS_SEL, (uint32_t)(uintptr_t)&vtss, sizeof(vtss) - 1, 0x89, 0);
    __asm__ volatile("ltr %w0" : : "r"(TSS_SEL));
    rt_idt_set(13, (ureg)vme_stub_gp, 0, 0xe, 0);
    rt_idt_set(6, (ureg)vme_stub_ud, 0, 0xe, 0);
    rt_idt_set(0x41, (ureg)vme_stub_41, 3, 0xe, 0);
    rt_idt_set(0x42, (ureg)vme_stub_42, 3, 0xe, 0);
    // Real-mode IVT entry 0x41 (linear 0x104): 0:vme_ivt_h41.
    uintptr_t ivt_addr = 0;
    __asm__("" : "+r"(ivt_addr));  // not a null pointer to the compiler
    volatile uint16_t *ivt = (volatile uint16_t *)ivt_addr;
    ivt[0x41 * 2] = (uint16_t)(uintptr_t)vme_ivt_h41;
    ivt[0x41 * 2 + 1] = 0;

    puts("-- CR4.VME");
    set_cr4(CR4_VME);
    run_v86("redir3", t_redirect, FL_IOPL3 | FL_VIF);
    run_v86("redir0", t_redirect, FL_VIF);
    run_v86("virt", t_virt, 0);
    run_v86("vip_sti", t_vip_sti, FL_VIP | FL_VIF);
    run_v86("vip_popf", t_vip_popf, FL_VIP);
    run_v86("tf_popf", t_tf_popf, 0);
    run_v86("pushfd", t_pushfd, FL_VIF);
    run_v86("iopl3_cli", t_iopl3_cli, FL_IOPL3 | FL_VIF);
    puts("-- no VME");
    set_cr4(0);
    run_v86("cli", t_cli, FL_VIF);
    run_v86("int41", t_int41, 0);
    run_v86("int41_io3", t_int41, FL_IOPL3);
    run_v86("pushfd3", t_pushfd, FL_IOPL3);

    // Back to the runtime's stubs and TSS gates for ring 3.
    rt_idt_set(13, rt_stub(13), 0, 0xe, 0);
    rt_idt_set(6, rt_stub(6), 0, 0xe, 0);
    puts("-- CR4.PVI, CPL 3, IOPL 0");
    set_cr4(CR4_PVI);
    run_pvi("pvi", pvi_user, 2 | FL_VIF);
    run_pvi("pvi_vip", pvi_vip_user, 2 | FL_VIF | FL_VIP);
    puts("-- no PVI");
    set_cr4(0);
    run_pvi("nopvi", pvi_vip_user, 2);
    set_cr4(0);
    exit(0);
}
