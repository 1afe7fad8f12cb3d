#!/usr/bin/env bash
# Times a Debian 12 kernel + busybox initramfs boot to the marker line on Orrery and on QEMU
# (same kernel, initrd and options) and prints the ratio: arm64 on virt with GIC 2 or 3 and
# qemu-system-aarch64, or amd64 on the pc board (GIC "pc": direct Linux boot on Orrery, SeaBIOS
# and its linuxboot ROM on qemu-system-x86_64).
# usage: bench/boot.sh [BUILD_DIR] [SMP] [GIC|pc] [REPS] [CACHE]   (default build, 2, 2, 3, off)
# CACHE is Orrery's persistent translation cache (-accel tcg,cache=DIR): off (none), cold (a new
# empty directory for every run: the cost of storing), warm (one run fills a directory first,
# every timed run starts from it; entries a run adds are removed again: a second boot) or warm3
# (likewise after two filling runs: a third boot, whose cache the profile has filled further).
# Each run alternates QEMU and Orrery; the minimum of REPS runs is reported for each (the
# least disturbed by other load on the host), as wall time to the marker and as the CPU time
# (user+sys) of the whole run, shutdown included; then the medians, which show how far other
# load on the host moved the runs.
# arm64 boots with -M virt,dtb-randomness=off on both: no rng-seed or kaslr-seed, so neither
# kernel moves to a random address (KASLR also forces KPTI on a Cortex-A57: more work per
# system call) and the persistent cache can serve the kernel (it keys code by virtual PC).
# KASLR=1 keeps both emulators' default, a randomised kernel.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
smp=${2:-2}
gic=${3:-2}
reps=${4:-3}
cache_mode=${5:-off}
case $cache_mode in off | cold | warm | warm3) ;; *) echo "CACHE must be off, cold, warm or warm3" >&2; exit 2 ;; esac
cache=$build/system-cache
if [[ $gic == pc ]]; then
  "$root/tests/system/pc_linux.sh" none "$cache" fetch >/dev/null
  qemu=qemu-system-x86_64
  args=(-M pc -smp "$smp" -m 512 -nographic -no-reboot
    -kernel "$cache/amd64/vmlinuz" -initrd "$cache/amd64/initrd-marker.cpio.gz"
    -append "console=ttyS0 panic=-1 quiet loglevel=4")
else
  "$root/tests/system/fetch_debian.sh" "$cache" >/dev/null
  qemu=qemu-system-aarch64
  virt="virt,gic-version=$gic"
  [[ ${KASLR:-0} == 1 ]] || virt+=",dtb-randomness=off"
  args=(-M "$virt" -cpu cortex-a57 -smp "$smp" -m 512 -nographic -no-reboot
    -kernel "$cache/vmlinuz" -initrd "$cache/initrd-marker.cpio.gz"
    -append "console=ttyAMA0 panic=-1 quiet loglevel=4")
fi

# "WALL CPU": seconds from start until the marker appears on the serial output, and the CPU
# seconds (user+sys) of the whole run.
time_to_marker() {
  local start end line t="" tf
  tf=$(mktemp)
  start=$(date +%s.%N)
  while IFS= read -r line; do
    if [[ -z $t && $line == ORRERY-BOOT-OK* ]]; then
      end=$(date +%s.%N)
      t=$(echo "$end - $start" | bc)
    fi
  done < <(timeout 300 /usr/bin/time -o "$tf" -f "%U %S" "$@" </dev/null 2>&1)
  local cpu
  cpu=$(tail -n 1 "$tf" | awk '{print $1 + $2}')
  rm -f "$tf"
  if [[ -z $t ]]; then
    echo "no marker" >&2
    return 1
  fi
  echo "$t $cpu"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
orrery_args=("${args[@]}")
if [[ $cache_mode == warm* ]]; then
  time_to_marker "$build/orrery" -accel "tcg,cache=$work/warm" "${args[@]}" >/dev/null
  [[ $cache_mode == warm3 ]] &&
    time_to_marker "$build/orrery" -accel "tcg,cache=$work/warm" "${args[@]}" >/dev/null
  cp -a "$work/warm" "$work/warm.orig"
fi

min() { if [[ -z $1 ]] || (($(echo "$2 < $1" | bc))); then echo "$2"; else echo "$1"; fi; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
q="" o="" qc="" oc=""
qs=() os=() qcs=() ocs=()
for ((i = 0; i < reps; i++)); do
  read -r t c < <(time_to_marker "$qemu" -nic none "${args[@]}")
  q=$(min "$q" "$t") qc=$(min "$qc" "$c")
  qs+=("$t") qcs+=("$c")
  case $cache_mode in
    cold)
      rm -rf "$work/cold"
      orrery_args=(-accel "tcg,cache=$work/cold" "${args[@]}")
      ;;
    warm | warm3)
      rm -rf "$work/warm" && cp -a "$work/warm.orig" "$work/warm"
      orrery_args=(-accel "tcg,cache=$work/warm" "${args[@]}")
      ;;
  esac
  read -r t c < <(time_to_marker "$build/orrery" "${orrery_args[@]}")
  o=$(min "$o" "$t") oc=$(min "$oc" "$c")
  os+=("$t") ocs+=("$c")
done
printf 'boot to marker (-smp %s, %s, min of %s, tcg cache %s): qemu %.2f s (CPU %.2f s), orrery %.2f s (CPU %.2f s), orrery/qemu %.2fx wall, %.2fx CPU\n' \
  "$smp" "$([[ $gic == pc ]] && echo "-M pc" || echo "gic-version=$gic")" "$reps" "$cache_mode" \
  "$q" "$qc" "$o" "$oc" "$(echo "$o / $q" | bc -l)" "$(echo "$oc / $qc" | bc -l)"
qm=$(median "${qs[@]}") om=$(median "${os[@]}") qcm=$(median "${qcs[@]}") ocm=$(median "${ocs[@]}")
printf '  medians of %s: qemu %.2f s (CPU %.2f s), orrery %.2f s (CPU %.2f s), orrery/qemu %.2fx wall, %.2fx CPU\n' \
  "$reps" "$qm" "$qcm" "$om" "$ocm" "$(echo "$om / $qm" | bc -l)" "$(echo "$ocm / $qcm" | bc -l)"
