"""Uploads N small files to a running `ingest serve`, C at a time, each
thread on a keep-alive connection; prints the uploads per second.

  python3 benches/s3_uploads.py PORT TOKEN N C
"""
import http.client
import sys
import threading
import time


def main():
    port, token, count, clients = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    auth = {"Authorization": "Bearer " + token}
    failures = []

    def upload(first):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for i in range(first, count, clients):
            body = b"upload %d of the S3 bench\n" % i
            for attempt in range(20):
                conn.request("PUT", "/v1/files/bench-%d.txt" % i, body=body, headers=auth)
                answer = conn.getresponse()
                answer.read()
                if answer.status in (200, 201):
                    break
                if answer.status != 503:
                    failures.append((i, answer.status))
                    break
                time.sleep(0.05 * (attempt + 1))

    started = time.perf_counter()
    threads = [threading.Thread(target=upload, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit("failed uploads: %s" % failures[:10])
    print("%.0f" % (count / elapsed))


if __name__ == "__main__":
    main()
