#!/usr/bin/env bash
# Runs one command-line test case against the orrery binary.
#
#   run_cli_tests.sh ORRERY CASE
#
# Error cases must exit 1 with exactly one line on stderr, starting "orrery: " and containing
# the case's expected words, and print nothing on stdout. Help cases must exit 0 with output
# on stdout and nothing on stderr. Kernel files are crafted here (no cross compiler needed).
set -u

if [ $# -ne 2 ]; then
    echo "usage: $0 ORRERY CASE" >&2
    exit 2
fi
orrery=$1
case_name=$2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# le VALUE NBYTES: VALUE as NBYTES little-endian bytes.
le() {
    local v=$1 n=$2 i out=""
    for ((i = 0; i < n; i++)); do
        out+=$(printf '\\x%02x' $(((v >> (8 * i)) & 255)))
    done
    printf "$out"
}

# elf MACHINE PADDR: an ELF64 executable with one 4-byte PT_LOAD segment (a NOP) at PADDR.
elf() {
    local machine=$1 paddr=$2
    printf '\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00'
    le 2 2; le "$machine" 2; le 1 4; le "$paddr" 8; le 64 8; le 0 8; le 0 4
    le 64 2; le 56 2; le 1 2; le 0 2; le 0 2; le 0 2
    le 1 4; le 5 4; le 120 8; le "$paddr" 8; le "$paddr" 8; le 4 8; le 4 8; le 4 8
    printf '\x1f\x20\x03\xd5'
}

# Commands expect_error runs orrery under (e.g. peak_rss); empty: none.
wrap=()

# "${peak_rss[@]}" FILE CMD...: runs CMD, writes its peak resident set size (KiB) to FILE and
# exits with CMD's status.
peak_rss=(python3 -c 'import resource, subprocess, sys
status = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(status)')

# zero_bomb MIB: a gzip stream of MIB MiB of zeros (about 1 KiB per MiB), made in a second:
# after a sync flush every further MiB of zeros compresses to the same bytes.
zero_bomb() {
    python3 -c 'import struct, sys, zlib
n = int(sys.argv[1])
z = bytes(1 << 20)
c = zlib.compressobj(9, zlib.DEFLATED, -15)
first = c.compress(z) + c.flush(zlib.Z_SYNC_FLUSH)
rest = c.compress(z) + c.flush(zlib.Z_SYNC_FLUSH)
crc = 0
for _ in range(n):
    crc = zlib.crc32(z, crc)
sys.stdout.buffer.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + first + rest * (n - 1)
                        + c.flush() + struct.pack("<II", crc, (n << 20) & 0xFFFFFFFF))' "$1"
}

expect_error() {  # expect_error WORDS ARGS...
    local words=$1
    shift
    timeout 20 "${wrap[@]}" "$orrery" "$@" </dev/null >"$work/out" 2>"$work/err"
    local status=$?
    local lines
    lines=$(wc -l <"$work/err")
    if [ $status -ne 1 ]; then
        echo "FAIL: exit status $status, expected 1: orrery $*" >&2
        cat "$work/err" >&2
        exit 1
    fi
    if [ "$lines" -ne 1 ] || ! head -c 8 "$work/err" | grep -q '^orrery: '; then
        echo "FAIL: stderr is not one 'orrery: ' line: orrery $*" >&2
        cat "$work/err" >&2
        exit 1
    fi
    if ! grep -qF -- "$words" "$work/err"; then
        echo "FAIL: stderr lacks '$words': orrery $*" >&2
        cat "$work/err" >&2
        exit 1
    fi
    if [ -s "$work/out" ]; then
        echo "FAIL: unexpected stdout: orrery $*" >&2
        cat "$work/out" >&2
        exit 1
    fi
    echo "PASS: $case_name: $(cat "$work/err")"
}

expect_help() {  # expect_help WORDS ARGS...
    local words=$1
    shift
    timeout 20 "$orrery" "$@" </dev/null >"$work/out" 2>"$work/err"
    local status=$?
    if [ $status -ne 0 ] || [ -s "$work/err" ] || ! grep -qF -- "$words" "$work/out"; then
        echo "FAIL: orrery $* (status $status, expected 0 and '$words' on stdout)" >&2
        cat "$work/err" >&2
        exit 1
    fi
    echo "PASS: $case_name"
}

expect_run() {  # expect_run EXPECTED_STDOUT STDIN_BYTES ARGS...
    local expected=$1 input=$2
    shift 2
    printf "$input" | timeout 20 "$orrery" "$@" >"$work/out" 2>"$work/err"
    local status=$?
    printf "$expected" >"$work/expected"
    if [ $status -ne 0 ] || ! cmp -s "$work/expected" "$work/out"; then
        echo "FAIL: orrery $* (status $status; stdout below, expected '$expected')" >&2
        cat "$work/out" "$work/err" >&2
        exit 1
    fi
    echo "PASS: $case_name"
}

# words HEX...: 32-bit little-endian instruction words.
words() {
    local w
    for w in "$@"; do le $((0x$w)) 4; done
}
# Prints CHAR and a newline on the virt PL011, then PSCI SYSTEM_OFF.
print_and_off() {
    words d2a12001 "528$1" b9000022 52800142 b9000022 d2800100 f2b08000 d4000002 14000000
}

good=$work/good.elf
elf 183 $((0x40000000)) >"$good"

# mb_header FLAGS: a multiboot 1 header (magic, flags, checksum).
mb_header() {
    le $((0x1BADB002)) 4; le "$1" 4; le $(((-0x1BADB002 - $1) & 0xFFFFFFFF)) 4
}
# mbk HEXBYTES: a multiboot kernel using the a.out kludge, loaded at 1 MiB, entry at 0x100020
# where the code HEXBYTES (e.g. "0f0b") starts.
mbk() {
    mb_header $((0x10000))
    le $((0x100000)) 4; le $((0x100000)) 4; le 0 4; le 0 4; le $((0x100020)) 4
    printf "$(echo "$1" | sed 's/../\\x&/g')"
}
mbgood=$work/mb.bin
mbk 0f0b >"$mbgood"  # UD2
# A kernel that triple-faults on its first run and, after the reset, prints R through COM1,
# exits through isa-debug-exit with 0x10 (status 33) and would then print X: a marker at
# 32 MiB survives the reset, as guest RAM does on QEMU.
mbreset=$work/reset.bin
mbk "813d0000000278563412740cc70500000002785634120f0b66baf803b052eeb00aeeb010e6f4b058eef4" \
    >"$mbreset"

expect_status() {  # expect_status STATUS EXPECTED_STDOUT ARGS...
    local want=$1 expected=$2
    shift 2
    timeout 20 "$orrery" "$@" </dev/null >"$work/out" 2>"$work/err"
    local status=$?
    printf "$expected" >"$work/expected"
    if [ $status -ne "$want" ] || ! cmp -s "$work/expected" "$work/out" || [ -s "$work/err" ]; then
        echo "FAIL: orrery $* (status $status, expected $want and '$expected' on stdout)" >&2
        cat "$work/out" "$work/err" >&2
        exit 1
    fi
    echo "PASS: $case_name"
}

case $case_name in
unknown_option) expect_error "unknown option" -nosuch -kernel "$good" ;;
bad_ram_size) expect_error "invalid RAM size" -m garbage -kernel "$good" ;;
zero_ram_size) expect_error "greater than zero" -m 0 -kernel "$good" ;;
ram_too_large) expect_error "maximum" -m 1T -kernel "$good" ;;
unknown_machine) expect_error "unknown machine type" -M nosuch -kernel "$good" ;;
unknown_cpu) expect_error "unknown CPU model" -cpu nosuch -kernel "$good" ;;
bad_tier) expect_error "unknown tier" -accel tcg,tier=bogus -kernel "$good" ;;
unknown_accel) expect_error "unknown accelerator" -accel bogus -kernel "$good" ;;
kvm_on_virt) expect_error "does not support KVM" -accel kvm -kernel "$good" ;;
kvm_bad_irqchip) expect_error "kernel-irqchip=split is not supported" -M pc -accel kvm,kernel-irqchip=split -kernel "$good" ;;
verify_smp) expect_error "only one vCPU (-smp 1)" -M pc -smp 2 -accel verify -kernel "$good" ;;
verify_on_virt) expect_error "verify" -accel verify -kernel "$good" ;;
cpu_host_without_kvm) expect_error "needs -accel kvm" -M pc -cpu host -kernel "$good" ;;
missing_kernel_arg) expect_error "missing argument" -kernel ;;
missing_kernel) expect_error "No such file" -kernel "$work/nonexistent.elf" ;;
kernel_is_directory) expect_error "is a directory" -kernel "$work" ;;
empty_kernel)
    : >"$work/empty"
    expect_error "empty" -kernel "$work/empty"
    ;;
