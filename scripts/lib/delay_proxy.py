#!/usr/bin/python3
"""A loopback TCP proxy that delays every byte by a fixed time in each direction.

    delay_proxy.py --listen-port P --target-port T --delay-ms 25

25 ms each way gives a 50 ms round trip. Prints "listening on 127.0.0.1:P" when ready. Data is
forwarded in order; the delay is applied per chunk (a chunk leaves `delay` after it arrived), so
throughput is limited only by the window of the protocol above, as on a real long link.
"""
import argparse
import asyncio
import socket
import sys


async def pump(reader, writer, delay):
    queue = asyncio.Queue()
    loop = asyncio.get_running_loop()

    async def sender():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        try:
            writer.write_eof()
        except OSError:
            pass

    task = asyncio.create_task(sender())
    try:
        while True:
            data = await reader.read(1 << 18)
            if not data:
                break
            queue.put_nowait((loop.time() + delay, data))
    except OSError:
        pass
    queue.put_nowait((loop.time() + delay, None))
    try:
        await task
    except OSError:
        pass


async def handle(client_reader, client_writer, target_port, delay):
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
    except OSError:
        client_writer.close()
        return
    for w in (client_writer, server_writer):
        w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    await asyncio.gather(pump(client_reader, server_writer, delay),
                         pump(server_reader, client_writer, delay))
    for w in (client_writer, server_writer):
        w.close()


async def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--listen-port", type=int, required=True)
    ap.add_argument("--target-port", type=int, required=True)
    ap.add_argument("--delay-ms", type=float, default=25.0)
    a = ap.parse_args()
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, a.target_port, a.delay_ms / 1000.0), "127.0.0.1", a.listen_port)
    print(f"listening on 127.0.0.1:{a.listen_port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
