; A boot sector that SeaBIOS loads from a disk (IDE or virtio-blk) or, with no emulation, from
; a CD-ROM (El Torito): it reports what the BIOS gave it through INT 13h, printing directly on
; COM1 (the line "=== orrery boot sector ===" starts its output, so the runner can cut away the
; firmware's own messages): the boot drive, the INT 13h extensions, the drive geometry (AH=08h)
; and the extended parameters (AH=48h), then sectors read with the extended read (AH=42h) and,
; on a hard disk, with the CHS read (AH=02h) at addresses derived from the geometry. Every sector
; of the test image starts with its own LBA as text ("LBA 00000123"), so each read shows which
; sector the BIOS fetched. Then INT 12h's base memory, and isa-debug-exit with 0x10 (status 33).
; Assembled with nasm -f bin into 2 KiB: on a disk it fills sectors 0-3 (sector 0 loads the
; rest) and the labelled sectors start at LBA 4; on a CD-ROM it is the El Torito boot image.
bits 16
org 0x7c00

start:
  cli
  xor ax, ax
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov sp, 0x7c00
  sti
  jmp 0:stage1               ; some BIOSes enter at 07c0:0000
stage1:
  mov [drive], dl
  ; A CD-ROM's El Torito entry loads all four 512-byte parts; from a disk, the BIOS loaded
  ; only sector 0, so sectors 1-3 follow with a CHS read (C/H/S 0/0/2).
  cmp dl, 0xe0
  jae main
  mov ax, 0x0203
  mov cx, 0x0002
  xor dh, dh
  mov bx, 0x7e00
  int 0x13
  jnc main
  mov al, '!'
  call putc
  jmp main.hang

putc:
  push dx
  push ax
  mov dx, 0x3fd
.wait:
  in al, dx
  test al, 0x20
  jz .wait
  pop ax
  mov dx, 0x3f8
  out dx, al
  pop dx
  ret

times 510 - ($ - $$) db 0
dw 0xaa55

main:
  mov si, s_banner
  call puts
  mov si, s_drive
  call puts
  mov al, [drive]
  call hex8
  call crlf

  ; INT 13h extensions check.
  mov ah, 0x41
  mov bx, 0x55aa
  mov dl, [drive]
  int 0x13
  call carry_ax
  mov si, s_bx
  call puts
  mov ax, bx
  call hex16
  mov si, s_cx
  call puts
  mov ax, cx
  call hex16
  call crlf

  ; Geometry (not on a CD-ROM: SeaBIOS gives none for the no-emulation drive).
  cmp byte [drive], 0xe0
  jae .ext_params
  mov ah, 0x08
  mov dl, [drive]
  xor di, di
  int 0x13
  push dx
  push cx
  call carry_ax
  pop cx
  pop dx
  mov si, s_geom
  call puts
  ; Cylinders: CH plus CL bits 7:6 as bits 9:8; sectors: CL bits 5:0; heads: DH (max index).
  mov al, cl
  xor ah, ah
  shl ax, 2
  mov al, ch
  mov [maxcyl], ax
  call hex16
  mov al, ' '
  call putc
  mov al, dh
  mov [maxhead], al
  call hex8
  mov al, ' '
  call putc
  mov al, cl
  and al, 0x3f
  mov [spt], al
  call hex8
  mov si, s_count
  call puts
  mov al, dl
  call hex8
  call crlf

.ext_params:
  ; Extended parameters: flags, C/H/S, total sectors, bytes per sector.
  mov word [params], 0x1a
  mov ah, 0x48
  mov dl, [drive]
  mov si, params
  int 0x13
  call carry_ax
  mov si, s_params
  call puts
  mov ax, [params + 2]
  call hex16
  mov al, ' '
  call putc
  mov ax, [params + 4]
  call hex16
  mov al, ' '
  call putc
  mov ax, [params + 8]
  call hex16
  mov al, ' '
  call putc
  mov ax, [params + 12]
  call hex16
  mov si, s_total
  call puts
  mov ax, [params + 22]
  call hex16
  mov ax, [params + 20]
  call hex16
  mov ax, [params + 18]
  call hex16
  mov ax, [params + 16]
  call hex16
  mov si, s_bps
  call puts
  mov ax, [params + 24]
  call hex16
  call crlf

  ; Extended reads: LBA 4, then 3 blocks from LBA 5 (the last block's text), then the last
  ; block of the medium.
  mov eax, 4
  mov cx, 1
  call ext_read
  mov eax, 5
  mov cx, 3
  call ext_read
  mov eax, [params + 16]
  dec eax
  mov cx, 1
  call ext_read

  cmp byte [drive], 0xe0
  jae .done
  ; CHS reads: C/H/S 0/0/5 (LBA 4), 0/1/1, 1/0/1, and the last sector of the last cylinder.
  mov cx, 0x0005
  mov dh, 0
  call chs_read
  mov cx, 0x0001
  mov dh, 1
  call chs_read
  mov cx, 0x0101
  mov dh, 0
  call chs_read
  mov ax, [maxcyl]
  mov ch, al
  mov cl, ah
  shl cl, 6
  or cl, [spt]
  mov dh, [maxhead]
  call chs_read
  ; Two sectors at once into a buffer that crosses no 64 KiB boundary: the second one's text.
  mov ax, 0x0202
  mov cx, 0x0006
  mov dh, 0
  mov dl, [drive]
  mov bx, buffer
  int 0x13
  call carry_ax
  mov si, s_chs2
  call puts
  mov si, buffer + 512
  call text_if_read
  call crlf

.done:
  ; Base memory (INT 12h) in KiB.
  int 0x12
  push ax
  mov si, s_basemem
  call puts
  pop ax
  call hex16
  call crlf
  mov si, s_end
  call puts
  mov dx, 0xf4
  mov al, 0x10
  out dx, al
.hang:
  hlt
  jmp .hang

; ext_read: EAX = LBA, CX = block count; reads into buffer and prints the last block's text.
ext_read:
  mov [dap_lba], eax
  mov [dap_count], cx
  mov word [dap_buf], buffer
  mov word [dap_buf + 2], 0
  push cx
  push eax
  mov ah, 0x42
  mov dl, [drive]
  mov si, dap
  int 0x13
  call carry_ax
  mov si, s_ext
  call puts
  pop eax
  call hex32
  mov al, '+'
  call putc
  pop cx
  mov ax, cx
  call hex8
  mov al, ':'
  call putc
  mov al, ' '
  call putc
  ; The last block: count - 1 times the block size past buffer.
  mov ax, [dap_count]
  dec ax
  mul word [params + 24]
  mov si, buffer
  add si, ax
  call text_if_read
  call crlf
  ret

; chs_read: CX/DH as INT 13h AH=02h takes them; one sector into buffer, printed.
chs_read:
  push cx
  push dx
  mov ax, 0x0201
  mov dl, [drive]
  mov bx, buffer
  int 0x13
  call carry_ax
  mov si, s_chs
  call puts
  pop dx
  pop cx
  mov ax, cx
  call hex16
  mov al, '/'
  call putc
  mov al, dh
  call hex8
  mov al, ':'
  call putc
  mov al, ' '
  call putc
  mov si, buffer
  call text_if_read
  call crlf
  ret

; carry_ax: prints "cf=C ah=XX " for the INT 13h call just made (flags and AX as it left them).
carry_ax:
  pushf
  push ax
  mov si, s_cf
  call puts
  pop ax
  popf
  push ax
  mov al, '0'
  adc al, 0
  mov [lastcf], al
  call putc
  mov si, s_ah
  call puts
  pop ax
  mov al, ah
  call hex8
  mov al, ' '
  call putc
  ret

; text_if_read: put_lba_text unless the last call failed (the buffer holds nothing then).
text_if_read:
  cmp byte [lastcf], '0'
  jne .r
  jmp put_lba_text
.r:
  ret

; put_lba_text: the first 12 bytes at SI, printable bytes only ('.' for others).
put_lba_text:
  mov cx, 12
.l:
  lodsb
  cmp al, 0x20
  jb .dot
  cmp al, 0x7e
  jbe .out
.dot:
  mov al, '.'
.out:
  call putc
  loop .l
  ret

puts:
  lodsb
  test al, al
  jz .r
  call putc
  jmp puts
.r:
  ret

crlf:
  mov al, 13
  call putc
  mov al, 10
  jmp putc

hex32:
  push eax
  shr eax, 16
  call hex16
  pop eax
hex16:
  push ax
  mov al, ah
  call hex8
  pop ax
hex8:
  push ax
  shr al, 4
  call hex4
  pop ax
hex4:
  push ax
  and al, 0x0f
  add al, '0'
  cmp al, '9'
  jbe .d
  add al, 'a' - '0' - 10
.d:
  call putc
  pop ax
  ret

s_banner: db 13, 10, "=== orrery boot sector ===", 13, 10, 0
s_drive: db "drive ", 0
s_cf: db "cf=", 0
s_ah: db " ah=", 0
s_bx: db "ext bx=", 0
s_cx: db " cx=", 0
s_geom: db "geometry maxcyl/maxhead/spt ", 0
s_count: db " drives ", 0
s_params: db "params flags/c/h/s ", 0
s_total: db " total ", 0
s_bps: db " bps ", 0
s_ext: db "read lba ", 0
s_chs: db "read chs ", 0
s_chs2: db "read chs 0006/00+2: ", 0
s_basemem: db "base memory KiB ", 0
s_end: db "=== end ===", 13, 10, 0

align 4
dap:
  db 0x10, 0
dap_count: dw 0
dap_buf: dw 0, 0
dap_lba: dd 0, 0

times 2048 - ($ - $$) db 0

; Variables and buffers past the program (memory it owns, not part of the image).
absolute 0x7c00 + 2048
drive: resb 1
spt: resb 1
maxhead: resb 1
lastcf: resb 1
maxcyl: resw 1
params: resb 0x20
alignb 16
buffer: resb 3 * 2048