truncated_elf)
    head -c 40 "$good" >"$work/trunc.elf"
    expect_error "truncated ELF header" -kernel "$work/trunc.elf"
    ;;
x86_64_elf)
    elf 62 $((0x40000000)) >"$work/x86.elf"
    expect_error "x86-64" -kernel "$work/x86.elf"
    ;;
elf_outside_ram)
    elf 183 $((0x1000)) >"$work/low.elf"
    expect_error "outside RAM" -kernel "$work/low.elf"
    ;;
gzip_kernel)
    printf '\x1f\x8b\x08\x00\x00\x00\x00\x00' >"$work/k.gz"
    expect_error "gzip" -kernel "$work/k.gz"
    ;;
bad_log_item) expect_error "unknown log item" -d nosuch -kernel "$good" ;;
bad_log_file) expect_error "/nonexistent/dir/file" -D /nonexistent/dir/file -kernel "$good" ;;
bad_serial) expect_error "unknown character device" -serial bogus -kernel "$good" ;;
bad_serial_file) expect_error "cannot open" -serial file:/nonexistent/dir/out -kernel "$good" ;;
unexpected_argument) expect_error "unexpected argument" disk.img ;;
no_kernel) expect_error "no kernel" -M virt ;;
smp_zero) expect_error "at least 1" -smp 0 -kernel "$good" ;;
smp_too_many) expect_error "at most 8" -smp 999 -kernel "$good" ;;
smp_garbage) expect_error "invalid CPU count" -smp lots -kernel "$good" ;;
bad_gic_version) expect_error "gic-version" -M virt,gic-version=5 -kernel "$good" ;;
mte_without_mte_cpu) expect_error "has no MTE" -M virt,mte=on -cpu cortex-a57 -kernel "$good" ;;
bad_mte_value) expect_error "mte" -M virt,mte=maybe -kernel "$good" ;;
unknown_machine_prop) expect_error "not supported" -M virt,secure=on -kernel "$good" ;;
missing_initrd) expect_error "-initrd /nonexistent/initrd" -initrd /nonexistent/initrd -kernel "$good" ;;
bad_dtb)
    printf 'not a device tree at all' >"$work/bad.dtb"
    expect_error "-dtb" -dtb "$work/bad.dtb" -kernel "$good"
    ;;
