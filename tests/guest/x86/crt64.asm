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
    fninit
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
