#!/usr/bin/env bash
# Boots Debian 12's arm64 kernel with a busybox initramfs to the marker line and a clean
# power-off. Checks the marker, the CPU count, the architecture and exit status 0; on failure
# prints the tail of the serial output.
# usage: boot_linux.sh EMULATOR CACHE SMP GIC   (EMULATOR: path to orrery, or "qemu")
set -uo pipefail
emu=${1:?}
cache=${2:?}
smp=${3:-1}
gic=${4:-2}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/boot_lib.sh"
"$here/fetch_debian.sh" "$cache" >/dev/null
rc=$?
[ $rc -eq 0 ] || exit $rc

boot_cmd qemu-system-aarch64 -M "virt,gic-version=$gic" -cpu cortex-a57 -smp "$smp" -m 512 \
  -nographic -no-reboot -kernel "$cache/vmlinuz" -initrd "$cache/initrd-marker.cpio.gz" \
  -append "console=ttyAMA0 panic=-1 quiet loglevel=4"
boot_run
[ $status -eq 124 ] && fail "timed out"
grep -q '^ORRERY-BOOT-OK' "$log" || fail "no marker line (exit status $status)"
grep -q '^ORRERY-ARCH: aarch64' "$log" || fail "uname -m is not aarch64"
grep -q "^ORRERY-CPUS: $smp" "$log" || fail "expected $smp CPUs in /proc/cpuinfo"
[ $status -eq 0 ] || fail "exit status $status after the marker (expected 0)"
echo "PASS: $(basename "$emu") -smp $smp gic-version=$gic"