hostfwd_port_in_use)
    # A listener holds the port for the duration of the run.
    python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)' >"$work/port" &
    holder=$!
    for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
    expect_error "cannot forward host tcp port" -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$(cat "$work/port")-:22" \
        -device virtio-net-device,netdev=n0 -kernel "$good"
    kill $holder
    ;;
net_device_unknown_netdev)
    expect_error "no -netdev with that id" -device virtio-net-device,netdev=n9 -kernel "$good" ;;
pc_nic_default_e1000) expect_error "-nic user: the pc machine's default NIC model is e1000, which Orrery lacks" -M pc -nic user -kernel "$mbgood" ;;
pc_ide_index_in_use) expect_error "IDE index 2 is already in use" -M pc -cdrom "$mbgood" -hdc "$mbgood" -kernel "$mbgood" ;;
nic_user_default_model) expect_error "-nic user,model=rtl8139: unknown NIC model 'rtl8139'" -nic user,model=rtl8139 -kernel "$good" ;;
missing_dtb) expect_error "-dtb /nonexistent.dtb" -dtb /nonexistent.dtb -kernel "$good" ;;
corrupt_gzip_kernel)
    printf '\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbagegarbagegarbage' >"$work/c.gz"
    expect_error "gzip" -kernel "$work/c.gz"
    ;;
