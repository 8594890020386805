"""Load for benches/serve.sh: multipart uploads to POST /v1/upload over
Python's http.client, the body sent from the file with sendfile (never read
whole, never copied through Python).

  serve_load.py PORT TOKEN parallel FILE...   upload each FILE at once; prints seconds
  serve_load.py PORT TOKEN sequential N FILE  N uploads of FILE on one keep-alive
                                              connection; prints requests/s
  serve_load.py PORT - discard                a server on PORT that reads each
                                              request's body and drops it
  serve_load.py PORT - beside FILE CMD...     upload FILE to PORT while CMD runs;
                                              prints seconds until both are done
                                              (FILE "-": CMD alone, timed the same way)

discard and beside measure the floor of an upload on shared cores: storing a
file from disk (CMD) while the same bytes cross loopback to a server that
does nothing with them is the least any server could take for them here.
"""
import http.client
import os
import socket
import subprocess
import sys
import threading
import time

BOUNDARY = "ingestbenchboundary"


def upload(conn, token, path, name):
    head = (
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
        f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    size = os.path.getsize(path)
    conn.putrequest("POST", "/v1/upload")
    conn.putheader("Authorization", "Bearer " + token)
    conn.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
    conn.putheader("Content-Length", str(len(head) + size + len(tail)))
    conn.endheaders()
    conn.send(head)
    # sendfile: the file goes from the page cache to the socket without
    # passing through Python, so the client (on the same cores as the
    # server here) takes as little CPU from the server under test as it can.
    with open(path, "rb") as f:
        conn.sock.sendfile(f)
    conn.send(tail)
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        sys.exit(f"upload of {path}: {response.status} {body[:200]!r}")


def parallel(port, token, files):
    barrier = threading.Barrier(len(files) + 1)
    errors = []

    def one(i, path):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        conn.connect()
        barrier.wait()
        try:
            upload(conn, token, path, f"p{i}.bin")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=one, args=(i, p)) for i, p in enumerate(files)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.monotonic()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    if errors:
        sys.exit("; ".join(errors[:3]))
    print(f"{elapsed:.3f}")


def sequential(port, token, n, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.monotonic()
    for i in range(n):
        upload(conn, token, path, f"s{i}.bin")
    print(f"{n / (time.monotonic() - start):.0f}")


def discard(port):
    server = socket.create_server(("127.0.0.1", port))
    buffer = memoryview(bytearray(256 * 1024))
    while True:
        conn, _ = server.accept()
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                got = conn.recv(65536)
                if not got:
                    break
                head += got
            head, _, rest = head.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")[1:]
            fields = dict(line.split(":", 1) for line in lines if ":" in line)
            length = {k.strip().lower(): v for k, v in fields.items()}.get("content-length")
            if length is None:  # not an upload (a probe of the port)
                continue
            left = int(length) - len(rest)
            while left > 0:
                got = conn.recv_into(buffer)
                if got == 0:
                    break
                left -= got
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")


def beside(port, path, command):
    errors = []

    def send(conn):
        try:
            upload(conn, "-", path, "beside.bin")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    sending = None
    if path != "-":
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        conn.connect()
        sending = threading.Thread(target=send, args=(conn,))
    start = time.monotonic()
    if sending:
        sending.start()
    subprocess.run(command, check=True)
    if sending:
        sending.join()
    if errors:
        sys.exit(errors[0])
    print(f"{time.monotonic() - start:.3f}")


if __name__ == "__main__":
    port, token, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    if mode == "parallel":
        parallel(port, token, sys.argv[4:])
    elif mode == "sequential":
        sequential(port, token, int(sys.argv[4]), sys.argv[5])
    elif mode == "discard":
        discard(port)
    elif mode == "beside":
        beside(port, sys.argv[4], sys.argv[5:])
    else:
        sys.exit("unknown mode " + mode)
