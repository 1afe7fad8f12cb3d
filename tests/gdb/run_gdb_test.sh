#!/usr/bin/env bash
# One gdb test: starts orrery -S -gdb on a free port (or a Unix socket) with the gdb_target
# guest, drives it with gdb-multiarch -batch, and checks gdb's output, the guest's serial
# output and Orrery's exit status.
#   run_gdb_test.sh ORRERY GDB_TARGET.elf CASE
# The smp_* cases take the gdb_smp_target guest and run it with -smp 2 (gdb threads = vCPUs).
# Environment: ORRERY_TIER=interp|llvm|auto (default auto). Exit 77 (skip) without gdb-multiarch.
set -u
orrery=${1:?usage: run_gdb_test.sh ORRERY ELF CASE}
elf=${2:?}
case=${3:?}
tier=${ORRERY_TIER:-auto}
here=$(cd "$(dirname "$0")" && pwd)

command -v gdb-multiarch >/dev/null || { echo "SKIP: gdb-multiarch is not installed"; exit 77; }
[ -f "$elf" ] || { echo "FAIL: guest program $elf not found"; exit 1; }

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
  if [ -n "${sock:-}" ]; then
    [ -S "$sock" ]
  else
    local hexport
    hexport=$(printf '%04X' "$port")
    awk -v p=":$hexport" '$4 == "0A" && substr($2, length($2) - 4) == p {found=1} END {exit !found}' \
      /proc/net/tcp /proc/net/tcp6 2>/dev/null
  fi
}

# start_orrery [extra args]: sets pid, and target (what gdb connects to).
start_orrery() {
  local attempt spec
  for attempt in $(seq 1 20); do
    if [ "$case" = unix ]; then
      sock=$tmp/gdb.sock
      spec=unix:$sock
      target="| python3 $here/unix_bridge.py $sock"
    else
      port=$((20000 + (RANDOM % 25000)))
      spec=tcp::$port
      target=":$port"
    fi
    "$orrery" -M virt -m 128 -serial "file:$tmp/serial" -kernel "$elf" -accel "tcg,tier=$tier" \
      -gdb "$spec" "$@" </dev/null >"$tmp/orrery.out" 2>"$tmp/orrery.err" &
    pid=$!
    for _ in $(seq 1 200); do
      kill -0 "$pid" 2>/dev/null || break
      listening && return 0
      sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && fail "orrery is not listening on $spec"
    # Without a debugger the guest may finish before the port is seen; wait_orrery checks it.
    [ "$case" = nodebugger ] && ! grep -q "cannot listen" "$tmp/orrery.err" && return 0
    wait "$pid"
    pid=
    grep -q "cannot listen" "$tmp/orrery.err" || fail "orrery exited before listening"
  done
  fail "no free port found"
}

# run_gdb [SECONDS]: runs the gdb commands in $tmp/cmds against the stub.
run_gdb() {
  timeout "${1:-90}" gdb-multiarch -batch -nx -ex "set pagination off" -ex "set confirm off" \
    -ex "file $elf" -ex "target remote $target" -x "$tmp/cmds" >"$tmp/gdb.out" 2>&1
  gdb_status=$?
  [ $gdb_status -eq 124 ] && fail "gdb timed out"
}

# wait_orrery STATUS: Orrery must exit by itself with STATUS.
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

exited_normally="exited normally]"

case $case in
basic | unix)
  cat >"$tmp/cmds" <<'G'
break main
continue
info registers
x/i $pc
stepi
bt
continue
G
  start_orrery -S
  run_gdb
  expect "Breakpoint 1, main"
  expect_re "^x0 +0x"
  expect_re "^sp +0x"
  expect_re "^cpsr +0x"
  expect "=> 0x"
  expect "$exited_normally"
  wait_orrery 0
  expect_serial "counter=5 result=35"
  ;;
clock_stop)
  # The machine's clock stands still while gdb holds it: 2 s at a breakpoint must not show up
  # in the guest's counter (62.5 MHz) across that breakpoint.
  cat >"$tmp/cmds" <<'G'
break clock_mark
break marker
continue
shell sleep 2
continue
printf "ticks across the stop: %lu\n", ticks_after - ticks_before
continue
G
  start_orrery -S
  run_gdb
  expect "Breakpoint 1, "
  expect "Breakpoint 2, "
  ticks=$(sed -n 's/^ticks across the stop: //p' "$tmp/gdb.out")
  [ -n "$ticks" ] || fail "no tick count"
  # Far below the 125,000,000 ticks of the stop (the rest is the guest's own few instructions
  # plus gdb's round trips while the clock runs).
  [ "$ticks" -lt 31250000 ] || fail "the counter advanced $ticks ticks over a 2 s stop"
  [ "$ticks" -gt 0 ] || fail "the counter did not advance at all"
  wait_orrery 0
  ;;
