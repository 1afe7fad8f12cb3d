# Sourced by the Linux tests that run one static arm64 program (built here with the cross gcc,
# no C library) from a busybox initramfs: mte_linux.sh, pmu_debug_linux.sh. They set here (this
# folder), emu and cache; boot_lib.sh's boot_cmd builds their command lines.
. "$here/boot_lib.sh"

# static_prog_setup: exits 77 (skip) without aarch64-linux-gnu-gcc, fetches Debian's arm64
# files into $cache and makes $work, removed on exit.
static_prog_setup() {
    command -v aarch64-linux-gnu-gcc >/dev/null || skip "no aarch64-linux-gnu-gcc"
    "$here/fetch_debian.sh" "$cache" >/dev/null || exit $?
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
}

# static_prog_initrd WORK SRC NAME "APPLETS" INIT_BODY: builds SRC into /bin/NAME and writes
# WORK/initrd.cpio.gz whose /init is INIT_BODY (printf format, after "#!/bin/sh\n").
static_prog_initrd() {
    local work=$1 src=$2 name=$3 applets=$4 init=$5 app
    mkdir -p "$work/root"/{bin,proc,sys,dev}
    aarch64-linux-gnu-gcc -O2 -static -nostdlib -ffreestanding -fno-stack-protector -fno-pie \
        -no-pie -Wall -o "$work/root/bin/$name" "$src" || return 1
    cp "$cache/busybox" "$work/root/bin/busybox"
    chmod 755 "$work/root/bin/busybox"
    for app in $applets; do ln -s busybox "$work/root/bin/$app"; done
    printf "#!/bin/sh\n$init" >"$work/root/init"
    chmod 755 "$work/root/init"
    (cd "$work/root" && find . | cpio -o -H newc --quiet) | gzip >"$work/initrd.cpio.gz"
}

# expect_lines OUT GREP_FLAG LINE...: each LINE must be in OUT (grep GREP_FLAG), else FAIL with
# the command ("${cmd[@]}") and the output's tail, exit 1.
expect_lines() {
    local out=$1 flag=$2 line
    shift 2
    for line in "$@"; do
        if ! grep -q"$flag" "$line" "$out"; then
            echo "FAIL: no line '$line'"
            echo "command: ${cmd[*]}"
            tail -n 30 "$out"
            exit 1
        fi
    done
}
