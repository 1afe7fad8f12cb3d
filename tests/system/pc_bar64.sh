#!/usr/bin/env bash
# 64-bit BARs above 4 GiB on -M pc: Debian 12's amd64 kernel (direct Linux boot, as
# pc_linux.sh) with a pci-testdev whose 2 GiB 64-bit prefetchable BAR 2 (membar=2G) cannot fit
# the 32-bit hole of a 512 MiB machine, and a virtio-rng-pci (64-bit prefetchable BAR 4). The
# busybox initramfs loads the virtio modules, prints /proc/iomem and reads /dev/hwrng. Checks:
# the host bridge has a window above 4 GiB, both 64-bit BARs lie above 4 GiB, and the RNG
# gives 16 bytes. On QEMU the same command line goes through SeaBIOS, which moves the 64-bit
# BARs above 4 GiB itself; on Orrery no firmware runs and Linux assigns them from the DSDT's
# _CRS. Packages come from apt-get download into CACHE/amd64 (exit status 77, ctest SKIP, when
# they cannot be fetched).
# usage: pc_bar64.sh EMULATOR CACHE   (EMULATOR: path to orrery, or "qemu")
set -uo pipefail
emu=${1:?usage: pc_bar64.sh EMULATOR CACHE}
cache=${2:?}/amd64
here=$(cd "$(dirname "$0")" && pwd)
. "$here/boot_lib.sh"

fetch() {
  mkdir -p "$cache" && cd "$cache" && fetch_amd64 || return 1
  if [ ! -s initrd-bar64.cpio.gz ] || [ initrd-bar64.cpio.gz -ot "$here/pc_bar64.sh" ] ||
    [ initrd-bar64.cpio.gz -ot modules/virtio-rng.ko ]; then
    local dir
    dir=$(mktemp -d)
    mkdir -p "$dir"/{bin,proc,sys,dev,lib/modules}
    cp busybox "$dir/bin/busybox" && chmod 755 "$dir/bin/busybox"
    ln -s busybox "$dir/bin/sh"
    for m in "${amd64_modules[@]}"; do cp "modules/$(basename "$m")" "$dir/lib/modules/"; done
    {
      echo '#!/bin/sh'
      echo '/bin/busybox --install -s /bin'
      echo 'mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev'
      for m in "${amd64_modules[@]}"; do
        echo "insmod /lib/modules/$(basename "$m") || echo ORRERY-INSMOD-FAILED: $m"
      done
      echo 'sed "s/^/ORRERY-IOMEM: /" /proc/iomem'
      echo 'echo "ORRERY-RNG: $(cat /sys/class/misc/hw_random/rng_current)"'
      echo 'echo "ORRERY-RNG-BYTES: $(head -c 16 /dev/hwrng | od -An -tx1 | tr -d " \n")"'
      echo 'echo ORRERY-DONE'
      echo 'poweroff -f'
    } >"$dir/init"
    chmod 755 "$dir/init"
    pack_initrd "$dir" initrd-bar64.cpio.gz || return 1
  fi
}
(fetch)
rc=$?
[ $rc -eq 0 ] || exit $rc

# The same command line for both; explicit slots (QEMU's pc has a VGA function at 00:02.0).
boot_cmd qemu-system-x86_64 -M pc -m 512 -nographic -no-reboot \
  -kernel "$cache/vmlinuz" -initrd "$cache/initrd-bar64.cpio.gz" \
  -append "console=ttyS0 panic=-1 quiet loglevel=4" \
  -device pci-testdev,addr=4,membar=2G -device virtio-rng-pci,addr=5,disable-legacy=on
boot_run
fail_lines=80
[ $status -eq 124 ] && fail "timed out"
grep -q '^ORRERY-DONE' "$log" || fail "no marker line (exit status $status)"
grep -q 'ORRERY-INSMOD-FAILED' "$log" && fail "a module did not load"
# The /proc/iomem ranges named $1 that start at or above 4 GiB, as START-END (hex).
above_4g() {
  tr -d '\r' <"$log" | awk -v name="$1" '
    /^ORRERY-IOMEM: / { line = substr($0, 15); sub(/^ +/, "", line)
      n = index(line, " : "); if (substr(line, n + 3) != name) next
      range = substr(line, 1, n - 1); split(range, r, "-")
      if (length(r[1]) > 8) print range }'  # 4 GiB and up: nine or more digits
}
window=$(above_4g "PCI Bus 0000:00")
[ -n "$window" ] || fail "no PCI Bus 0000:00 window above 4 GiB in /proc/iomem"
membar=$(above_4g 0000:00:04.0)
[ -n "$membar" ] || fail "pci-testdev's BAR 2 is not above 4 GiB"
rng=$(above_4g 0000:00:05.0)
[ -n "$rng" ] || fail "virtio-rng's 64-bit BAR 4 is not above 4 GiB"
grep -q '^ORRERY-RNG: virtio_rng' "$log" || fail "virtio-rng is not the current hw_random source"
grep -Eq '^ORRERY-RNG-BYTES: [0-9a-f]{32}' "$log" || fail "no 16 bytes from /dev/hwrng"
[ $status -eq 0 ] || fail "exit status $status after the marker (expected 0)"
echo "PASS: $(basename "$emu") -M pc: window $window, pci-testdev BAR 2 $membar," \
  "virtio-rng BAR 4 $rng in $seconds s"
