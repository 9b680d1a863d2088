#!/usr/bin/python3
"""Sessions that each hold every handle they may open, for sftpd_hostile_test.

Usage: handle_flood.py PORT USER SESSIONS HANDLES
The password is read from stdin (one line).

Opens SESSIONS password sessions one after the other; in each opens HANDLES files for writing and
keeps them open, then tries one handle more. With all of them held, one more session writes three
files and reads them back. Prints one JSON object:
  {"sessions": N held, "handles": total held, "extra": [the error of each handle beyond,
   or "opened"], "other": true if every file read back equal}
"""
import json
import os
import socket
import sys

import paramiko


def login(port, user, password):
    t = paramiko.Transport(socket.create_connection(("127.0.0.1", port)))
    t.connect(username=user, password=password)
    return t, paramiko.SFTPClient.from_transport(t)


def main():
    port, user, sessions, handles = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    password = sys.stdin.readline().rstrip("\n")
    held = []
    extra = []
    for i in range(sessions):
        t, s = login(port, user, password)
        files = [s.open("s%d-h%d" % (i, j), "w") for j in range(handles)]
        try:
            files.append(s.open("s%d-extra" % i, "w"))
            extra.append("opened")
        except IOError as e:
            extra.append(str(e))
        held.append((t, s, files))
    t, s = login(port, user, password)
    ok = True
    for k in range(3):
        data = os.urandom(256 * 1024)
        with s.open("other-%d" % k, "w") as f:
            f.write(data)
        with s.open("other-%d" % k, "r") as f:
            ok = ok and f.read() == data
    print(json.dumps({"sessions": len(held), "handles": sum(len(h[2]) for h in held),
                      "extra": extra, "other": ok}))
    sys.stdout.flush()
    t.close()
    for t, s, files in held:
        t.close()


if __name__ == "__main__":
    main()
