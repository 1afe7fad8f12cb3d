#!/usr/bin/env python3
"""Boots Debian's arm64 kernel with rdinit=/bin/sh and drives busybox's shell through a pty:
types commands, checks their output, then powers off. usage: shell_linux.py EMULATOR CACHE GIC"""
import os
import pty
import select
import subprocess
import sys
import time

emu, cache = sys.argv[1], sys.argv[2]
gic = sys.argv[3] if len(sys.argv) > 3 else "2"
here = os.path.dirname(os.path.abspath(__file__))
rc = subprocess.call([os.path.join(here, "fetch_debian.sh"), cache], stdout=subprocess.DEVNULL)
if rc != 0:
    sys.exit(rc)

args = ["-M", f"virt,gic-version={gic}", "-cpu", "cortex-a57", "-smp", "2", "-m", "512",
        "-nographic", "-no-reboot", "-kernel", f"{cache}/vmlinuz",
        "-initrd", f"{cache}/initrd-shell.cpio.gz",
        "-append", "console=ttyAMA0 rdinit=/bin/sh panic=-1 quiet"]
cmd = (["qemu-system-aarch64", "-nic", "none"] if emu == "qemu" else [emu]) + args

master, slave = pty.openpty()
proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
os.close(slave)
out = bytearray()
deadline = time.time() + float(os.environ.get("BOOT_TIMEOUT", "280"))


def fail(why):
    print(f"FAIL: {why}\ncommand: {' '.join(cmd)}\n---- last output ----")
    print(out[-3000:].decode(errors="replace"))
    proc.kill()
    sys.exit(1)


def expect(text, start=0):
    while True:
        i = out.find(text.encode(), start)
        if i >= 0:
            return i + len(text)
        left = deadline - time.time()
        if left <= 0:
            fail(f"timed out waiting for {text!r}")
        r, _, _ = select.select([master], [], [], min(left, 1.0))
        if r:
            try:
                data = os.read(master, 4096)
            except OSError:
                data = b""
            if not data:
                fail(f"emulator exited while waiting for {text!r}")
            out.extend(data)


def send(line):
    for ch in line.encode() + b"\r":  # the guest's UART takes bytes one at a time
        os.write(master, bytes([ch]))
        time.sleep(0.002)


pos = expect("# ")
time.sleep(0.5)
for command, answer in [("echo orrery-$((6*7))", "orrery-42"),
                        ("uname -m", "aarch64"),
                        ("/bin/busybox mkdir -p /proc && /bin/busybox mount -t proc p /proc && "
                         "/bin/busybox grep -c ^processor /proc/cpuinfo", "\n2"),
                        # The device tree's rng-seed and kaslr-seed (dtb-randomness, on by
                        # default as in QEMU) seed the RNG at once and move the kernel.
                        ("/bin/busybox dmesg | /bin/busybox grep -c -e 'random: crng init done' "
                         "-e 'KASLR enabled'", "\n2")]:
    start = len(out)
    send(command)
    expect(answer, start + len(command))
send("/bin/busybox poweroff -f")
try:
    status = proc.wait(timeout=max(5, deadline - time.time()))
except subprocess.TimeoutExpired:
    fail("did not exit after poweroff -f")
if status != 0:
    fail(f"exit status {status}")
print(f"PASS: shell via pty on {os.path.basename(emu)} gic-version={gic}")
