#!/usr/bin/env bash
# Debian 12's arm64 kernel with virtio devices, the same command line for Orrery and for
# qemu-system-aarch64:
#   blk       an ext4 file system on a qcow2 image over virtio-blk (and a virtio-rng): the guest
#             reads a file the host put there and writes two; afterwards qemu-img check is
#             clean and the host finds the guest's files, byte for byte, in the image
#   blk_kill  Orrery is killed with SIGKILL while the guest writes with fsync; qemu-img check
#             may then report leaked clusters but no corruption
#   net_http  virtio-net on user networking: the guest downloads a file (NET_FILE_SIZE, default
#             4M) from an HTTP server the test runs on the host's 127.0.0.1; checksums match
#   net_hostfwd  the guest serves a token with busybox httpd; the host fetches it through
#             hostfwd=tcp:127.0.0.1:PORT-:80 and checks it
# usage: virtio_linux.sh MODE EMULATOR CACHE TRANSPORT [GIC]   (EMULATOR: orrery's path or
#        "qemu"; TRANSPORT: device, the virtio-mmio spelling -device virtio-*-device, or pci,
#        -device virtio-*-pci behind the PCIe host bridge; GIC: 2 (default) or 3)
# With pci the guest must see the virtio functions (vendor 0x1af4) and use MSI-X: through the
# GICv2m frame with GICv2, through the ITS with GICv3 (/proc/interrupts says ITS-MSI).
set -uo pipefail
mode=${1:?}
emu=${2:?}
cache=${3:?}
transport=${4:-device}
gic=${5:-2}
here=$(cd "$(dirname "$0")" && pwd)
"$here/fetch_debian.sh" "$cache" >/dev/null
rc=$?
[ $rc -eq 0 ] || exit $rc
for tool in qemu-img mke2fs debugfs; do
  command -v $tool >/dev/null || { echo "SKIP: $tool not installed" >&2; exit 77; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/fs"
echo "hello from the host" >"$work/fs/hello.txt"
mke2fs -q -t ext4 -d "$work/fs" "$work/disk.raw" 64M || exit 1
qemu-img convert -O qcow2 "$work/disk.raw" "$work/disk.qcow2" || exit 1
rm "$work/disk.raw"

append="console=ttyAMA0 panic=-1 quiet loglevel=4 orrery_test=$mode"
netargs=()
case "$mode" in
net_*)
  # An HTTP server on the host's loopback (the guest reaches it as 10.0.2.2), on a free port.
  free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
  mkdir "$work/www"
  head -c "${NET_FILE_SIZE:-4M}" /dev/urandom >"$work/www/file"
  port=$(free_port)
  python3 -m http.server --bind 127.0.0.1 --directory "$work/www" "$port" \
    >"$work/http.log" 2>&1 &
  http_pid=$!
  trap 'kill $http_pid 2>/dev/null; rm -rf "$work"' EXIT
  for _ in $(seq 100); do  # until it answers (a deadline bounds the polling)
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/')" \
      2>/dev/null && break
    sleep 0.1
  done
  token=$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
  fwd_port=$(free_port)
  append="$append orrery_port=$port orrery_token=$token"
  netdev="user,id=n0"
  [ "$mode" = net_hostfwd ] && netdev="$netdev,hostfwd=tcp:127.0.0.1:$fwd_port-:80"
  netargs=(-netdev "$netdev" -device "virtio-net-$transport,netdev=n0")
  ;;
esac
args=(-M "virt,gic-version=$gic" -cpu cortex-a57 -m 512 -nographic -no-reboot
  -kernel "$cache/vmlinuz" -initrd "$cache/initrd-virtio.cpio.gz"
  -append "$append"
  -drive "file=$work/disk.qcow2,if=none,id=d0,format=qcow2"
  -device "virtio-blk-$transport,drive=d0" -device "virtio-rng-$transport" "${netargs[@]}")
if [ "$emu" = qemu ]; then
  # -nic none: no default NIC besides the one the net modes add.
  cmd=(qemu-system-aarch64 -nic none "${args[@]}")
else
  cmd=("$emu" "${args[@]}")
fi
log=$work/serial.log

fail() {
  echo "FAIL: $*"
  echo "command: ${cmd[*]}"
  echo "---- last 40 lines of output ----"
  tail -n 40 "$log"
  exit 1
}
check_image() {  # the qemu-img check exit status that is acceptable: 0, or 3 (leaks only)
  qemu-img check "$work/disk.qcow2" >"$work/check.log" 2>&1
  local st=$?
  cat "$work/check.log"
  [ $st -eq 0 ] || [ $st -eq "${1:-0}" ] || fail "qemu-img check exit status $st"
}

check_done() {  # the guest's verdict and the emulator's exit status
  grep -q '^ORRERY-INSMOD-FAILED' "$log" && fail "a module did not load"
  grep -q '^ORRERY-FAIL' "$log" && fail "the guest reported a failure"
  grep -q '^ORRERY-DONE' "$log" || fail "no ORRERY-DONE (exit status $1)"
  [ "$1" -eq 0 ] || fail "exit status $1"
}
run_to_done() {  # boots, runs the guest's test to its power-off, and checks the verdict
  timeout "${BOOT_TIMEOUT:-280}" "${cmd[@]}" </dev/null >"$log" 2>&1
  local status=$?
  [ $status -eq 124 ] && fail "timed out"
  check_done $status
}