hbreak)
  cat >"$tmp/cmds" <<'G'
hbreak step_fn
continue
info symbol $pc
p $x0
continue
p $x0
delete
continue
G
  start_orrery -S
  run_gdb
  expect "Hardware assisted breakpoint 1"
  expect "step_fn in section .text"
  expect "\$1 = 0"
  expect "\$2 = 1"
  expect "$exited_normally"
  wait_orrery 0
  expect_serial "counter=5 result=35"
  ;;
watch)
  cat >"$tmp/cmds" <<'G'
break main
continue
watch counter
continue
continue
delete
continue
G
  start_orrery -S
  run_gdb
  expect "Hardware watchpoint 2: counter"
  expect "Old value = 0"
  expect "New value = 1"
  expect "Old value = 1"
  expect "New value = 2"
  expect "$exited_normally"
  wait_orrery 0
  expect_serial "counter=5 result=35"
  ;;
rwatch)
  cat >"$tmp/cmds" <<'G'
break marker
continue
rwatch result
continue
delete
continue
G
  start_orrery -S
  run_gdb
  expect "Hardware read watchpoint 2: result"
  expect "Value = 35"
  expect "$exited_normally"
  wait_orrery 0
  ;;
setregs)
  cat >"$tmp/cmds" <<'G'
break bump
continue
set var counter = 100
p counter
set $x15 = 0x1234
p/x $x15
p ($SCTLR_EL1 & 1)
p $VBAR_EL1 == (long)&crt0_vectors
set $TPIDR_EL1 = 0x55
p/x $TPIDR_EL1
p $CurrentEL
p $MIDR_EL1 != 0
set $v7.d.u[1] = 0xabcdef
p/x $v7.d.u[1]
p/x $fpcr
info registers cpsr
delete
continue
G
  start_orrery -S
  run_gdb
  expect "\$1 = 100"
  expect "\$2 = 0x1234"
  expect "\$3 = 0"
  expect "\$4 = 1"
  expect "\$5 = 0x55"
  expect "\$6 = 4"
  expect "\$7 = 1"
  expect "\$8 = 0xabcdef"
  expect_re "^cpsr +0x"
  expect "$exited_normally"
  wait_orrery 0
  expect_serial "counter=105"
  ;;
stepi)
  cat >"$tmp/cmds" <<'G'
break step_fn
continue
set $start = $pc
stepi
p $pc - $start
stepi
p $pc - $start
x/2i $pc
delete
continue
G
  start_orrery -S
  run_gdb
  expect "\$1 = 4"
  expect "\$2 = 8"
  expect "=> 0x"
  expect "$exited_normally"
  wait_orrery 0
  expect_serial "counter=5 result=35"
  ;;
ctrlc)
  # A timer thread interrupts the blocking continue, as Ctrl-C at the gdb prompt would.
  cat >"$tmp/cmds" <<'G'
break main
continue
set var wait_for_debugger = 1
delete
python
import threading
threading.Timer(1.0, lambda: gdb.post_event(lambda: gdb.execute("interrupt"))).start()
end
continue
p spins > 0
p wait_for_debugger
set var release = 1
continue
G
  start_orrery -S
  run_gdb
  expect "received signal SIGINT"
  expect "\$1 = 1"
  expect "$exited_normally"
  wait_orrery 0
  expect_serial "counter=5 result=35"
  ;;
detach)
  cat >"$tmp/cmds" <<'G'
break bump
continue
detach
G
  start_orrery -S
  run_gdb
  expect "Breakpoint 1, "
  expect "detached]"
  wait_orrery 0
  expect_serial "counter=5 result=35"
  ;;
kill)
  cat >"$tmp/cmds" <<'G'
break bump
continue
kill
G
  start_orrery -S
  run_gdb
  expect "Breakpoint 1, "
  expect "killed]"
  wait_orrery 0
  grep -q "counter=" "$tmp/serial" && fail "the guest ran on after kill"
  ;;
memory)
  cat >"$tmp/cmds" <<'G'
break marker
continue
p result
set var result = 77
p result
python
try:
    gdb.execute("x/2wx 0xdead000000")
except gdb.MemoryError as e:
    print("caught:", e)
end
maintenance packet Qqemu.PhyMemMode:1
x/1gx &result
monitor phys off
monitor help
p result
delete
continue
G
  start_orrery -S
  run_gdb
  expect "\$1 = 35"
  expect "\$2 = 77"
  expect "Cannot access memory at address 0xdead000000"
  expect "0x000000000000004d"
  expect "physical memory mode off"
  expect "phys [on|off]"
  expect "\$3 = 77"
  expect "$exited_normally"
  wait_orrery 0
  expect_serial "result=77"
  ;;
