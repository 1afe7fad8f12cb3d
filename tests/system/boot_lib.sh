# Shared steps of the Linux boot tests, sourced by them (needs bash): skip, the Debian amd64
# kernel fetch, initramfs packing, one timed boot on Orrery or QEMU, and fail with the log's tail.
# The sourcing script sets emu (a path to orrery, or "qemu").

skip() {
  echo "SKIP: $*" >&2
  exit 77
}

# The amd64 kernel modules fetch_amd64 keeps beside the kernel (in CACHE/amd64/modules), in
# load order (dependencies first); Debian builds them as modules. pc_bar64.sh loads them.
amd64_modules=(drivers/virtio/virtio_ring.ko drivers/virtio/virtio.ko
  drivers/virtio/virtio_pci_legacy_dev.ko drivers/virtio/virtio_pci_modern_dev.ko
  drivers/virtio/virtio_pci.ko drivers/char/hw_random/virtio-rng.ko)

# In the current folder (CACHE/amd64): vmlinuz, busybox and modules/ from Debian 12's amd64
# kernel and busybox-static, with apt-get download (skip when they cannot be fetched). The
# kernel and its modules come from one download, so they always match; the initramfs images
# built from an older busybox are removed so that their scripts build them again.
fetch_amd64() {
  [ -s vmlinuz ] && [ -s busybox ] && [ -s modules/virtio-rng.ko ] && return 0
  command -v apt-get >/dev/null || skip "apt-get not available"
  command -v dpkg-deb >/dev/null || skip "dpkg-deb not available"
  rm -rf dl && mkdir dl && cd dl || return 1
  # linux-image-amd64 is a metapackage: download the versioned image it depends on.
  local kpkg deb m
  kpkg=$(apt-cache depends linux-image-amd64:amd64 2>/dev/null |
    awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  [ -n "$kpkg" ] || skip "cannot resolve linux-image-amd64:amd64 (apt-get update needed?)"
  apt-get download "$kpkg:amd64" busybox-static:amd64 >/dev/null 2>&1 ||
    skip "apt-get download $kpkg busybox-static:amd64 failed (offline?)"
  for deb in *.deb; do dpkg-deb -x "$deb" root || return 1; done
  rm -rf ../modules.tmp && mkdir ../modules.tmp || return 1
  for m in "${amd64_modules[@]}"; do
    cp root/lib/modules/*/kernel/"$m" ../modules.tmp/ || return 1
  done
  cp root/boot/vmlinuz-* ../vmlinuz.tmp && cp root/bin/busybox ../busybox.tmp || return 1
  cd .. && rm -rf dl modules
  mv modules.tmp modules && mv vmlinuz.tmp vmlinuz && mv busybox.tmp busybox
  rm -f initrd-*.cpio.gz
}

# pack_initrd DIR OUT: DIR's tree as a gzip'd newc cpio at OUT (written whole or not at all),
# then removes DIR.
pack_initrd() {
  (cd "$1" && find . | cpio -o -H newc --quiet) | gzip -9 >"$2.tmp" || return 1
  rm -rf "$1"
  mv "$2.tmp" "$2"
}

# boot_cmd QEMU_BINARY ARGS...: sets cmd to ARGS on $emu, or on QEMU_BINARY (without the NIC
# QEMU adds by default) when emu is "qemu".
boot_cmd() {
  local qemu=$1
  shift
  if [ "$emu" = qemu ]; then
    cmd=("$qemu" -nic none "$@")
  else
    cmd=("$emu" "$@")
  fi
}

# boot_run: runs cmd under BOOT_TIMEOUT (280 s) with its output in log (a temporary file unless
# the caller set log); sets status and seconds (the wall time, one decimal).
boot_run() {
  if [ -z "${log:-}" ]; then
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
  fi
  local start end
  start=$(date +%s.%N)
  timeout "${BOOT_TIMEOUT:-280}" "${cmd[@]}" </dev/null >"$log" 2>&1
  status=$?
  end=$(date +%s.%N)
  seconds=$(awk "BEGIN {printf \"%.1f\", $end - $start}")
}

# fail MESSAGE: the failure, the command and the last fail_lines (60) lines of log; exit 1.
fail() {
  echo "FAIL: $*"
  echo "command: ${cmd[*]}"
  echo "---- last ${fail_lines:-60} lines of output ----"
  tail -n "${fail_lines:-60}" "$log"
  exit 1
}
