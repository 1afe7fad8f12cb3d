#!/usr/bin/env bash
# Times a Debian 12 kernel + busybox initramfs boot to the marker line on Orrery and on QEMU
# (same kernel, initrd and options) and prints the ratio: arm64 on virt with GIC 2 or 3 and
# qemu-system-aarch64, or amd64 on the pc board (GIC "pc": direct Linux boot on Orrery, SeaBIOS
# and its linuxboot ROM on qemu-system-x86_64).
# usage: bench/boot.sh [BUILD_DIR] [SMP] [GIC|pc] [REPS]   (default build, 2, 2, 3)
# Each run alternates QEMU and Orrery; the minimum of REPS runs is reported for each (the
# least disturbed by other load on the host).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
smp=${2:-2}
gic=${3:-2}
reps=${4:-3}
cache=$build/system-cache
if [[ $gic == pc ]]; then
  "$root/tests/system/pc_linux.sh" none "$cache" fetch >/dev/null
  qemu=qemu-system-x86_64
  args=(-M pc -smp "$smp" -m 512 -nographic -no-reboot
    -kernel "$cache/amd64/vmlinuz" -initrd "$cache/amd64/initrd-marker.cpio.gz"
    -append "console=ttyS0 panic=-1 quiet loglevel=4")
else
  "$root/tests/system/fetch_debian.sh" "$cache" >/dev/null
  qemu=qemu-system-aarch64
  args=(-M "virt,gic-version=$gic" -cpu cortex-a57 -smp "$smp" -m 512 -nographic -no-reboot
    -kernel "$cache/vmlinuz" -initrd "$cache/initrd-marker.cpio.gz"
    -append "console=ttyAMA0 panic=-1 quiet loglevel=4")
fi

# Seconds from start until the marker appears on the serial output.
time_to_marker() {
  local start end line
  start=$(date +%s.%N)
  while IFS= read -r line; do
    if [[ $line == ORRERY-BOOT-OK* ]]; then
      end=$(date +%s.%N)
      echo "$end - $start" | bc
      return 0
    fi
  done < <(timeout 300 "$@" </dev/null 2>&1)
  echo "no marker" >&2
  return 1
}

q=""
o=""
for ((i = 0; i < reps; i++)); do
  t=$(time_to_marker "$qemu" -nic none "${args[@]}")
  [[ -z $q ]] || (($(echo "$t < $q" | bc))) && q=$t
  t=$(time_to_marker "$build/orrery" "${args[@]}")
  [[ -z $o ]] || (($(echo "$t < $o" | bc))) && o=$t
done
printf 'boot to marker (-smp %s, %s, min of %s): qemu %.2f s, orrery %.2f s, orrery/qemu %.2fx\n' \
  "$smp" "$([[ $gic == pc ]] && echo "-M pc" || echo "gic-version=$gic")" "$reps" "$q" "$o" "$(echo "$o / $q" | bc -l)"
