#!/usr/bin/env bash
# Benchmarks Orrery against QEMU on the bare-metal guest programs: with
# --arch arm64 (the default) bench/arm64 on qemu-system-aarch64 -M virt,
# with --arch x86 bench/x86 on qemu-system-x86_64 -M pc. See bench/README.md.
#
#   bench/run.sh [--arch arm64|x86] [--tiers auto,llvm,interp] [--reps N]
#                [--build-dir DIR] [--no-build] [--timeout S] [PROGRAM...]
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
arch=arm64

usage() {
    sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

while [ $# -gt 0 ]; do
    case $1 in
    --arch) arch=$2; shift 2 ;;
    --arch=*) arch=${1#*=}; shift ;;
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
case $arch in
arm64|x86) ;;
*) echo "--arch must be arm64 or x86" >&2; exit 2 ;;
esac
case $reps in ''|*[!0-9]*|0) echo "--reps needs a positive integer" >&2; exit 2 ;; esac
IFS=, read -r -a tier_list <<<"$tiers"
build=$(mkdir -p "$build" && cd "$build" && pwd)

orrery=${ORRERY_BIN:-$build/orrery}
# Per architecture: the reference, the programs' target and directory
# (relative to the build tree), and the exit status of a good run.
if [ $arch = x86 ]; then
    qemu=${QEMU:-qemu-system-x86_64}
    target=orrery_bench_x86_programs
    sub=bench/x86
    ok_status=1  # isa-debug-exit with code 0 exits with (0 << 1) | 1
else
    qemu=${QEMU:-qemu-system-aarch64}
    target=orrery_bench_programs
    sub=bench
    ok_status=0
fi
elf_dir=$build/$sub

# --- build ------------------------------------------------------------------
if [ $do_build = 1 ]; then
    if [ -f "$build/CMakeCache.txt" ]; then
        if ! cmake --build "$build" --target $target >/dev/null; then
            echo "error: building $target failed" >&2
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
        elf_dir=$build/bench-standalone${sub#bench}
        if ! { cmake -S "$repo/bench" -B "$build/bench-standalone" >/dev/null &&
               cmake --build "$build/bench-standalone" --target $target \
                   >/dev/null; }; then
            echo "error: standalone build of the bench programs failed" >&2
            exit 1
        fi
    fi
elif [ ! -d "$elf_dir" ] && [ -d "$build/bench-standalone" ]; then
    elf_dir=$build/bench-standalone${sub#bench}
fi
if [ -n "$orrery" ] && [ ! -x "$orrery" ]; then
    orrery=
fi
command -v "$qemu" >/dev/null || { echo "error: $qemu not found" >&2; exit 1; }

# --- programs ---------------------------------------------------------------
# x86: bench/x86/programs.txt is the one table of programs and of the
# ones expected to fail on Orrery (xfail column: the reason, or -).
declare -A xfail
if [ $arch = x86 ]; then
    all_programs=()
    while read -r name _ _ reason; do
        case $name in ''|'#'*) continue ;; esac
        all_programs+=("$name")
        [ "$reason" != - ] && xfail[$name]=$reason
    done <"$repo/bench/x86/programs.txt"
else
    # arm64: the ORRERY_BENCH_PROGRAMS list of bench/CMakeLists.txt, which builds them.
    read -r -a all_programs <<<"$(sed -n '/^set(ORRERY_BENCH_PROGRAMS/,/)/p' \
        "$repo/bench/CMakeLists.txt" | tr -d '()' | sed 's/set//; s/ORRERY_BENCH_PROGRAMS//' |
        tr '\n' ' ')"
fi
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

# run_min OUTFILE CMD... : runs CMD $reps times; prints "WALL CPU", the
# minimum wall time and the minimum CPU time (user+sys, /usr/bin/time), or
# FAIL if any run exits with another status than $ok_status or times out.
# Keeps the last stdout. With SPREAD set, also appends the spread of the
# wall times ((max - min) / min, in percent) to the file $SPREAD.
run_min() {
    local out=$1 best= worst= cpu= w c st
    shift
    for ((i = 0; i < reps; i++)); do
        /usr/bin/time -o "$out.time" -f '%e %U %S' \
            timeout "$limit" "$@" </dev/null >"$out" 2>"$out.err"
        st=$?
        if [ $st -ne $ok_status ]; then
            echo FAIL
            return
        fi
        # time(1) writes "Command exited with non-zero status N" first when
        # the status is not 0 (the x86 programs' good status is 1).
        read -r w c <<<"$(awk 'END { printf "%.3f %.3f", $1, $2 + $3 }' "$out.time")"
        if [ -z "$best" ] || awk -v t="$w" -v b="$best" 'BEGIN { exit !(t < b) }'; then
            best=$w
        fi
        if [ -z "$worst" ] || awk -v t="$w" -v b="$worst" 'BEGIN { exit !(t > b) }'; then
            worst=$w
        fi
        if [ -z "$cpu" ] || awk -v t="$c" -v b="$cpu" 'BEGIN { exit !(t < b) }'; then
            cpu=$c
        fi
    done
    if [ -n "${SPREAD:-}" ]; then
        awk -v b="$best" -v w="$worst" \
            'BEGIN { printf "%.0f\n", (b > 0 ? 100 * (w - b) / b : 0) }' >>"$SPREAD"
    fi
    echo "$best $cpu"
}

# --- run ---------------------------------------------------------------------
# Each cell is the minimum wall time, then the minimum CPU time (user+sys,
# the emulator's threads together); each ratio is against QEMU's.
header=$(printf "%-10s %8s %8s" program qemu cpu)
for t in "${tier_list[@]}"; do
    header+=$(printf " %9s %8s %9s %8s" "$t(s)" cpu "$t/qemu" cpu)
