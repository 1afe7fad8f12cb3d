#!/usr/bin/env bash
# A real bootloader on -M pc: SeaBIOS boots an IDE disk (-hda) whose MBR is syslinux's mbr.bin
# and whose active FAT partition holds Debian's syslinux (installed by syslinux --install),
# Debian 12's amd64 kernel and the busybox marker initramfs (pc_linux.sh's cache); syslinux
# loads them through INT 13h and starts the kernel through the 16-bit boot protocol. Checks the
# syslinux banner, the marker and exit status 0 after poweroff, and prints the time taken.
# The image is built at test time with Debian's syslinux, syslinux-common, mtools and
# dosfstools (exit 77, skip, without them or the packages).
#   pc_syslinux.sh EMULATOR CACHE   (EMULATOR: path to orrery, or "qemu")
set -uo pipefail
emu=${1:?usage: pc_syslinux.sh EMULATOR CACHE}
cache=${2:?}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/boot_lib.sh"
mbr=/usr/lib/syslinux/mbr/mbr.bin
for tool in syslinux mcopy mkfs.vfat python3; do
  command -v $tool >/dev/null || skip "$tool is not installed (syslinux, mtools, dosfstools)"
done
[ -f "$mbr" ] || skip "$mbr is missing (syslinux-common)"
"$here/pc_linux.sh" "$emu" "$cache" fetch
rc=$?
[ $rc -eq 0 ] || exit $rc
dir=$cache/amd64

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
img=$tmp/disk.img
# 64 MiB: one active FAT16 partition from 1 MiB.
truncate -s 64M "$img"
# The partition table: entry 1 active, type 6 (FAT16), LBA 2048 to the end; CHS fields
# saturated (syslinux's mbr.bin reads by LBA through the INT 13h extensions).
python3 - "$img" <<'PY' || exit 1
import struct, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(0x1be)
    f.write(struct.pack("<B3sB3sII", 0x80, b"\xfe\xff\xff", 6, b"\xfe\xff\xff", 2048,
                        (64 << 11) - 2048))
    f.seek(510)
    f.write(b"\x55\xaa")
PY
dd if="$mbr" of="$img" bs=440 count=1 conv=notrunc 2>/dev/null
part=$((2048 * 512))
mkfs.vfat -F 16 --offset 2048 -n ORRERY "$img" $(((64 << 10) - 1024)) >/dev/null || exit 1
cat >"$tmp/syslinux.cfg" <<'CFG'
SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND console=ttyS0 panic=-1 quiet loglevel=4 no_timer_check
CFG
export MTOOLS_SKIP_CHECK=1
mcopy -i "$img@@$part" "$dir/vmlinuz" ::vmlinuz &&
  mcopy -i "$img@@$part" "$dir/initrd-marker.cpio.gz" ::initrd.gz &&
  mcopy -i "$img@@$part" "$tmp/syslinux.cfg" ::syslinux.cfg || exit 1
syslinux --install --offset "$part" "$img" || exit 1

args=(-M pc -m 512 -nodefaults -no-reboot -serial stdio
  -drive "file=$img,format=raw,if=ide" -boot order=c,menu=off)
if [ "$emu" = qemu ]; then
  cmd=(qemu-system-x86_64 -display none "${args[@]}")
else
  cmd=("$emu" -nographic "${args[@]}")
fi
log=$tmp/log
boot_run
fail_lines=40
[ $status -eq 124 ] && fail "timed out"
grep -q 'SYSLINUX 6' "$log" || fail "no syslinux banner (exit status $status)"
grep -q '^ORRERY-BOOT-OK' "$log" || fail "no marker line (exit status $status)"
[ $status -eq 0 ] || fail "exit status $status after the marker (expected 0)"
echo "PASS: $(basename "$emu") -M pc syslinux from -hda to the marker in $seconds s"
