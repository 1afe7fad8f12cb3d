#!/usr/bin/env bash
# Fetches Debian 12's arm64 kernel (linux-image-arm64) and busybox-static with apt-get download
# into CACHE (under the build directory; never committed) and builds two initramfs images:
#   CACHE/initrd-marker.cpio.gz  /init prints uname -m, /proc/cpuinfo, /proc/interrupts and a
#                                marker line, then powers off
#   CACHE/initrd-shell.cpio.gz   no /init: boot with rdinit=/bin/sh for an interactive shell
# Exit status 77 (ctest SKIP) when the packages cannot be downloaded.
# usage: fetch_debian.sh CACHE
set -euo pipefail
cache=${1:?usage: fetch_debian.sh CACHE}
mkdir -p "$cache"
cd "$cache"

skip() {
  echo "SKIP: $*" >&2
  exit 77
}

if [ ! -s vmlinuz ] || [ ! -s busybox ]; then
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
  cd ..
  rm -rf dl
  mv vmlinuz.tmp vmlinuz
  mv busybox.tmp busybox
fi

make_initrd() {  # name, init script or empty
  local name=$1 init=$2 dir
  [ -s "$name.cpio.gz" ] && [ "$name.cpio.gz" -nt "$0" ] && return 0
  dir=$(mktemp -d)
  mkdir -p "$dir"/{bin,sbin,proc,sys,dev,etc,tmp}
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
echo "$cache"