fifo_kernel | fifo_initrd | fifo_dtb | fifo_serial | fifo_log)
    # A FIFO nobody writes to: opening or reading it must not block (timeout 20 would fail).
    mkfifo "$work/fifo"
    case $case_name in
    fifo_kernel) expect_error "-kernel $work/fifo: not a regular file (it is a FIFO)" -kernel "$work/fifo" ;;
    fifo_initrd) expect_error "-initrd $work/fifo: not a regular file (it is a FIFO)" -initrd "$work/fifo" -kernel "$good" ;;
    fifo_dtb) expect_error "-dtb $work/fifo: not a regular file (it is a FIFO)" -dtb "$work/fifo" -kernel "$good" ;;
    fifo_serial) expect_error "cannot open $work/fifo: not a regular file (it is a FIFO)" -serial "file:$work/fifo" -kernel "$good" ;;
    fifo_log) expect_error "-D $work/fifo: cannot open: not a regular file (it is a FIFO)" -D "$work/fifo" -kernel "$good" ;;
    esac
    ;;
dev_null_outputs)
    # Character devices stay valid outputs for -serial file: and -D.
    print_and_off 00822 >"$work/raw.bin"
    expect_run '' '' -serial file:/dev/null -d in_asm -D /dev/null -kernel "$work/raw.bin"
    ;;
serial_dev_full)
    print_and_off 00822 >"$work/raw.bin"
    expect_error "orrery: -serial file:/dev/full: write failed: No space left on device" \
        -serial file:/dev/full -kernel "$work/raw.bin"
    ;;
log_dev_full)
    print_and_off 00822 >"$work/raw.bin"
    expect_error "orrery: -D /dev/full: write failed: No space left on device" \
        -serial null -d in_asm -D /dev/full -kernel "$work/raw.bin"
    ;;
corrupt_dtb_rsvmap)
    # The board's own tree with the reserve map moved to the very end (issue 9: heap
    # corruption in fdt_open_into).
    "$orrery" -M virt,dumpdtb="$work/virt.dtb" -kernel "$good" || exit 1
    python3 -c 'import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
b[16:20] = b[4:8]  # off_mem_rsvmap = totalsize
open(sys.argv[1], "wb").write(b)' "$work/virt.dtb"
    expect_error "-dtb: not a valid device tree blob" -dtb "$work/virt.dtb" -kernel "$good"
    ;;
append_too_long)
    expect_error "-append: kernel command line is too long (120000 bytes; at most 2047)" \
        -append "$(head -c 120000 /dev/zero | tr '\0' x)" -kernel "$good"
    ;;
append_longest_runs)
    print_and_off 00822 >"$work/raw.bin"
    expect_run 'A\n' '' -nographic -append "$(head -c 2047 /dev/zero | tr '\0' x)" -kernel "$work/raw.bin"
    ;;
dumpdtb_unwritable)
    expect_error "-machine dumpdtb=/nonexistent/dir/virt.dtb: cannot open: No such file" \
        -M virt,dumpdtb=/nonexistent/dir/virt.dtb -kernel "$good"
    ;;
gzip_bomb_kernel)
    # 640 MiB of zeros in well under 1 MiB of file, for a 256 MiB guest: refused once the
    # output passes the RAM size, without ever holding that much (it peaked at 3.2 GB for -m 2G).
    zero_bomb 640 >"$work/bomb.gz"
    wrap=("${peak_rss[@]}" "$work/rss")
    expect_error "-kernel $work/bomb.gz: gzip: decompressed kernel is larger than guest RAM" \
        -m 256M -kernel "$work/bomb.gz"
    rss=$(cat "$work/rss")
    if [ "$rss" -gt $((160 * 1024)) ]; then
        echo "FAIL: peak RSS $rss KiB for a refused gzip bomb (limit 160 MiB)" >&2
        exit 1
    fi
    echo "peak RSS: $rss KiB"
    ;;
memfd_backend_runs)
    # Guest RAM on a memfd (what vhost-user needs); -m agrees with the backend's size.
    print_and_off 00822 >"$work/raw.bin"
    expect_run 'A\n' '' -nographic -object memory-backend-memfd,id=mem,size=256M \
        -machine memory-backend=mem -m 256M -kernel "$work/raw.bin"
    ;;
memory_backend_size_mismatch)
    expect_error "-m 128M: does not match the size of memory backend 'mem' (256 MiB)" \
        -object memory-backend-memfd,id=mem,size=256M -machine memory-backend=mem -m 128M \
        -kernel "$good"
    ;;
