; A multiboot 1 kernel (flat binary, a.out kludge) that prints what the boot loader handed it
; on COM1 and exits through isa-debug-exit with 0x10 (status 33): EAX, EBX, the segment
; selectors and CR0, the information structure as dwords, the command line, the boot loader
; name, each module (start, end, command line, first dword) and the memory map.
%include "multiboot.inc"
MULTIBOOT_HEADER 0x00010003

start:
  mov esp, stack_top
  mov [magic], eax
  mov [mbi], ebx
  mov esi, s_magic
  call puts
  mov eax, [magic]
  call hex
  mov esi, s_mbi
  call puts
  mov eax, [mbi]
  call hex
  mov esi, s_segs
  call puts
  mov ax, cs
  call hex16
  mov ax, ds
  call hex16
  mov ax, es
  call hex16
  mov ax, ss
  call hex16
  mov esi, s_cr0
  call puts
  mov eax, cr0
  and eax, 0x80000001                  ; PG and PE: the bits multiboot defines
  call hex
  mov ebx, [mbi]
  xor ecx, ecx
.info:
  mov esi, s_nl
  call puts
  mov eax, ecx
  call hex
  mov al, ':'
  call putc
  mov eax, [ebx + ecx]
  call hex
  add ecx, 4
  cmp ecx, 0x58
  jb .info
  mov esi, s_cmd
  call puts
  mov esi, [ebx + 16]
  call puts
  mov esi, s_name
  call puts
  mov esi, [ebx + 64]
  call puts
  mov edi, [ebx + 24]
  mov ecx, [ebx + 20]
.mod:
  test ecx, ecx
  jz .mmap
  mov esi, s_mod
  call puts
  mov eax, [edi]
  call hex
  mov al, ' '
  call putc
  mov eax, [edi + 4]
  call hex
  mov al, ' '
  call putc
  mov esi, [edi + 8]
  call puts
  mov al, '|'
  call putc
  mov esi, [edi]
  mov eax, [esi]
  call hex
  add edi, 16
  dec ecx
  jmp .mod
.mmap:
  mov edi, [ebx + 48]
  mov edx, edi
  add edx, [ebx + 44]
.entry:
  cmp edi, edx
  jae .done
  mov esi, s_mm
  call puts
  mov eax, [edi]
  call hex
  mov al, ' '
  call putc
  mov eax, [edi + 8]
  call hex
  mov eax, [edi + 4]
  call hex
  mov al, ' '
  call putc
  mov eax, [edi + 16]
  call hex
  mov eax, [edi + 12]
  call hex
  mov al, ' '
  call putc
  mov eax, [edi + 20]
  call hex
  add edi, [edi]
  add edi, 4
  jmp .entry
.done:
  mov esi, s_nl
  call puts
  mov eax, 0x10
  out 0xf4, eax
.hang:
  hlt
  jmp .hang

putc:                                  ; AL to COM1, polling LSR.THRE
  push edx
  push eax
  mov dx, 0x3fd
.wait:
  in al, dx
  test al, 0x20
  jz .wait
  pop eax
  mov dx, 0x3f8
  out dx, al
  pop edx
  ret

puts:                                  ; the NUL-terminated string at ESI
  push eax
.next:
  lodsb
  test al, al
  jz .end
  call putc
  jmp .next
.end:
  pop eax
  ret

hex:                                   ; EAX as eight hex digits
  push ecx
  mov ecx, 8
.digit:
  rol eax, 4
  push eax
  and eax, 15
  mov al, [digits + eax]
  call putc
  pop eax
  dec ecx
  jnz .digit
  pop ecx
  ret

hex16:                                 ; AX as four hex digits and a space
  push eax
  shl eax, 16
  push ecx
  mov ecx, 4
.digit:
  rol eax, 4
  push eax
  and eax, 15
  mov al, [digits + eax]
  call putc
  pop eax
  dec ecx
  jnz .digit
  pop ecx
  mov al, ' '
  call putc
  pop eax
  ret

digits db "0123456789abcdef"
s_magic db "magic=", 0
s_mbi db " mbi=", 0
s_segs db 10, "cs ds es ss=", 0
s_cr0 db 10, "cr0.pg/pe=", 0
s_nl db 10, 0
s_cmd db 10, "cmdline=", 0
s_name db 10, "loader=", 0
s_mod db 10, "mod ", 0
s_mm db 10, "mmap ", 0
align 4
load_end:

magic equ load_end
mbi equ load_end + 4
stack_top equ load_end + 4096
bss_end equ stack_top
