#!/usr/bin/python3
"""A real SMTP server (aiosmtpd) for the tests: stores every message it accepts in a maildir.

Prints "listening on 127.0.0.1:PORT" once it accepts connections. --fail-first N answers the
first N transactions with a temporary failure (451), --reject-all with a permanent one (550),
to test delivery retries.
"""
import argparse
import asyncio
import mailbox
import os
import signal
import sys

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, maildir, fail_first, reject_all):
        self.box = mailbox.Maildir(maildir, create=True)
        self.fail_first = fail_first
        self.reject_all = reject_all

    async def handle_DATA(self, server, session, envelope):
        if self.reject_all:
            return "550 5.7.1 rejected by test sink"
        if self.fail_first > 0:
            self.fail_first -= 1
            return "451 4.3.0 try again later (test sink)"
        msg = mailbox.MaildirMessage(envelope.original_content or envelope.content)
        msg["X-Envelope-From"] = envelope.mail_from
        msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.box.add(msg)
        return "250 OK"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--maildir", required=True)
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--reject-all", action="store_true")
    a = ap.parse_args()
    # mailbox.Maildir(create=True) creates tmp/new/cur only when the folder itself is new.
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(a.maildir, sub), exist_ok=True)
    port = a.port
    if port == 0:
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
    ctl = Controller(Handler(a.maildir, a.fail_first, a.reject_all), hostname="127.0.0.1",
                     port=port, decode_data=False)
    ctl.start()
    print(f"listening on 127.0.0.1:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.run_until_complete(stop.wait())
    ctl.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
