#!/usr/bin/env bash
# Guest download throughput over user networking (virtio-net-device + slirp): Debian's arm64
# kernel fetches SIZE bytes from an HTTP server on the host's 127.0.0.1 (tests/system's
# net_http mode), on Orrery and on qemu-system-aarch64 with the same command line. Reports,
# never asserts. The time is the guest's (/proc/uptime around wget | md5sum); the wall time
# of the whole run (boot included) is shown too.
#
#   bench/net.sh [--build-dir DIR] [--no-build] [--size 64M] [--reps N]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$here/../build
size=64M
reps=1
do_build=1
while [ $# -gt 0 ]; do
  case $1 in
  --build-dir) build=$2; shift 2 ;;
  --no-build) do_build=0; shift ;;
  --size) size=$2; shift 2 ;;
  --reps) reps=$2; shift 2 ;;
  *) echo "usage: $0 [--build-dir DIR] [--no-build] [--size 64M] [--reps N]" >&2; exit 2 ;;
  esac
done
[ $do_build = 1 ] && nice -n 5 cmake --build "$build" -j2 --target orrery >/dev/null
cache=$build/system-cache
bytes=$(numfmt --from=iec "$size")
printf '%-8s %10s %10s %10s\n' emulator "guest s" "MiB/s" "wall s"
for emu in "$build/orrery" qemu; do
  name=$(basename "$emu")
  if [ "$emu" = qemu ] && ! command -v qemu-system-aarch64 >/dev/null; then
    printf '%-8s %10s\n' "$name" "n/a"
    continue
  fi
  for _ in $(seq "$reps"); do
    t0=$(date +%s.%N)
    out=$(NET_FILE_SIZE=$size BOOT_TIMEOUT=900 \
      "$here/../tests/system/virtio_linux.sh" net_http "$emu" "$cache" device 2>&1) || {
      printf '%-8s %10s\n' "$name" FAIL
      echo "$out" | tail -5 >&2
      continue
    }
    t1=$(date +%s.%N)
    secs=$(echo "$out" | sed -n 's/^NET-TIME: .* in \([0-9.]*\) s.*/\1/p')
    awk -v n="$name" -v s="$secs" -v b="$bytes" -v w="$(awk "BEGIN { print $t1 - $t0 }")" \
      'BEGIN { printf "%-8s %10.2f %10.1f %10.1f\n", n, s, b / 1048576 / s, w }'
  done
done
