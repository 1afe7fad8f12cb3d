#!/usr/bin/env python3
"""Assembles A64 instructions (one per line on stdin) with the cross binutils and prints them as
C++ hex words with the assembly as a comment, ready to paste into a test:

    echo 'add x0, x1, x2' | tests/unit/arm64/asm_to_hex.py
    0x8b020020,  // add x0, x1, x2

Labels are not supported; use explicit offsets (e.g. 'b .+8')."""
import os
import subprocess
import sys
import tempfile


def main():
    lines = [l.strip() for l in sys.stdin if l.strip() and not l.strip().startswith("//")]
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "a.s")
        obj = os.path.join(d, "a.o")
        binf = os.path.join(d, "a.bin")
        with open(src, "w") as f:
            f.write(".text\n" + "\n".join(lines) + "\n")
        subprocess.run(["aarch64-linux-gnu-as", "-march=armv8-a+crc", "-o", obj, src], check=True)
        subprocess.run(["aarch64-linux-gnu-objcopy", "-O", "binary", "-j", ".text", obj, binf],
                       check=True)
        data = open(binf, "rb").read()
    if len(data) != 4 * len(lines):
        sys.exit("asm_to_hex: some lines did not assemble to exactly one instruction")
    for i, line in enumerate(lines):
        word = int.from_bytes(data[4 * i:4 * i + 4], "little")
        print(f"0x{word:08x},  // {line}")


if __name__ == "__main__":
    main()
