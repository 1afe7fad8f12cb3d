#!/usr/bin/env bash
# Boots Debian 12's amd64 kernel on -M pc by direct Linux boot (-kernel bzImage -initrd
# -append), with a busybox initramfs that prints the architecture, the CPU count and
# /proc/interrupts, then a marker line, and powers off. Checks the marker, x86_64, the CPU
# count, the IO-APIC and the local APIC timer in /proc/interrupts and exit status 0; on failure
# prints the tail of the serial output. On Orrery, where the host decompresses the kernel (the
# default), the kernel proper must also run at its link address, 16 MiB (no KASLR). Packages are
# fetched with apt-get download into CACHE/amd64 (exit status 77, ctest SKIP, when they cannot
# be).
# usage: pc_linux.sh EMULATOR CACHE MODE   (EMULATOR: path to orrery, or "qemu"; MODE: smp1|smp2,
# guest-decompress: -smp 1 with -M pc,kernel-decompress=guest (the kernel's own decompressor),
# or fetch: only download and build the files, as bench/boot.sh does)
set -uo pipefail
emu=${1:?usage: pc_linux.sh EMULATOR CACHE MODE}
cache=${2:?}/amd64
mode=${3:-smp1}
machine=pc
case $mode in
  smp1) smp=1 ;;
  smp2) smp=2 ;;
  guest-decompress) smp=1 machine=pc,kernel-decompress=guest ;;
  fetch) smp=0 ;;
  *) echo "unknown mode $mode (smp1, smp2, guest-decompress, fetch)" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
. "$here/boot_lib.sh"

fetch() {
  mkdir -p "$cache" && cd "$cache" && fetch_amd64 || return 1
  if [ ! -s initrd-marker.cpio.gz ] || [ initrd-marker.cpio.gz -ot "$here/pc_linux.sh" ]; then
    local dir
    dir=$(mktemp -d)
    mkdir -p "$dir"/{bin,sbin,proc,sys,dev,etc,tmp}
    cp busybox "$dir/bin/busybox" && chmod 755 "$dir/bin/busybox"
    for app in sh mount cat echo uname grep poweroff; do ln -s busybox "$dir/bin/$app"; done
    cat >"$dir/init" <<'INIT'
#!/bin/sh
/bin/busybox --install -s /bin
echo "ORRERY-ARCH: $(uname -m)"
mount -t proc proc /proc
echo "ORRERY-KERNEL: $(grep 'Kernel code' /proc/iomem)"
cat /proc/interrupts
echo "ORRERY-CPUS: $(grep -c ^processor /proc/cpuinfo)"
echo ORRERY-BOOT-OK
poweroff -f
INIT
    chmod 755 "$dir/init"
    pack_initrd "$dir" initrd-marker.cpio.gz || return 1
  fi
}
(fetch)
rc=$?
[ $rc -eq 0 ] || exit $rc
[ "$mode" = fetch ] && exit 0

# The same command line for both (QEMU's pc boots through SeaBIOS and its linuxboot ROM).
boot_cmd qemu-system-x86_64 -M "$machine" -smp "$smp" -m 512 -nographic -no-reboot \
  -kernel "$cache/vmlinuz" -initrd "$cache/initrd-marker.cpio.gz" \
  -append "console=ttyS0 panic=-1 quiet loglevel=4"
boot_run
[ $status -eq 124 ] && fail "timed out"
grep -q '^ORRERY-BOOT-OK' "$log" || fail "no marker line (exit status $status)"
grep -q 'ORRERY-ARCH: x86_64' "$log" || fail "uname -m is not x86_64"
grep -q "^ORRERY-CPUS: $smp" "$log" || fail "expected $smp CPUs in /proc/cpuinfo"
grep -q 'IO-APIC' "$log" || fail "no IO-APIC interrupts in /proc/interrupts"
grep -q '^ *LOC:' "$log" || fail "no local APIC timer (LOC) in /proc/interrupts"
if [ "$emu" != qemu ] && [ "$machine" = pc ]; then
  grep -q '^ORRERY-KERNEL: *01000000-' "$log" ||
    fail "the kernel proper does not run at 16 MiB (host decompression, no KASLR)"
fi
[ $status -eq 0 ] || fail "exit status $status after the marker (expected 0)"
echo "PASS: $(basename "$emu") -M $machine -smp $smp in $seconds s"