memory_backend_missing)
    expect_error "-machine memory-backend=nope: no -object with that id" \
        -machine memory-backend=nope -kernel "$good"
    ;;
bad_object_type)
    expect_error "-object iothread,id=io0: unknown object type 'iothread'" \
        -object iothread,id=io0 -kernel "$good"
    ;;
object_without_size)
    expect_error "-object memory-backend-ram,id=m: size=SIZE is required" \
        -object memory-backend-ram,id=m -kernel "$good"
    ;;
vhost_user_errors)
    # -chardev socket for vhost-user-blk-pci: one line and exit status 1 for each mistake.
    expect_error "-chardev pty,id=c0: 'pty': only socket is supported" -chardev pty,id=c0 \
        -kernel "$good"
    expect_error "-chardev socket,id=c0: socket needs id=ID and path=PATH" \
        -chardev socket,id=c0 -kernel "$good"
    expect_error "-device vhost-user-blk-pci: chardev=c9: no -chardev socket with that id" \
        -device vhost-user-blk-pci,chardev=c9 -kernel "$good"
    expect_error "guest RAM 'ram' is not shared memory" \
        -chardev socket,id=c0,path="$work/none.sock" -device vhost-user-blk-pci,chardev=c0 \
        -kernel "$good"
    expect_error "cannot connect to vhost-user socket $work/none.sock" \
        -object memory-backend-memfd,id=mem,size=256M -machine memory-backend=mem -m 256M \
        -chardev socket,id=c0,path="$work/none.sock" -device vhost-user-blk-pci,chardev=c0 \
        -kernel "$good"
    ;;
machine_props_merge)
    # QEMU merges repeated -machine options: a property-only -machine adds to the board chosen
    # by another, and a bad property is blamed on the option that gave it.
    print_and_off 00822 >"$work/raw.bin"
    expect_run 'A\n' '' -nographic -M virt -machine gic-version=3 -kernel "$work/raw.bin"
    expect_error "-machine gic-version=4: invalid gic-version '4'" \
        -M virt -machine gic-version=4 -kernel "$good"
    ;;
unknown_device)
    expect_error "-device e1000: not a device of this machine" -device e1000 -kernel "$good"
    ;;
drive_missing_file)
    expect_error "-drive file=$work/none.img: " \
        -drive "file=$work/none.img,if=none,id=d0,format=raw" -kernel "$good"
    ;;
pc_unknown_device)
    expect_error "-device virtio-rng-device: not a device of this machine" -M pc \
        -device virtio-rng-device -kernel "$mbgood"
    ;;
pc_debug_exit_bad_iobase)
    expect_error "iobase=0x10000: expected a number" -M pc \
        -device isa-debug-exit,iobase=0x10000 -kernel "$mbgood"
    ;;
pc_debug_exit_bad_prop)
    expect_error "no property 'port'" -M pc -device isa-debug-exit,port=1 -kernel "$mbgood"
    ;;
pc_testdev_bad_prop)
    expect_error "-device pc-testdev: no property 'iobase' (it has none)" -M pc \
        -device pc-testdev,iobase=1 -kernel "$mbgood"
    ;;
pc_debug_exit_on_rtc)
    expect_error "-device isa-debug-exit: ports 0x70..0x71: overlaps rtc" -M pc \
        -device isa-debug-exit,iobase=0x70 -kernel "$mbgood"
    ;;
pc_debug_exit_past_top)
    expect_error "iobase=0xfffe,iosize=4: the ports reach past 0xffff" -M pc -device isa-debug-exit,iobase=0xfffe,iosize=4 \
        -kernel "$mbgood"
    ;;
pc_debug_exit_overlap)
    expect_error "-device isa-debug-exit: ports 0x3f8..0x3f9: overlaps serial0" -M pc -device isa-debug-exit,iobase=0x3f8 -kernel "$mbgood"
    ;;
pc_not_multiboot) expect_error "neither a bzImage nor a multiboot kernel" -M pc -kernel "$good" ;;
pc_bzimage_old_protocol)
    # A bzImage setup header of protocol 2.05.
    { head -c $((0x1f1)) /dev/zero; printf '\x01'; head -c 12 /dev/zero; le $((0xaa55)) 2
      printf '\xeb\x6a'; printf 'HdrS'; le $((0x205)) 2; head -c 2048 /dev/zero; } >"$work/bz"
    expect_error "boot protocol 2.05 is too old (2.06 or later needed)" -M pc -kernel "$work/bz"
    ;;
