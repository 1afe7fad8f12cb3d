#!/usr/bin/env bash
# Debian 12's netboot installer (debian-installer-12-netboot-amd64, its text image: linux and
# initrd.gz) on -M pc by direct Linux boot with console=ttyS0: passes when the installer's
# first screen, the language choice, is drawn on the serial console (newt's escape sequences
# removed), then stops the emulator and prints the time taken. The package is fetched with
# apt-get download into CACHE/amd64-installer (exit 77, skip, when it cannot be).
#   pc_installer.sh EMULATOR CACHE   (EMULATOR: path to orrery, or "qemu")
set -uo pipefail
emu=${1:?usage: pc_installer.sh EMULATOR CACHE}
cache=${2:?}/amd64-installer
skip() {
  echo "SKIP: $*"
  exit 77
}

fetch() {
  mkdir -p "$cache" && cd "$cache" || return 1
  [ -s linux ] && [ -s initrd.gz ] && return 0
  command -v apt-get >/dev/null || skip "apt-get not available"
  command -v dpkg-deb >/dev/null || skip "dpkg-deb not available"
  rm -rf dl && mkdir dl && cd dl || return 1
  apt-get download debian-installer-12-netboot-amd64 >/dev/null 2>&1 ||
    skip "apt-get download debian-installer-12-netboot-amd64 failed (offline?)"
  dpkg-deb -x debian-installer-12-netboot-amd64_*.deb root || return 1
  local images=(root/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64)
  cp "${images[0]}/linux" ../linux.tmp && cp "${images[0]}/initrd.gz" ../initrd.gz.tmp || return 1
  cd .. && rm -rf dl
  mv linux.tmp linux && mv initrd.gz.tmp initrd.gz
}
(fetch)
rc=$?
[ $rc -eq 0 ] || exit $rc

tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; [ -n "${KEEP_LOG:-}" ] && cp "$tmp/log" "$KEEP_LOG"; rm -rf "$tmp"' EXIT
# The same command line for both (QEMU boots through SeaBIOS and its linuxboot ROM).
args=(-M pc -m 1024 -nographic -no-reboot -kernel "$cache/linux" -initrd "$cache/initrd.gz"
  -append "console=ttyS0")
if [ "$emu" = qemu ]; then
  cmd=(qemu-system-x86_64 -nic none "${args[@]}")
else
  cmd=("$emu" "${args[@]}")
fi
start=$(date +%s.%N)
"${cmd[@]}" </dev/null >"$tmp/log" 2>&1 &
pid=$!
screen_text() { sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1b([0B]//g' "$tmp/log"; }
found=
deadline=$(($(date +%s) + ${BOOT_TIMEOUT:-570}))
while [ "$(date +%s)" -lt "$deadline" ]; do
  # The dialog's title (its text wraps at the dialog's width).
  if screen_text | grep -aq "Select a language"; then
    found=1
    break
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.5
done
end=$(date +%s.%N)
if [ -z "$found" ]; then
  echo "FAIL: the installer's language screen did not appear"
  echo "command: ${cmd[*]}"
  echo "---- last 40 lines of output ----"
  screen_text | tail -n 40
  exit 1
fi
echo "PASS: $(basename "$emu") -M pc Debian installer's first screen in $(awk "BEGIN {printf \"%.1f\", $end - $start}") s"