done
echo "$header"

# The emulator command lines, up to -kernel.
if [ $arch = x86 ]; then
    pc=(-M pc -m 128 -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=4)
    # -display none -serial stdio rather than -nographic: with -nographic
    # SeaBIOS also writes its banner to COM1. Orrery runs no BIOS.
    qemu_cmd=("$qemu" "${pc[@]}" -display none -serial stdio -nic none)
    orrery_cmd=("$orrery" "${pc[@]}" -nographic)
else
    # -nic none: QEMU's default virt NIC needs a ROM file that may be
    # missing, and Orrery models no NIC, so leaving it out is fairer too.
    qemu_cmd=("$qemu" -M virt -cpu cortex-a57 -m 128 -nographic -nic none)
    orrery_cmd=("$orrery" -M virt -cpu cortex-a57 -m 128 -nographic)
fi

# log_sum[T] and log_cpu[T]: sums of log(ratio) for the geomeans.
declare -A log_sum log_cpu count
failures=0
expected_failures=0
export SPREAD=$work/spread
for p in "${programs[@]}"; do
    elf=$elf_dir/$p.elf
    if [ ! -f "$elf" ]; then
        echo "error: $elf missing" >&2
        exit 1
    fi
    read -r q qc <<<"$(run_min "$work/$p.qemu" "${qemu_cmd[@]}" -kernel "$elf")"
    line=$(printf "%-10s %8s %8s" "$p" "$q" "${qc:--}")
    if [ "$q" = FAIL ]; then
        echo "error: $p failed on QEMU:" >&2
        cat "$work/$p.qemu.err" >&2
        failures=$((failures + 1))
    fi
    for t in "${tier_list[@]}"; do
        if [ -z "$orrery" ]; then
            line+=$(printf " %9s %8s %9s %8s" n/a n/a n/a n/a)
            continue
        fi
        read -r o oc <<<"$(run_min "$work/$p.$t" "${orrery_cmd[@]}" \
            -accel "tcg,tier=$t" -kernel "$elf")"
        if [ -n "${xfail[$p]:-}" ] && [ "$q" != FAIL ]; then
            if [ "$o" = FAIL ] || ! cmp -s "$work/$p.qemu" "$work/$p.$t"; then
                # Expected to fail (bench/x86/programs.txt says why).
                line+=$(printf " %9s %8s %9s %8s" XFAIL - - -)
                expected_failures=$((expected_failures + 1))
                continue
            fi
            echo "note: $p (tier $t) passes but is marked expected to fail" \
                 "in bench/x86/programs.txt (${xfail[$p]})" >&2
        fi
        if [ "$o" != FAIL ] && ! cmp -s "$work/$p.qemu" "$work/$p.$t"; then
            echo "error: $p (tier $t): output differs from QEMU:" >&2
            diff "$work/$p.qemu" "$work/$p.$t" | head -n 10 >&2
            o=WRONG
        fi
        if [ "$o" = FAIL ] || [ "$o" = WRONG ] || [ "$q" = FAIL ]; then
            if [ "$o" = FAIL ]; then
                echo "error: $p (tier $t): bad exit status or timeout" >&2
                tail -n 5 "$work/$p.$t.err" >&2
            fi
            line+=$(printf " %9s %8s %9s %8s" "$o" - - -)
            failures=$((failures + 1))
            continue
        fi
        r=$(awk -v o="$o" -v q="$q" 'BEGIN { printf "%.2f", o / q }')
        rc=$(awk -v o="$oc" -v q="$qc" 'BEGIN { printf "%.2f", (q > 0 ? o / q : 1) }')
        line+=$(printf " %9s %8s %9s %8s" "$o" "$oc" "$r" "$rc")
        log_sum[$t]=$(awk -v s="${log_sum[$t]:-0}" -v r="$r" \
                      'BEGIN { printf "%.9f", s + log(r) }')
        log_cpu[$t]=$(awk -v s="${log_cpu[$t]:-0}" -v r="$rc" \
                      'BEGIN { printf "%.9f", s + log(r) }')
        count[$t]=$(( ${count[$t]:-0} + 1 ))
    done
    echo "$line"
done

line=$(printf "%-10s %8s %8s" geomean "" "")
for t in "${tier_list[@]}"; do
    if [ "${count[$t]:-0}" -gt 0 ]; then
        g=$(awk -v s="${log_sum[$t]}" -v n="${count[$t]}" \
            'BEGIN { printf "%.2f", exp(s / n) }')
        gc=$(awk -v s="${log_cpu[$t]}" -v n="${count[$t]}" \
             'BEGIN { printf "%.2f", exp(s / n) }')
        line+=$(printf " %9s %8s %9s %8s" "" "" "$g" "$gc")
    else
        line+=$(printf " %9s %8s %9s %8s" "" "" n/a n/a)
    fi
done
echo "$line"
echo "(min of $reps runs: wall seconds incl. emulator start-up, and CPU seconds (user+sys);"
echo " ratio < 1 means Orrery is faster or uses less CPU)"
if [ "$reps" -gt 1 ] && [ -s "$SPREAD" ]; then
    sort -n "$SPREAD" | awk '{ v[NR] = $1 } END {
        printf "(spread (max - min) / min over the %s runs of a cell: median %d%%, max %d%%)\n",
               reps, v[int((NR + 1) / 2)], v[NR] }' reps="$reps"
fi
if [ $expected_failures -gt 0 ]; then
    echo "(XFAIL: expected to fail on Orrery, see bench/x86/programs.txt;" \
         "left out of the geomean)"
    for p in "${programs[@]}"; do
        [ -n "${xfail[$p]:-}" ] && echo "  $p: ${xfail[$p]}"
    done
fi
[ $failures -eq 0 ]
