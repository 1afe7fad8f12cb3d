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

tmp=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "FAIL ($case): $*"
  echo "---- gdb ----"; cat "$tmp/gdb.out" 2>/dev/null
  echo "---- orrery stderr ----"; cat "$tmp/orrery.err" 2>/dev/null
  echo "---- guest serial ----"; cat "$tmp/serial" 2>/dev/null
  exit 1
}

listening() {
  local hexport
  hexport=$(printf '%04X' "$port")
  awk -v p=":$hexport" '$4 == "0A" && substr($2, length($2) - 4) == p {found=1} END {exit !found}' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

start_orrery() {
  local attempt
  for attempt in $(seq 1 20); do
    port=$((20000 + (RANDOM % 25000)))
    "$orrery" -M pc -m 128 -serial "file:$tmp/serial" -kernel "$elf" -accel "tcg,tier=$tier" \
      -device isa-debug-exit,iobase=0xf4,iosize=4 -gdb "tcp::$port" -S "$@" \
      </dev/null >"$tmp/orrery.out" 2>"$tmp/orrery.err" &
    pid=$!
    for _ in $(seq 1 200); do
      kill -0 "$pid" 2>/dev/null || break
      listening && return 0
      sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && fail "orrery is not listening on port $port"
    wait "$pid"
    pid=
    grep -q "cannot listen" "$tmp/orrery.err" || fail "orrery exited before listening"
  done
  fail "no free port found"
}

run_gdb() {
  timeout "${1:-90}" gdb-multiarch -batch -nx -ex "set pagination off" -ex "set confirm off" \
    -ex "file ${elf}64" -ex "target remote :$port" -x "$tmp/cmds" >"$tmp/gdb.out" 2>&1
  [ $? -eq 124 ] && fail "gdb timed out"
}

wait_orrery() {
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && fail "orrery did not exit"
  wait "$pid"
  local st=$?
  pid=
  [ "$st" -eq "$1" ] || fail "orrery exit status $st (expected $1)"
}

expect() { grep -qF -- "$1" "$tmp/gdb.out" || fail "gdb output lacks: $1"; }
expect_re() { grep -qE -- "$1" "$tmp/gdb.out" || fail "gdb output lacks /$1/"; }
expect_serial() { grep -qF -- "$1" "$tmp/serial" || fail "serial output lacks: $1"; }

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