pc_bzimage_missing_initrd)
    { head -c $((0x1f1)) /dev/zero; printf '\x01'; head -c 12 /dev/zero; le $((0xaa55)) 2
      printf '\xeb\x6a'; printf 'HdrS'; le $((0x20f)) 2; head -c 2048 /dev/zero; } >"$work/bz"
    expect_error "-initrd /nonexistent/initrd: No such file" -M pc -initrd /nonexistent/initrd \
        -kernel "$work/bz"
    ;;
pc_elf64_multiboot)
    { elf 62 $((0x100000)); mb_header 0; } >"$work/k64.elf"
    expect_error "64-bit ELF" -M pc -kernel "$work/k64.elf"
    ;;
pc_bad_aout)
    { mb_header $((0x10000)); le $((0x100000)) 4; le $((0x100000)) 4; le $((0x200000)) 4
      le 0 4; le $((0x100020)) 4; } >"$work/bad.bin"
    expect_error "load_end_addr 0x200000 reaches past the end of the file" -M pc \
        -kernel "$work/bad.bin"
    ;;
pc_kernel_outside_ram)
    head -c $((3 << 19)) /dev/zero >"$work/big"  # 1.5 MiB: past 2 MiB behind the kernel
    expect_error "do not fit in RAM below 0x200000" -M pc -m 2M -initrd "$work/big" \
        -kernel "$mbgood"
    ;;
pc_missing_module)
    expect_error "-initrd /nonexistent/mod: No such file" -M pc -initrd "/nonexistent/mod arg" \
        -kernel "$mbgood"
    ;;
pc_dtb)
    printf 'x' >"$work/x.dtb"
    expect_error "-dtb: the pc machine takes no device tree" -M pc -dtb "$work/x.dtb" \
        -kernel "$mbgood"
    ;;
pc_bios_missing) expect_error "-bios $work/nonexistent.bin: No such file" -M pc -bios "$work/nonexistent.bin" ;;
pc_bios_bad_size)
    printf 'x' >"$work/bios.bin"
    expect_error "-bios $work/bios.bin: not a BIOS image" -M pc -bios "$work/bios.bin"
    ;;
pc_append_without_kernel) expect_error "-append: needs -kernel" -M pc -append console=ttyS0 ;;
virt_bios) expect_error "-bios: the virt machine has no firmware" -M virt -bios "$work/x.bin" -kernel "$good" ;;
pc_ram_too_small) expect_error "RAM size 1024 KiB is outside the pc machine's 2 MiB" -M pc -m 1M -kernel "$mbgood" ;;
pc_smp_too_many) expect_error "at most 32" -M pc -smp 33 -kernel "$mbgood" ;;
pc_unknown_cpu) expect_error "unknown CPU model" -M pc -cpu cortex-a57 -kernel "$mbgood" ;;
pc_machine_prop) expect_error "not supported by pc" -M pc,gic-version=3 -kernel "$mbgood" ;;
pc_bad_kernel_decompress)
    expect_error "invalid kernel-decompress 'maybe' (expected host, guest)" \
        -M pc,kernel-decompress=maybe -kernel "$mbgood"
    ;;
pc_triple_fault_no_reboot)
    # UD2 with no IDT: #UD, then faults delivering it, then a triple fault; -no-reboot exits 0.
    expect_run '' '' -M pc -nographic -no-reboot -kernel "$mbgood"
    ;;
pc_cpu_help) expect_help "qemu64" -M pc -cpu help ;;
pc_memory_backend_split_runs)
    # One memfd behind RAM below and above 4 GiB; the kernel's marker at 32 MiB still works.
    expect_status 33 'R\n' -M pc -nographic -device isa-debug-exit,iobase=0xf4,iosize=4 \
        -object memory-backend-memfd,id=mem,size=4G -machine memory-backend=mem -m 4G \
        -kernel "$mbreset"
    ;;
pc_reset_reboots)
    expect_status 33 'R\n' -M pc -nographic -device isa-debug-exit,iobase=0xf4,iosize=4 \
        -kernel "$mbreset"
    ;;
