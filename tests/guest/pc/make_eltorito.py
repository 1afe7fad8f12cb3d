#!/usr/bin/env python3
"""Writes a small ISO 9660 image with an El Torito no-emulation boot entry (ECMA-119 and the
El Torito specification 1.0): a primary volume descriptor with an empty root directory, the
boot record (catalog at block 19), the terminator, the catalog (validation entry, then the
bootable default entry loading 4 virtual sectors at 0000:7c00) and the 2 KiB boot image at
block 20. The other blocks start with their block number as text ("LBA %08x"), so reads show
which block the BIOS fetched.

    make_eltorito.py BOOT.bin OUT.iso
"""
import struct
import sys

BLOCK = 2048
BLOCKS = 64
PVD, BOOT_RECORD, TERMINATOR, CATALOG, IMAGE, ROOT = 16, 17, 18, 19, 20, 21


def both16(v):
    return struct.pack("<H", v) + struct.pack(">H", v)


def both32(v):
    return struct.pack("<I", v) + struct.pack(">I", v)


def dir_record(extent, size, name):
    rec = struct.pack("<BB", 0, 0) + both32(extent) + both32(size)
    rec += bytes(7) + struct.pack("<BBB", 2, 0, 0) + both16(1) + bytes([len(name)]) + name
    if len(rec) % 2:
        rec += b"\0"
    return bytes([len(rec)]) + rec[1:]


def main():
    boot = open(sys.argv[1], "rb").read()
    if len(boot) != BLOCK:
        sys.exit("make_eltorito.py: the boot image must be 2048 bytes")
    img = bytearray(BLOCKS * BLOCK)
    for lba in list(range(0, PVD)) + list(range(ROOT + 1, BLOCKS)):
        img[lba * BLOCK:lba * BLOCK + 12] = b"LBA %08x" % lba

    def put(lba, data):
        img[lba * BLOCK:lba * BLOCK + len(data)] = data

    root = dir_record(ROOT, BLOCK, b"\0")
    pvd = bytearray(BLOCK)
    pvd[0:7] = b"\x01CD001\x01"
    pvd[8:40] = b"ORRERY".ljust(32)
    pvd[40:72] = b"ORRERY_BOOT".ljust(32)
    pvd[80:88] = both32(BLOCKS)
    pvd[120:124] = both16(1)  # volume set size
    pvd[124:128] = both16(1)  # volume sequence number
    pvd[128:132] = both16(BLOCK)
    pvd[132:140] = both32(0)  # path table size
    pvd[156:156 + len(root)] = root
    pvd[881] = 1  # file structure version
    put(PVD, pvd)
    br = bytearray(BLOCK)
    br[0:7] = b"\x00CD001\x01"
    br[7:39] = b"EL TORITO SPECIFICATION".ljust(32, b"\0")
    br[0x47:0x4B] = struct.pack("<I", CATALOG)
    put(BOOT_RECORD, br)
    put(TERMINATOR, b"\xffCD001\x01")
    # Validation entry: header 1, platform 0 (x86), a checksum making the 16 words sum to zero,
    # key 55 aa.
    val = bytearray(32)
    val[0] = 1
    val[4:28] = b"ORRERY".ljust(24, b"\0")
    val[30:32] = b"\x55\xaa"
    val[28:30] = struct.pack("<H", (-sum(struct.unpack("<16H", bytes(val)))) & 0xFFFF)
    entry = struct.pack("<BBHBBHI", 0x88, 0, 0, 0, 0, 4, IMAGE)
    put(CATALOG, bytes(val) + entry)
    put(IMAGE, boot)
    put(ROOT, dir_record(ROOT, BLOCK, b"\0") + dir_record(ROOT, BLOCK, b"\1"))
    open(sys.argv[2], "wb").write(img)


main()
