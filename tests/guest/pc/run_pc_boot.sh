#!/usr/bin/env bash
# Boots tests/guest/pc/bootsect.asm through SeaBIOS (no -kernel) from a disk and checks what it
# prints on COM1, from its "=== orrery boot sector ===" line on, against the output recorded
# from qemu-system-x86_64 7.2. Both run with -display none, not -nographic: under -nographic
# SeaBIOS mirrors its screen to COM1 (sercon) from its timer interrupt, so the tail of "Booting
# from Hard Disk..." could land in the middle of the program's lines on a slow host (the ASan
# build did this in CI).
#
#   run_pc_boot.sh EMULATOR BOOTSECT.bin VARIANT EXPECTED [TIER]
#
# VARIANT: "ide" (-hda), "ide-drive" (-drive if=ide, -boot order=c,menu=off), "virtio"
# (virtio-blk-pci: -drive if=none -device virtio-blk-pci,drive=..., bootindex=1) or "cdrom"
# (an El Torito no-emulation CD-ROM with -boot d, next to a disk that is not bootable). The
# disk is 8 MiB: the program in sectors 0-3, then every sector starting with its LBA as text.
# Passes when the exit status is 33 (isa-debug-exit with 0x10) and the output matches.
#
# Environment: ORRERY=qemu runs QEMU (default qemu-system-x86_64, or QEMU=/path) instead;
# UPDATE_EXPECTED=1 (with ORRERY=qemu) rewrites EXPECTED; GUEST_TIMEOUT (default 30 s).
set -u
if [ $# -lt 4 ] || [ $# -gt 5 ]; then
    echo "usage: $0 EMULATOR BOOTSECT.bin VARIANT EXPECTED [TIER]" >&2
    exit 2
fi
emulator=${ORRERY:-$1}
prog=$(realpath "$2")
variant=$3
expected=$(realpath -m "$4")
tier=${5:-auto}
here=$(cd "$(dirname "$0")" && pwd)

bios=/usr/share/seabios/bios-256k.bin
[ -f "$bios" ] || { echo "SKIP: $bios is missing (Debian's seabios package)"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The labelled disk: LBA n starts with "LBA %08x".
python3 - "$prog" "$work/disk.img" <<'EOF' || exit 1
import sys
prog = open(sys.argv[1], "rb").read()
assert len(prog) == 2048
img = bytearray(8 << 20)
for lba in range(4, len(img) // 512):
    img[lba * 512:lba * 512 + 12] = b"LBA %08x" % lba
img[:2048] = prog
open(sys.argv[2], "wb").write(img)
EOF
case $variant in
ide) args=(-hda disk.img) ;;
ide-drive) args=(-drive file=disk.img,format=raw,if=ide -boot order=c,menu=off) ;;
virtio)
    args=(-drive file=disk.img,format=raw,if=none,id=d0
        -device virtio-blk-pci,drive=d0,disable-legacy=on,bootindex=1)
    ;;
cdrom)
    python3 "$here/make_eltorito.py" "$prog" "$work/cd.iso" || exit 1
    # The disk's boot signature is cleared: the CD-ROM must be what boots.
    printf '\0\0' | dd of="$work/disk.img" bs=1 seek=510 conv=notrunc 2>/dev/null
    args=(-hda disk.img -cdrom cd.iso -boot order=dc)
    ;;
*)
    echo "unknown variant $variant" >&2
    exit 2
    ;;
esac
pc=(-M pc -m 128 -nodefaults -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=4 "${args[@]}")
if [ "$emulator" = qemu ]; then
    cmd=("${QEMU:-qemu-system-x86_64}" "${pc[@]}" -display none -serial stdio)
else
    cmd=("$(realpath "$emulator")" "${pc[@]}" -display none -serial stdio -accel "tcg,tier=$tier")
fi
(cd "$work" && timeout "${GUEST_TIMEOUT:-30}" "${cmd[@]}" </dev/null >"$work/raw" 2>"$work/err")
status=$?
# From the program's banner on, without carriage returns.
sed -n '/^=== orrery boot sector ===/,$p' <(tr -d '\r' <"$work/raw") >"$work/out"
if [ $status -ne 33 ]; then
    echo "FAIL: exit status $status, expected 33: ${cmd[*]}" >&2
    cat "$work/err" >&2
    tr -d '\r' <"$work/raw" | tail -n 30 >&2
    exit 1
fi
if [ "${UPDATE_EXPECTED:-0}" = 1 ]; then
    [ "$emulator" = qemu ] || { echo "UPDATE_EXPECTED=1 requires ORRERY=qemu" >&2; exit 2; }
    cp "$work/out" "$expected"
    echo "updated $expected"
    exit 0
fi
if ! cmp -s "$expected" "$work/out"; then
    diff -u "$expected" "$work/out" | head -n 60 >&2
    echo "FAIL: output differs from $expected: ${cmd[*]}" >&2
    exit 1
fi
echo "PASS: bootsect $variant ($([ "$emulator" = qemu ] && echo qemu || echo "tier=$tier"))"
