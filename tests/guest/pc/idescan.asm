; A multiboot kernel (flat binary, a.out kludge) that drives the PIIX IDE through its legacy
; ports by polling (nIEN set): soft reset of both channels and the signatures left behind,
; IDENTIFY DEVICE of the primary master (chosen words and the model), READ SECTORS of sector 1,
; then on the secondary master (a CD-ROM) IDENTIFY PACKET DEVICE, PACKET READ CAPACITY,
; READ(10) of block 0, a READ(10) past the end with the error it leaves, and REQUEST SENSE.
; Everything is printed in hex on COM1; then isa-debug-exit with 0x10 (status 33).
%include "multiboot.inc"
MULTIBOOT_HEADER 0x00010000

start:
  mov esp, stack_top
  ; Soft reset both channels with interrupts masked (nIEN), then wait for BSY to clear.
  mov word [base], 0x1f0
  mov word [ctl], 0x3f6
  call srst
  mov word [base], 0x170
  mov word [ctl], 0x376
  call srst
  ; Signatures: error, count, LBA low/mid/high, device, status of each channel's master
  ; (selected again: firmware may have left the slave selected).
  mov word [base], 0x1f0
  mov word [ctl], 0x3f6
  mov al, 0xa0
  mov dl, 6
  call wr
  mov al, 'A'
  call regs_line
  mov word [base], 0x170
  mov word [ctl], 0x376
  mov al, 0xa0
  mov dl, 6
  call wr
  mov al, 'B'
  call regs_line

  ; IDENTIFY DEVICE on the primary master.
  mov word [base], 0x1f0
  mov word [ctl], 0x3f6
  mov al, 0xa0
  mov dl, 6
  call wr
  mov al, 0xec
  mov dl, 7
  call wr
  call wait_ready
  mov ecx, 256
  call pio_in
  mov esi, words_ata
  call print_words
  mov esi, buffer + 54                 ; model, words 27-46
  mov ecx, 20
  call print_string
  mov al, 'I'
  call regs_line

  ; READ SECTORS: sector 1, LBA.
  mov al, 1
  mov dl, 2
  call wr
  mov al, 1
  mov dl, 3
  call wr
  xor al, al
  mov dl, 4
  call wr
  xor al, al
  mov dl, 5
  call wr
  mov al, 0xe0
  mov dl, 6
  call wr
  mov al, 0x20
  mov dl, 7
  call wr
  call wait_ready
  mov ecx, 256
  call pio_in
  mov esi, buffer
  mov ecx, 16
  call print_bytes
  mov al, 'R'
  call regs_line

  ; The CD-ROM on the secondary master.
  mov word [base], 0x170
  mov word [ctl], 0x376
  mov al, 0xa0
  mov dl, 6
  call wr
  mov al, 0xa1
  mov dl, 7
  call wr
  call wait_ready
  mov ecx, 256
  call pio_in
  mov esi, words_atapi
  call print_words
  mov esi, buffer + 54
  mov ecx, 20
  call print_string
  mov al, 'P'
  call regs_line

  mov esi, cdb_capacity
  call packet
  mov esi, cdb_read0
  call packet
  mov esi, cdb_read_bad
  call packet
  mov esi, cdb_sense
  call packet

  mov eax, 0x10
  out 0xf4, eax
.hang:
  hlt
  jmp .hang

; ---- IDE helpers (channel in [base], [ctl]) ----

wr:                                    ; write AL to register DL of the channel
  push edx
  movzx edx, dl
  add dx, [base]
  out dx, al
  pop edx
  ret

rd:                                    ; AL = register DL of the channel
  push edx
  movzx edx, dl
  add dx, [base]
  in al, dx
  pop edx
  ret

srst:
  mov dx, [ctl]
  mov al, 0x06                         ; SRST | nIEN
  out dx, al
  mov ecx, 1000
.d:
  in al, dx
  loop .d
  mov al, 0x02                         ; nIEN
  out dx, al
wait_bsy:                              ; until BSY clears (bounded)
  push ecx
  mov ecx, 10000000
  mov dx, [ctl]
.w:
  in al, dx
  test al, 0x80
  jz .ok
  loop .w
.ok:
  pop ecx
  ret

wait_ready:                            ; BSY clear (DRQ or error follows)
  jmp wait_bsy

pio_in:                                ; ECX words from the data port to buffer
  mov edi, buffer
  mov dx, [base]
  rep insw
  ret

regs_line:                             ; "AL: err cnt lbal lbam lbah dev status"
  call putc
  mov al, ':'
  call putc
  mov dl, 1
.r:
  mov al, ' '
  call putc
  call rd
  call hex8
  inc dl
  cmp dl, 8
  jb .r
  mov al, 10
  jmp putc

packet:                                ; PACKET with the 12-byte CDB at ESI (PIO, limit 0x800)
  xor al, al
  mov dl, 1
  call wr
  xor al, al
  mov dl, 4
  call wr
  mov al, 0x08
  mov dl, 5
  call wr
  mov al, 0xa0
  mov dl, 7
  call wr
  call wait_bsy
  mov dx, [base]
  mov ecx, 6
  rep outsw
  call wait_bsy
  ; Data-in while DRQ: print at most 18 bytes of each chunk.
  mov dl, 7
  call rd
  test al, 0x08
  jz .done
  mov dl, 4
  call rd
  movzx ecx, al
  mov dl, 5
  call rd
  mov ch, al
  push ecx
  shr ecx, 1
  call pio_in
  call wait_bsy
  pop ecx
  cmp ecx, 18
  jbe .n
  mov ecx, 18
.n:
  mov esi, buffer
  call print_bytes
.done:
  mov al, 'K'
  jmp regs_line

; ---- output ----

print_words:                           ; the buffer words listed at ESI (0xffff ends)
  lodsw
  cmp ax, 0xffff
  je .end
  movzx eax, ax
  mov ax, [buffer + eax * 2]
  call hex16
  mov al, ' '
  call putc
  jmp print_words
.end:
  mov al, 10
  jmp putc

print_string:                          ; ECX words of an ATA string (bytes swapped) at ESI
  mov ax, [esi]
  xchg al, ah
  call putc
  mov al, ah
  call putc
  add esi, 2
  loop print_string
  mov al, 10
  jmp putc

print_bytes:                           ; ECX bytes at ESI
  lodsb
  call hex8
  loop print_bytes
  mov al, 10
  jmp putc

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

hex16:
  push eax
  shr eax, 8
  call hex8
  pop eax
hex8:
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

digits db '0123456789abcdef'
; IDENTIFY words compared: configuration, geometry, multiple, capabilities, validity, current
; geometry and multiple, LBA28 size, DMA/PIO modes, versions, command sets, LBA48 size.
; (Words 82/85 are left out: QEMU claims SMART, which Orrery does not have.)
words_ata dw 0, 1, 3, 6, 47, 49, 53, 54, 55, 56, 59, 60, 61, 63, 64, 80, 83, 86, 88, 100
          dw 101, 0xffff
words_atapi dw 0, 49, 53, 63, 64, 80, 88, 0xffff
cdb_capacity db 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
cdb_read0 db 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0
cdb_read_bad db 0x28, 0, 0, 0, 0x10, 0, 0, 0, 1, 0, 0, 0
cdb_sense db 0x03, 0, 0, 0, 18, 0, 0, 0, 0, 0, 0, 0
align 4
load_end:

base equ load_end
ctl equ load_end + 2
buffer equ load_end + 16
stack_top equ load_end + 0x3000
bss_end equ stack_top
