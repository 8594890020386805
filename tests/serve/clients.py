"""Real HTTP clients for the serve tests, on Python's http.client.

  clients.py concurrent PORT TOKEN N DISTINCT   N uploads at once, of DISTINCT contents
  clients.py big PORT TOKEN SIZE                one PUT of SIZE bytes, streamed
Prints one JSON object on stdout.
"""
import hashlib
import http.client
import json
import sys
import threading


def content(i, size=50_000):
    seed = hashlib.sha256(str(i).encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def put(port, token, name, body_chunks, length, timeout=600):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.putrequest("PUT", "/v1/files/" + name)
    conn.putheader("Authorization", "Bearer " + token)
    conn.putheader("Content-Length", str(length))
    conn.endheaders()
    for chunk in body_chunks:
        conn.send(chunk)
    response = conn.getresponse()
    answer = json.loads(response.read())
    conn.close()
    return response.status, answer


def concurrent(port, token, n, distinct):
    results = [None] * n
    barrier = threading.Barrier(n)

    def one(i):
        body = content(i % distinct)
        barrier.wait()
        try:
            status, answer = put(port, token, "f%03d.bin" % i, [body], len(body))
            ok = (
                status in (200, 201)
                and answer["sha256"] == hashlib.sha256(body).hexdigest()
                and answer["size"] == len(body)
            )
            results[i] = (ok, answer.get("status"), status)
        except Exception as e:  # noqa: BLE001 - any failure is a failed upload
            results[i] = (False, repr(e), 0)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failures = [r for r in results if not r[0]]
    print(json.dumps({
        "failures": len(failures),
        "failed": [list(r) for r in failures[:5]],
        "new": sum(1 for r in results if r[1] == "new"),
        "duplicate": sum(1 for r in results if r[1] == "duplicate"),
    }))


def big(port, token, size):
    block = content("big", 1 << 20)
    digest = hashlib.sha256()

    def chunks():
        left = size
        while left:
            piece = block[: min(left, len(block))]
            digest.update(piece)
            left -= len(piece)
            yield piece

    status, answer = put(port, token, "big.bin", chunks(), size)
    answer["http"] = status
    answer["client_sha256"] = digest.hexdigest()
    print(json.dumps(answer))


if __name__ == "__main__":
    command, port, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if command == "concurrent":
        concurrent(port, token, int(sys.argv[4]), int(sys.argv[5]))
    elif command == "big":
        big(port, token, int(sys.argv[4]))
    else:
        sys.exit("unknown command " + command)
