; Startup for Orrery's 64-bit long-mode x86 guest programs. Multiboot 1
; enters in 32-bit protected mode; this builds an identity map of the low
; 4 GiB with 2 MiB pages (user-accessible, writable), enables PAE, LME and
; paging, and jumps to 64-bit code that calls rt_start (rt.c). Linked as
; ELF64 and converted to ELF32 because -kernel only takes ELF32.

MB_MAGIC equ 0x1badb002
MB_FLAGS equ 0x3

section .multiboot
align 4
    dd MB_MAGIC
    dd MB_FLAGS
    dd -(MB_MAGIC + MB_FLAGS)

%include "gdt.inc"

section .bss
align 4096
global rt_pml4, rt_pdpt, rt_pd
rt_pml4: resb 4096
rt_pdpt: resb 4096
rt_pd: resb 4 * 4096
align 16
rt_stack: resb 65536
global rt_stack_top
rt_stack_top:

section .text
bits 32
global _start
extern rt_start, __bss_start, __bss_end
_start:
    cli
    cld
    lgdt [rt_gdtr]
    jmp 0x08:.flat
.flat:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor ax, ax
    mov fs, ax
    mov gs, ax
    mov edi, __bss_start
    mov ecx, __bss_end
    sub ecx, edi
    shr ecx, 2
    xor eax, eax
    rep stosd
    mov esp, rt_stack_top
    ; PML4[0] -> PDPT; PDPT[0..3] -> PD0..3; PDs: 2 MiB pages P|RW|US|PS.
    mov dword [rt_pml4], rt_pdpt + 7
    mov edi, rt_pdpt
    mov eax, rt_pd + 7
    mov ecx, 4
.pdpt:
    mov [edi], eax
    add edi, 8
    add eax, 4096
    loop .pdpt
    mov edi, rt_pd
    mov eax, 0x87
    xor edx, edx
    mov ecx, 2048
.pd:
    mov [edi], eax
    mov [edi + 4], edx
    add edi, 8
    add eax, 0x200000
    loop .pd
    mov eax, 0x620              ; CR4: PAE | OSFXSR | OSXMMEXCPT
    mov cr4, eax
    mov eax, rt_pml4
    mov cr3, eax
    mov ecx, 0xc0000080         ; EFER.LME
    rdmsr
    or eax, 0x100
    wrmsr
    mov eax, 0x80000023         ; CR0: PG | NE | MP | PE
    mov cr0, eax
    jmp 0x18:.long
bits 64
.long:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov rsp, rt_stack_top
%ifndef RT_NO_X87                ; (programs built without x87/SSE code)
    fninit
%endif
    push 0
    jmp rt_start

%macro STUB 1
rt_stub_%1:
%if %1 = 8 || (%1 >= 10 && %1 <= 14) || %1 = 17 || %1 = 21 || %1 = 29 || %1 = 30
%else
    push 0
%endif
    push %1
    jmp rt_trap_common
%endmacro

%assign v 0
%rep 256
STUB v
%assign v v + 1
%endrep

extern rt_trap
rt_trap_common:
    push rax
    push rcx
    push rdx
    push rbx
    push rbp
    push rsi
    push rdi
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    mov rdi, rsp                ; struct rt_frame *
    call rt_trap
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rdi
    pop rsi
    pop rbp
    pop rbx
    pop rdx
    pop rcx
    pop rax
    add rsp, 16
    iretq

section .rodata
global rt_stubs
align 8
rt_stubs:
%assign v 0
%rep 256
    dq rt_stub_ %+ v
%assign v v + 1
%endrep

; ---------------------------------------------------------------------------
; Low-memory code (linked at 0x7000, copied there by rt_start): leaving long
; mode for compatibility mode, legacy protected mode and real mode, and
; coming back. Needs the low 1 MiB identity-mapped (true of the runtime's
; page tables and of any program that keeps them).
section .lowmem progbits alloc exec write align=16

; uint32_t rt_call_compat(uint32_t func): calls func as 32-bit code at CPL 0
; (CS = 0x08 under long mode) and returns its EAX.
bits 64
global rt_call_compat
rt_call_compat:
    push rbx
    push rbp
    mov [lm_target32], edi
    mov rbp, rsp
    push 0x08
    push lm_compat
    retfq
bits 32
lm_compat:
    call [lm_target32]
    jmp 0x18:lm_compat_back
bits 64
lm_compat_back:
    mov rsp, rbp
    pop rbp
    pop rbx
    ret

; uint32_t rt_call_real(uint32_t func): leaves long mode (compatibility
; mode, paging off), runs the near function at 0:func in real mode (IVT at
; 0, SS:SP = 0:0x7000) and re-enters long mode; returns DX:AX.
global rt_call_real
rt_call_real:
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    mov [lm_target16], di
    mov [lm_saved_rsp], rsp
    sidt [lm_saved_idt]
    push 0x08
    push lm_leave
    retfq
bits 32
lm_leave:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, cr0                ; paging off: long mode inactive
    and eax, 0x7fffffff
    mov cr0, eax
    jmp 0x40:lm_pm16
bits 16
lm_pm16:
    mov ax, 0x48
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov eax, cr0
    and eax, ~1
    mov cr0, eax
    jmp 0:lm_real
lm_real:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov sp, 0x7000
    lidt [lm_real_idt]
    call [lm_target16]
    cli
    push word 0
    pop ds
    mov [lm_result], ax
    mov [lm_result + 2], dx
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    jmp dword 0x08:lm_pm32
bits 32
lm_pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, cr0                ; PAE and EFER.LME are still set
    or eax, 0x80000000
    mov cr0, eax
    jmp 0x18:lm_back
bits 64
lm_back:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
    mov fs, ax
    mov gs, ax
    mov rsp, [lm_saved_rsp]
    lidt [lm_saved_idt]
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    mov eax, [lm_result]
    ret

align 8
lm_saved_rsp: dq 0
lm_result: dd 0
lm_target32: dd 0
lm_target16: dw 0
lm_real_idt: dw 0x3ff
    dd 0
lm_saved_idt: dw 0
    dq 0
