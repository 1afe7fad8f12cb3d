#!/usr/bin/env bash
# Installs Orrery's build and test dependencies from Debian 12 packages.
# Idempotent: when everything is present it only runs dpkg-query and exits.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  llvm-19-dev libzstd-dev liblzma-dev libcapstone-dev zlib1g-dev libfdt-dev
  libgtest-dev libgmock-dev libsdl2-dev libslirp-dev
  libunicorn-dev gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu
  qemu-system-arm qemu-utils gdb-multiarch
  cpio busybox-static device-tree-compiler python3
  # The benchmarks' CPU seconds (/usr/bin/time).
  time
  clang-19 libfuzzer-19-dev
  # gcc-12-multilib, not gcc-multilib: the metapackage conflicts with the arm64 cross gcc.
  libzydis-dev nasm gcc-12-multilib qemu-system-x86
  # The PC board: its firmware (SeaBIOS) and the DSDT compiler (iasl).
  seabios acpica-tools
  # Test-time disk images: ext4 (mke2fs -d, debugfs) and a syslinux-booted FAT disk.
  e2fsprogs syslinux syslinux-common mtools dosfstools
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
updated=0

# The Linux boot tests (tests/system) fetch Debian's arm64 kernel and busybox with
# apt-get download, which needs the arm64 architecture and its package lists.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "setup: enabling the arm64 architecture for apt-get download"
  "${sudo_cmd[@]}" dpkg --add-architecture arm64
  "${sudo_cmd[@]}" apt-get update -qq
  updated=1
fi

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  ((updated)) || "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
