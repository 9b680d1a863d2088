#!/usr/bin/python3
"""An SFTP session that stays open and active, for sftpd_hostile_test.

Usage: hold_session.py PORT USER [--key PATH] [--gate FIFO]
The password, when no key is given, is read from stdin (one line).

Logs in, then:
  - without --gate: STATs "." every 50 ms until the server ends the session; prints "ended".
  - with --gate: after authentication and before asking for the sftp subsystem, waits until
    something is written to FIFO; then asks for the subsystem and prints "sftp granted" or
    "sftp refused".
"""
import argparse
import socket
import sys
import time

import paramiko


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("user")
    ap.add_argument("--key")
    ap.add_argument("--gate")
    a = ap.parse_args()
    t = paramiko.Transport(socket.create_connection(("127.0.0.1", a.port)))
    if a.key:
        t.connect(username=a.user, pkey=paramiko.Ed25519Key.from_private_key_file(a.key))
    else:
        t.connect(username=a.user, password=sys.stdin.readline().rstrip("\n"))
    if a.gate:
        with open(a.gate) as g:
            g.read()
        try:
            chan = t.open_session()
            chan.invoke_subsystem("sftp")
            sftp = paramiko.SFTPClient(chan)
            sftp.stat(".")
            print("sftp granted")
        except (paramiko.SSHException, EOFError, OSError):
            print("sftp refused")
        t.close()
        return
    sftp = paramiko.SFTPClient.from_transport(t)
    try:
        while True:
            sftp.stat(".")
            time.sleep(0.05)  # pacing, so the session stays active without spinning
    except (paramiko.SSHException, EOFError, OSError):
        pass
    print("ended")
    t.close()


if __name__ == "__main__":
    main()
