; A multiboot kernel (flat binary, a.out kludge) that reads the pc board's platform devices in
; ways that do not depend on time or on what the firmware did before it, prints what it read
; on COM1 in hex and exits through isa-debug-exit with 0x10 (status 33):
;   cmos  the CMOS bytes the board fills (0x10-0x31, 0x33-0x3f, 0x5b-0x5f);
;   rtc   registers A (UIP masked), B and D after programming them as firmware does; a time
;         set under SET, read frozen and then running in BCD, binary and 12-hour forms;
;   pit   counter 2 in mode 0 with its gate low: read-back status, port 0x61's
;         OUT2, then its gate and speaker bits;
;   kbd   the i8042's status, self-test, configuration byte, the keyboard's identify and
;         reset replies;
;   hpet  the capabilities, timer 0's configuration and timer 2's comparator, the writable
;         configuration bits, the halted main counter, a 32-bit comparator, GEN_CONF;
;   pm    PM1_CNT after ACPI_ENABLE through SMI_CMD, PM1_EN, GPE0;
;   time  whether counter 2's OUT rose after its count, and the HPET counter and PM timer
;         moved, each within a bounded wait.
; Run with -m 5G -smp 3 so the memory fields above 4 GiB and the CPU count are set.
%include "multiboot.inc"
MULTIBOOT_HEADER 0x00010000

%macro PUTS 1
  mov esi, %1
  call puts
%endmacro

start:
  mov esp, stack_top
  cli

  ; ---- CMOS ----
  PUTS s_cmos
  mov bl, 0x10
.c1:
  call cmos_byte
  inc bl
  cmp bl, 0x32
  jne .c1
  mov bl, 0x33                         ; 0x32 is the century: time, not configuration
.c2:
  call cmos_byte
  inc bl
  cmp bl, 0x40
  jne .c2
  mov bl, 0x5b
.c3:
  call cmos_byte
  inc bl
  cmp bl, 0x60
  jne .c3
  call newline
  PUTS s_rtc
  mov al, 0x0a
  out 0x70, al
  mov al, 0x26
  out 0x71, al
  mov al, 0x0b
  out 0x70, al
  mov al, 0x02
  out 0x71, al
  mov al, 0x0a
  out 0x70, al
  in al, 0x71
  and al, 0x7f                         ; UIP depends on the time
  call hex8s
  mov bl, 0x0b
  call cmos_byte
  mov bl, 0x0d
  call cmos_byte
  ; Set the clock under SET (31 Dec, 23:15:30), read it back frozen, then running in BCD,
  ; binary and 12-hour forms: only the seconds could move, and they are not read.
  mov al, 0x0b
  out 0x70, al
  mov al, 0x82                         ; SET, 24-hour, BCD
  out 0x71, al
  mov bl, 0x00
  mov bh, 0x30
  call cmos_write
  mov bl, 0x02
  mov bh, 0x15
  call cmos_write
  mov bl, 0x04
  mov bh, 0x23
  call cmos_write
  mov bl, 0x07
  mov bh, 0x31
  call cmos_write
  mov bl, 0x08
  mov bh, 0x12
  call cmos_write
  mov bl, 0x00
  call cmos_byte
  mov bl, 0x0b
  call cmos_byte
  mov bl, 0x0b
  mov bh, 0x02                         ; run, 24-hour, BCD
  call cmos_write
  call rtc_hmdm
  mov bl, 0x0b
  mov bh, 0x06                         ; binary
  call cmos_write
  call rtc_hmdm
  mov bl, 0x0b
  mov bh, 0x00                         ; 12-hour, BCD
  call cmos_write
  call rtc_hmdm
  mov bl, 0x0b
  mov bh, 0x02
  call cmos_write
  call newline

  ; ---- PIT ----
  ; Counter 2 with its gate low holds its count, so nothing here depends on the time (QEMU
  ; counts on regardless, so the count itself is not compared).
  PUTS s_pit
  xor al, al
  out 0x61, al                         ; gate 2 low, speaker off
  mov al, 0xb0                         ; counter 2: LSB/MSB, mode 0
  out 0x43, al
  mov al, 0xff
  out 0x42, al
  out 0x42, al                         ; 65535
  mov al, 0xe8                         ; read-back: status of counter 2
  out 0x43, al
  in al, 0x42
  call hex8s
  in al, 0x61
  and al, 0x2f                         ; OUT2 low (mode 0), not the refresh toggle
  call hex8s
  mov al, 0x03                         ; gate 2 high, speaker data on
  out 0x61, al
  in al, 0x61
  and al, 0x0f
  call hex8s
  xor al, al
  out 0x61, al
  call newline

  ; ---- i8042 ----
  PUTS s_kbd
  call kbd_flush
  mov al, 0x60                         ; write the configuration byte: no interrupts,
  call kbd_cmd                         ; no translation, system flag set
  mov al, 0x04
  call kbd_data
  in al, 0x64
  and al, 0xf7                         ; (command/data bit: QEMU never clears it)
  call hex8s
  mov al, 0xaa                         ; self-test
  call kbd_cmd
  in al, 0x64
  and al, 0xf7
  call hex8s
  call kbd_read
  mov al, 0x20                         ; read the configuration byte
  call kbd_cmd
  call kbd_read
  mov al, 0xf2                         ; keyboard: identify
  call kbd_data
  call kbd_read
  call kbd_read
  call kbd_read
  mov al, 0xff                         ; keyboard: reset
  call kbd_data
  call kbd_read
  call kbd_read
  in al, 0x64
  and al, 0xf7
  call hex8s
  call newline

  ; ---- HPET ----
  PUTS s_hpet
  mov eax, [0xfed00000]
  call hex32s
  mov eax, [0xfed00004]
  call hex32s
  mov eax, [0xfed00100]
  call hex32s
  mov eax, [0xfed00104]
  call hex32s
  mov eax, [0xfed00148]
  call hex32s
  mov dword [0xfed00120], 0xffffffff   ; timer 1: every configuration bit written
  mov eax, [0xfed00120]
  and eax, ~0x4000                     ; (QEMU lets FSB_EN be set without FSB_INT_DEL_CAP)
  call hex32s
  mov dword [0xfed00120], 0
  mov dword [0xfed000f0], 0x12345678   ; the main counter, halted
  mov dword [0xfed000f4], 0x9abcdef0
  mov eax, [0xfed000f0]
  call hex32s
  mov eax, [0xfed000f4]
  call hex32s
  mov dword [0xfed00140], 0x100        ; timer 2: 32-bit mode truncates the comparator
  mov dword [0xfed00148], 0x11223344  ; (QEMU keeps a high half written in 32-bit mode; a
  mov eax, [0xfed00148]                ; 32-bit comparator here reads it as 0, not compared)
  call hex32s
  mov dword [0xfed00010], 0x3          ; enable with legacy replacement, then off again
  mov eax, [0xfed00010]
  call hex32s
  mov dword [0xfed00010], 0
  call newline

  ; ---- ACPI PM ----
  PUTS s_pm
  mov al, 0xf1                         ; ACPI_ENABLE to SMI_CMD
  out 0xb2, al
  mov dx, 0x604
  in ax, dx
  movzx eax, ax
  call hex32s
  mov dx, 0x602
  in ax, dx
  movzx eax, ax
  call hex32s
  mov dx, 0xafe0
  in eax, dx
  call hex32s
  call newline

  ; ---- Time passes ----
  ; Counter 2's OUT rises after 65535 clocks (55 ms) as Linux's calibration waits for it; the
  ; HPET's counter and the PM timer move. 1 for each that did within a bounded wait.
  PUTS s_time
  mov al, 0x01                         ; gate 2 high
  out 0x61, al
  mov al, 0xb0
  out 0x43, al
  mov al, 0xff
  out 0x42, al
  out 0x42, al
  mov ecx, 0x40000000
