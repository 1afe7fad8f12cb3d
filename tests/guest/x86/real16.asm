; 16-bit real-mode tests, run by real16.c through rt_call_real. Each result
; is a record (4-character tag, 16-bit value) that real16.c prints. Flags
; are recorded masked to the bits the SDM defines for the instruction, so
; undefined flags never reach the expected output.
bits 16
section .lowmem progbits alloc exec write align=16

; REC tag, value: append a record (preserves all registers and flags).
%macro REC 2
    pushf
    push bx
    push ax
    mov ax, %2
    mov bx, [cs:rec_ptr]
    mov dword [cs:bx], %1
    mov [cs:bx + 4], ax
    add word [cs:rec_ptr], 6
    pop ax
    pop bx
    popf
%endmacro

; RECF tag, mask: record FLAGS & mask.
%macro RECF 2
    pushf
    push ax
    pushf
    pop ax
    and ax, %2
    REC %1, ax
    pop ax
    popf
%endmacro

; RECR tag, reg, base: record reg - base (addresses independent of layout).
%macro RECR 3
    pushf
    push ax
    mov ax, %2
    sub ax, %3
    REC %1, ax
    pop ax
    popf
%endmacro

ALL equ 0x8d5                   ; OF SF ZF AF PF CF
NOOF equ 0x0d5
CFOF equ 0x801
CF equ 0x001
ZF equ 0x040
SZP equ 0x0c4
ACF equ 0x011