nodebugger)
  # With -gdb but no debugger (and no -S) the guest just runs.
  start_orrery
  wait_orrery 0
  expect_serial "counter=5 result=35"
  ;;
smp_threads)
  # Both vCPUs are threads from the start; CPU 1 is powered off (PC 0, its reset state) until
  # CPU 0's PSCI CPU_ON, after which it is the thread that hits secondary_work.
  cat >"$tmp/cmds" <<'G'
info threads
thread 2
p/x $pc
info registers pc
p/x $MPIDR_EL1
p $CurrentEL
thread 1
p $pc == (long)&_start
p/x $MPIDR_EL1
break secondary_work
continue
p $_thread
p/x $MPIDR_EL1
p $x0
info threads
thread 1
p/x $MPIDR_EL1
info symbol $pc
delete
continue
G
  start_orrery -S -smp 2
  run_gdb 30
  expect_re '^\* 1 +Thread 1 \(CPU#0\) +_start '
  expect_re '^  2 +Thread 2 \(CPU#1\) +0x0+ in '
  expect "\$1 = 0x0"
  expect_re '^pc +0x0 +0x0'
  expect "\$2 = 0x80000001"
  expect "\$3 = 4"
  expect "\$4 = 1"
  expect "\$5 = 0x80000000"
  expect "Thread 2 hit Breakpoint 1, secondary_work"
  expect "\$6 = 2"
  expect "\$7 = 0x80000001"
  expect "\$8 = 0"
  expect_re '^  1 +Thread 1 \(CPU#0\) +(0x[0-9a-f]+ in )?main '
  expect_re '^\* 2 +Thread 2 \(CPU#1\) +secondary_work '
  expect "\$9 = 0x80000000"
  expect "main + "
  expect "$exited_normally"
  wait_orrery 0
  expect_serial "cpu1 counter=12"
  ;;
smp_continue)
  # A stop in one thread stops the other (CPU 0's spin counter stands still); continue and a
  # plain stepi (gdb resumes the other threads too: vCont;s:2;c) let both run.
  cat >"$tmp/cmds" <<'G'
break secondary_work
break primary_after
continue
set $spins0 = cpu0_spins
shell sleep 0.3
p cpu0_spins == $spins0
set $t2pc = $pc
stepi
p $pc - $t2pc
p $_thread
continue
p $x0
p $_thread
delete 1
continue
p $_thread
p cpu0_spins > $spins0
p cpu1_done
p cpu1_counter
delete
continue
G
  start_orrery -S -smp 2
  run_gdb 30
  expect_re "Thread 2 hit Breakpoint 1, secondary_work \(x=(x@entry=)?0\)"
  expect "\$1 = 1"
  expect "\$2 = 4"
  expect "\$3 = 2"
  expect_re "Thread 2 hit Breakpoint 1, secondary_work \(x=(x@entry=)?1\)"
  expect "\$4 = 1"
  expect "\$5 = 2"
  expect "Thread 1 hit Breakpoint 2, primary_after"
  expect "\$6 = 1"
  expect "\$7 = 1"
  expect "\$8 = 1"
  expect "\$9 = 12"
  expect "$exited_normally"
  wait_orrery 0
  expect_serial "cpu1 counter=12"
  ;;
smp_step)
  # With scheduler-locking on, stepi resumes only the selected thread (vCont;s:N): the other
  # keeps its PC and its spin counter. Several rounds, each stepping both threads in turn.
  cat >"$tmp/cmds" <<'G'
break secondary_work
continue
set scheduler-locking on
python
for round in range(3):
    gdb.execute("thread 1")
    t1pc = int(gdb.parse_and_eval("$pc"))
    gdb.execute("thread 2")
    t2pc = int(gdb.parse_and_eval("$pc"))
    spins = int(gdb.parse_and_eval("cpu0_spins"))
    gdb.execute("stepi")
    gdb.execute("stepi")
    moved = int(gdb.parse_and_eval("$pc")) - t2pc
    spun = int(gdb.parse_and_eval("cpu0_spins")) - spins
    gdb.execute("thread 1")
    t1_stayed = int(gdb.parse_and_eval("$pc")) == t1pc
    gdb.execute("stepi")
    gdb.execute("thread 2")
    t2_stayed = int(gdb.parse_and_eval("$pc")) - t2pc == moved
    print("round %d: t2 moved %d, cpu0 spun %d, t1 stayed %s, t2 stayed %s"
          % (round, moved, spun, t1_stayed, t2_stayed))
    gdb.execute("set scheduler-locking off")
    if round < 2:
        gdb.execute("continue")
        gdb.execute("set scheduler-locking on")
