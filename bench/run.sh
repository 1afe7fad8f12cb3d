#!/usr/bin/env bash
# Benchmarks Orrery against qemu-system-aarch64 on the guest programs in
# bench/arm64. See bench/README.md.
#
#   bench/run.sh [--tiers auto,llvm,interp] [--reps N] [--build-dir DIR]
#                [--no-build] [--timeout S] [PROGRAM...]
#
# PROGRAM names select benchmarks (substring match); default is all.
set -u

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$repo/build
tiers=auto,llvm,interp
reps=3
do_build=1
limit=600
filters=()

usage() {
    sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

while [ $# -gt 0 ]; do
    case $1 in
    --tiers) tiers=$2; shift 2 ;;
    --tiers=*) tiers=${1#*=}; shift ;;
    --reps) reps=$2; shift 2 ;;
    --reps=*) reps=${1#*=}; shift ;;
    --build-dir) build=$2; shift 2 ;;
    --build-dir=*) build=${1#*=}; shift ;;
    --timeout) limit=$2; shift 2 ;;
    --timeout=*) limit=${1#*=}; shift ;;
    --no-build) do_build=0; shift ;;
    -h|--help) usage 0 ;;
    -*) echo "unknown option $1" >&2; usage 2 ;;
    *) filters+=("$1"); shift ;;
    esac
done
case $reps in ''|*[!0-9]*|0) echo "--reps needs a positive integer" >&2; exit 2 ;; esac
IFS=, read -r -a tier_list <<<"$tiers"
build=$(mkdir -p "$build" && cd "$build" && pwd)

qemu=${QEMU:-qemu-system-aarch64}
orrery=${ORRERY_BIN:-$build/orrery}
elf_dir=$build/bench

# --- build ------------------------------------------------------------------
if [ $do_build = 1 ]; then
    if [ -f "$build/CMakeCache.txt" ]; then
        if ! cmake --build "$build" --target orrery_bench_programs >/dev/null; then
            echo "error: building orrery_bench_programs failed" >&2
            exit 1
        fi
        # Never time a stale emulator: if it does not build, leave it out.
        if ! cmake --build "$build" --target orrery >"$build/bench-orrery-build.log" 2>&1; then
            echo "warning: could not build target orrery (see" \
                 "$build/bench-orrery-build.log); Orrery columns will be n/a" >&2
            orrery=
        fi
    else
        # No configured tree: build just the guest programs standalone.
        elf_dir=$build/bench-standalone
        if ! { cmake -S "$repo/bench" -B "$elf_dir" >/dev/null &&
               cmake --build "$elf_dir" >/dev/null; }; then
            echo "error: standalone build of the bench programs failed" >&2
            exit 1
        fi
    fi
elif [ ! -d "$elf_dir" ] && [ -d "$build/bench-standalone" ]; then
    elf_dir=$build/bench-standalone
fi
if [ -n "$orrery" ] && [ ! -x "$orrery" ]; then
    orrery=
fi
command -v "$qemu" >/dev/null || { echo "error: $qemu not found" >&2; exit 1; }

# --- programs ---------------------------------------------------------------
all_programs=(sha256 quicksort bytecode matrix dfa memops sha_sort)
programs=()
for p in "${all_programs[@]}"; do
    if [ ${#filters[@]} -eq 0 ]; then
        programs+=("$p")
        continue
    fi
    for f in "${filters[@]}"; do
        if [[ $p == *"$f"* ]]; then
            programs+=("$p")
            break
        fi
    done
done
if [ ${#programs[@]} -eq 0 ]; then
    echo "no benchmark matches: ${filters[*]}" >&2
    exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# run_min OUTFILE CMD... : runs CMD $reps times; prints the minimum wall
# time, or FAIL if any run exits nonzero / times out. Keeps the last stdout.
run_min() {
    local out=$1 best= t0 t1 t
    shift
    for ((i = 0; i < reps; i++)); do
        t0=$(date +%s.%N)
        if ! timeout "$limit" "$@" </dev/null >"$out" 2>"$out.err"; then
            echo FAIL
            return
        fi
        t1=$(date +%s.%N)
        t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
        if [ -z "$best" ] || awk -v t="$t" -v b="$best" 'BEGIN { exit !(t < b) }'; then
            best=$t
        fi
    done
    echo "$best"
}

# --- run --------------------------------------------------------------------
header=$(printf "%-10s %8s" program qemu)
for t in "${tier_list[@]}"; do
    header+=$(printf " %9s %11s" "$t(s)" "$t/qemu")
done
echo "$header"

declare -A log_sum count
failures=0
for p in "${programs[@]}"; do
    elf=$elf_dir/$p.elf
    if [ ! -f "$elf" ]; then
        echo "error: $elf missing" >&2
        exit 1
    fi
    # -nic none: QEMU's default virt NIC needs a ROM file that may be
    # missing, and Orrery models no NIC, so leaving it out is fairer too.
    q=$(run_min "$work/$p.qemu" "$qemu" -M virt -cpu cortex-a57 -m 128 \
        -nographic -nic none -kernel "$elf")
    line=$(printf "%-10s %8s" "$p" "$q")
    if [ "$q" = FAIL ]; then
        echo "error: $p failed on QEMU:" >&2
        cat "$work/$p.qemu.err" >&2
        failures=$((failures + 1))
    fi
    for t in "${tier_list[@]}"; do
        if [ -z "$orrery" ]; then
            line+=$(printf " %9s %11s" n/a n/a)
            continue
        fi
        o=$(run_min "$work/$p.$t" "$orrery" -M virt -cpu cortex-a57 -m 128 \
            -nographic -accel "tcg,tier=$t" -kernel "$elf")
        if [ "$o" != FAIL ] && ! cmp -s "$work/$p.qemu" "$work/$p.$t"; then
            echo "error: $p (tier $t): output differs from QEMU:" >&2
            diff "$work/$p.qemu" "$work/$p.$t" | head -n 10 >&2
            o=WRONG
        fi
        if [ "$o" = FAIL ] || [ "$o" = WRONG ] || [ "$q" = FAIL ]; then
            if [ "$o" = FAIL ]; then
                echo "error: $p (tier $t): nonzero exit status or timeout" >&2
                tail -n 5 "$work/$p.$t.err" >&2
            fi
            line+=$(printf " %9s %11s" "$o" -)
            failures=$((failures + 1))
            continue
        fi
        r=$(awk -v o="$o" -v q="$q" 'BEGIN { printf "%.2f", o / q }')
        line+=$(printf " %9s %11s" "$o" "$r")
        log_sum[$t]=$(awk -v s="${log_sum[$t]:-0}" -v r="$r" \
                      'BEGIN { printf "%.9f", s + log(r) }')
        count[$t]=$(( ${count[$t]:-0} + 1 ))
    done
    echo "$line"
done

line=$(printf "%-10s %8s" geomean "")
for t in "${tier_list[@]}"; do
    if [ "${count[$t]:-0}" -gt 0 ]; then
        g=$(awk -v s="${log_sum[$t]}" -v n="${count[$t]}" \
            'BEGIN { printf "%.2f", exp(s / n) }')
        line+=$(printf " %9s %11s" "" "$g")
    else
        line+=$(printf " %9s %11s" "" n/a)
    fi
done
echo "$line"
echo "(min of $reps runs, wall seconds incl. emulator start-up; ratio < 1 means Orrery is faster)"
[ $failures -eq 0 ]
