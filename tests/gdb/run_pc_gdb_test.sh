#!/usr/bin/env bash
# One gdb test on the pc board: starts orrery -M pc -S -gdb on a free port with the
# pc_gdb_target multiboot guest (64-bit; gdb reads the symbols from its ELF64 link), drives it
# with gdb-multiarch -batch, and checks gdb's output, the guest's serial output and Orrery's
# exit status (isa-debug-exit: the guest's exit(0) gives 1).
#   run_pc_gdb_test.sh ORRERY PC_GDB_TARGET.elf CASE
# Environment: ORRERY_TIER=interp|llvm|auto (default auto). Exit 77 (skip) without gdb-multiarch.
set -u
orrery=${1:?usage: run_pc_gdb_test.sh ORRERY ELF CASE}
elf=${2:?}
case=${3:?}
tier=${ORRERY_TIER:-auto}

command -v gdb-multiarch >/dev/null || { echo "SKIP: gdb-multiarch is not installed"; exit 77; }
[ -f "$elf" ] && [ -f "${elf}64" ] || { echo "FAIL: guest program $elf(64) not found"; exit 1; }

. "$(dirname "$0")/lib.sh"

start_orrery() {
  start_gdb_orrery "$orrery" -M pc -m 128 -serial "file:$tmp/serial" -kernel "$elf" \
    -accel "tcg,tier=$tier" -device isa-debug-exit,iobase=0xf4,iosize=4 -S "$@"
}

run_gdb() { gdb_batch "${1:-90}" -ex "file ${elf}64"; }

case $case in
basic)
  # Breakpoint, 64-bit registers, stepping and a hardware breakpoint in long mode.
  cat >"$tmp/cmds" <<'G'
break main
continue
info registers rip rsp rax eflags cs
p ($cs & 3)
x/i $pc
hbreak bump
continue
p $rdi
stepi
p $pc != (long)&bump
delete
continue
G
  start_orrery
  run_gdb
  expect "Breakpoint 1, main"
  expect_re "^rip +0x[0-9a-f]+ +0x[0-9a-f]+ <main"
  expect_re "^rsp +0x"
  expect_re "^eflags +0x"
  expect_re "^cs +0x"
  expect "\$1 = 0"
  expect "=> 0x"
  expect "Hardware assisted breakpoint 2"
  expect "\$2 = 1"
  expect "\$3 = 1"
  expect "exited with code 01]"
  wait_orrery 1
  expect_serial "counter=15 result=35"
  ;;
clock_stop)
  # The machine's clock stands still while gdb holds it: 2 s at a breakpoint must not show up
  # in the TSC (virtual nanoseconds) read on either side of it.
  cat >"$tmp/cmds" <<'G'
break clock_mark
break marker
continue
shell sleep 2
continue
printf "ticks across the stop: %lu\n", ticks_after - ticks_before
delete
continue
G
  start_orrery
  run_gdb
  expect "Breakpoint 1, "
  expect "Breakpoint 2, "
  ticks=$(sed -n 's/^ticks across the stop: //p' "$tmp/gdb.out")
  [ -n "$ticks" ] || fail "no tick count"
  # Far below the 2,000,000,000 ns of the stop (the rest is a few instructions plus gdb's round
  # trips while the clock runs).
  [ "$ticks" -lt 500000000 ] || fail "the TSC advanced $ticks ns over a 2 s stop"
  [ "$ticks" -gt 0 ] || fail "the TSC did not advance at all"
  wait_orrery 1
  expect_serial "counter=15 result=35"
  ;;
*)
  echo "unknown case $case" >&2
  exit 2
  ;;
esac
echo "PASS: pc gdb $case (tier $tier)"
