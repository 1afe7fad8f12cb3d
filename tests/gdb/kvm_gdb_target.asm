; The guest of the KVM gdb tests (run_kvm_gdb_test.sh): a multiboot kernel that enters long mode
; and drops to CPL3 (where this machine's software hypervisor runs code natively), as
; tests/guest/pc/kvmtest.asm does. Its CPL3 code sits at fixed addresses for gdb, which has no
; symbols for it:
;   0x101000 user: rax = 0x1111, rbx = 0x2222, then calls bump(i) for i = 1..5
;   0x101100 bump: adds rdi to counter (at 0x101200) and returns it in rax
; and prints "counter=N" on COM1, then "hpet ok" if fewer than 0.5 s of HPET time (100 MHz)
; passed between its first CPL0 instructions (an HPET read after the third, where the clock_stop
; test holds the machine for 2 s) and the next, "hpet slow" otherwise, then exits through
; isa-debug-exit with 0x10 (status 33).
%include "multiboot.inc"
MULTIBOOT_HEADER 0x00010000
%include "user64.inc"


HPET equ 0xfed00000

start:
  mov dword [HPET + 0x10], 1             ; ENABLE_CNF: the main counter runs
  mov eax, [HPET + 0xf0]
  mov [hpet_before], eax
  mov eax, [HPET + 0xf0]                 ; gdb's clock_stop case holds the machine before this
  sub eax, [hpet_before]
  mov [hpet_delta], eax
  mov esp, kstack_top
  ENTER_LONG_MODE

bits 64
long64:
  mov ax, KDATA
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov eax, tss
  mov [gdt_tss + 2], ax
  shr eax, 16
  mov [gdt_tss + 4], al
  mov [gdt_tss + 7], ah
  mov qword [tss + 4], kstack_top
  mov word [tss + 0x66], 0x68             ; I/O bitmap: ports 0-0x3ff open
  mov byte [tss + 0x68 + 0x80], 0xff
  mov ax, TSSSEL
  ltr ax
  push UDATA
  push ustack_top
  push 0x3002                             ; IOPL 3, interrupts off
  push UCODE
  push user
  iretq

times 0x1000 - ($ - $$) db 0x90
user:                                     ; 0x101000
  mov rax, 0x1111
  mov rbx, 0x2222
  mov ecx, 1
.loop:
  mov edi, ecx
  push rcx
  call bump
  pop rcx
  inc ecx
  cmp ecx, 6
  jne .loop
  mov esi, str_counter
  call puts
  mov eax, [counter]
  call putdec
  mov al, 10
  call putc
  mov esi, str_hpet_ok
  cmp dword [hpet_delta], 50000000
  jb .print
  mov esi, str_hpet_slow
.print:
  call puts
  mov al, 0x10
  out 0xf4, al
.hang:
  jmp .hang

putc:
  push rdx
  push rax
  mov dx, COM1 + 5
.busy:
  in al, dx
  test al, 0x20
  jz .busy
  pop rax
  mov dx, COM1
  out dx, al
  pop rdx
  ret
puts:
  lodsb
  test al, al
  jz .done
  call putc
  jmp puts
.done:
  ret
putdec:                                   ; eax < 100
  xor edx, edx
  mov ecx, 10
  div ecx
  add al, '0'
  call putc
  mov al, dl
  add al, '0'
  jmp putc
str_counter: db "counter=", 0
str_hpet_ok: db "hpet ok", 10, 0
str_hpet_slow: db "hpet slow", 10, 0

times 0x1100 - ($ - $$) db 0x90
bump:                                     ; 0x101100
  add [counter], rdi
  mov rax, [counter]
  ret

times 0x1200 - ($ - $$) db 0
counter: dq 0                             ; 0x101200
hpet_before: dd 0
hpet_delta: dd 0

GDT64 0x80
align 4096
pml4:
  dq pdpt + 7
  times 511 dq 0
pdpt:
  dq pd_low + 7
  times 511 dq 0
pd_low:
  dq 0x87                                ; the first 2 MiB, P RW US PS
  times 511 dq 0
load_end:

align 16
tss equ load_end
kstack_top equ load_end + 0x2000
ustack_top equ load_end + 0x3000
bss_end equ ustack_top
