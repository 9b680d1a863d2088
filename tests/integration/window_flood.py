#!/usr/bin/python3
"""A logged-in SFTP client that ignores the SSH channel window, for sftpd_hostile_test.

Usage: window_flood.py PORT USER READ_PATH TOTAL_MIB  (password on stdin, one line)

It grants the server a 32 KiB window and never adjusts it, so the server's replies block; then it
keeps sending SFTP WRITE requests without waiting for the server's window. A server that buffers
everything grows by TOTAL_MIB; one that enforces the window ends the connection. Prints
"sent MIB" and then "disconnected" (it could not send everything) or "not disconnected".
"""
import socket
import struct
import sys

import paramiko


class NoWindowChannel(paramiko.Channel):
    # Never tells the server it may send more (paramiko adjusts as the application reads).
    def _check_add_window(self, n):
        return 0

    # Sends whatever fits in a packet, whatever window the server granted (called with
    # self.lock held).
    def _wait_for_send_window(self, size):
        if self.closed or self.eof_sent:
            return 0
        return min(size, self.out_max_packet_size - 64)


def packet(kind, body):
    return struct.pack(">IB", len(body) + 1, kind) + body


def string(b):
    return struct.pack(">I", len(b)) + b


def read_packet(chan):
    head = b""
    while len(head) < 4:
        head += chan.recv(4 - len(head))
    (n,) = struct.unpack(">I", head)
    body = b""
    while len(body) < n:
        body += chan.recv(n - len(body))
    return body


def main():
    port, user, read_path, total_mib = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    password = sys.stdin.readline().rstrip("\n")
    sock = socket.create_connection(("127.0.0.1", port))
    t = paramiko.Transport(sock)
    t.connect(username=user, password=password)
    # The public API builds the channel; its class is then swapped for the one above (same
    # attributes, two methods overridden).
    chan = t.open_session(window_size=32768, max_packet_size=32768)
    chan.__class__ = NoWindowChannel
    chan.invoke_subsystem("sftp")
    chan.sendall(packet(1, struct.pack(">I", 3)))  # INIT
    read_packet(chan)  # VERSION
    # OPEN the file to read (READ) and one to write (WRITE|CREAT|TRUNC).
    chan.sendall(packet(3, struct.pack(">I", 1) + string(read_path.encode()) + struct.pack(">II", 1, 0)))
    rh = read_packet(chan)
    assert rh[0] == 102, rh
    read_handle = rh[5:9 + struct.unpack(">I", rh[5:9])[0]][4:]
    chan.sendall(packet(3, struct.pack(">I", 2) + string(b"flood.bin") + struct.pack(">II", 0x1A, 0)))
    wh = read_packet(chan)
    assert wh[0] == 102, wh
    write_handle = wh[5:9 + struct.unpack(">I", wh[5:9])[0]][4:]
    # READs that fill the 32 KiB window many times over: the server's replies block.
    for i in range(64):
        chan.sendall(packet(5, struct.pack(">I", 100 + i) + string(read_handle) + struct.pack(">QI", i * 65536, 65536)))
    data = b"\0" * 32000
    sent = 0
    req = 1000
    try:
        while sent < total_mib * 1024 * 1024:
            p = packet(6, struct.pack(">I", req) + string(write_handle) + struct.pack(">Q", sent) + string(data))
            if chan.closed or not t.is_active():
                break
            chan.sendall(p)
            sent += len(data)
            req += 1
    except (OSError, EOFError, paramiko.SSHException):
        pass
    # Stopped early: the server ended the connection. Everything sent: it never did.
    print("sent", sent // (1024 * 1024))
    print("disconnected" if sent < total_mib * 1024 * 1024 else "not disconnected")
    t.close()


if __name__ == "__main__":
    main()
