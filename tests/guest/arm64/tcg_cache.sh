#!/usr/bin/env bash
# Runs one AArch64 guest program twice with one persistent translation cache directory
# (-accel tcg,cache=DIR): both runs must print the expected output, the first stores the code it
# compiles, and the second links it from the cache, compiling (almost) nothing.
#
#   tcg_cache.sh ORRERY PROGRAM.elf PROGRAM.expected TIER
set -u
orrery=$1 elf=$2 expected=$3 tier=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run() {  # run N: output in $work/outN, -d tier log in $work/logN
  timeout 60 "$orrery" -M virt -cpu cortex-a57 -m 128 -nographic \
    -accel "tcg,tier=$tier,cache=$work/cache" -d tier -D "$work/log$1" -kernel "$elf" \
    </dev/null >"$work/out$1" 2>"$work/err$1"
  local status=$?
  if [ $status -ne 0 ]; then
    echo "FAIL: run $1 exited with $status" >&2
    tail -n 20 "$work/err$1" >&2
    exit 1
  fi
  if ! cmp -s "$expected" "$work/out$1"; then
    echo "FAIL: run $1 output differs from $expected" >&2
    diff -u "$expected" "$work/out$1" | head -n 40 >&2
    exit 1
  fi
}

# "tcg cache: H linked from cache (...), S stored, C objects compiled, ..." (the last one).
field() {  # field N WHAT: the number before WHAT in run N's summary
  grep 'tcg cache:' "$work/log$1" | tail -n 1 | grep -oE "[0-9]+ $2" | grep -oE '^[0-9]+'
}

run 1
run 2
h1=$(field 1 linked) s1=$(field 1 stored) c1=$(field 1 objects)
h2=$(field 2 linked) s2=$(field 2 stored) c2=$(field 2 objects)
echo "run 1: $h1 linked from cache, $s1 stored, $c1 compiled; run 2: $h2 linked, $s2 stored, $c2 compiled"
if [ -z "$h1" ] || [ -z "$h2" ]; then
  echo "FAIL: no tcg cache summary in the -d tier log" >&2
  exit 1
fi
if [ "$s1" -lt 1 ] || [ "$h2" -lt 1 ]; then
  echo "FAIL: the first run stored nothing or the second linked nothing" >&2
  exit 1
fi
# Almost nothing compiled again: at most 5% of what the first run compiled.
if [ $((c2 * 20)) -gt "$c1" ]; then
  echo "FAIL: the second run compiled $c2 objects (the first $c1)" >&2
  exit 1
fi
echo "PASS: $(basename "$elf") twice with one cache (tier=$tier)"
