#!/usr/bin/env bash
# The persistent translation cache (-accel tcg,cache=DIR) across boots of a kernel that moves:
# virt's default dtb-randomness gives Debian's arm64 kernel a new KASLR offset at every boot,
# so the second boot finds its code stored under other virtual addresses. It must reach the
# marker on the stored code (found by its bytes, its PC-relative values moved with it), and
# most of its blocks must come from the cache (looked up, or installed ahead where the kernel
# is now).
# usage: cache_kaslr_linux.sh ORRERY CACHE
set -uo pipefail
emu=${1:?}
cache=${2:?}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/boot_lib.sh"
"$here/fetch_debian.sh" "$cache" >/dev/null
rc=$?
[ $rc -eq 0 ] || exit $rc

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for run in 1 2; do
  log=$work/serial$run
  boot_cmd qemu-system-aarch64 -M virt -cpu cortex-a57 -smp 2 -m 512 -nographic -no-reboot \
    -accel "tcg,cache=$work/tcache" -d tier -D "$work/tier$run" \
    -kernel "$cache/vmlinuz" -initrd "$cache/initrd-marker.cpio.gz" \
    -append "console=ttyAMA0 panic=-1 quiet loglevel=4"
  boot_run
  [ $status -eq 124 ] && fail "boot $run timed out"
  grep -q '^ORRERY-BOOT-OK' "$log" || fail "boot $run: no marker line (exit status $status)"
  [ $status -eq 0 ] || fail "boot $run: exit status $status after the marker"
done
# "tcg cache: baseline: ... N hits (M at another PC), K misses ... I installed ahead, R ran; ..."
line=$(grep '^tcg cache: baseline:' "$work/tier2")
nums=$(sed -n 's/.*, \([0-9]*\) hits (\([0-9]*\) at another PC), \([0-9]*\) misses.*, \([0-9]*\) installed ahead, [0-9]* ran;.*/\1 \2 \3 \4/p' \
  <<<"$line")
read -r hit moved miss ahead <<<"$nums"
log=$work/tier2
[ -n "$ahead" ] || fail "no cache statistics in the second boot's -d tier log"
# A boot translates ~66k blocks. The second finds the first blocks of the moved kernel by their
# bytes (at another PC) and installs the rest of it ahead, moved as far.
[ "$moved" -ge 1 ] || fail "no block found at another PC ($hit hits, $miss misses)"
used=$((hit + ahead))
[ "$used" -ge 40000 ] || fail "only $used stored blocks used ($hit hits, $ahead installed ahead)"
[ "$miss" -le $((used / 10)) ] || fail "$miss misses against $used stored blocks used"
echo "PASS: second boot: $used stored blocks ($ahead installed ahead, $moved found at another" \
  "PC), $miss translated"