case "$mode" in
blk)
  run_to_done
  grep -q '^ORRERY-RNG: virtio_rng' "$log" || fail "virtio-rng is not the hwrng"
  grep -q '^ORRERY-READ: hello from the host' "$log" || fail "the host's file was not read"
  if [ "$transport" = pci ]; then
    grep -q '^ORRERY-PCI: .*0x1af4:' "$log" || fail "no virtio PCI function in /sys/bus/pci"
    # QEMU's high window, 0x80_0000_0000-0xff_ffff_ffff: Linux assigns 64-bit BARs there.
    grep -Eq '^ORRERY-IOMEM: +[89a-f][0-9a-f]{9}-[0-9a-f]+ : 0000:00:' "$log" ||
      fail "no BAR in the 64-bit PCIe window at 0x8000000000"
    msi=$(sed -n 's/^ORRERY-MSI: \([0-9]*\).*/\1/p' "$log")
    [ "${msi:-0}" -gt 0 ] || fail "virtio-pci does not use MSI with GICv$gic (MSI lines: $msi)"
    if [ "$gic" = 3 ]; then
      its=$(grep -c '^ORRERY-IRQ: .*ITS-MSI' "$log")
      [ "$its" -gt 0 ] || fail "virtio-pci does not use MSI through the ITS"
    fi
  fi
  check_image 0
  qemu-img convert -O raw "$work/disk.qcow2" "$work/out.raw" || fail "qemu-img convert"
  out=$(debugfs -R "cat /out.txt" "$work/out.raw" 2>/dev/null)
  [ "$out" = "written by the guest" ] || fail "out.txt in the image is '$out'"
  debugfs -R "dump /big.bin $work/big.bin" "$work/out.raw" >/dev/null 2>&1
  host_md5=$(md5sum "$work/big.bin" | cut -d' ' -f1)
  grep -q "^ORRERY-MD5: $host_md5" "$log" || fail "big.bin in the image ($host_md5) differs"
  ;;
blk_kill)
  "${cmd[@]}" </dev/null >"$log" 2>&1 &
  pid=$!
  # Wait for the guest to start writing (a deadline guards the wait; no sleep orders events).
  for _ in $(seq 600); do
    grep -q '^ORRERY-WRITING' "$log" && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.2  # polling for the condition above, bounded by the loop
  done
  grep -q '^ORRERY-WRITING' "$log" || { kill -9 $pid; fail "the guest never started writing"; }
  # Let some fsync'd writes reach the image, then kill mid-write.
  for _ in $(seq 100); do
    [ "$(stat -c %s "$work/disk.qcow2")" -gt 4000000 ] && break
    sleep 0.1
  done
  kill -9 $pid
  wait $pid 2>/dev/null
  check_image 3
  ;;
net_http)
  run_to_done
  host_md5=$(md5sum "$work/www/file" | cut -d' ' -f1)
  grep -q "^ORRERY-MD5: $host_md5" "$log" || fail "the guest's download differs from $host_md5"
  start=$(sed -n 's/^ORRERY-NET-START: //p' "$log" | tr -d '\r')
  end=$(sed -n 's/^ORRERY-NET-END: //p' "$log" | tr -d '\r')
  echo "NET-TIME: $(stat -c %s "$work/www/file") bytes in $(awk "BEGIN { print $end - $start }") s (guest clock)"
  ;;
net_hostfwd)
  "${cmd[@]}" </dev/null >"$log" 2>&1 &
  pid=$!
  deadline=$((SECONDS + ${BOOT_TIMEOUT:-280}))
  until grep -q '^ORRERY-LISTENING' "$log"; do
    kill -0 $pid 2>/dev/null || fail "exited before the guest listened"
    [ $SECONDS -lt $deadline ] || { kill $pid; fail "the guest never listened"; }
    sleep 0.2  # polling for the marker, bounded by the deadline
  done
  # The guest's httpd is listening; the forward is up since the emulator started.
  got=$(python3 - "$fwd_port" <<'PY'
import sys, time, urllib.request
for _ in range(50):  # slirp may answer before the guest's socket is reachable: retry briefly
    try:
        print(urllib.request.urlopen("http://127.0.0.1:%s/token.txt" % sys.argv[1], timeout=20).read().decode().strip())
        break
    except Exception:
        time.sleep(0.2)
PY
)
  echo done >"$work/www/done"  # lets the guest power off
  wait $pid
  status=$?
  [ "$got" = "$token" ] || fail "fetched '$got' through the forward, expected '$token'"
  check_done $status
  ;;
*)
  echo "unknown mode $mode"
  exit 2
  ;;
esac
echo "PASS: $mode $(basename "$emu") virtio-*-$transport gicv$gic"
