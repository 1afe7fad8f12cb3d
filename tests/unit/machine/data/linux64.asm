; A synthetic bzImage for the pc board's direct Linux boot (test_machine's PcLinux tests): a
; hand-made boot protocol 2.15 setup header and a position-independent 64-bit payload at the
; 64-bit entry (protected-mode kernel + 0x200). The payload checks the zero page RSI points to,
; prints the command line, the initrd's bytes, the e820 entry count and its own load address on
; COM1, and exits through isa-debug-exit (iobase 0xf4) with 0x21 (status 67).
; Assemble with: nasm -f bin linux64.asm -o linux64.bin
bits 16
org 0
        times 0x1f1 - ($ - $$) db 0
        db 1                    ; 0x1f1 setup_sects: the setup code is 2 * 512 bytes
        dw 0                    ; 0x1f2 root_flags
        dd (pm_end - pm_start) / 16 ; 0x1f4 syssize
        dw 0                    ; 0x1f8 ram_size
        dw 0xffff               ; 0x1fa vid_mode
        dw 0                    ; 0x1fc root_dev
        dw 0xaa55               ; 0x1fe boot_flag
        db 0xeb, hdr_end - 0x202 ; 0x200 jump (its offset byte is the header's length)
        db "HdrS"               ; 0x202 header
        dw 0x020f               ; 0x206 version
        dd 0                    ; 0x208 realmode_swtch
        dw 0x1000               ; 0x20c start_sys_seg
        dw 0                    ; 0x20e kernel_version
        db 0                    ; 0x210 type_of_loader
        db 1                    ; 0x211 loadflags: LOADED_HIGH
        dw 0x8000               ; 0x212 setup_move_size
        dd 0x100000             ; 0x214 code32_start
        dd 0                    ; 0x218 ramdisk_image
        dd 0                    ; 0x21c ramdisk_size
        dd 0                    ; 0x220 bootsect_kludge
        dw 0                    ; 0x224 heap_end_ptr
        db 0, 0                 ; 0x226 ext_loader_ver, ext_loader_type
        dd 0                    ; 0x228 cmd_line_ptr
        dd 0x7fffffff           ; 0x22c initrd_addr_max
        dd 0x200000             ; 0x230 kernel_alignment
        db 1                    ; 0x234 relocatable_kernel
        db 21                   ; 0x235 min_alignment
        dw 1                    ; 0x236 xloadflags: XLF_KERNEL_64
        dd 255                  ; 0x238 cmdline_size
        dd 0                    ; 0x23c hardware_subarch
        dq 0                    ; 0x240 hardware_subarch_data
        dd 0, 0                 ; 0x248 payload_offset, payload_length
        dq 0                    ; 0x250 setup_data
        dq 0x1000000            ; 0x258 pref_address
        dd 0x100000             ; 0x260 init_size
        dd 0                    ; 0x264 handover_offset
        dd 0                    ; 0x268 kernel_info_offset
hdr_end:
        times 1024 - ($ - $$) db 0

pm_start:
bits 64
default rel
        times 0x200 db 0xf4     ; the 32-bit entry: never used here
startup_64:
        mov rbx, rsi            ; the zero page
        lea rsi, [msg_hello]
        call puts
        ; The setup header copy: boot_flag, "HdrS", type_of_loader 0xff.
        cmp word [rbx + 0x1fe], 0xaa55
        jne .bad
        cmp dword [rbx + 0x202], 0x53726448
        jne .bad
        cmp byte [rbx + 0x210], 0xff
        jne .bad
        lea rsi, [msg_zp_ok]
        call puts
        jmp .cmdline
.bad:
        lea rsi, [msg_zp_bad]
        call puts
.cmdline:
        lea rsi, [msg_cmdline]
        call puts
        mov esi, [rbx + 0x228]
        call puts
        lea rsi, [msg_initrd]
        call puts
        mov esi, [rbx + 0x218]  ; ramdisk_image
        mov ecx, [rbx + 0x21c]  ; ramdisk_size
.initrd_loop:
        test ecx, ecx
        jz .initrd_done
        lodsb
        call putc
        dec ecx
        jmp .initrd_loop
.initrd_done:
        lea rsi, [msg_e820]
        call puts
        movzx eax, byte [rbx + 0x1e8]
        add al, '0'
        call putc
        lea rsi, [msg_at]
        call puts
        lea rax, [pm_start]
        call puthex
        mov al, 10
        call putc
        mov al, 0x21
        out 0xf4, al
        hlt
        jmp $ - 1

; Prints the NUL-terminated string at RSI.
puts:
        lodsb
        test al, al
        jz .done
        call putc
        jmp puts
.done:
        ret

; Prints RAX as 16 hex digits.
puthex:
        mov rdx, rax
        mov ecx, 16
.digit:
        rol rdx, 4
        mov eax, edx
        and eax, 15
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 'a' - '0' - 10
.out:
        call putc
        dec ecx
        jnz .digit
        ret

; Writes AL to COM1 once its transmitter holding register is empty.
putc:
        push rdx
        push rax
        mov dx, 0x3fd
.wait:
        in al, dx
        test al, 0x20
        jz .wait
        pop rax
        mov dx, 0x3f8
        out dx, al
        pop rdx
        ret

msg_hello:   db "linux64: ", 0
msg_zp_ok:   db "zero page ok", 10, 0
msg_zp_bad:  db "zero page bad", 10, 0
msg_cmdline: db "cmdline: ", 0
msg_initrd:  db 10, "initrd: ", 0
msg_e820:    db "e820 entries: ", 0
msg_at:      db 10, "loaded at ", 0
        align 16
pm_end:
