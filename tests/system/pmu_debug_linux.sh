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
. "$here/static_prog.sh"
static_prog_setup
static_prog_initrd "$work" "$here/arm64_pmu_debug.c" pmu_debug "sh mount poweroff" \
    'mount -t proc proc /proc\n/bin/pmu_debug\npoweroff -f\n' || exit 1

boot_cmd qemu-system-aarch64 -M virt -cpu cortex-a57 -m 512 -nographic -no-reboot \
    -kernel "$cache/vmlinuz" -initrd "$work/initrd.cpio.gz" -append "console=ttyAMA0 panic=-1 quiet"
timeout "${BOOT_TIMEOUT:-280}" "${cmd[@]}" </dev/null >"$work/out" 2>&1

want=("watchpoint slots: 4" "setregset: 0" "stopped by signal: 5" "si_code: 4"
      "si_addr: the watched variable" "ORRERY-PMU-DEBUG-DONE")
[ "$emu" = qemu ] || want+=("perf instructions: exact within 50")
expect_lines "$work/out" F "${want[@]}"
grep -E "^perf|^watchpoint|^si_" "$work/out"
echo "PASS: pmu_debug_linux on $emu"