end
delete
continue
G
  start_orrery -S -smp 2
  run_gdb 30
  expect_re "Thread 2 hit Breakpoint 1, secondary_work \(x=(x@entry=)?0\)"
  for r in 0 1 2; do
    expect "round $r: t2 moved 8, cpu0 spun 0, t1 stayed True, t2 stayed True"
  done
  expect "$exited_normally"
  wait_orrery 0
  expect_serial "cpu1 counter=12"
  ;;
smp_tlbi)
  # CPU 0 broadcasts TLB invalidations while thread 2 stops at a breakpoint, and is stepped
  # through them while thread 2 stays stopped: a stopped vCPU must not hold up the broadcast.
  cat >"$tmp/cmds" <<'G'
break main
continue
set var cpu0_tlbi = 1
delete
break secondary_work
continue
p $_thread
set scheduler-locking on
thread 1
python
tlbis = 0
for i in range(12):
    pc = int(gdb.parse_and_eval("$pc"))
    insn = gdb.selected_frame().architecture().disassemble(pc)[0]["asm"]
    tlbis += insn.startswith("tlbi")
    gdb.execute("stepi", to_string=True)
print("thread 1 stepped over %d tlbi" % tlbis)
end
p $_thread
x/i $pc
thread 2
p $pc == (long)&secondary_work
set scheduler-locking off
delete
continue
G
  start_orrery -S -smp 2
  run_gdb 20
  expect_re "Thread 2 hit Breakpoint 2, secondary_work \(x=(x@entry=)?0\)"
  expect "\$1 = 2"
  expect_re "thread 1 stepped over [1-9] tlbi"
  expect "\$2 = 1"
  expect "\$3 = 1"
  expect "$exited_normally"
  wait_orrery 0
  expect_serial "cpu1 counter=12"
  ;;
smp_wfi)
  # Thread 1 stops while asleep in WFI (outside the run loop) and wakes later, while only
  # thread 2 was resumed (scheduler-locking: it must not stop thread 2 again), or while it was
  # being stepped (it must then step one instruction, not run on).
  cat >"$tmp/cmds" <<'G'
break main
continue
set var cpu0_sleep = 1
delete
break secondary_work
continue
set scheduler-locking on
break cpu0_woken
continue
p cpu0_sleeps
set scheduler-locking off
delete 3
continue
p $x0
thread 1
set $t1pc = $pc
stepi
p $_thread
p $pc != $t1pc
p cpu0_sleeps
delete
continue
G
  start_orrery -S -smp 2
  run_gdb 20
  expect_re "Thread 2 hit Breakpoint 2, secondary_work \(x=(x@entry=)?0\)"
  expect "Thread 2 hit Breakpoint 3, cpu0_woken"
  expect "\$1 = 1"
  expect_re "Thread 2 hit Breakpoint 2, secondary_work \(x=(x@entry=)?1\)"
  expect "\$2 = 1"
  expect "\$3 = 1"
  expect "\$4 = 1"
  expect "\$5 = 2"
  expect "$exited_normally"
  wait_orrery 0
  expect_serial "cpu1 counter=12"
  ;;
smp_cpu_on)
  # stepi on the powered-off thread 2 (thread 1 continues: vCont;s:2;c) completes once CPU 0's
  # CPU_ON starts it: one instruction at the entry point (mov sp, x0: SP = the context id).
  cat >"$tmp/cmds" <<'G'
thread 2
stepi
p $_thread
p $pc == (long)&secondary_entry + 4
p $sp == (long)&cpu1_stack + sizeof(cpu1_stack)
continue
G
  start_orrery -S -smp 2
  run_gdb 20
  expect "in secondary_entry ()"
  expect "\$1 = 2"
  expect "\$2 = 1"
  expect "\$3 = 1"
  expect "$exited_normally"
  wait_orrery 0
  expect_serial "cpu1 counter=12"
  ;;
smp_ctrlc)
  # An interrupt stops both running vCPUs: neither spin counter moves while stopped.
  cat >"$tmp/cmds" <<'G'
break main
continue
set var park_cpu1 = 1
delete
python
import threading
threading.Timer(1.0, lambda: gdb.post_event(lambda: gdb.execute("interrupt"))).start()
end
continue
set $spins0 = cpu0_spins
set $spins1 = cpu1_spins
shell sleep 0.3
p cpu0_spins == $spins0 && cpu1_spins == $spins1
p $spins0 > 0 && $spins1 > 0
thread 2
info symbol $pc
set var park_cpu1 = 0
continue
G
  start_orrery -S -smp 2
  run_gdb 30
  expect "received signal SIGINT"
  expect "\$1 = 1"
  expect "\$2 = 1"
  expect "secondary_main + "
  expect "$exited_normally"
  wait_orrery 0
  expect_serial "cpu1 counter=12"
  ;;
*)
  echo "unknown case $case" >&2
  exit 2
  ;;
esac
echo "PASS: gdb $case (tier $tier)"
