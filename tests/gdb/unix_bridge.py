#!/usr/bin/env python3
"""Connects stdin/stdout to a Unix socket, for gdb's `target remote | unix_bridge.py PATH`
(gdb 13 cannot open Unix sockets itself)."""
import os
import socket
import sys
import threading
import time

# The socket file appears at bind(), a moment before listen(): a connection in between is
# refused, so retry briefly (seen once under a loaded CI run).
for attempt in range(100):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(sys.argv[1])
        break
    except (ConnectionRefusedError, FileNotFoundError):
        s.close()
        if attempt == 99:
            raise
        time.sleep(0.05)


def upstream():
    while True:
        data = os.read(0, 4096)
        if not data:
            break
        s.sendall(data)
    s.shutdown(socket.SHUT_WR)


threading.Thread(target=upstream, daemon=True).start()
while True:
    data = s.recv(4096)
    if not data:
        break
    os.write(1, data)
