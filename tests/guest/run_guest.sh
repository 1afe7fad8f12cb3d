#!/usr/bin/env bash
# Runs one bare-metal guest program and checks its UART output.
#
#   run_guest.sh EMULATOR PROGRAM.elf PROGRAM.expected [TIER]
#
# EMULATOR is the orrery binary; TIER (default auto) selects its execution
# tier via -accel tcg,tier=TIER (x86: TIER verify,... gives -accel verify,...). Passes when the emulator exits 0 within
# the time limit and stdout is byte-identical to the expected file.
#
# Environment:
#   ORRERY=qemu       run qemu-system-aarch64 instead of EMULATOR (used to
#                     validate the expected files against the reference);
#   ORRERY=/path      use that orrery binary instead of EMULATOR;
#   QEMU=/path        qemu binary for ORRERY=qemu (default qemu-system-aarch64);
#   GUEST_TIMEOUT=s   wall-clock limit in seconds (default 30);
#   GUEST_CPU=model   -cpu for AArch64 programs (default cortex-a57);
#   GUEST_MACHINE=m   -M for AArch64 programs (default virt; e.g. virt,mte=on);
#   UPDATE_EXPECTED=1 write the output to the expected file instead of
#                     comparing (requires ORRERY=qemu).
#
# x86 programs (ELF32 i386, tests/guest/x86) run on -M pc instead; their
# per-program flags come from programs.txt next to the expected file, and
# they pass when the exit status is 1 (isa-debug-exit with code 0 exits
# with (0 << 1) | 1). QEMU then defaults to qemu-system-x86_64.
set -u

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
    echo "usage: $0 EMULATOR PROGRAM.elf PROGRAM.expected [TIER]" >&2
    exit 2
fi

emulator=${ORRERY:-$1}
elf=$2
expected=$3
tier=${4:-auto}
# TIER "verify,..." runs x86 programs under -accel verify,... instead (lockstep checking).
accel="tcg,tier=$tier"
case $tier in verify*) accel=$tier ;; esac
limit=${GUEST_TIMEOUT:-30}

if [ ! -f "$elf" ]; then
    echo "FAIL: guest program $elf not found" >&2
    exit 1
fi

# e_machine 3 (EM_386): an x86 program for -M pc.
machine=$(od -An -tu2 -j18 -N2 "$elf" | tr -d ' ')
want_status=0
if [ "$machine" = 3 ]; then
    table=$(dirname "$expected")/programs.txt
    name=$(basename "$elf" .elf)
    if ! line=$(grep -E "^$name[[:space:]]" "$table"); then
        echo "FAIL: $name is not in $table" >&2
        exit 1
    fi
    read -r -a fields <<<"$line"
    flags=("${fields[@]:4}")
    pc=(-M pc -m 128 -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=4)
    want_status=1
    if [ "$emulator" = qemu ]; then
        # -display none -serial stdio rather than -nographic: with
        # -nographic SeaBIOS also writes its banner to COM1.
        cmd=("${QEMU:-qemu-system-x86_64}" "${pc[@]}" -display none
             -serial stdio -nic none "${flags[@]}" -kernel "$elf")
    else
        cmd=("$emulator" "${pc[@]}" -nographic -accel "$accel"
             "${flags[@]}" -kernel "$elf")
    fi
elif [ "$emulator" = qemu ]; then
    # -nic none: QEMU's default virt NIC wants a ROM file that is not
    # always installed, and Orrery models no NIC anyway.
    cmd=("${QEMU:-qemu-system-aarch64}" -M "${GUEST_MACHINE:-virt}" -cpu "${GUEST_CPU:-cortex-a57}" -m 128
         -nographic -nic none -kernel "$elf")
else
    cmd=("$emulator" -M "${GUEST_MACHINE:-virt}" -cpu "${GUEST_CPU:-cortex-a57}" -m 128 -nographic
         -accel "tcg,tier=$tier" -kernel "$elf")
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
actual=$work/stdout
errors=$work/stderr

timeout "$limit" "${cmd[@]}" </dev/null >"$actual" 2>"$errors"
status=$?

if [ "${UPDATE_EXPECTED:-0}" = 1 ]; then
    # Expected files are, by definition, what the reference produces.
    if [ "$emulator" != qemu ]; then
        echo "UPDATE_EXPECTED=1 requires ORRERY=qemu" >&2
        exit 2
    fi
    if [ $status -ne $want_status ]; then
        echo "FAIL: exit status $status; not updating $expected" >&2
        cat "$errors" >&2
        exit 1
    fi
    cp "$actual" "$expected"
    echo "updated $expected"
    exit 0
fi

fail() {
    echo "FAIL: $1" >&2
    echo "command: ${cmd[*]}" >&2
    if [ -s "$errors" ]; then
        echo "--- stderr (last 20 lines) ---" >&2
        tail -n 20 "$errors" >&2
    fi
    echo "--- stdout (last 20 lines) ---" >&2
    tail -n 20 "$actual" >&2
    exit 1
}

if [ $status -eq 124 ]; then
    fail "timed out after ${limit}s"
elif [ $status -ne $want_status ]; then
    fail "exit status $status"
fi

if ! cmp -s "$expected" "$actual"; then
    echo "--- diff expected actual ---" >&2
    diff -u "$expected" "$actual" | head -n 60 >&2
    fail "output differs from $expected"
fi

echo "PASS: $(basename "$elf") ($( [ "$emulator" = qemu ] && echo qemu || echo "tier=$tier"))"
exit 0
