"""tuspy (from PyPI, not written here) against `ingest serve`, run by
tests/cli/tus.rs:

  tuspy_client.py ENDPOINT TOKEN FILE NAME

Uploads FILE in 256 KiB chunks, stops about halfway (as a client killed
would), then resumes with a new uploader of the same URL. Prints one JSON
line: the URL, the offset the server gave back, and whether it ended.
"""
import json
import os
import sys

from tusclient import client

endpoint, token, path, name = sys.argv[1:5]
size = os.path.getsize(path)
tus = client.TusClient(endpoint, headers={"Authorization": "Bearer " + token})
first = tus.uploader(path, chunk_size=256 << 10, metadata={"filename": name})
first.upload(stop_at=size // 2)
url = first.url
second = tus.uploader(path, chunk_size=256 << 10, url=url, metadata={"filename": name})
resumed_from = second.get_offset()
second.upload()
print(json.dumps({"url": url, "resumedFrom": resumed_from, "ok": second.offset == size}))
