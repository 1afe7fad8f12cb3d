#!/usr/bin/env bash
# gdb-multiarch against Debian 12's amd64 kernel on -M pc (direct Linux boot, -S with the
# gdbstub): a hardware breakpoint at start_kernel, continue, then the stop's state in long
# mode (RIP at the symbol, CPL 0, EFER.LMA, paging on), 64-bit registers, kernel memory read
# through the guest's page tables (linux_banner), one stepi, and continue to the busybox marker;
# Orrery must exit 0 after poweroff. Debian's System.map is a stub (the real one is in the
# -dbg package), so the symbols come from the kernel itself: a first boot (once per kernel,
# cached as CACHE/amd64/ksyms) prints them from /proc/kallsyms; nokaslr keeps both boots at
# the same addresses. Uses pc_linux.sh's cache (CACHE/amd64); exit 77 (skip) without
# gdb-multiarch or when the packages cannot be fetched.
#   pc_gdb_linux.sh ORRERY CACHE
set -u
orrery=${1:?usage: pc_gdb_linux.sh ORRERY CACHE}
cache=${2:?}
here=$(cd "$(dirname "$0")" && pwd)
command -v gdb-multiarch >/dev/null || { echo "SKIP: gdb-multiarch is not installed"; exit 77; }
"$here/pc_linux.sh" "$orrery" "$cache" fetch
rc=$?
[ $rc -eq 0 ] || exit $rc
dir=$cache/amd64
append="console=ttyS0 nokaslr panic=-1 quiet loglevel=4"
if [ ! -s "$dir/ksyms" ] || [ "$dir/ksyms" -ot "$dir/vmlinuz" ] || [ "$dir/ksyms" -ot "$0" ]; then
  kdir=$(mktemp -d)
  mkdir -p "$kdir"/{bin,proc}
  cp "$dir/busybox" "$kdir/bin/busybox" && chmod 755 "$kdir/bin/busybox"
  ln -s busybox "$kdir/bin/sh"
  cat >"$kdir/init" <<'INIT'
#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
grep -E ' (start_kernel|linux_banner)$' /proc/kallsyms | sed 's/^/KSYM /'
poweroff -f
INIT
  chmod 755 "$kdir/init"
  (cd "$kdir" && find . | cpio -o -H newc --quiet) | gzip >"$kdir.cpio.gz"
  timeout 280 "$orrery" -M pc -m 512 -nographic -no-reboot -kernel "$dir/vmlinuz" \
    -initrd "$kdir.cpio.gz" -append "$append" </dev/null 2>&1 | tr -d '\r' |
    sed -n 's/^KSYM //p' >"$dir/ksyms.tmp"
  rm -rf "$kdir" "$kdir.cpio.gz"
  [ "$(wc -l <"$dir/ksyms.tmp")" -eq 2 ] || { echo "FAIL: no symbols from /proc/kallsyms"; exit 1; }
  mv "$dir/ksyms.tmp" "$dir/ksyms"
fi
sym() { awk -v s="$1" '$3 == s {print "0x" $1; exit}' "$dir/ksyms"; }
start_kernel=$(sym start_kernel)
banner=$(sym linux_banner)
[ -n "$start_kernel" ] && [ -n "$banner" ] || { echo "FAIL: symbols missing"; exit 1; }

tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*"
  echo "---- gdb ----"; cat "$tmp/gdb.out" 2>/dev/null
  echo "---- orrery stderr ----"; cat "$tmp/orrery.err" 2>/dev/null
  echo "---- serial (last 30 lines) ----"; tail -n 30 "$tmp/serial" 2>/dev/null
  exit 1
}

start=$(date +%s.%N)
for attempt in $(seq 1 20); do
  # -gdb on a free port rather than -s (port 1234), as tests run in parallel.
  port=$((20000 + (RANDOM % 25000)))
  "$orrery" -M pc -smp 1 -m 512 -serial "file:$tmp/serial" -no-reboot \
    -kernel "$dir/vmlinuz" -initrd "$dir/initrd-marker.cpio.gz" \
    -append "$append" -S -gdb "tcp::$port" \
    </dev/null >/dev/null 2>"$tmp/orrery.err" &
  pid=$!
  hexport=$(printf '%04X' "$port")
  up=
  for _ in $(seq 1 300); do
    kill -0 $pid 2>/dev/null || break
    if awk -v p=":$hexport" '$4 == "0A" && substr($2, length($2) - 4) == p {f=1} END {exit !f}' \
      /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
      up=1
      break
    fi
    sleep 0.05
  done
  [ -n "$up" ] && break
  kill -0 $pid 2>/dev/null && fail "orrery is not listening on port $port"
  wait $pid
  pid=
  grep -q "cannot listen" "$tmp/orrery.err" || fail "orrery exited"
done
[ -n "$pid" ] || fail "no free port"

cat >"$tmp/cmds" <<G
hbreak *$start_kernel
continue
p \$pc == $start_kernel
p (\$cs & 3)
p (\$efer >> 10) & 1
p (\$cr0 >> 31) & 1
info registers rip rsp rax cs eflags
x/s $banner
set \$at = \$pc
stepi
p \$pc != \$at
x/i \$pc
delete
continue
G
timeout 240 gdb-multiarch -batch -nx -ex "set pagination off" -ex "set confirm off" \
  -ex "set architecture i386:x86-64" -ex "target remote :$port" -x "$tmp/cmds" \
  >"$tmp/gdb.out" 2>&1
[ $? -eq 124 ] && fail "gdb timed out"
end=$(date +%s.%N)
grep -q "Hardware assisted breakpoint 1" "$tmp/gdb.out" || fail "no hardware breakpoint"
grep -q '^\$1 = 1' "$tmp/gdb.out" || fail "not stopped at start_kernel ($start_kernel)"
grep -q '^\$2 = 0' "$tmp/gdb.out" || fail "not at CPL 0"
grep -q '^\$3 = 1' "$tmp/gdb.out" || fail "EFER.LMA clear: not in long mode"
grep -q '^\$4 = 1' "$tmp/gdb.out" || fail "paging off"
grep -qE "^rip +$start_kernel" "$tmp/gdb.out" || fail "info registers shows no 64-bit rip"
grep -qE '^rsp +0xffff' "$tmp/gdb.out" || fail "rsp is not a kernel address"
grep -q 'Linux version 6' "$tmp/gdb.out" || fail "linux_banner unreadable"
grep -q '^\$5 = 1' "$tmp/gdb.out" || fail "stepi did not move"
for _ in $(seq 1 600); do
  kill -0 $pid 2>/dev/null || break
  sleep 0.1
done
kill -0 $pid 2>/dev/null && fail "orrery did not exit after the boot"
wait $pid
st=$?
pid=
grep -q '^ORRERY-BOOT-OK' "$tmp/serial" || fail "no marker line"
[ $st -eq 0 ] || fail "exit status $st (expected 0)"
echo "PASS: gdb on pc Linux (start_kernel $start_kernel) in $(awk "BEGIN {printf \"%.1f\", $end - $start}") s"
