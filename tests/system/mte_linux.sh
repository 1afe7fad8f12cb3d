#!/usr/bin/env bash
# Boots Debian's arm64 kernel on -M virt,mte=on -cpu max with a busybox initramfs whose /init
# runs arm64_mte.c (a static program built here with the cross gcc, no C library): Linux finds
# FEAT_MTE, a PROT_MTE mapping is tagged with IRG/STG, and a store through a wrong tag dies of
# SIGSEGV with si_code SEGV_MTESERR (9) at the mismatched pointer.
#   mte_linux.sh EMULATOR CACHE
# EMULATOR "qemu" runs qemu-system-aarch64 (the reference). Exits 77 (skip) without the cross
# compiler or the Debian packages.
set -u
emu=$1
cache=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/static_prog.sh"
static_prog_setup
# /proc/cpuinfo's Features list "mte" when Linux found FEAT_MTE2 (one line per CPU).
static_prog_initrd "$work" "$here/arm64_mte.c" mte "sh mount poweroff grep" \
    'mount -t proc proc /proc\ngrep -o -w mte /proc/cpuinfo\n/bin/mte\npoweroff -f\n' || exit 1

boot_cmd qemu-system-aarch64 -M virt,mte=on -cpu max -m 512 -nographic -no-reboot \
    -kernel "$cache/vmlinuz" -initrd "$work/initrd.cpio.gz" -append "console=ttyAMA0 panic=-1 quiet"
timeout "${BOOT_TIMEOUT:-280}" "${cmd[@]}" </dev/null 2>&1 | tr -d '\r' >"$work/out"

want=("mte" "prctl: 0" "mmap PROT_MTE: ok" "tag nonzero: 1" "ldg matches irg: 1"
      "tagged load: 42" "signal: 11" "si_code: 9" "si_addr: the mismatched pointer"
      "child exit: 0" "ORRERY-MTE-DONE")
expect_lines "$work/out" xF "${want[@]}"
grep -E "^(prctl|mmap|tag|ldg|signal|si_|child)" "$work/out"
echo "PASS: mte_linux on $emu"
