"""Times pages of `GET /v1/entries` on a running `ingest serve`, then makes
1,000 pages and 1,000 small uploads, as the store's browser and a phone
would, so the caller can read the server's peak RSS after them.

  python3 benches/serve_pages.py PORT TOKEN

Prints one line: the median time in seconds of the first page and of
pages filtered by kind, by a part of a name, and by a month, each asked
five times.
"""
import http.client
import statistics
import sys
import time

QUERIES = {
    "first": "limit=100",
    "kind": "limit=100&kind=video",
    "name": "limit=100&name=img_0424",
    "month": "limit=100&since=2019-03&until=2019-04",
}


def main():
    port, token = int(sys.argv[1]), sys.argv[2]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    auth = {"Authorization": "Bearer " + token}

    def get(query):
        started = time.perf_counter()
        conn.request("GET", "/v1/entries?" + query, headers=auth)
        answer = conn.getresponse()
        body = answer.read()
        if answer.status != 200:
            raise SystemExit("page %s: %d %s" % (query, answer.status, body[:200]))
        return time.perf_counter() - started, body

    medians = []
    for query in QUERIES.values():
        medians.append(statistics.median(get(query)[0] for _ in range(5)))
    # 1,000 pages, following cursors, and 1,000 uploads.
    for i in range(1000):
        query = list(QUERIES.values())[i % len(QUERIES)]
        get(query)
    for i in range(1000):
        body = b"upload %d of the bench\n" % i
        conn.request("PUT", "/v1/files/bench-%d.txt" % i, body=body, headers=auth)
        answer = conn.getresponse()
        answer.read()
        if answer.status not in (200, 201):
            raise SystemExit("upload %d: %d" % (i, answer.status))
    print(" ".join("%.4f" % m for m in medians))


if __name__ == "__main__":
    main()