pc_reset_no_reboot)
    expect_status 0 '' -M pc -nographic -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=4 \
        -kernel "$mbreset"
    ;;
raw_binary_runs)
    print_and_off 00822 >"$work/raw.bin"  # 'A'
    expect_run 'A\n' '' -nographic -kernel "$work/raw.bin"
    ;;
arm64_image_runs)
    # Linux arm64 Image header: b +0x40, text_offset 0x80000, image_size, magic "ARM\x64".
    {
        words 14000010 00000000; le $((0x80000)) 8; le $((0x1000)) 8; le 0 8; le 0 8; le 0 8
        le 0 8; printf 'ARM\x64'; le 0 4
        print_and_off 00922  # 'I'
    } >"$work/Image"
    expect_run 'I\n' '' -nographic -kernel "$work/Image"
    ;;
out_asm_log)
    # -d out_asm shows the baseline tier's x86-64 code for each block (Capstone).
    print_and_off 00822 >"$work/raw.bin"
    expect_run 'A\n' '' -nographic -accel tcg,tier=baseline -d out_asm -D "$work/out.log" \
        -kernel "$work/raw.bin"
    if ! grep -q '^OUT: \[guest 0x' "$work/out.log" || ! grep -q 'push' "$work/out.log"; then
        echo "FAIL: -d out_asm wrote no host code:" >&2
        head -20 "$work/out.log" >&2
        exit 1
    fi
    ;;
perfmap_log)
    # -d perfmap writes /tmp/perf-PID.map: "ADDR SIZE guest_PC" per block of baseline code.
    print_and_off 00822 >"$work/raw.bin"
    touch "$work/stamp"
    expect_run 'A\n' '' -nographic -accel tcg,tier=baseline -d perfmap -kernel "$work/raw.bin"
    maps=$(find /tmp -maxdepth 1 -name 'perf-*.map' -newer "$work/stamp")
    found=0
    for f in $maps; do
        grep -Eq '^[0-9a-f]+ [0-9a-f]+ guest_[0-9a-f]+$' "$f" && found=1
        rm -f "$f"
    done
    [ $found = 1 ] || { echo "FAIL: -d perfmap wrote no map of baseline code" >&2; exit 1; }
    ;;
ctrl_a_x_quits)
    words 14000000 >"$work/loop.bin"  # b .
    expect_run '' '\001x' -nographic -kernel "$work/loop.bin"
    ;;
help) expect_help "-kernel" -help ;;
machine_help) expect_help "virt" -M help ;;
machine_prop_help) expect_help "dtb-randomness" -M virt,help ;;
dtb_randomness)
    # QEMU's default: fresh seeds in every tree; off: the same tree every time, without them.
    for t in a b; do "$orrery" -M virt,dumpdtb="$work/$t.dtb" -kernel "$good" || exit 1; done
    for t in c d; do
        "$orrery" -M virt,dumpdtb="$work/$t.dtb",dtb-randomness=off -kernel "$good" || exit 1
    done
    "$orrery" -M virt,dumpdtb="$work/e.dtb",dtb-kaslr-seed=no -kernel "$good" || exit 1
    if cmp -s "$work/a.dtb" "$work/b.dtb" || ! grep -q rng-seed "$work/a.dtb" ||
        ! grep -q kaslr-seed "$work/a.dtb"; then
        echo "FAIL: the default tree has no fresh rng-seed and kaslr-seed" >&2
        exit 1
    fi
    if ! cmp -s "$work/c.dtb" "$work/d.dtb" || ! cmp -s "$work/c.dtb" "$work/e.dtb" ||
        grep -q seed "$work/c.dtb"; then
        echo "FAIL: dtb-randomness=off (or dtb-kaslr-seed=no) still varies or seeds the tree" >&2
        exit 1
    fi
    expect_error "invalid dtb-randomness 'maybe'" -M virt,dtb-randomness=maybe -kernel "$good"
    ;;
cpu_help) expect_help "cortex-a57" -cpu help ;;
log_help) expect_help "guest_errors" -d help ;;
accel_help) expect_help "tier=" -accel help ;;
version) expect_help "Orrery" -version ;;
*)
    echo "unknown case $case_name" >&2
    exit 2
    ;;
esac
