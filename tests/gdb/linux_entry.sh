#!/usr/bin/env bash
# gdb against a Linux boot: stop at the kernel entry (-S; hbreak there too), check the boot
# state, let the kernel enable its MMU, interrupt it and read VBAR_EL1/SCTLR_EL1 and kernel
# memory through the stage-1 translation. The initramfs is the interactive one, whose shell
# waits for input forever, so the guest is still running when gdb interrupts it (a boot that
# powers off could finish first). Fetches the kernel the system tests use into their
# cache (tests/system/fetch_debian.sh); skips (77) without gdb-multiarch or when the Debian
# packages cannot be downloaded.
#   linux_entry.sh ORRERY CACHE
set -u
orrery=${1:?}
cache=${2:?}
command -v gdb-multiarch >/dev/null || { echo "SKIP: gdb-multiarch is not installed"; exit 77; }
"$(dirname "$0")/../system/fetch_debian.sh" "$cache" >/dev/null
rc=$?
[ $rc -eq 0 ] || exit $rc

. "$(dirname "$0")/lib.sh"
start_gdb_orrery "$orrery" -M virt -cpu cortex-a57 -m 512 -serial "file:$tmp/serial" -no-reboot \
  -kernel "$cache/vmlinuz" -initrd "$cache/initrd-shell.cpio.gz" \
  -append "console=ttyAMA0 rdinit=/bin/sh panic=-1 quiet" -S

cat >"$tmp/cmds" <<'G'
set $entry = $pc
p/x $entry
p $CurrentEL
p ($SCTLR_EL1 & 1)
x/2i $pc
hbreak *$entry
delete
python
import threading
threading.Timer(2.0, lambda: gdb.post_event(lambda: gdb.execute("interrupt"))).start()
end
continue
p ($SCTLR_EL1 & 1)
p/x $VBAR_EL1
p $VBAR_EL1 != 0
x/4i $pc
kill
G
gdb_batch 120 -ex "set architecture aarch64"
grep -q '\$1 = 0x4' "$tmp/gdb.out" || fail "not stopped at the kernel entry in RAM"
grep -q '\$2 = 4' "$tmp/gdb.out" || fail "not at EL1"
grep -q '\$3 = 0' "$tmp/gdb.out" || fail "MMU already on at entry"
grep -q '\$4 = 1' "$tmp/gdb.out" || fail "the kernel did not enable the MMU"
grep -q '\$6 = 1' "$tmp/gdb.out" || fail "VBAR_EL1 not set"
grep -q "Cannot access memory" "$tmp/gdb.out" && fail "kernel memory unreadable"
echo "PASS: gdb linux entry"
