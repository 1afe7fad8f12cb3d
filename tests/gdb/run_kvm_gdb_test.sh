#!/usr/bin/env bash
# One gdb test under -accel kvm on the pc board: starts orrery -M pc -accel kvm -S -gdb with
# the kvm_gdb_target multiboot kernel (its work at CPL3, at fixed addresses: no symbols), drives
# it with gdb-multiarch -batch and checks gdb's output, the guest's serial output and the exit
# status (isa-debug-exit with 0x10: 33, which gdb shows as code 041).
#   run_kvm_gdb_test.sh ORRERY KVM_GDB_TARGET.bin CASE [KERNEL_IRQCHIP]
# Exit 77 (skip) without gdb-multiarch or a usable /dev/kvm.
set -u
orrery=${1:?usage: run_kvm_gdb_test.sh ORRERY BIN CASE [on|off]}
bin=${2:?}
case=${3:?}
irqchip=${4:-on}

command -v gdb-multiarch >/dev/null || { echo "SKIP: gdb-multiarch is not installed"; exit 77; }
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
  echo "SKIP: no usable /dev/kvm"
  exit 77
fi
[ -f "$bin" ] || { echo "FAIL: guest program $bin not found"; exit 1; }

. "$(dirname "$0")/lib.sh"

start_orrery() {
  start_gdb_orrery "$orrery" -M pc -m 128 -serial "file:$tmp/serial" -kernel "$bin" \
    -accel "kvm,kernel-irqchip=$irqchip" -no-reboot \
    -device isa-debug-exit,iobase=0xf4,iosize=4 -S "$@"
}

# The cases that kill Orrery from gdb's python find it through ORRERY_PID.
run_gdb() {
  export ORRERY_PID=$pid
  gdb_batch "${1:-90}" -ex "set architecture i386:x86-64"
}

case $case in
basic)
  # What this machine's software hypervisor (PVM) supports: the state at -S, registers
  # (general, system, SSE) and memory read and written, single steps (at CPL0: PVM does not
  # report a trap flag or INT3 raised by CPL3 code, which runs natively, and never reports a
  # debug-register hit), and continuing to the end with the written memory in effect.
  cat >"$tmp/cmds" <<'G'
printf "pc=%lx cs=%x cpl=%d cr0=%lx\n", $pc, $cs, $cs & 3, $cr0
x/5xb 0x100020
info registers rip eflags cs ss
stepi
printf "after stepi: pc=%lx\n", $pc
while $pc < 0x100034
  stepi
end
printf "after stepi: pc=%lx\n", $pc
set var $rbx = 0x1234
printf "rbx=%lx\n", $rbx
set var $xmm1.uint128 = 0x1122334455667788
p/x $xmm1.uint128
set var *(long *)0x101200 = 7
x/gx 0x101200
x/xb 0x300000
while !($cr0 & 0x80000000)
  stepi
end
printf "paging: cr3=%lx\n", $cr3
x/xb 0x100020
python
try:
    gdb.execute("x/xb 0x300000")
except gdb.MemoryError as e:
    print("caught:", e)
end
continue
G
  start_orrery
  run_gdb
  expect "pc=100020 cs=8 cpl=0 cr0=11"
  # Through the guest's page tables once paging is on: 0x300000 is RAM but not mapped.
  expect "0x300000:	0x00"
  expect "paging: cr3=102000"
  expect "0x100020:	0xc7"
  expect "caught: Cannot access memory at address 0x300000"
  expect "0x100020:	0xc7	0x05	0x10	0x00	0xd0"
  expect_re "^rip +0x100020 "
  expect_re "^cs +0x8 "
  # (PVM steps over an MMIO instruction and the next one at once: 0x10002f there)
  expect_re "after stepi: pc=10002[af]"
  expect "after stepi: pc=100034"
  expect "rbx=1234"
  expect "= 0x1122334455667788"
  expect "0x101200:	0x0000000000000007"
  expect "exited with code 041]"
  wait_orrery 33
  # 7 (written by gdb) + 1 + 2 + 3 + 4 + 5
  expect_serial "counter=22"
  expect_serial "hpet ok"
  ;;
clock_stop)
  # The machine's virtual clock stands still while gdb holds it: 2 s between two HPET reads
  # must not show in the HPET's counter (the guest prints "hpet slow" past 0.5 s).
  cat >"$tmp/cmds" <<'G'
while $pc < 0x100034
  stepi
end
printf "held at pc=%lx\n", $pc
shell sleep 2
continue
G
  start_orrery
  run_gdb
  expect "held at pc=100034"
  expect "exited with code 041]"
  wait_orrery 33
  expect_serial "counter=15"
  expect_serial "hpet ok"
  ;;
kill)
  # gdb's kill while it holds the machine ends the run before the guest prints anything.
  cat >"$tmp/cmds" <<'G'
stepi
kill
G
  start_orrery
  run_gdb
  expect "killed]"
  wait_orrery 0
  grep -q "counter=" "$tmp/serial" && fail "the guest ran on after kill"
  ;;
smp)
  # Two vCPUs: the AP (waiting for its STARTUP IPI, in the kernel or in Orrery) is a thread
  # that stops and resumes with the BSP.
  cat >"$tmp/cmds" <<'G'
info threads
thread 2
printf "ap pc=%lx\n", $pc
thread 1
stepi
printf "bsp pc=%lx\n", $pc
continue
G
  start_orrery -smp 2
  run_gdb
  expect_re "^  2 +Thread 2"
  expect "ap pc=fff0"
  expect_re "bsp pc=10002[af]"
  expect "exited with code 041]"
  wait_orrery 33
  expect_serial "counter=15"
  ;;
cpl3_break)
  # Breakpoints and steps in CPL3 code: KVM_GUESTDBG_USE_SW_BP, USE_HW_BP and SINGLESTEP. PVM
  # cannot do them (INT3 and the trap flag reach the guest, which triple-faults), so this runs
  # only where ORRERY_KVM_GUEST_DEBUG=1 says the host's KVM can (real VMX or SVM).
  [ "${ORRERY_KVM_GUEST_DEBUG:-0}" = 1 ] || { echo "SKIP: set ORRERY_KVM_GUEST_DEBUG=1"; exit 77; }
  cat >"$tmp/cmds" <<'G'
hbreak *0x101000
continue
printf "pc=%lx cpl=%d\n", $pc, $cs & 3
stepi
printf "after stepi: pc=%lx rax=%lx\n", $pc, $rax
delete
break *0x101100
continue
printf "bump(%ld) from %lx\n", $rdi, *(long *)$rsp
continue
printf "bump(%ld) counter=%ld\n", $rdi, *(long *)0x101200
set var $rdi = 10
delete
watch *(long *)0x101200
continue
printf "counter=%ld\n", *(long *)0x101200
delete
continue
G
  start_orrery
  run_gdb
  expect "Hardware assisted breakpoint 1 at 0x101000"
  expect "pc=101000 cpl=3"
  expect "after stepi: pc=101005 rax=1111"
  expect "bump(1) from 101017"
  expect "bump(2) counter=1"
  expect "counter=11"
  expect "exited with code 041]"
  wait_orrery 33
  # 1 + 10 (set by gdb) + 3 + 4 + 5
  expect_serial "counter=23"
  ;;
*)
  echo "unknown case $case" >&2
  exit 2
  ;;
esac
echo "PASS: kvm gdb $case (kernel-irqchip=$irqchip)"
