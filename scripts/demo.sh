#!/usr/bin/env bash
# Sets up, builds, and runs a guest on Orrery's virt board, printing to this terminal.
#   scripts/demo.sh          a bare-metal AArch64 program (prints and powers off)
#   scripts/demo.sh linux    Debian 12's arm64 kernel booting to an interactive busybox shell
#                            (fetched with apt-get download; `poweroff -f` or Ctrl-A x quits)
# Extra arguments after the mode go to orrery (e.g. -accel tcg,tier=interp).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
mode=${1:-hello}
[ $# -gt 0 ] && shift
case $mode in
  hello)
    scripts/build.sh orrery orrery_guest_programs
    exec build/orrery -M virt -cpu cortex-a57 -m 128 -nographic \
      -kernel build/tests/guest/arm64/hello.elf "$@"
    ;;
  linux)
    scripts/build.sh orrery
    tests/system/fetch_debian.sh build/system-cache
    exec build/orrery -M virt,gic-version=3 -cpu cortex-a57 -smp 2 -m 512 -nographic \
      -kernel build/system-cache/vmlinuz -initrd build/system-cache/initrd-shell.cpio.gz \
      -append "console=ttyAMA0 rdinit=/bin/sh quiet" "$@"
    ;;
  *)
    echo "usage: scripts/demo.sh [hello|linux] [orrery options]" >&2
    exit 1
    ;;
esac
