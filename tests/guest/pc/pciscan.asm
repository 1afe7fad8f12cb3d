; A multiboot kernel (flat binary, a.out kludge) that scans PCI bus 0 through configuration
; mechanism #1 (0xcf8/0xcfc) as firmware does: function 0 of every slot, functions 1-7 when the
; header type says multi-function. For each function it prints one line,
;   SS.F VVVV:DDDD rRR cCCCCCC hHH pPP sSSSS:SSSS
; (slot.function, vendor:device, revision, class with programming interface, header type,
; interrupt pin, subsystem vendor:id), then exits through isa-debug-exit with 0x10 (status 33).
%include "multiboot.inc"
MULTIBOOT_HEADER 0x00010000

start:
  mov esp, stack_top
  xor ebx, ebx                         ; ebx = devfn
.slot:
  mov ecx, 0                           ; dword 0: vendor/device
  call cfg_read
  cmp ax, 0xffff
  je .next_fn
  call print_fn
.next_fn:
  test bl, 7
  jnz .step                            ; functions 1-7 of a multi-function slot
  mov ecx, 0x0c                        ; header type (byte 2 of dword 0x0c)
  call cfg_read
  cmp dword [cur_vendor], 0xffff
  je .skip_slot                        ; empty slot: nothing behind function 0
  test eax, 0x00800000
  jnz .step
.skip_slot:
  add ebx, 8                           ; single-function: next slot
  jmp .check
.step:
  inc ebx
.check:
  cmp ebx, 256
  jb .slot
  mov eax, 0x10
  out 0xf4, eax
.hang:
  hlt
  jmp .hang

cfg_read:                              ; EAX = dword ECX of devfn EBX; remembers the vendor
  push edx
  mov eax, ebx
  shl eax, 8
  or eax, ecx
  or eax, 0x80000000
  mov dx, 0xcf8
  out dx, eax
  mov dx, 0xcfc
  in eax, dx
  cmp ecx, 0
  jne .done
  mov [cur_vendor], eax
  and dword [cur_vendor], 0xffff
.done:
  pop edx
  ret

print_fn:                              ; the line for devfn EBX (EAX = vendor/device)
  push eax
  mov eax, ebx
  shr eax, 3
  call hex8
  mov al, '.'
  call putc
  mov eax, ebx
  and eax, 7
  call nibble
  mov al, ' '
  call putc
  pop eax
  push eax
  call hex16                           ; vendor
  mov al, ':'
  call putc
  pop eax
  shr eax, 16
  call hex16                           ; device
  mov ecx, 0x08
  call cfg_read
  push eax
  mov al, ' '
  call putc
  mov al, 'r'
  call putc
  mov eax, [esp]
  call hex8                            ; revision
  mov al, ' '
  call putc
  mov al, 'c'
  call putc
  pop eax
  shr eax, 8
  push eax
  shr eax, 16
  call hex8                            ; base class
  pop eax
  call hex16                           ; subclass, programming interface
  mov ecx, 0x0c
  call cfg_read
  shr eax, 16
  push eax
  mov al, ' '
  call putc
  mov al, 'h'
  call putc
  pop eax
  call hex8                            ; header type
  mov ecx, 0x3c
  call cfg_read
  shr eax, 8
  push eax
  mov al, ' '
  call putc
  mov al, 'p'
  call putc
  pop eax
  call hex8                            ; interrupt pin
  mov ecx, 0x2c
  call cfg_read
  push eax
  mov al, ' '
  call putc
  mov al, 's'
  call putc
  mov eax, [esp]
  call hex16
  mov al, ':'
  call putc
  pop eax
  shr eax, 16
  call hex16
  mov al, 10
  call putc
  ret

putc:                                  ; AL to COM1, polling LSR.THRE
  push edx
  push eax
  mov dx, COM1 + 5
.wait:
  in al, dx
  test al, 0x20
  jz .wait
  pop eax
  mov dx, COM1
  out dx, al
  pop edx
  ret

hex16:                                 ; AX as four hex digits
  push eax
  shr eax, 8
  call hex8
  pop eax
hex8:                                  ; AL as two hex digits
  push eax
  push eax
  shr al, 4
  call nibble
  pop eax
  call nibble
  pop eax
  ret
nibble:
  push eax
  and eax, 15
  mov al, [digits + eax]
  call putc
  pop eax
  ret

digits: db '0123456789abcdef'

align 4
load_end:

cur_vendor equ load_end
stack_top equ load_end + 0x2000
bss_end equ stack_top
