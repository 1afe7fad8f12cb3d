; Virtual-8086 code for vme.c (linked below 64 KiB in .lowmem, run with CS = SS = 0) and the
; ring-0 stubs that take the V86 traps. Each V86 fragment records FLAGS images (TF, IF, IOPL
; bits) in vme_recs and ends in a trap to the monitor: INT 0x42, whose bit is set in the TSS
; interrupt-redirection bitmap (the IDT gate with IOPL 3, #GP(0) otherwise), or a fault.
bits 16
section .lowmem progbits alloc exec write align=16

global vme_recs, vme_rec_ptr, vme_ivt_h41
global t_redirect, t_virt, t_vip_sti, t_vip_popf, t_tf_popf, t_pushfd, t_cli, t_int41
global t_iopl3_cli

; RECF: append the FLAGS image PUSHF gives (registers kept; flags restored without POPF,
; which would itself test VIP).
%macro RECF 0
    pushf
    push bx
    push ax
    mov bx, sp
    mov ax, [ss:bx + 4]
    mov bx, [cs:vme_rec_ptr]
    mov [cs:bx], ax
    add word [cs:vme_rec_ptr], 2
    pop ax
    pop bx
    add sp, 2
%endmacro

; REC reg: append a 16-bit value.
%macro REC 1
    push bx
    mov bx, [cs:vme_rec_ptr]
    mov [cs:bx], %1
    add word [cs:vme_rec_ptr], 2
    pop bx
%endmacro

; INT 0x41 arrives here through the real-mode IVT when its redirection bit is clear: records
; FLAGS inside the handler, then the image INT pushed.
vme_ivt_h41:
    RECF
    push bp
    mov bp, sp
    push ax
    mov ax, [bp + 6]
    REC ax
    pop ax
    pop bp
    iret

t_redirect:
    int 0x41
    RECF
    int 0x42

t_virt:
    int 0x41
    RECF
    sti
    RECF
    int 0x41
    RECF
    cli
    RECF
    push word 0x0200
    popf
    RECF
    push word 0
    popf
    RECF
    sti
    int 0x42

t_vip_sti:
    cli
    push word 0
    popf
    RECF
    sti

t_vip_popf:
    push word 0x0200
    popf

t_tf_popf:
    push word 0x0100
    popf

t_pushfd:
    pushfd

t_cli:
    cli
    RECF
    int 0x42

t_int41:
    int 0x41
    int 0x42

t_iopl3_cli:
    cli
    RECF
    int 0x42

align 2
vme_rec_ptr: dw vme_recs
vme_recs: times 32 dw 0

; ---------------------------------------------------------------------------
; Ring-0 entries for traps from V86 mode: the CPU has pushed GS, FS, DS, ES, SS, ESP, EFLAGS,
; CS, EIP (and an error code for #GP) and loaded null data segments.
bits 32
section .text
extern vme_trap
global vme_stub_gp, vme_stub_41, vme_stub_42, vme_stub_ud

vme_stub_gp:
    push 13
    jmp vme_common
vme_stub_ud:
    push 0
    push 6
    jmp vme_common
vme_stub_41:
    push 0
    push 0x41
    jmp vme_common
vme_stub_42:
    push 0
    push 0x42
vme_common:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    push esp
    call vme_trap               ; does not return (longjmp to the monitor)
    hlt
