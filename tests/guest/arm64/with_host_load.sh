#!/usr/bin/env bash
# Runs a command while N CPU-burning shell loops load the host, so that a test sees the
# scheduling delays of a busy machine.   with_host_load.sh N COMMAND [ARGS...]
set -u
n=$1
shift
pids=()
for _ in $(seq "$n"); do
    (while :; do :; done) &
    pids+=($!)
done
"$@"
status=$?
kill "${pids[@]}" 2>/dev/null
wait "${pids[@]}" 2>/dev/null
exit $status
