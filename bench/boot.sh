#!/usr/bin/env bash
# Times a Debian 12 arm64 kernel + busybox initramfs boot to the marker line on Orrery and on
# qemu-system-aarch64 (same kernel, initrd and options) and prints the ratio.
# usage: bench/boot.sh [BUILD_DIR] [SMP] [GIC] [REPS]   (default build, 2, 2, 3)
# Each run alternates QEMU and Orrery; the minimum of REPS runs is reported for each (the
# least disturbed by other load on the host).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
smp=${2:-2}
gic=${3:-2}
reps=${4:-3}
cache=$build/system-cache
"$root/tests/system/fetch_debian.sh" "$cache" >/dev/null

args=(-M "virt,gic-version=$gic" -cpu cortex-a57 -smp "$smp" -m 512 -nographic -no-reboot
  -kernel "$cache/vmlinuz" -initrd "$cache/initrd-marker.cpio.gz"
  -append "console=ttyAMA0 panic=-1 quiet loglevel=4")

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
  t=$(time_to_marker qemu-system-aarch64 -nic none "${args[@]}")
  [[ -z $q ]] || (($(echo "$t < $q" | bc))) && q=$t
  t=$(time_to_marker "$build/orrery" "${args[@]}")
  [[ -z $o ]] || (($(echo "$t < $o" | bc))) && o=$t
done
printf 'boot to marker (-smp %s, gic-version=%s, min of %s): qemu %.2f s, orrery %.2f s, orrery/qemu %.2fx\n' \
  "$smp" "$gic" "$reps" "$q" "$o" "$(echo "$o / $q" | bc -l)"
