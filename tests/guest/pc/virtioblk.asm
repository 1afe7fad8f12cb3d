; A multiboot kernel that drives a virtio-blk-pci disk from CPL3, for the KVM accelerator's
; ioeventfd and irqfd (and the same on TCG and QEMU). Set up as kvmtest.asm (long mode, 2 MiB
; user pages, a TSS whose I/O bitmap opens ports 0-0xfff, IOPL 0), with the local APIC enabled
; and one CPL0 handler at vector 0x30 that counts and EOIs. At CPL3 it
;   1. finds 1af4:1042 on bus 0 (configuration mechanism #1), puts BAR 1 (MSI-X) at 0xfe100000
;      and BAR 4 (the modern structures, laid out as QEMU lays them out) at 0xfe000000, enables
;      memory decode and bus mastering and MSI-X, and points table entry 0 at vector 0x30;
;   2. negotiates VIRTIO_F_VERSION_1 alone and sets up queue 0 (8 entries, MSI-X vector 0);
;   3. reads sectors 0 and 1 through the ring, each with a write to the queue's notify address,
;      and prints for each the first 16 bytes, the status byte, the used index and how many
;      interrupts have arrived,
; then exits through isa-debug-exit with 0x10 (status 33).
%include "multiboot.inc"
MULTIBOOT_HEADER 0x00010000
%include "user64.inc"

MSI_VECTOR equ 0x30
LAPIC equ 0xfee00000
BAR4 equ 0xfe000000
BAR1 equ 0xfe100000
IOBITMAP_BYTES equ 0x200              ; ports 0-0xfff

start:
  mov esp, kstack_top
  ENTER_LONG_MODE

bits 64
long64:
  LOAD_SEGMENTS_AND_TSS IOBITMAP_BYTES
  mov edi, idt
  xor ecx, ecx
.gate:
  mov eax, fault
  cmp ecx, MSI_VECTOR
  jne .set
  mov eax, msi
.set:
  mov [rdi], ax
  mov word [rdi + 2], KCODE
  mov word [rdi + 4], 0x8e00
  shr eax, 16
  mov [rdi + 6], ax
  mov qword [rdi + 8], 0
  add edi, 16
  inc ecx
  cmp ecx, 64
  jne .gate
  lidt [idt_desc]
  ; Both PICs masked (firmware may have left lines open); the local APIC software-enabled
  ; (spurious vector 0xff) so that MSIs reach the CPU.
  mov al, 0xff
  out 0x21, al
  out 0xa1, al
  mov eax, LAPIC
  mov dword [rax + 0xf0], 0x1ff
  push UDATA
  push ustack_top
  push 0x0202
  push UCODE
  push user
  iretq

; CPL0: the queue's MSI-X vector.
msi:
  push rax
  mov eax, LAPIC
  mov dword [rax + 0xb0], 0
  inc dword [irq_count]
  pop rax
  iretq

fault:
  mov esi, str_fault
  call puts
  mov eax, [rsp]
  call puthex32
  call space
  mov eax, [rsp + 8]
  call puthex32
  call newline
  mov al, 1
  out 0xf4, al
  hlt

; ---- CPL3 from here ----
; Configuration dword at register ecx of devfn ebx: eax.
cfg_addr:
  mov eax, ebx
  shl eax, 8
  or eax, ecx
  or eax, 0x80000000
  mov dx, 0xcf8
  out dx, eax
  mov dx, 0xcfc
  ret
cfg_read:
  push rdx
  call cfg_addr
  in eax, dx
  pop rdx
  ret
cfg_write:                               ; eax: value
  push rdx
  push rax
  call cfg_addr
  pop rax
  out dx, eax
  pop rdx
  ret

user:
  ; 1. The device.
  xor ebx, ebx
.find:
  xor ecx, ecx
  call cfg_read
  cmp eax, 0x10421af4
  je .found
  add ebx, 8
  cmp ebx, 256
  jne .find
  mov esi, str_nodev
  call puts
  jmp exit
.found:
  mov esi, str_dev
  call puts
  mov eax, ebx
  shr eax, 3
  call puthex8
  call newline
  mov ecx, 0x14
  mov eax, BAR1
  call cfg_write
  mov ecx, 0x20
  mov eax, BAR4
  call cfg_write
  mov ecx, 0x24
  xor eax, eax
  call cfg_write
  mov ecx, 0x04
  mov eax, 0x06                          ; memory decode, bus master
  call cfg_write
  ; The MSI-X capability: enable it.
  mov ecx, 0x34
  call cfg_read
  movzx ecx, al
.cap:
  test ecx, ecx
  jz .nomsix
  call cfg_read
  cmp al, 0x11
  je .msix
  movzx ecx, ah
  jmp .cap
.msix:
  or eax, 0x80000000
  call cfg_write
.nomsix:
  mov edi, BAR1
  mov dword [rdi], LAPIC
  mov dword [rdi + 4], 0
  mov dword [rdi + 8], MSI_VECTOR
  mov dword [rdi + 12], 0

  ; 2. Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queue 0, DRIVER_OK.
  mov edi, BAR4
  mov byte [rdi + 0x14], 0
  mov byte [rdi + 0x14], 1
  mov byte [rdi + 0x14], 3
  mov dword [rdi + 0x00], 1              ; device features 32-63
  mov esi, str_feat
  call puts
  mov eax, [rdi + 0x04]
  and eax, 1                             ; VIRTIO_F_VERSION_1
  call puthex8
  mov dword [rdi + 0x08], 0
  mov dword [rdi + 0x0c], 0
  mov dword [rdi + 0x08], 1
  mov dword [rdi + 0x0c], 1
  mov byte [rdi + 0x14], 0x0b
  call space
  mov al, [rdi + 0x14]
  call puthex8
  call newline
  mov word [rdi + 0x10], 0xffff          ; no configuration-change vector
  mov word [rdi + 0x16], 0
  mov word [rdi + 0x18], 8
  mov word [rdi + 0x1a], 0
  mov esi, str_queue
  call puts
  mov ax, [rdi + 0x1a]
  call puthex16
  call space
  mov ax, [rdi + 0x1e]                   ; queue_notify_off
  call puthex16
  call newline
  movzx eax, word [rdi + 0x1e]
  shl eax, 2                             ; notify_off_multiplier 4, as QEMU's
  add eax, BAR4 + 0x3000
  mov [notify_addr], eax
  mov dword [rdi + 0x20], ring_desc
  mov dword [rdi + 0x24], 0
  mov dword [rdi + 0x28], ring_avail
  mov dword [rdi + 0x2c], 0
  mov dword [rdi + 0x30], ring_used
  mov dword [rdi + 0x34], 0
  mov word [rdi + 0x1c], 1
  mov byte [rdi + 0x14], 0x0f

  ; 3. Sectors 0 and 1.
  xor ebx, ebx
.sector:
  call read_sector
  inc ebx
  cmp ebx, 2
  jne .sector
exit:
  mov al, 0x10
  out 0xf4, al
.hang:
  jmp .hang

; Reads sector ebx through descriptors 0-2 and prints the result.
read_sector:
  mov dword [req_hdr], 0                 ; VIRTIO_BLK_T_IN
  mov dword [req_hdr + 4], 0
  mov [req_hdr + 8], rbx
  mov byte [req_status], 0xee
  mov edi, ring_desc
  mov qword [rdi], req_hdr
  mov dword [rdi + 8], 16
  mov dword [rdi + 12], 0x00010001       ; NEXT, next 1
  mov qword [rdi + 16], req_data
  mov dword [rdi + 24], 512
  mov dword [rdi + 28], 0x00020003       ; NEXT | WRITE, next 2
  mov qword [rdi + 32], req_status
  mov dword [rdi + 40], 1
  mov dword [rdi + 44], 0x00000002       ; WRITE
  movzx eax, word [ring_avail + 2]
  mov ecx, eax
  and ecx, 7
  mov word [ring_avail + 4 + rcx * 2], 0
  inc eax
  mov [ring_avail + 2], ax
  mov edi, [notify_addr]
  mov word [rdi], 0                      ; the doorbell: queue 0
  ; Wait for the used index and the interrupt (a bound, not a delay).
  mov ecx, 100000000
.wait:
  movzx eax, word [ring_used + 2]
  cmp ax, [ring_avail + 2]
  jne .next
  mov eax, [irq_count]
  cmp eax, [irq_seen]
  jne .done
.next:
  dec ecx
  jnz .wait
.done:
  mov eax, [irq_count]
  mov [irq_seen], eax
  mov esi, str_sector
  call puts
  mov eax, ebx
  call puthex8
  call space
  mov esi, req_data
  mov ecx, 16
.byte:
  lodsb
  cmp al, 0x20
  jb .dot
  cmp al, 0x7e
  jbe .put
.dot:
  mov al, '.'
.put:
  call putc
  dec ecx
  jnz .byte
  call space
  mov al, [req_status]
  call puthex8
  call space
  mov ax, [ring_used + 2]
  call puthex16
  call space
  mov eax, [irq_count]
  call puthex8
  call newline
  ret

SERIAL64
str_dev: db "virtio-blk at slot ", 0
str_nodev: db "no virtio-blk", 10, 0
str_feat: db "features ", 0
str_queue: db "queue ", 0
str_sector: db "sector ", 0
str_fault: db "fault ", 0

GDT64 IOBITMAP_BYTES
idt_desc:
  dw 64 * 16 - 1
  dq idt
irq_count: dd 0
irq_seen: dd 0
notify_addr: dd 0
; Identity map, user-accessible, 2 MiB pages: the first 2 MiB (this program and its rings),
; the BARs' page at 0xfe000000 and the local APIC's, those uncached.
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
  times 0x1f0 dq 0
  dq 0xfe00009f                          ; P RW US PWT PCD PS
  times 6 dq 0
  dq 0xfee0009f
  times 512 - 0x1f8 dq 0
load_end:

align 4096
ring_desc equ load_end                   ; 8 descriptors
ring_avail equ load_end + 0x100
ring_used equ load_end + 0x200
req_hdr equ load_end + 0x400
req_status equ load_end + 0x410
req_data equ load_end + 0x600
tss equ load_end + 0x1000                ; 0x68 bytes and the I/O bitmap
idt equ load_end + 0x1400
kstack_top equ load_end + 0x3000
ustack_top equ load_end + 0x4000
bss_end equ ustack_top
