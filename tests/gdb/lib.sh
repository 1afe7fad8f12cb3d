# Sourced by the gdb test scripts: a scratch directory $tmp that goes away at exit (killing the
# Orrery process $pid), fail() with the logs, starting Orrery with its gdb stub listening,
# running gdb-multiarch against it, and the checks on gdb's and the guest's output. Set `case`
# to have fail() name it.

tmp=$(mktemp -d)
pid=
gdb_test_cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap gdb_test_cleanup EXIT

fail() {
  echo "FAIL${case:+ ($case)}: $*"
  echo "---- gdb ----"; cat "$tmp/gdb.out" 2>/dev/null
  echo "---- orrery stderr ----"; cat "$tmp/orrery.err" 2>/dev/null
  if [ -f "$tmp/serial" ]; then
    echo "---- guest serial (last 30 lines) ----"; tail -n 30 "$tmp/serial"
  fi
  exit 1
}

# port_listening PORT: a TCP socket listens on PORT.
port_listening() {
  local hexport
  hexport=$(printf '%04X' "$1")
  awk -v p=":$hexport" '$4 == "0A" && substr($2, length($2) - 4) == p {f=1} END {exit !f}' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# start_gdb_orrery COMMAND...: runs "COMMAND... -gdb SPEC" in the background (stdout to
# $tmp/orrery.out, stderr to $tmp/orrery.err) and waits (bounded) until the stub listens; sets
# pid, and target (what gdb's "target remote" takes). SPEC is a random TCP port, another one
# if that port was taken, or with gdb_socket=PATH set that Unix socket. With
# may_finish_first=1, Orrery may also exit before it is seen listening (a run without a
# debugger attached); wait_orrery then checks how it ended.
start_gdb_orrery() {
  local attempt spec up
  for attempt in $(seq 1 20); do
    if [ -n "${gdb_socket:-}" ]; then
      spec=unix:$gdb_socket
      target="| python3 $(dirname "${BASH_SOURCE[0]}")/unix_bridge.py $gdb_socket"
    else
      port=$((20000 + (RANDOM % 25000)))
      spec=tcp::$port
      target=":$port"
    fi
    "$@" -gdb "$spec" </dev/null >"$tmp/orrery.out" 2>"$tmp/orrery.err" &
    pid=$!
    for _ in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      if [ -n "${gdb_socket:-}" ]; then up=$([ -S "$gdb_socket" ] && echo 1); else
        up=$(port_listening "$port" && echo 1); fi
      [ -n "$up" ] && return 0
      sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && fail "orrery is not listening on $spec"
    [ "${may_finish_first:-0}" = 1 ] && ! grep -q "cannot listen" "$tmp/orrery.err" && return 0
    wait "$pid"
    pid=
    grep -q "cannot listen" "$tmp/orrery.err" || fail "orrery exited before listening"
  done
  fail "no free port found"
}

# gdb_batch SECONDS GDB-ARGS...: gdb-multiarch -batch with GDB-ARGS (file, architecture),
# connected to the stub, runs $tmp/cmds; output in $tmp/gdb.out, status in gdb_status.
gdb_batch() {
  local seconds=$1
  shift
  timeout "$seconds" gdb-multiarch -batch -nx -ex "set pagination off" -ex "set confirm off" \
    "$@" -ex "target remote $target" -x "$tmp/cmds" >"$tmp/gdb.out" 2>&1
  gdb_status=$?
  [ $gdb_status -eq 124 ] && fail "gdb timed out"
}

# wait_orrery STATUS [TENTHS]: Orrery must exit by itself (within TENTHS/10 s, default 30 s)
# with STATUS.
wait_orrery() {
  for _ in $(seq 1 "${2:-300}"); do
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
