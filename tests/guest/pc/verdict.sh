# Sourced by run_pc_guest.sh and run_pc_boot.sh: the verdict on one run.
#   guest_verdict STATUS WANT EXPECTED OUT LABEL [LOG]
# Fails (exit 1) when STATUS is not WANT (printing $work/err and the last lines of LOG, if
# given) or OUT differs from EXPECTED; with UPDATE_EXPECTED=1 under ORRERY=qemu, copies OUT to
# EXPECTED instead. Uses $emulator and ${cmd[@]} for the messages.
guest_verdict() {
    local status=$1 want=$2 expected=$3 out=$4 label=$5 log=${6:-}
    if [ "$status" -ne "$want" ]; then
        echo "FAIL: exit status $status, expected $want: ${cmd[*]}" >&2
        cat "$work/err" >&2
        [ -n "$log" ] && tr -d '\r' <"$log" | tail -n 30 >&2
        exit 1
    fi
    if [ "${UPDATE_EXPECTED:-0}" = 1 ]; then
        [ "$emulator" = qemu ] || { echo "UPDATE_EXPECTED=1 requires ORRERY=qemu" >&2; exit 2; }
        cp "$out" "$expected"
        echo "updated $expected"
        exit 0
    fi
    if ! cmp -s "$expected" "$out"; then
        diff -u "$expected" "$out" | head -n 60 >&2
        echo "FAIL: output differs from $expected: ${cmd[*]}" >&2
        exit 1
    fi
    echo "PASS: $label ($([ "$emulator" = qemu ] && echo qemu || echo "tier=$tier"))"
}
