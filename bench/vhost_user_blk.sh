#!/usr/bin/env bash
# vhost-user-blk throughput: qemu-system-aarch64 7.2 is the frontend (-device
# vhost-user-blk-pci on a shared memfd) and the disk is served by orrery-vhost-user-blk or by
# qemu-storage-daemon's vhost-user-blk export, same image format and same guest. Debian's arm64
# kernel writes SIZE MiB of zeros to /dev/vda with dd conv=fsync, drops its page cache and
# reads them back; times are the guest's (/proc/uptime). Reports, never asserts.
#
#   bench/vhost_user_blk.sh [--build-dir DIR] [--no-build] [--mib 256] [--runs 1]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$here/../build
mib=256
runs=1
do_build=1
while [ $# -gt 0 ]; do
  case $1 in
  --build-dir) build=$2; shift 2 ;;
  --no-build) do_build=0; shift ;;
  --mib) mib=$2; shift 2 ;;
  --runs) runs=$2; shift 2 ;;
  *) echo "usage: $0 [--build-dir DIR] [--no-build] [--mib 256] [--runs 1]" >&2; exit 2 ;;
  esac
done
[ $do_build = 1 ] && nice -n 5 cmake --build "$build" -j2 --target orrery-vhost-user-blk >/dev/null
cache=$build/system-cache
"$here/../tests/system/fetch_debian.sh" "$cache" >/dev/null
work=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$work"' EXIT
sock=$work/vhost.sock
printf '%-22s %-4s %12s %12s\n' backend run "write MiB/s" "read MiB/s"
for backend in orrery qemu-storage-daemon; do
  for run in $(seq "$runs"); do
    rm -f "$work/disk" "$sock"
    qemu-img create -q -f raw "$work/disk" "$((mib + 16))M"
    if [ $backend = orrery ]; then
      "$build/orrery-vhost-user-blk" --socket-path "$sock" --drive "file=$work/disk,format=raw" \
        >"$work/server.log" 2>&1 &
    else
      qemu-storage-daemon --blockdev "driver=file,node-name=f,filename=$work/disk" \
        --export "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=$sock,writable=on" \
        >"$work/server.log" 2>&1 &
    fi
    server=$!
    for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done  # bounded wait to listen
    out=$(timeout 900 qemu-system-aarch64 -M virt,memory-backend=mem -cpu cortex-a57 -m 512 \
      -object memory-backend-memfd,id=mem,size=512M,share=on -nographic -no-reboot -nic none \
      -chardev "socket,id=c0,path=$sock" -device vhost-user-blk-pci,chardev=c0,num-queues=1 \
      -kernel "$cache/vmlinuz" -initrd "$cache/initrd-virtio.cpio.gz" \
      -append "console=ttyAMA0 panic=-1 quiet loglevel=4 orrery_test=disk_bench orrery_mib=$mib" \
      </dev/null 2>&1 | tr -d '\r') || true
    kill $server 2>/dev/null
    wait $server 2>/dev/null || true
    server=
    line=$(echo "$out" | sed -n 's/^ORRERY-DISK: //p')
    if [ -z "$line" ] || echo "$out" | grep -q '^ORRERY-FAIL'; then
      printf '%-22s %-4s %12s\n' "$backend" "$run" FAIL
      echo "$out" | tail -5 >&2
      cat "$work/server.log" >&2
      continue
    fi
    echo "$line" | awk -v n="$backend" -v r="$run" -v m="$mib" \
      '{ printf "%-22s %-4s %12.1f %12.1f\n", n, r, m / ($2 - $1), m / ($4 - $3) }'
  done
done
