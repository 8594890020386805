"""Load for benches/serve.sh: multipart uploads to POST /v1/upload over
Python's http.client, the body sent from the file with sendfile (never read
whole, never copied through Python).

  serve_load.py PORT TOKEN parallel FILE...   upload each FILE at once; prints seconds
  serve_load.py PORT TOKEN sequential N FILE  N uploads of FILE on one keep-alive
                                              connection; prints requests/s
"""
import http.client
import os
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


if __name__ == "__main__":
    port, token, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    if mode == "parallel":
        parallel(port, token, sys.argv[4:])
    elif mode == "sequential":
        sequential(port, token, int(sys.argv[4]), sys.argv[5])
    else:
        sys.exit("unknown mode " + mode)
