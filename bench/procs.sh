#!/usr/bin/env bash
# A process-heavy guest: Debian 12's kernel with a busybox initramfs whose init runs N
# iterations (default 300) of `expr` and `sh -c 'echo x | md5sum'` (three short processes each),
# then powers off. arm64 on virt (qemu-system-aarch64), or with ARCH=x86 amd64 on the pc board
# (qemu-system-x86_64 boots it through SeaBIOS and its linuxboot ROM, Orrery directly, as in
# bench/boot.sh's pc mode). Runs it on QEMU and on Orrery for each tier and prints wall and CPU
# seconds (user+sys, /usr/bin/time) for each, so the compile thread's share is visible. Reports,
# never asserts.
# usage: bench/procs.sh [BUILD_DIR] [ITERATIONS] [TIERS] [REPS] [-- EXTRA ORRERY ARGS]
#   TIERS is a comma list of Orrery -accel tcg,tier= values, plus "qemu" (default
#   qemu,auto,baseline). REPS runs of each (default 1), run round-robin (one of each tier, then
#   the next round) so a change in the host's load hits every tier alike; every run is printed,
#   then the minimum and the median of each.
# Environment: ARCH (arm64, the default, or x86), QEMU (default qemu-system-aarch64 or
# qemu-system-x86_64), ORRERY_BIN (default BUILD_DIR/orrery), SMP (default 1), KASLR (arm64:
# 1 keeps both emulators' default, a randomised kernel, which on a Cortex-A57 also means KPTI:
# two ASID switches per system call).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
iters=${2:-300}
tiers=${3:-qemu,auto,baseline}
reps=${4:-1}
shift $(($# < 4 ? $# : 4))
[[ ${1:-} == -- ]] && shift
extra=("$@")
smp=${SMP:-1}
arch=${ARCH:-arm64}
cache=$build/system-cache
case $arch in
  arm64) qemu=${QEMU:-qemu-system-aarch64} ;;
  x86) qemu=${QEMU:-qemu-system-x86_64} ;;
  *)
    echo "procs.sh: ARCH must be arm64 or x86" >&2
    exit 1
    ;;
esac
orrery=${ORRERY_BIN:-$build/orrery}
case $iters in '' | *[!0-9]*)
  echo "procs.sh: ITERATIONS must be a number" >&2
  exit 1
  ;;
esac
[[ -x /usr/bin/time ]] || {
  echo "procs.sh: needs /usr/bin/time (apt-get install time)" >&2
  exit 1
}

if [[ $arch == x86 ]]; then
  "$root/tests/system/pc_linux.sh" none "$cache" fetch >/dev/null
  files=$cache/amd64
else
  "$root/tests/system/fetch_debian.sh" "$cache" >/dev/null
  files=$cache
fi
initrd=$files/initrd-procs-$iters.cpio.gz
if [[ ! -s $initrd || $initrd -ot $0 ]]; then
  dir=$(mktemp -d)
  mkdir -p "$dir"/{bin,proc,sys,dev,tmp}
  cp "$files/busybox" "$dir/bin/busybox"
  chmod 755 "$dir/bin/busybox"
  ln -s busybox "$dir/bin/sh"
  cat >"$dir/init" <<EOF
#!/bin/sh
/bin/busybox --install -s /bin
i=0
while [ \$i -lt $iters ]; do
  i=\$(expr \$i + 1)
  sh -c 'echo x | md5sum' >/dev/null
done
echo "ORRERY-PROCS-OK \$i"
poweroff -f
EOF
  chmod 755 "$dir/init"
  (cd "$dir" && find . | cpio -o -H newc --quiet) | gzip -9 >"$initrd.tmp"
  rm -rf "$dir"
  mv "$initrd.tmp" "$initrd"
fi

if [[ $arch == x86 ]]; then
  args=(-M pc -smp "$smp" -m 512 -nographic -no-reboot -kernel "$files/vmlinuz"
    -initrd "$initrd" -append "console=ttyS0 panic=-1 quiet loglevel=4")
else
  # No rng-seed or kaslr-seed on either unless KASLR=1 (bench/boot.sh says why).
  virt=virt
  [[ ${KASLR:-0} == 1 ]] || virt+=",dtb-randomness=off"
  args=(-M "$virt" -cpu cortex-a57 -smp "$smp" -m 512 -nographic -no-reboot
    -kernel "$files/vmlinuz" -initrd "$initrd" -append "console=ttyAMA0 panic=-1 quiet loglevel=4")
fi

# Prints "wall user+sys" for one run; fails when the guest did not finish.
run_one() {
  local out times
  out=$(mktemp)
  times=$(mktemp)
  if ! timeout 900 /usr/bin/time -o "$times" -f '%e %U %S' "$@" </dev/null >"$out" 2>&1 ||
    ! grep -q "ORRERY-PROCS-OK $iters" "$out"; then
    echo "procs.sh: run failed: $*" >&2
    tail -5 "$out" >&2
    rm -f "$out" "$times"
    return 1
  fi
  awk '{printf "%.2f %.2f\n", $1, $2 + $3}' "$times"
  rm -f "$out" "$times"
}

IFS=, read -r -a tier_list <<<"$tiers"
declare -A walls cpus
for ((i = 0; i < reps; i++)); do
  for t in "${tier_list[@]}"; do
    if [[ $t == qemu ]]; then
      r=$(run_one "$qemu" -nic none "${args[@]}")
    else
      r=$(run_one "$orrery" -accel "tcg,tier=$t" "${args[@]}" "${extra[@]}")
    fi
    read -r w c <<<"$r"
    ((reps > 1)) && printf '  %-8s %8s %8s\n' "$t" "$w" "$c"
    walls[$t]+="$w "
    cpus[$t]+="$c "
  done
done

# "MIN MEDIAN" of a list of numbers (the median of an even count is the mean of the middle two).
min_median() {
  tr ' ' '\n' <<<"$1" | grep . | sort -g |
    awk '{v[NR] = $1} END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%.2f %.2f\n", v[1], m}'
}
printf '%-10s %8s %8s %8s %8s   (%s, %s iterations, -smp %s, %s runs)\n' run wall-min wall-med \
  cpu-min cpu-med "$arch" "$iters" "$smp" "$reps"
for t in "${tier_list[@]}"; do
  read -r wmin wmed <<<"$(min_median "${walls[$t]}")"
  read -r cmin cmed <<<"$(min_median "${cpus[$t]}")"
  printf '%-10s %8s %8s %8s %8s\n' "$t" "$wmin" "$wmed" "$cmin" "$cmed"
done
