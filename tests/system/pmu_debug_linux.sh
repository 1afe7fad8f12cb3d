#!/usr/bin/env bash
# Boots Debian's arm64 kernel with a busybox initramfs whose /init runs arm64_pmu_debug.c (a
# static program built here with the cross gcc, no C library): perf_event_open counts the
# user-space instructions of two loops exactly, and a hardware watchpoint set on a child
# through ptrace fires with SIGTRAP/TRAP_HWBKPT at the watched address.
#   pmu_debug_linux.sh EMULATOR CACHE
# EMULATOR "qemu" runs qemu-system-aarch64, whose PMU counts instructions only with -icount:
# there only the watchpoint lines are checked. Exits 77 (skip) without the cross compiler or
# the Debian packages.
set -u
emu=$1
cache=$2
here=$(cd "$(dirname "$0")" && pwd)
command -v aarch64-linux-gnu-gcc >/dev/null || { echo "SKIP: no aarch64-linux-gnu-gcc"; exit 77; }
"$here/fetch_debian.sh" "$cache" >/dev/null || exit $?

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root"/{bin,proc,sys,dev}
aarch64-linux-gnu-gcc -O2 -static -nostdlib -ffreestanding -fno-stack-protector -fno-pie \
    -no-pie -Wall -o "$work/root/bin/pmu_debug" "$here/arm64_pmu_debug.c" || exit 1
cp "$cache/busybox" "$work/root/bin/busybox"
chmod 755 "$work/root/bin/busybox"
for app in sh mount poweroff; do ln -s busybox "$work/root/bin/$app"; done
printf '#!/bin/sh\nmount -t proc proc /proc\n/bin/pmu_debug\npoweroff -f\n' >"$work/root/init"
chmod 755 "$work/root/init"
(cd "$work/root" && find . | cpio -o -H newc --quiet) | gzip >"$work/initrd.cpio.gz"

args=(-M virt -cpu cortex-a57 -m 512 -nographic -no-reboot -kernel "$cache/vmlinuz"
      -initrd "$work/initrd.cpio.gz" -append "console=ttyAMA0 panic=-1 quiet")
if [ "$emu" = qemu ]; then
    cmd=(qemu-system-aarch64 -nic none "${args[@]}")
else
    cmd=("$emu" "${args[@]}")
fi
timeout "${BOOT_TIMEOUT:-280}" "${cmd[@]}" </dev/null >"$work/out" 2>&1

want=("watchpoint slots: 4" "setregset: 0" "stopped by signal: 5" "si_code: 4"
      "si_addr: the watched variable" "ORRERY-PMU-DEBUG-DONE")
[ "$emu" = qemu ] || want+=("perf instructions: exact within 50")
for line in "${want[@]}"; do
    if ! grep -qF "$line" "$work/out"; then
        echo "FAIL: no line '$line'"
        echo "command: ${cmd[*]}"
        tail -n 30 "$work/out"
        exit 1
    fi
done
grep -E "^perf|^watchpoint|^si_" "$work/out"
echo "PASS: pmu_debug_linux on $emu"
