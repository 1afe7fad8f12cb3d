#!/usr/bin/env bash
# Guest disk throughput over virtio-blk-device (or virtio-blk-pci with --pci): Debian's arm64 kernel writes SIZE MiB of zeros
# to /dev/vda with dd conv=fsync, drops its page cache and reads them back, on raw and qcow2
# images (cache=writeback, the default), on Orrery and on qemu-system-aarch64 with the same
# command line. Times are the guest's (/proc/uptime around each dd). Reports, never asserts.
# Also reported, for loaded machines where MiB/s swing run to run: how busy the guest CPU was
# in each dd (100% = CPU-bound; the rest idle or iowait, i.e. waiting for the device), the
# guest's write requests and their mean size, and the emulator process's CPU seconds
# (user+sys, boot included). --reps N repeats the whole table, every other repetition with
# QEMU first: the first run after a pause can pay more for first touches of guest RAM.
#
#   bench/disk.sh [--build-dir DIR] [--no-build] [--mib 256] [--pci] [--reps 1]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$here/../build
mib=256
do_build=1
device=virtio-blk-device
reps=1
while [ $# -gt 0 ]; do
  case $1 in
  --build-dir) build=$2; shift 2 ;;
  --no-build) do_build=0; shift ;;
  --mib) mib=$2; shift 2 ;;
  --pci) device=virtio-blk-pci; shift ;;
  --reps) reps=$2; shift 2 ;;
  *) echo "usage: $0 [--build-dir DIR] [--no-build] [--mib 256] [--pci] [--reps 1]" >&2; exit 2 ;;
  esac
done
[ $do_build = 1 ] && nice -n 5 cmake --build "$build" -j2 --target orrery >/dev/null
cache=$build/system-cache
"$here/../tests/system/fetch_debian.sh" "$cache" >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%-8s %-6s %12s %12s %8s %8s %8s %9s %7s\n' emulator format "write MiB/s" "read MiB/s" \
  "w busy%" "r busy%" "w reqs" "req KiB" "CPU s"
TIMEFORMAT='%U %S'
for rep in $(seq "$reps"); do
  emus=("$build/orrery" qemu)
  [ $((rep % 2)) = 0 ] && emus=(qemu "$build/orrery")
  for fmt in raw qcow2; do
    for emu in "${emus[@]}"; do
      name=$(basename "$emu")
      rm -f "$work/disk"
      qemu-img create -q -f "$fmt" "$work/disk" "$((mib + 16))M"
      args=(-M virt -cpu cortex-a57 -m 512 -nographic -no-reboot
        -kernel "$cache/vmlinuz" -initrd "$cache/initrd-virtio.cpio.gz"
        -append "console=ttyAMA0 panic=-1 quiet loglevel=4 orrery_test=disk_bench orrery_mib=$mib"
        -drive "file=$work/disk,if=none,id=d0,format=$fmt" -device "$device,drive=d0")
      if [ "$emu" = qemu ]; then
        command -v qemu-system-aarch64 >/dev/null || { printf '%-8s %-6s n/a\n' "$name" "$fmt"; continue; }
        cmd=(qemu-system-aarch64 -nic none "${args[@]}")
      else
        cmd=("$emu" "${args[@]}")
      fi
      # bash's time reports the waited-for children's CPU: timeout's and so the emulator's.
      out=$({ time timeout 900 "${cmd[@]}" </dev/null 2>&1; } 2>"$work/cpu" | tr -d '\r') || true
      line=$(echo "$out" | sed -n 's/^ORRERY-DISK: //p')
      if [ -z "$line" ] || echo "$out" | grep -q '^ORRERY-FAIL'; then
        printf '%-8s %-6s %12s\n' "$name" "$fmt" FAIL
        echo "$out" | tail -5 >&2
        continue
      fi
      jif=$(echo "$out" | sed -n 's/^ORRERY-DISK-CPU: //p')
      reqs=$(echo "$out" | sed -n 's/^ORRERY-DISK-REQS: //p')
      echo "$line $jif $reqs $(tail -1 "$work/cpu")" | awk -v n="$name" -v f="$fmt" -v m="$mib" '
        function pct(busy, wait) { return busy + wait > 0 ? 100 * busy / (busy + wait) : 0 }
        { printf "%-8s %-6s %12.1f %12.1f %8.0f %8.0f %8d %9.0f %7.1f\n", n, f, m / ($2 - $1),
            m / ($4 - $3), pct($7 - $5, $8 - $6), pct($11 - $9, $12 - $10), $15,
            $15 ? $16 / 2 / $15 : 0, $17 + $18 }'
    done
  done
done
