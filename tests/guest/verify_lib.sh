# Shared by verify_inject.sh and pc/verify_kvm_inject.sh (sourced; needs bash): a work folder
# removed on exit, fail with the head of Orrery's stderr, and one -M pc run that must end in the
# verify mode's divergence status.

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
    echo "FAIL: $1" >&2
    echo "--- stderr ---" >&2
    head -n 60 "$work/stderr" >&2
    exit 1
}

# verify_diverges ORRERY ARGS...: ORRERY -M pc with isa-debug-exit and ARGS (60 s at most),
# output in $work/stdout and $work/stderr; fails unless it exits with status 3 (divergence).
verify_diverges() {
    local orrery=$1 status
    shift
    timeout 60 "$orrery" -M pc -m 128 -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=4 \
        -nographic "$@" </dev/null >"$work/stdout" 2>"$work/stderr"
    status=$?
    [ $status -eq 3 ] || fail "exit status $status, expected 3 (divergence)"
}
