; Probes run unchanged in 16-, 32- and 64-bit code (modes.c): the same
; bytes decode differently by mode.
section .lowmem progbits alloc exec write align=16
bits 32
global probe_rex, probe_push
; 31 c0 / 48 / ff c0: 64-bit: xor eax,eax; inc rax -> 1.
; 32/16-bit: xor; dec eax; inc eax -> 0.
probe_rex:
    db 0x31, 0xc0, 0x48, 0xff, 0xc0, 0xc3
; The stack slot size: mov eax,esp; push eax; sub eax,esp; pop edx; ret
; gives 2, 4 or 8 (mov ax,sp / push rax in the other modes).
probe_push:
    db 0x89, 0xe0, 0x50, 0x29, 0xe0, 0x5a, 0xc3
