#!/usr/bin/env bash
# Runs one libFuzzer target on its checked-in seeds for a while (ctest, label fuzz).
#
#   run_fuzz.sh FUZZER SEED_DIR WORK_DIR [libFuzzer options...]
#
# New inputs go to WORK_DIR/corpus (the seeds in the source tree are only read) and a crash
# leaves WORK_DIR/crash-*; libFuzzer then exits non-zero, which fails the test.
set -eu
fuzzer=$1 seeds=$2 work=$3
shift 3
mkdir -p "$work/corpus"
exec "$fuzzer" -artifact_prefix="$work/" -print_final_stats=1 "$@" "$work/corpus" "$seeds"
