# Sourced by the gdb test scripts: a scratch directory $tmp that goes away at exit (killing the
# Orrery process $pid), fail() with the logs, and start_gdb_orrery, which starts Orrery with -gdb
# on a free TCP port and waits (bounded) until the stub listens. Set `case` before fail() runs
# to have it named.

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

# start_gdb_orrery COMMAND...: runs "COMMAND... -gdb tcp::PORT" in the background (stdout to
# $tmp/orrery.out, stderr to $tmp/orrery.err) on a random port, another one if that port was
# taken; sets pid and port once the stub listens.
start_gdb_orrery() {
  local attempt
  for attempt in $(seq 1 20); do
    port=$((20000 + (RANDOM % 25000)))
    "$@" -gdb "tcp::$port" </dev/null >"$tmp/orrery.out" 2>"$tmp/orrery.err" &
    pid=$!
    for _ in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      port_listening "$port" && return 0
      sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && fail "orrery is not listening on port $port"
    wait "$pid"
    pid=
    grep -q "cannot listen" "$tmp/orrery.err" || fail "orrery exited before listening"
  done
  fail "no free port found"
}
