#!/usr/bin/env bash
# Fetches Debian 12's arm64 kernel (linux-image-arm64) and busybox-static with apt-get download
# into CACHE (under the build directory; never committed) and builds two initramfs images:
#   CACHE/initrd-marker.cpio.gz  /init prints uname -m, /proc/cpuinfo, /proc/interrupts and a
#                                marker line, then powers off
#   CACHE/initrd-shell.cpio.gz   no /init: boot with rdinit=/bin/sh for an interactive shell
#   CACHE/initrd-virtio.cpio.gz  /init loads the virtio, ext4 and network modules (from the
#                                same kernel package), then runs the test named by the kernel
#                                parameter orrery_test= (see tests/system/virtio_init.sh)
# Exit status 77 (ctest SKIP) when the packages cannot be downloaded.
# usage: fetch_debian.sh CACHE
set -euo pipefail
cache=${1:?usage: fetch_debian.sh CACHE}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$cache"
cd "$cache"

skip() {
  echo "SKIP: $*" >&2
  exit 77
}

# Modules the virtio tests load, in dependency order (Debian builds these drivers as modules).
# virtio_pci needs its two library modules first (pci-host-generic is built in).
modules=(drivers/virtio/virtio_mmio.ko drivers/virtio/virtio_pci_legacy_dev.ko
  drivers/virtio/virtio_pci_modern_dev.ko drivers/virtio/virtio_pci.ko drivers/block/virtio_blk.ko
  drivers/char/hw_random/virtio-rng.ko lib/crc16.ko fs/mbcache.ko fs/jbd2/jbd2.ko
  crypto/crc32c_generic.ko fs/ext4/ext4.ko net/core/failover.ko drivers/net/net_failover.ko
  drivers/net/virtio_net.ko)

if [ ! -s vmlinuz ] || [ ! -s busybox ] || [ ! -s modules/ext4.ko ] || [ ! -s modules/virtio_pci.ko ]; then
  command -v apt-get >/dev/null || skip "apt-get not available"
  command -v dpkg-deb >/dev/null || skip "dpkg-deb not available"
  dpkg --print-foreign-architectures | grep -qx arm64 ||
    skip "the arm64 architecture is not enabled in dpkg (run scripts/setup.sh)"
  rm -rf dl && mkdir dl && cd dl
  # linux-image-arm64 is a metapackage: download the versioned image it depends on.
  kpkg=$(apt-cache depends linux-image-arm64:arm64 2>/dev/null |
    awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  [ -n "$kpkg" ] || skip "cannot resolve linux-image-arm64:arm64 (apt-get update needed?)"
  apt-get download "$kpkg" busybox-static:arm64 >/dev/null 2>&1 ||
    skip "apt-get download $kpkg busybox-static:arm64 failed (offline?)"
  for deb in *.deb; do dpkg-deb -x "$deb" root; done
  cp root/boot/vmlinuz-* ../vmlinuz.tmp
  cp root/bin/busybox ../busybox.tmp
  rm -rf ../modules.tmp && mkdir ../modules.tmp
  for m in "${modules[@]}"; do cp root/lib/modules/*/kernel/"$m" ../modules.tmp/; done
  cd ..
  rm -rf dl modules
  mv modules.tmp modules
  mv vmlinuz.tmp vmlinuz
  mv busybox.tmp busybox
fi

make_initrd() {  # name, init script or empty, [with modules]
  local name=$1 init=$2 with_modules=${3:-} dir
  [ -s "$name.cpio.gz" ] && [ "$name.cpio.gz" -nt "$0" ] && [ "$name.cpio.gz" -nt "$here/virtio_init.sh" ] && return 0
  dir=$(mktemp -d)
  mkdir -p "$dir"/{bin,sbin,proc,sys,dev,etc,tmp,mnt}
  if [ -n "$with_modules" ]; then
    mkdir -p "$dir/lib/modules"
    cp modules/*.ko "$dir/lib/modules/"
    for m in "${modules[@]}"; do basename "$m" .ko; done >"$dir/lib/modules/order"
  fi
  cp busybox "$dir/bin/busybox"
  chmod 755 "$dir/bin/busybox"
  for app in sh mount cat echo uname grep poweroff ls; do ln -s busybox "$dir/bin/$app"; done
  if [ -n "$init" ]; then
    printf '%s\n' "$init" >"$dir/init"
    chmod 755 "$dir/init"
  fi
  (cd "$dir" && find . | cpio -o -H newc --quiet) | gzip -9 >"$name.cpio.gz.tmp"
  rm -rf "$dir"
  mv "$name.cpio.gz.tmp" "$name.cpio.gz"
}

make_initrd initrd-marker '#!/bin/sh
/bin/busybox --install -s /bin
echo "ORRERY-ARCH: $(uname -m)"
mount -t proc proc /proc
cat /proc/cpuinfo
cat /proc/interrupts
echo "ORRERY-CPUS: $(grep -c ^processor /proc/cpuinfo)"
echo ORRERY-BOOT-OK
poweroff -f'
make_initrd initrd-shell ''
make_initrd initrd-virtio "$(cat "$here/virtio_init.sh")" with-modules
echo "$cache"
