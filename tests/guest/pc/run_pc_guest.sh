#!/usr/bin/env bash
# Runs one of the pc board's own multiboot kernels (tests/guest/pc) on -M pc and checks what it
# prints on COM1 against the output recorded from qemu-system-x86_64.
#
#   run_pc_guest.sh EMULATOR KERNEL.bin VARIANT EXPECTED [TIER]
#
# VARIANT: "plain" (-m 128), "modules" (-m 128, -append and two -initrd modules), "4g"
# (-m 4G: RAM split around 4 GiB), "platform" (-m 5G -smp 3; QEMU also gets -nodefaults, as
# Orrery's pc has no floppy drive, which QEMU's default one would add to the CMOS), "pci"
# (-nodefaults with virtio-blk/net/rng-pci and pci-testdev, modern virtio as QEMU gives it with
# disable-legacy=on), "ide" (-nodefaults, an IDE disk at index 0 and a CD-ROM at index 2),
# "testdev" (-m 128 with pc-testdev), "triple" (the same with -append triple) or "vblk"
# (-nodefaults, a virtio-blk-pci disk with a marker in sectors 0 and 1).
# The kernel runs from a scratch directory under its own base name, since mbinfo prints the
# command line, which starts with the -kernel path. Passes when the exit status is 33
# (isa-debug-exit with 0x10; 0 for "triple", a triple fault with -no-reboot) and stdout matches
# EXPECTED byte for byte.
#
# TIER is a tcg tier, or "kvm" (-accel kvm), "kvm-irqchip-off" (-accel
# kvm,kernel-irqchip=off) or "verify-kvm" (-accel verify,ref=kvm: the baseline tier in lockstep
# with KVM); the kvm ones exit 77 (skipped) without a usable /dev/kvm.
#
# Environment: ORRERY=qemu runs QEMU (default qemu-system-x86_64, or QEMU=/path) instead;
# UPDATE_EXPECTED=1 (with ORRERY=qemu) rewrites EXPECTED; GUEST_TIMEOUT (default 30 s).
set -u
if [ $# -lt 4 ] || [ $# -gt 5 ]; then
    echo "usage: $0 EMULATOR KERNEL.bin VARIANT EXPECTED [TIER]" >&2
    exit 2
fi
emulator=${ORRERY:-$1}
kernel=$(realpath "$2")
variant=$3
expected=$(realpath -m "$4")
tier=${5:-auto}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
name=$(basename "$kernel")
cp "$kernel" "$work/$name"
printf 'hello\n' >"$work/m1"
printf 'world\n' >"$work/m2"
case $variant in
plain) args=(-m 128) ;;
modules) args=(-m 128 -append "a b" -initrd "m1 arg1 x,m2") ;;
4g) args=(-m 4G) ;;
testdev) args=(-m 128 -device pc-testdev) ;;
# A triple fault with -no-reboot ends the run with status 0.
triple) args=(-m 128 -device pc-testdev -append triple) ;;
platform) args=(-m 5G -smp 3) ;;
pci)
    truncate -s 1M "$work/disk.img"
    args=(-m 128 -nodefaults -drive if=none,id=d0,file=disk.img,format=raw
        -device virtio-blk-pci,drive=d0,disable-legacy=on -device pci-testdev
        -netdev user,id=n0 -device virtio-net-pci,netdev=n0,disable-legacy=on,addr=6
        -device virtio-rng-pci,disable-legacy=on,addr=5)
    ;;
vblk)
    truncate -s 64K "$work/disk.img"
    printf 'ORRERY-VBLK-SEC0' | dd of="$work/disk.img" bs=1 conv=notrunc 2>/dev/null
    printf 'ORRERY-VBLK-SEC1' | dd of="$work/disk.img" bs=1 seek=512 conv=notrunc 2>/dev/null
    args=(-m 128 -nodefaults -drive if=none,id=d0,file=disk.img,format=raw
        -device virtio-blk-pci,drive=d0,disable-legacy=on,addr=4)
    ;;
ide)
    # A disk with a marker in sector 1 at index 0, a CD-ROM with one in block 0 at index 2.
    truncate -s 1M "$work/disk.img"
    printf 'ORRERY-IDE-DISK1' | dd of="$work/disk.img" bs=1 seek=512 conv=notrunc 2>/dev/null
    truncate -s 16K "$work/cd.iso"
    printf 'ORRERY-CD-BLOCK0' | dd of="$work/cd.iso" bs=1 conv=notrunc 2>/dev/null
    args=(-m 128 -nodefaults -drive file=disk.img,format=raw,if=ide,index=0
        -drive file=cd.iso,format=raw,if=ide,index=2,media=cdrom)
    ;;
*)
    echo "unknown variant $variant" >&2
    exit 2
    ;;
esac
pc=(-M pc -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=4 "${args[@]}")
if [ "$emulator" = qemu ]; then
    cmd=("${QEMU:-qemu-system-x86_64}" "${pc[@]}" -display none -serial stdio -nic none)
    [ "$variant" = platform ] && cmd+=(-nodefaults)
else
    case $tier in
    kvm* | verify-kvm)
        if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
            echo "SKIP: no usable /dev/kvm"
            exit 77
        fi
        accel=kvm
        [ "$tier" = kvm-irqchip-off ] && accel=kvm,kernel-irqchip=off
        [ "$tier" = verify-kvm ] && accel=verify,ref=kvm,test=baseline
        ;;
    *) accel="tcg,tier=$tier" ;;
    esac
    cmd=("$(realpath "$emulator")" "${pc[@]}" -nographic -accel "$accel")
    # -nodefaults drops the serial port -nographic would put on stdio.
    case $variant in pci | ide | vblk) cmd+=(-serial stdio) ;; esac
fi
(cd "$work" && timeout "${GUEST_TIMEOUT:-30}" "${cmd[@]}" -kernel "$name" </dev/null \
    >"$work/out" 2>"$work/err")
status=$?
want=33
[ "$variant" = triple ] && want=0
. "$(dirname "$0")/verdict.sh"
guest_verdict $status $want "$expected" "$work/out" "$name $variant"
