; A multiboot kernel (flat binary, a.out kludge) that drives COM1's 16550 through a fixed
; sequence of register accesses (reset values, divisor latches, THRE interrupt acknowledge,
; FIFO control, loopback with modem-status deltas, receive, overrun), records every value read,
; then prints them in hex and exits through isa-debug-exit with 0x10 (status 33). Nothing
; timing-dependent is read (trigger level 1: no character-timeout interrupt).
%include "multiboot.inc"
MULTIBOOT_HEADER 0x00010000

%macro RD 1                            ; record the register at COM1 + %1
  mov dx, COM1 + %1
  in al, dx
  stosb
%endmacro
%macro WR 2                            ; write %2 to COM1 + %1
  mov dx, COM1 + %1
  mov al, %2
  out dx, al
%endmacro
%macro MARK 0                          ; a 0xee separator between steps
  mov al, 0xee
  stosb
%endmacro

start:
  mov esp, stack_top
  mov edi, buffer
  ; 1. Reset values: RBR IER IIR LCR MCR LSR MSR SCR.
  RD 0
  RD 1
  RD 2
  RD 3
  RD 4
  RD 5
  RD 6
  RD 7
  MARK
  ; 2. Divisor latches behind DLAB; SCR keeps a value; IER keeps four bits.
  WR 3, 0x83
  RD 0
  RD 1
  WR 0, 0x34
  WR 1, 0x12
  RD 0
  RD 1
  WR 3, 0x03
  RD 3
  WR 7, 0x5a
  RD 7
  WR 1, 0xff
  RD 1
  WR 1, 0x00
  MARK
  ; 3. THRE interrupt: pending on enable, acknowledged by reading IIR, pending after THR.
  WR 1, 0x02
  RD 2
  RD 2
  WR 4, 0x10                           ; loopback so the THR write stays inside
  RD 6                                 ; entering loopback: deltas for DCD, DSR, CTS
  RD 6
  WR 0, 'x'
  RD 2
  RD 0
  WR 1, 0x00
  MARK
  ; 4. Modem lines in loopback: MCR bits appear in MSR with deltas (RI: trailing edge only).
  WR 4, 0x1f
  RD 6
  RD 6
  WR 4, 0x1b                           ; OUT1 (RI) falls
  RD 6
  WR 4, 0x10
  RD 6
  RD 6
  MARK
  ; 5. Receive without FIFOs: DR, then an overrun replaces the unread character.
  WR 0, 'A'
  RD 5
  RD 0
  RD 5
  WR 0, 'B'
  WR 0, 'C'
  RD 5
  RD 5
  RD 0
  MARK
  ; 6. FIFOs (trigger 1): IIR shows FIFO mode; 17 characters overrun the 16-byte FIFO.
  WR 2, 0x07
  RD 2
  WR 1, 0x01
  RD 2
  mov ecx, 17
  mov bl, 'a'
.fill:
  mov dx, COM1
  mov al, bl
  out dx, al
  inc bl
  loop .fill
  RD 2
  RD 5
  RD 5
  mov ecx, 17
.drain:
  RD 0
  loop .drain
  RD 5
  RD 2
  MARK
  ; 7. Line-status interrupt outranks received data; clearing the FIFO.
  WR 1, 0x05
  mov ecx, 17
.fill2:
  WR 0, 'z'
  loop .fill2
  RD 2
  RD 5
  RD 2
  WR 2, 0x03                           ; clear the receive FIFO
  RD 5
  RD 2
  WR 2, 0x00                           ; FIFOs off
  RD 2
  WR 1, 0x00
  MARK
  ; 8. Modem-status interrupt; then leave loopback.
  WR 1, 0x08
  WR 4, 0x12                           ; RTS -> CTS rises
  RD 2
  RD 6
  RD 2
  WR 1, 0x00
  WR 4, 0x03
  RD 6
  RD 6
  RD 4
  ; Print the record, 16 bytes a line.
  mov esi, buffer
  mov ebx, 0
.print:
  cmp esi, edi
  jae .done
  lodsb
  call hex8
  inc ebx
  test ebx, 15
  jnz .space
  mov al, 10
  call putc
  jmp .print
.space:
  mov al, ' '
  call putc
  jmp .print
.done:
  mov al, 10
  call putc
  mov eax, 0x10
  out 0xf4, eax
.hang:
  hlt
  jmp .hang

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
  and eax, 15
  mov al, [digits + eax]
  jmp putc

digits db "0123456789abcdef"
align 4
load_end:

buffer equ load_end
stack_top equ load_end + 0x2000
bss_end equ stack_top