.out2:
  in al, 0x61
  test al, 0x20
  jnz .out2_up
  loop .out2
.out2_up:
  shr al, 5
  and al, 1
  call hex8s
  mov dword [0xfed00010], 1            ; HPET on
  mov ebx, [0xfed000f0]
  mov ecx, 0x10000000
.hpet:
  cmp ebx, [0xfed000f0]
  jne .hpet_moved
  loop .hpet
.hpet_moved:
  setne al
  call hex8s
  mov dword [0xfed00010], 0
  mov dx, 0x608
  in eax, dx
  mov ebx, eax
  mov ecx, 0x10000000
.pmtmr:
  in eax, dx
  cmp eax, ebx
  jne .pmtmr_moved
  loop .pmtmr
.pmtmr_moved:
  setne al
  call hex8s
  call newline

  mov eax, 0x10
  out 0xf4, eax
.hang:
  hlt
  jmp .hang

cmos_byte:                             ; CMOS byte BL, printed
  mov al, bl
  out 0x70, al
  in al, 0x71
  jmp hex8s

cmos_write:                            ; BH to CMOS byte BL
  mov al, bl
  out 0x70, al
  mov al, bh
  out 0x71, al
  ret
rtc_hmdm:                              ; minutes, hours, day of month, month, printed
  mov bl, 0x02
  call cmos_byte
  mov bl, 0x04
  call cmos_byte
  mov bl, 0x07
  call cmos_byte
  mov bl, 0x08
  jmp cmos_byte

kbd_flush:                             ; drop whatever the firmware left in the buffer
  mov ecx, 64
.f:
  in al, 0x64
  test al, 1
  jz .done
  in al, 0x60
  loop .f
.done:
  ret
kbd_wait_in:                           ; until the input buffer is empty
  push ecx
  mov ecx, 100000
.w:
  in al, 0x64
  test al, 2
  jz .ok
  loop .w
.ok:
  pop ecx
  ret
kbd_cmd:                               ; AL to the command port
  push eax
  call kbd_wait_in
  pop eax
  out 0x64, al
  ret
kbd_data:                              ; AL to the data port
  push eax
  call kbd_wait_in
  pop eax
  out 0x60, al
  ret
kbd_read:                              ; the next byte from the data port, printed ("--" if none)
  push ecx
  mov ecx, 1000000
.w:
  in al, 0x64
  test al, 1
  jnz .got
  loop .w
  pop ecx
  PUTS s_none
  ret
.got:
  pop ecx
  in al, 0x60
  jmp hex8s

newline:
  mov al, 10
  jmp putc
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
hex8s:                                 ; AL as two hex digits and a space
  push eax
  push eax
  shr al, 4
  call nibble
  pop eax
  call nibble
  mov al, ' '
  call putc
  pop eax
  ret
hex32s:                                ; EAX as eight hex digits and a space
  push ecx
  mov ecx, 8
.digit:
  rol eax, 4
  push eax
  call nibble
  pop eax
  dec ecx
  jnz .digit
  pop ecx
  mov al, ' '
  jmp putc
nibble:
  and eax, 15
  mov al, [digits + eax]
  jmp putc

digits db "0123456789abcdef"
s_cmos db "cmos ", 0
s_rtc db "rtc ", 0
s_pit db "pit ", 0
s_kbd db "kbd ", 0
s_hpet db "hpet ", 0
s_pm db "pm ", 0
s_none db "-- ", 0
s_time db "time ", 0
align 4
load_end:

stack_top equ load_end + 0x2000
bss_end equ stack_top
