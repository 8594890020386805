"""A TCP proxy that cuts connections: forwards 127.0.0.1:LISTEN to
127.0.0.1:UPSTREAM, and each time the bytes it has forwarded towards the
server (all connections together) pass the next of CUTS points drawn
(seeded) from 0..SIZE, closes that connection at once, both ways. Writes
{"forwarded": N, "cuts": K} to STATE after every cut and at the end of each
connection. Run by tests/cli/tus.rs.

  cutter.py LISTEN UPSTREAM SEED CUTS SIZE STATE
"""
import asyncio
import json
import random
import sys

listen, upstream, seed, cuts, size = (int(a) for a in sys.argv[1:6])
state_path = sys.argv[6]
rng = random.Random(seed)
points = sorted(rng.randrange(size // 50, size - size // 50) for _ in range(cuts))
forwarded = 0
done = 0


def save():
    with open(state_path + ".tmp", "w") as f:
        json.dump({"forwarded": forwarded, "cuts": done}, f)
    import os
    os.replace(state_path + ".tmp", state_path)


async def pipe(reader, writer, count, cut):
    global forwarded, done
    try:
        while True:
            data = await reader.read(64 << 10)
            if not data:
                break
            if count:
                forwarded += len(data)
                if points and forwarded >= points[0]:
                    points.pop(0)
                    done += 1
                    save()
                    cut.set()
                    return
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        cut.set()


async def serve(client_reader, client_writer):
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", upstream)
    except OSError:
        client_writer.close()
        return
    cut = asyncio.Event()
    tasks = [
        asyncio.create_task(pipe(client_reader, server_writer, True, cut)),
        asyncio.create_task(pipe(server_reader, client_writer, False, cut)),
    ]
    await cut.wait()
    for task in tasks:
        task.cancel()
    for writer in (client_writer, server_writer):
        try:
            writer.transport.abort()
        except Exception:
            pass
    save()


async def main():
    save()
    server = await asyncio.start_server(serve, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


asyncio.run(main())
