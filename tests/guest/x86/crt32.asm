; Startup for Orrery's 32-bit protected-mode x86 guest programs: Multiboot 1
; entry (QEMU/Orrery -kernel), own GDT, flat segments, stack, .bss zeroed,
; x87/SSE enabled, then rt_start (rt.c). Interrupt stubs push a uniform
; frame (struct rt_frame) and call rt_trap.
bits 32

MB_MAGIC equ 0x1badb002
MB_FLAGS equ 0x3                ; page-aligned modules, memory info

section .multiboot
align 4
    dd MB_MAGIC
    dd MB_FLAGS
    dd -(MB_MAGIC + MB_FLAGS)

%include "gdt.inc"

section .bss
align 16
rt_stack: resb 65536
global rt_stack_top
rt_stack_top:

section .text
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
    ; Zero .bss (the stack is in it, so before any push).
    mov edi, __bss_start
    mov ecx, __bss_end
    sub ecx, edi
    shr ecx, 2
    xor eax, eax
    rep stosd
    mov esp, rt_stack_top
    ; CR0: PE | MP | NE, EM/TS clear; CR4: OSFXSR | OSXMMEXCPT.
    mov eax, 0x23
    mov cr0, eax
    mov eax, 0x600
    mov cr4, eax
%ifndef RT_NO_X87                ; (programs built without x87/SSE code)
    fninit
%endif
    push 0                      ; a zero return address ends backtraces
    jmp rt_start

; Vectors that push an error code: 8, 10-14, 17, 21, 29, 30.
%macro STUB 1
rt_stub_%1:
%if %1 = 8 || (%1 >= 10 && %1 <= 14) || %1 = 17 || %1 = 21 || %1 = 29 || %1 = 30
%else
    push 0
%endif
    push %1
    jmp rt_trap_common
%endmacro

section .text
%assign v 0
%rep 256
STUB v
%assign v v + 1
%endrep

extern rt_trap
rt_trap_common:
    pushad
    push esp                    ; struct rt_frame *
    call rt_trap
    add esp, 4
    popad
    add esp, 8                  ; vector, error code
    iretd

section .rodata
global rt_stubs
align 4
rt_stubs:
%assign v 0
%rep 256
    dd rt_stub_ %+ v
%assign v v + 1
%endrep

; ---------------------------------------------------------------------------
; Low-memory code (linked at 0x7000, copied there by rt_start): the AP start
; trampoline (the SIPI vector is 0x07) and the real-mode call helper.
section .lowmem progbits alloc exec write align=16
bits 16
global rt_ap_trampoline
rt_ap_trampoline:               ; 0x7000: an AP starts here in real mode
    cli
    cld
    xor ax, ax
    mov ds, ax
    o32 lgdt [rt_lowmem_gdtr]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    jmp dword 0x08:.ap32
bits 32
.ap32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor ax, ax
    mov fs, ax
    mov gs, ax
    mov esp, [rt_ap_stack]
    mov eax, 0x23
    mov cr0, eax
    mov eax, 0x600
    mov cr4, eax
%ifndef RT_NO_X87                ; (programs built without x87/SSE code)
    fninit
%endif
    call [rt_ap_entry]
.park:
    cli
    hlt
    jmp .park

align 4
global rt_ap_stack, rt_ap_entry
rt_ap_stack: dd 0
rt_ap_entry: dd 0
    dw 0
rt_lowmem_gdtr:                 ; a copy of rt_gdtr reachable from real mode
    dw 0x8f
    dd rt_gdt

; uint32_t rt_call_real(uint32_t func): runs the near function at 0:func in
; 16-bit real mode (IVT at 0, SS:SP = 0:0x7000, interrupts off) and returns
; its AX:DX as EAX. Only callable from the 32-bit runtime without paging.
bits 32
global rt_call_real
rt_call_real:
    pushad
    mov eax, [esp + 36]
    mov [.target], ax
    mov [.saved_esp], esp
    sidt [.saved_idt]
    jmp 0x40:.pm16
bits 16
.pm16:
    mov ax, 0x48
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov eax, cr0
    and eax, ~1
    mov cr0, eax
    jmp 0:.real
.real:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov sp, 0x7000
    lidt [.real_idt]
    call [.target]
    cli
    push word 0
    pop ds
    mov [.result], ax
    mov [.result + 2], dx
    xor ax, ax
    mov ds, ax
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    jmp dword 0x08:.back32
bits 32
.back32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor ax, ax
    mov fs, ax
    mov gs, ax
    mov esp, [.saved_esp]
    lidt [.saved_idt]
    popad
    mov eax, [.result]
    ret
align 4
.saved_esp: dd 0
.result: dd 0
.target: dw 0
.real_idt: dw 0x3ff
    dd 0
.saved_idt: dw 0
    dd 0
