// Startup for Orrery's bare-metal AArch64 guest programs.
// Entered at EL1 with the MMU and caches off (QEMU -kernel with an ELF).

    .section .text.boot, "ax"
    .global _start
_start:
    adrp    x0, __stack_top
    add     x0, x0, :lo12:__stack_top
    mov     sp, x0

    // gcc freely uses SIMD registers (memcpy-like loops, struct copies),
    // which trap unless CPACR_EL1.FPEN = 0b11.
    mov     x0, #(3 << 20)
    msr     cpacr_el1, x0
    isb

    adrp    x0, crt0_vectors
    add     x0, x0, :lo12:crt0_vectors
    msr     vbar_el1, x0
    isb

    // Zero .bss; the linker script keeps both bounds 16-byte aligned.
    adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    adrp    x1, __bss_end
    add     x1, x1, :lo12:__bss_end
1:  cmp     x0, x1
    b.hs    2f
    stp     xzr, xzr, [x0], #16
    b       1b
2:
    bl      main
    bl      exit            // does not return

// Every vector funnels into rt_unexpected_exception(kind, esr, elr, far),
// which reports and powers off: an unexpected trap must end the run
// loudly rather than hang.
    .macro  vector_entry kind
    .balign 0x80
    mov     x0, #\kind
    b       crt0_trap
    .endm

    .balign 0x800
    .global crt0_vectors
crt0_vectors:
    .irp    kind, 0,1,2,3, 4,5,6,7, 8,9,10,11, 12,13,14,15
    vector_entry \kind
    .endr

crt0_trap:
    // The faulting context may have a broken SP, so report on a fresh stack.
    adrp    x1, __stack_top
    add     x1, x1, :lo12:__stack_top
    mov     sp, x1
    mrs     x1, esr_el1
    mrs     x2, elr_el1
    mrs     x3, far_el1
    bl      rt_unexpected_exception
3:  wfi
    b       3b
