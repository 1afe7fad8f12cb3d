// A vector table for guest programs that handle their own exceptions: every slot saves a full
// register frame and calls handle_exception(frame, slot), slot being the vector index 0..15
// (4: current EL SPx synchronous, 5: IRQ, ...), then restores the frame (which the handler
// may change: ELR to skip an instruction, SPSR) and ERETs. Include from one file per program
// and install with install_vectors().
#ifndef ORRERY_GUEST_VECTORS_H
#define ORRERY_GUEST_VECTORS_H

#include "rt.h"

struct frame {
    uint64_t x[31];
    uint64_t elr;
    uint64_t spsr;
    uint64_t esr;
};

void handle_exception(struct frame *f, uint64_t slot);

__asm__(
    "    .text\n"
    "    .macro vec_slot n\n"
    "    .balign 0x80\n"
    "    sub sp, sp, #272\n"
    "    stp x0, x1, [sp, #0]\n"
    "    mov x1, #\\n\n"
    "    b vec_common\n"
    "    .endm\n"
    "    .balign 0x800\n"
    "guest_vectors:\n"
    "    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
    "    vec_slot \\n\n"
    "    .endr\n"
    "vec_common:\n"
    "    stp x2, x3, [sp, #16]\n"
    "    stp x4, x5, [sp, #32]\n"
    "    stp x6, x7, [sp, #48]\n"
    "    stp x8, x9, [sp, #64]\n"
    "    stp x10, x11, [sp, #80]\n"
    "    stp x12, x13, [sp, #96]\n"
    "    stp x14, x15, [sp, #112]\n"
    "    stp x16, x17, [sp, #128]\n"
    "    stp x18, x19, [sp, #144]\n"
    "    stp x20, x21, [sp, #160]\n"
    "    stp x22, x23, [sp, #176]\n"
    "    stp x24, x25, [sp, #192]\n"
    "    stp x26, x27, [sp, #208]\n"
    "    stp x28, x29, [sp, #224]\n"
    "    mrs x2, elr_el1\n"
    "    stp x30, x2, [sp, #240]\n"
    "    mrs x2, spsr_el1\n"
    "    mrs x3, esr_el1\n"
    "    stp x2, x3, [sp, #256]\n"
    "    mov x0, sp\n"
    "    bl handle_exception\n"
    "    ldp x2, x3, [sp, #256]\n"
    "    msr spsr_el1, x2\n"
    "    ldp x30, x2, [sp, #240]\n"
    "    msr elr_el1, x2\n"
    "    ldp x28, x29, [sp, #224]\n"
    "    ldp x26, x27, [sp, #208]\n"
    "    ldp x24, x25, [sp, #192]\n"
    "    ldp x22, x23, [sp, #176]\n"
    "    ldp x20, x21, [sp, #160]\n"
    "    ldp x18, x19, [sp, #144]\n"
    "    ldp x16, x17, [sp, #128]\n"
    "    ldp x14, x15, [sp, #112]\n"
    "    ldp x12, x13, [sp, #96]\n"
    "    ldp x10, x11, [sp, #80]\n"
    "    ldp x8, x9, [sp, #64]\n"
    "    ldp x6, x7, [sp, #48]\n"
    "    ldp x4, x5, [sp, #32]\n"
    "    ldp x2, x3, [sp, #16]\n"
    "    ldp x0, x1, [sp, #0]\n"
    "    add sp, sp, #272\n"
    "    eret\n");

extern char guest_vectors[];

static inline void install_vectors(void)
{
    WRITE_SYSREG(vbar_el1, (uint64_t)guest_vectors);
    __asm__ volatile("isb");
}

#define EC(esr) (((esr) >> 26) & 0x3f)

#endif