global real_tests, rec_buf, rec_ptr
real_tests:
    ; --- arithmetic and flags ---
    mov ax, 0x7fff
    add ax, 1
    REC 'add ', ax
    RECF 'addf', ALL
    mov ax, 0xffff
    add ax, 1
    RECF 'ad2f', ALL
    stc
    mov ax, 0x1234
    adc ax, 0x0fff
    REC 'adc ', ax
    RECF 'adcf', ALL
    mov ax, 0x0000
    sub ax, 1
    REC 'sub ', ax
    RECF 'subf', ALL
    stc
    mov ax, 0x8000
    sbb ax, 0
    REC 'sbb ', ax
    RECF 'sbbf', ALL
    mov al, 0x80
    neg al
    REC 'neg ', ax
    RECF 'negf', ALL
    mov ax, 0x7fff
    inc ax
    RECF 'incf', ALL
    stc
    mov ax, 0x0001
    dec ax
    RECF 'decf', ALL            ; CF preserved by DEC
    mov ax, 0x1234
    mov cx, 0x5678
    mul cx
    REC 'mulA', ax
    REC 'mulD', dx
    RECF 'mulf', CFOF
    mov al, 0xfe
    mov cl, 0x03
    imul cl
    REC 'imlb', ax
    RECF 'imbf', CFOF
    mov ax, 0x8000
    mov bx, 0x3000
    imul ax, bx, 5
    REC 'iml3', ax
    RECF 'im3f', CFOF
    mov dx, 0x0012
    mov ax, 0x3456
    mov cx, 0x0100
    div cx
    REC 'divQ', ax
    REC 'divR', dx
    mov dx, 0xffff
    mov ax, 0xfff9              ; -7
    mov cx, 2
    idiv cx
    REC 'idvQ', ax
    REC 'idvR', dx
    mov ax, 0x00ff
    mov bl, 0x10
    div bl
    REC 'div8', ax
    ; shifts and rotates
    mov ax, 0x8421
    shl ax, 1
    REC 'shl1', ax
    RECF 'sh1f', CFOF | SZP
    mov ax, 0x8421
    mov cl, 5
    shr ax, cl
    REC 'shr5', ax
    RECF 'sh5f', CF | SZP
    mov ax, 0x8421
    sar ax, 3
    REC 'sar3', ax
    mov ax, 0x8421
    rol ax, 7
    REC 'rol7', ax
    RECF 'rl7f', CF
    stc
    mov ax, 0x8421
    rcr ax, 1
    REC 'rcr1', ax
    RECF 'rr1f', CFOF
    clc
    mov ax, 0x8421
    mov cl, 17                  ; 17 mod 17 = 0 for 16-bit RCL
    rcl ax, cl
    REC 'rc17', ax
    mov ax, 0x1234
    mov dx, 0xabcd
    shld ax, dx, 4
    REC 'shld', ax
    ; 32-bit operands in real mode (operand-size prefix)
    mov eax, 0x89abcdef
    mov ebx, 0x76543211
    add eax, ebx
    RECF 'e+f ', ALL
    REC 'e+lo', ax
    shr eax, 16
    REC 'e+hi', ax
    mov ecx, 0x00010000
    bsf edx, ecx
    REC 'bsf ', dx
    bsr dx, cx
    RECF 'bsrf', ZF
    mov ax, 0x00a5
    bt ax, 2
    RECF 'bt  ', CF
    bts ax, 1
    REC 'bts ', ax
    mov ax, 0x00a5
    xchg al, ah
    REC 'xchg', ax
    cbw
    REC 'cbw ', ax
    mov ax, 0x8000
    cwd
    REC 'cwd ', dx

    ; --- BCD ---
    mov al, 0x19
    add al, 0x28
    daa
    REC 'daa ', ax
    RECF 'daaf', NOOF
    mov al, 0x99
    add al, 0x01
    daa
    REC 'daa2', ax
    RECF 'da2f', NOOF
    mov al, 0x10
    sub al, 0x01
    das
    REC 'das ', ax
    RECF 'dasf', NOOF
    mov ax, 0x0009
    add al, 0x08
    aaa
    REC 'aaa ', ax
    RECF 'aaaf', ACF
    mov ax, 0x0103
    sub al, 0x05
    aas
    REC 'aas ', ax
    RECF 'aasf', ACF
    mov al, 63
    aam
    REC 'aam ', ax
    RECF 'aamf', SZP
    mov ax, 0x0607
    aad
    REC 'aad ', ax
    RECF 'aadf', SZP
    mov al, 100
    aam 16
    REC 'aamx', ax

    ; --- string operations (DS = ES = 0) ---
    cld
    mov si, str_src
    mov di, str_dst
    mov cx, 11
    rep movsb
    RECR 'movs', di, str_dst
    mov ax, [str_dst + 4]
    REC 'mvdt', ax
    mov si, str_src
    mov di, str_dst
    mov byte [str_dst + 7], 'X'
    mov cx, 11
    repe cmpsb
    REC 'cmpC', cx
    RECR 'cmpS', si, str_src
    RECF 'cmpf', ALL
    mov di, str_src
    mov al, 'w'
    mov cx, 11
    repne scasb
    REC 'scaC', cx
    RECR 'scaD', di, str_src
    mov di, str_dst
    mov ax, 0x4142
    mov cx, 3
    rep stosw
    mov ax, [str_dst + 4]
    REC 'stos', ax
    std
    mov si, str_src + 10
    lodsb
    REC 'lodA', ax
    RECR 'lodS', si, str_src
    mov si, str_src + 9
    mov di, str_dst + 9
    mov cx, 5
    rep movsw                   ; backwards, words
    cld
    mov ax, [str_dst + 2]
    REC 'mvsb', ax
    mov bx, xlat_table
    mov al, 3
    xlatb
    REC 'xlat', ax

    ; --- segment arithmetic ---
    push ds
    push es
    mov ax, 0x0700
    mov ds, ax
    mov word [0x1234], 0xbeef   ; linear 0x8234
    mov ax, 0x0800
    mov es, ax
    mov ax, [es:0x0234]         ; same linear address
    REC 'alis', ax
    mov bx, 0xffff
    mov si, 0x1235              ; bx + si wraps to 0x1234 in 16 bits
    mov ax, [bx + si]
    REC 'wrap', ax
    lea ax, [bx + si + 0x10]
    REC 'lea ', ax
    xor ax, ax
    mov ds, ax
    les di, [far_ptr]
    mov ax, es
    REC 'lesS', ax
    REC 'lesO', di
    lds si, [far_ptr]
    mov ax, ds
    REC 'ldsS', ax
    xor ax, ax
    mov ds, ax
    pop es
    pop ds
    ; far call through an aliased CS:IP
    call 0x0700:(far_fn - 0x7000)
    REC 'fcs ', ax
    ; the stack under another SS
    mov bx, ss
    mov cx, sp
    mov ax, 0x0600
    mov ss, ax
    mov sp, 0x0800              ; linear 0x6800
    push word 0x5a5a
    mov ax, [es:0x67fe]
    mov ss, bx
    mov sp, cx
    REC 'push', ax

    ; --- interrupts through the IVT ---
    mov word [0x60 * 4], int60
    mov word [0x60 * 4 + 2], 0
    mov word [0 * 4], de_handler
    mov word [0 * 4 + 2], 0
    mov ax, 0x1111
    int 0x60
    REC 'int ', ax
    mov ax, 0x1234
    xor cl, cl
de_insn:
    div cl
    REC 'de  ', ax
    REC 'deIP', [cs:de_ip]

    mov word [cs:rec_ptr], rec_buf  ; leave re-runnable
    xor ax, ax
    xor dx, dx
    ret

far_fn:
    mov ax, cs
    retf

int60:
    pushf
    pop bx
    and bx, 0x0200              ; IF cleared by INT
    add ax, bx
    add ax, 0x2222
    iret

; #DE pushes the IP of the DIV itself; record it and skip the 2-byte DIV.
de_handler:
    push bp
    mov bp, sp
    mov ax, [bp + 2]
    sub ax, de_insn
    mov [cs:de_ip], ax
    add word [bp + 2], 2
    mov ax, 0xdead
    pop bp
    iret

align 2
de_ip: dw 0
far_ptr: dw 0x1234, 0x5678
str_src: db 'hello world'
str_dst: times 16 db 0
xlat_table: db 10, 20, 30, 40, 50
rec_ptr: dw rec_buf
align 4
rec_buf: times 6 * 160 db 0
