#!/usr/bin/env bash
# Peak RSS and wall time of a guest that resets itself (PSCI SYSTEM_RESET) 100, 1000 and 10000
# times, per tier: what every reset leaves behind shows as growth from row to row.
#
#   bench/reset_rss.sh [--build-dir DIR] [--no-build] [--tiers auto,baseline,...] [--max N]
#
# --max limits the reset counts (e.g. --max 1000 skips 10000; the llvm tier compiles every
# block of every boot, ~0.1 s a reset).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$here/../build
tiers=baseline,auto
max=10000
do_build=1
while [ $# -gt 0 ]; do
    case $1 in
        --build-dir) build=$2; shift 2 ;;
        --no-build) do_build=0; shift ;;
        --tiers) tiers=$2; shift 2 ;;
        --max) max=$2; shift 2 ;;
        *) echo "usage: $0 [--build-dir DIR] [--no-build] [--tiers T,...] [--max N]" >&2; exit 2 ;;
    esac
done
if [ $do_build = 1 ]; then
    nice -n 5 cmake --build "$build" -j2 --target orrery orrery_bench_resets >/dev/null
fi
if [ ! -x /usr/bin/time ]; then
    echo "reset_rss.sh: needs /usr/bin/time (apt-get install time)" >&2
    exit 1
fi
printf '%-9s %7s %9s %12s\n' tier resets seconds "peak RSS KB"
for tier in ${tiers//,/ }; do
    for n in 100 1000 10000; do
        [ "$n" -le "$max" ] || continue
        elf=$build/bench/reset_loop_$n.elf
        out=$(mktemp)
        /usr/bin/time -o "$out" -f '%e %M' "$build/orrery" -M virt -cpu cortex-a57 -m 128 \
            -nographic -accel "tcg,tier=$tier" -kernel "$elf" </dev/null >"$out.stdout"
        if ! grep -q "booted $((n + 1)) times" "$out.stdout"; then
            echo "reset_rss.sh: $tier, $n resets: wrong output" >&2
            cat "$out.stdout" >&2
            exit 1
        fi
        read -r secs rss <"$out"
        printf '%-9s %7s %9s %12s\n' "$tier" "$n" "$secs" "$rss"
        rm -f "$out" "$out.stdout"
    done
done
