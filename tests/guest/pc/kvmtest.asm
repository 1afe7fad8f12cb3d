; A multiboot kernel that does its work at CPL3, for the KVM accelerator (where guest kernel code
; is slow on this machine's software hypervisor and user code native; that hypervisor runs CPL3
; code only in long mode on guest page tables). It enters long mode (2 MiB pages identity-map
; the first 2 MiB and the HPET and pc-testdev pages), builds a TSS and an IDT, then IRETQs to
; CPL3 (IOPL 0: ports through the TSS I/O bitmap) and there
;   1. runs a 10-million-step xorshift checksum,
;   2. makes port-I/O and MMIO accesses of 1, 2, 4 and 8 bytes to PC devices (CMOS, pc-testdev's
;      port and memory, the HPET's ID),
;   3. takes COM1's THRE interrupt through the PIC (remapped to vector 0x20; interrupts are on
;      at CPL3 from the start): the one CPL0 handler acknowledges it and counts,
; (with -append triple it prints "triple" and ends in a triple fault instead),
; prints each result on COM1 and exits through isa-debug-exit with 0x10 (status 33). The
; output must be the same under -accel tcg and -accel kvm (and QEMU's).
%include "multiboot.inc"
MULTIBOOT_HEADER 0x00010000
%include "user64.inc"

IRQ_VECTOR equ 0x24                    ; IRQ 4 with the PIC at 0x20

start:
  mov esp, kstack_top
  mov [mbinfo], ebx
  ENTER_LONG_MODE

bits 64
long64:
  LOAD_SEGMENTS_AND_TSS 0x80
  ; Every vector faults out (status 3), but the COM1 interrupt's.
  mov edi, idt
  xor ecx, ecx
.gate:
  mov eax, fault
  cmp ecx, IRQ_VECTOR
  jne .set
  mov eax, irq4
.set:
  mov [rdi], ax
  mov word [rdi + 2], KCODE
  mov word [rdi + 4], 0x8e00             ; present, DPL 0, 64-bit interrupt gate
  shr eax, 16
  mov [rdi + 6], ax
  mov qword [rdi + 8], 0
  add edi, 16
  inc ecx
  cmp ecx, 64
  jne .gate
  lidt [idt_desc]
  ; The PIC pair at vectors 0x20 and 0x28, every line masked (firmware may have left the PIT's
  ; open): part 3 opens IRQ 4 alone.
  mov al, 0x11
  out 0x20, al
  out 0xa0, al
  mov al, 0x20
  out 0x21, al
  mov al, 0x28
  out 0xa1, al
  mov al, 0x04
  out 0x21, al
  mov al, 0x02
  out 0xa1, al
  mov al, 0x01
  out 0x21, al
  out 0xa1, al
  mov al, 0xff
  out 0x21, al
  out 0xa1, al
  ; "-append triple" (the command line's second word starts with t): no IDT, and CPL3 raises
  ; #UD, which becomes a triple fault (a reset, or the end of the run with -no-reboot).
  mov eax, user
  mov ebx, [mbinfo]
  test dword [rbx], 4
  jz .go
  mov ebx, [rbx + 16]
.word:
  mov cl, [rbx]
  inc ebx
  test cl, cl
  jz .go
  cmp cl, ' '
  jne .word
  cmp byte [rbx], 't'
  jne .go
  lidt [null_idt]
  mov eax, user_triple
.go:
  ; To CPL3 with IOPL 0 (the I/O bitmap opens the ports: this machine's hypervisor does not keep
  ; IOPL, and -accel verify,ref=kvm compares the RFLAGS an interrupt pushes), interrupts on: the PIC masks
  ; every line until part 3 opens IRQ 4.
  push UDATA
  push ustack_top
  push 0x0202
  push UCODE
  push rax
  iretq

; CPL0: the COM1 interrupt. Reading IIR acknowledges THRE; IER = 0 stops it; EOI to the PIC.
irq4:
  push rax
  push rdx
  mov dx, COM1 + 2
  in al, dx
  mov dx, COM1 + 1
  xor al, al
  out dx, al
  mov al, 0x20
  out 0x20, al
  inc dword [irq_count]
  pop rdx
  pop rax
  iretq

fault:                                   ; prints the top three stack words, exits
  mov esi, str_fault
  call puts
  mov eax, [rsp]
  call puthex32
  call space
  mov eax, [rsp + 8]
  call puthex32
  call space
  mov eax, [rsp + 16]
  call puthex32
  call newline
  mov al, 1                              ; status (1 << 1) | 1 = 3
  out 0xf4, al
  hlt

; ---- CPL3 from here ----
user_triple:
  mov esi, str_triple
  call puts
  ud2

user:
  ; 1. Checksum: xorshift32 from 1, summed, 10 million steps.
  mov esi, str_sum
  call puts
  mov eax, 1
  xor ebx, ebx
  mov ecx, 10000000
.mix:
  mov edx, eax
  shl edx, 13
  xor eax, edx
  mov edx, eax
  shr edx, 17
  xor eax, edx
  mov edx, eax
  shl edx, 5
  xor eax, edx
  add ebx, eax
  adc r8d, 0                             ; the carries, for -accel verify's inject=adc-carry
  rol ebx, 1
  dec ecx
  jnz .mix
  mov eax, ebx
  call puthex32
  call newline

  ; 2. CMOS (1-byte ports): base memory size, bytes 0x15/0x16 (640 KiB).
  mov esi, str_cmos
  call puts
  mov al, 0x15
  out 0x70, al
  in al, 0x71
  call puthex8
  mov al, 0x16
  out 0x70, al
  in al, 0x71
  call puthex8
  call newline
  ; pc-testdev's port 0xe0: a 4-byte write, then 1-, 2- and 4-byte reads.
  mov esi, str_port
  call puts
  mov eax, 0x12345678
  out 0xe0, eax
  in al, 0xe1
  call puthex8
  call space
  in ax, 0xe2
  call puthex16
  call space
  mov ax, 0xbeef
  out 0xe0, ax
  in eax, 0xe0
  call puthex32
  call newline
  ; pc-testdev's memory: writes of 1, 2, 4 bytes, read back as 4, 2, 1; an 8-byte
  ; compare-exchange (an 8-byte read and write).
  mov esi, str_mem
  call puts
  mov edi, 0xff000000
  mov byte [edi], 0x11
  mov word [edi + 1], 0x3322
  mov dword [edi + 4], 0x77665544
  mov eax, [edi]
  call puthex32
  call space
  movzx eax, word [edi + 5]
  call puthex16
  call space
  mov al, [edi + 7]
  call puthex8
  call space
  xor eax, eax                           ; compare 0: fails, loads EDX:EAX
  xor edx, edx
  mov ebx, 0xdeadbeef
  mov ecx, 0xcafef00d
  cmpxchg8b [edi]
  push rax
  mov eax, edx
  call puthex32
  pop rax
  call puthex32
  call space
  ; The memory still holds what it held; write ECX:EBX with a matching compare.
  mov eax, [edi]
  mov edx, [edi + 4]
  mov ebx, 0xdeadbeef
  mov ecx, 0xcafef00d
  cmpxchg8b [edi]
  mov eax, [edi + 4]
  call puthex32
  mov eax, [edi]
  call puthex32
  call newline
  ; The HPET's capabilities (4 bytes), as QEMU's: vendor 8086, 3 timers, 64-bit, legacy route.
  mov esi, str_hpet
  call puts
  mov ebx, 0xfed00000
  mov eax, [rbx]
  call puthex32
  call newline

  ; 3. COM1's THRE interrupt through the PIC, with only IRQ 4 open.
  mov esi, str_irq
  call puts
  mov al, 0xef
  out 0x21, al
  mov dx, COM1 + 4
  mov al, 0x08                           ; OUT2: the 16550's interrupt output on a PC
  out dx, al
  mov dx, COM1 + 1
  mov al, 0x02                           ; THR empty: pending at once
  out dx, al
  mov ecx, 100000000                     ; a bound, not a delay: the interrupt comes first
.wait:
  cmp dword [irq_count], 0
  jne .got
  dec ecx
  jnz .wait
.got:
  mov eax, [irq_count]
  call puthex8
  call newline

  mov al, 0x10
  out 0xf4, al
.hang:
  jmp .hang

; Output at CPL3: each character after THR is empty.
SERIAL64
str_sum: db "sum ", 0
str_cmos: db "cmos ", 0
str_port: db "port ", 0
str_mem: db "mem ", 0
str_hpet: db "hpet ", 0
str_irq: db "irq ", 0
str_fault: db "fault ", 0
str_triple: db "triple", 10, 0

GDT64 0x80
idt_desc:
  dw 64 * 16 - 1
  dq idt
irq_count: dd 0
mbinfo: dd 0
null_idt:
  dw 0
  dq 0
; Identity map, user-accessible, with 2 MiB pages: the first 2 MiB (this program) and the pages
; holding the HPET (0xfec00000) and pc-testdev's memory (0xff000000), those uncached.
align 4096
pml4:
  dq pdpt + 7
  times 511 dq 0
pdpt:
  dq pd_low + 7
  dq 0, 0
  dq pd_high + 7
  times 508 dq 0
pd_low:
  dq 0x87                                ; P RW US PS
  times 511 dq 0
pd_high:
  times 0x1f6 dq 0
  dq 0xfec0009f                          ; P RW US PWT PCD PS
  dq 0
  dq 0xff00009f
  times 512 - 0x1f9 dq 0
load_end:

align 16
tss equ load_end                       ; 0x68 bytes and the I/O bitmap
idt equ load_end + 0x100               ; 64 gates
kstack_top equ load_end + 0x2000
ustack_top equ load_end + 0x3000
bss_end equ ustack_top
