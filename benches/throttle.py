"""A link of limited speed: a TCP proxy from 127.0.0.1:LISTEN to
127.0.0.1:UPSTREAM that lets at most MBPS MB/s (10^6 bytes) through
towards the server, all connections together (one token bucket, as one
uplink would), and the answers through unlimited. Run by benches/s3.sh,
the same link for every tool; it prints "ready" once it listens.

  throttle.py LISTEN UPSTREAM MBPS
"""
import asyncio
import sys
import time

listen, upstream = int(sys.argv[1]), int(sys.argv[2])
rate = float(sys.argv[3]) * 1e6
CHUNK = 64 << 10


class Bucket:
    """Tokens in bytes, refilled at `rate`; a burst of at most 100 ms."""

    def __init__(self):
        self.tokens = 0.0
        self.last = time.monotonic()
        self.lock = asyncio.Lock()

    async def take(self, n):
        async with self.lock:
            while True:
                now = time.monotonic()
                self.tokens = min(rate / 10, self.tokens + (now - self.last) * rate)
                self.last = now
                if self.tokens >= n:
                    self.tokens -= n
                    return
                await asyncio.sleep((n - self.tokens) / rate)


bucket = Bucket()


async def pipe(reader, writer, limited):
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            if limited:
                await bucket.take(len(data))
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def serve(client_reader, client_writer):
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", upstream)
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(
        pipe(client_reader, server_writer, True),
        pipe(server_reader, client_writer, False),
    )


async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", listen)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
