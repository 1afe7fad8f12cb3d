#!/usr/bin/env bash
# A vhost-user-blk disk: FRONTEND (qemu-system-aarch64 7.2, or Orrery) runs Debian 12's arm64
# kernel with -device vhost-user-blk-pci on guest RAM in a shared memfd, and BACKEND
# (orrery-vhost-user-blk, or "qsd" for qemu-storage-daemon's vhost-user-blk export) serves a
# qcow2 image. The guest mounts its ext4 file system, reads a file the host put there and
# writes two. Afterwards the backend exits 0 on SIGTERM, qemu-img check is clean and the host
# finds the guest's files.
#   single     -smp 1, one queue
#   mq         -smp 2 and num-queues=2: the guest's virtio-blk has 2 hardware queues
#   reconnect  two QEMU runs one after the other against the same backend process: the second
#              guest finds what the first wrote
# usage: vhost_user_blk.sh MODE FRONTEND BACKEND CACHE   (FRONTEND: orrery's path or "qemu")
# VHOST_DEVICE=vhost-user-blk-device puts the disk on virt's virtio-mmio instead of PCI.
set -uo pipefail
mode=${1:?}
frontend=${2:?}
backend=${3:?}
cache=${4:?}
here=$(cd "$(dirname "$0")" && pwd)
"$here/fetch_debian.sh" "$cache" >/dev/null
rc=$?
[ $rc -eq 0 ] || exit $rc
tools="qemu-img mke2fs debugfs"
[ "$frontend" = qemu ] && tools="$tools qemu-system-aarch64"
[ "$backend" = qsd ] && tools="$tools qemu-storage-daemon"
for tool in $tools; do
  command -v $tool >/dev/null || { echo "SKIP: $tool not installed" >&2; exit 77; }
done

work=$(mktemp -d)
backend_pid=
trap '[ -n "$backend_pid" ] && kill -9 $backend_pid 2>/dev/null; rm -rf "$work"' EXIT
mkdir "$work/fs"
echo "hello from the host" >"$work/fs/hello.txt"
mke2fs -q -t ext4 -d "$work/fs" "$work/disk.raw" 64M || exit 1
qemu-img convert -O qcow2 "$work/disk.raw" "$work/disk.qcow2" || exit 1
rm "$work/disk.raw"

smp=1 queues=1
[ "$mode" = mq ] && smp=2 queues=2
sock=$work/vhost.sock
log=$work/serial.log
fail() {
  echo "FAIL: $*"
  echo "---- backend ----"
  cat "$work/backend.log"
  echo "---- last 40 lines of the guest's output ----"
  tail -n 40 "$log"
  exit 1
}

if [ "$backend" = qsd ]; then
  qemu-storage-daemon --blockdev "driver=file,node-name=f,filename=$work/disk.qcow2" \
    --blockdev driver=qcow2,node-name=q,file=f \
    --export "type=vhost-user-blk,id=e,node-name=q,addr.type=unix,addr.path=$sock,writable=on,num-queues=$queues" \
    >"$work/backend.log" 2>&1 &
else
  "$backend" --socket-path "$sock" --drive "file=$work/disk.qcow2,format=qcow2" \
    --num-queues $queues >"$work/backend.log" 2>&1 &
fi
backend_pid=$!
for _ in $(seq 100); do  # until it listens (bounded polling)
  [ -S "$sock" ] && break
  kill -0 $backend_pid 2>/dev/null || fail "the backend exited"
  sleep 0.1
done
[ -S "$sock" ] || fail "the backend never listened on $sock"

if [ "$frontend" = qemu ]; then
  emu=(qemu-system-aarch64 -nic none)
else
  emu=("$frontend")
fi
run_qemu() {  # run number
  timeout "${BOOT_TIMEOUT:-280}" "${emu[@]}" -M virt,memory-backend=mem -cpu cortex-a57 \
    -smp $smp -m 512 -object memory-backend-memfd,id=mem,size=512M,share=on -nographic \
    -no-reboot -chardev "socket,id=c0,path=$sock" \
    -device "${VHOST_DEVICE:-vhost-user-blk-pci},chardev=c0,num-queues=$queues" \
    -kernel "$cache/vmlinuz" -initrd "$cache/initrd-virtio.cpio.gz" \
    -append "console=ttyAMA0 panic=-1 quiet loglevel=4 orrery_test=vhost_blk orrery_run=$1" \
    </dev/null >"$log" 2>&1
  local status=$?
  [ $status -eq 124 ] && fail "the frontend timed out"
  grep -q '^ORRERY-INSMOD-FAILED' "$log" && fail "a module did not load"
  grep -q '^ORRERY-FAIL' "$log" && fail "the guest reported a failure"
  grep -q '^ORRERY-DONE' "$log" || fail "no ORRERY-DONE (the frontend's exit status $status)"
  grep -q '^ORRERY-READ: hello from the host' "$log" || fail "the host's file was not read"
  q=$(sed -n 's/^ORRERY-QUEUES: \([0-9]*\).*/\1/p' "$log")
  [ "$q" = "$queues" ] || fail "the guest has $q queues, expected $queues"
  kill -0 $backend_pid 2>/dev/null || fail "the backend exited with the frontend"
}

run_qemu 1
if [ "$mode" = reconnect ]; then
  cp "$log" "$work/serial1.log"
  run_qemu 2
  grep -q '^ORRERY-PREVIOUS: written by the guest 1' "$log" ||
    fail "the second guest did not find the first one's file"
  expect="written by the guest 2"
else
  expect="written by the guest 1"
fi
kill -TERM $backend_pid
wait $backend_pid
status=$?
backend_pid=
[ $status -eq 0 ] || fail "the backend exited with $status on SIGTERM"
[ -e "$sock" ] && fail "the backend left its socket behind"

qemu-img check "$work/disk.qcow2" >"$work/check.log" 2>&1 || { cat "$work/check.log"; fail "qemu-img check"; }
qemu-img convert -O raw "$work/disk.qcow2" "$work/out.raw" || fail "qemu-img convert"
out=$(debugfs -R "cat /out.txt" "$work/out.raw" 2>/dev/null)
[ "$out" = "$expect" ] || fail "out.txt in the image is '$out'"
debugfs -R "dump /big.bin $work/big.bin" "$work/out.raw" >/dev/null 2>&1
host_md5=$(md5sum "$work/big.bin" | cut -d' ' -f1)
grep -q "^ORRERY-MD5: $host_md5" "$log" || fail "big.bin in the image ($host_md5) differs"
echo "PASS: vhost-user-blk $mode ($(basename "${emu[0]}") and $(basename "$backend"), $queues queue(s))"
