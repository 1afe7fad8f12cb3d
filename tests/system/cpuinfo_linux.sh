#!/usr/bin/env bash
# Boots Debian 12's arm64 kernel on Orrery and on qemu-system-aarch64 with the same -cpu and
# compares what Linux reports in /proc/cpuinfo: the Features line (the hwcaps it derived from
# the ID registers) and the MIDR fields (implementer, architecture, variant, part, revision).
# usage: cpuinfo_linux.sh EMULATOR CACHE CPU
set -uo pipefail
emu=${1:?}
cache=${2:?}
cpu=${3:?}
here=$(cd "$(dirname "$0")" && pwd)
command -v qemu-system-aarch64 >/dev/null || { echo "SKIP: no qemu-system-aarch64"; exit 77; }
"$here/fetch_debian.sh" "$cache" >/dev/null
rc=$?
[ $rc -eq 0 ] || exit $rc

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
args=(-M virt -cpu "$cpu" -m 512 -nographic -no-reboot
  -kernel "$cache/vmlinuz" -initrd "$cache/initrd-marker.cpio.gz"
  -append "console=ttyAMA0 panic=-1 quiet loglevel=4")

# The first processor's identification and feature lines, without trailing blanks or CRs.
cpuinfo() {
  sed -n '/^processor/,/^$/p' "$1" | tr -d '\r' |
    grep -E '^(Features|CPU implementer|CPU architecture|CPU variant|CPU part|CPU revision)' |
    sed 's/[[:space:]]*$//'
}

timeout "${BOOT_TIMEOUT:-280}" "$emu" "${args[@]}" </dev/null >"$work/orrery" 2>&1
timeout "${BOOT_TIMEOUT:-280}" qemu-system-aarch64 -nic none "${args[@]}" </dev/null \
  >"$work/qemu" 2>&1
for side in orrery qemu; do
  if ! grep -q '^ORRERY-BOOT-OK' "$work/$side"; then
    echo "FAIL: $side did not reach the marker with -cpu $cpu"
    tail -n 40 "$work/$side"
    exit 1
  fi
  cpuinfo "$work/$side" >"$work/$side.cpuinfo"
done
[ -s "$work/qemu.cpuinfo" ] || { echo "FAIL: no /proc/cpuinfo lines from QEMU"; exit 1; }
if ! diff -u "$work/qemu.cpuinfo" "$work/orrery.cpuinfo"; then
  echo "FAIL: /proc/cpuinfo differs from QEMU's for -cpu $cpu (- qemu, + orrery)"
  exit 1
fi
echo "PASS: -cpu $cpu: $(grep Features "$work/orrery.cpuinfo")"
