"""Writes N synthetic manifest lines to stdout, mixed like a real store's:
files from nightly walks (60%), MMS parts with their origins (25%) and
uploads through `ingest serve` (15%), dated over ten years, oldest first.
Lines name objects that are not stored: they measure what reading and
indexing the catalog costs, not the objects.

  python3 benches/scale_manifest.py N [SEED] > manifest.jsonl
"""
import hashlib
import json
import random
import sys

KINDS = [
    ("image/jpeg", "jpg"), ("image/heic", "heic"), ("image/png", "png"),
    ("video/mp4", "mp4"), ("audio/amr", "amr"), ("application/pdf", "pdf"),
]


def main():
    count = int(sys.argv[1])
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 7)
    start = 1_481_000_000  # late 2016
    span = 10 * 365 * 86400
    out = sys.stdout
    write = out.write
    for i in range(count):
        at = start + span * i // max(count, 1)
        stamp = "%04d-%02d-%02dT%02d:%02d:%02dZ" % __import__("time").gmtime(at)[:6]
        mime, ext = KINDS[rng.randrange(len(KINDS))]
        digest = hashlib.sha256(b"%d" % i).hexdigest()
        size = rng.randrange(1_000, 8_000_000)
        roll = rng.random()
        if roll < 0.60:
            name = "IMG_%05d.%s" % (i % 100_000, ext)
            line = {"sha256": digest, "size": size, "mime": mime, "ext": ext, "name": name,
                    "source": "/home/me/Photos/%d/%s" % (2016 + i * 10 // max(count, 1), name),
                    "ingested_at": stamp, "new": True}
        elif roll < 0.85:
            name = "mms-%d-%d.%s" % (at * 1000, i % 7, ext)
            line = {"sha256": digest, "size": size, "mime": mime, "ext": ext, "name": name,
                    "source": "/srv/backups/sms-%d.xml" % (i // 5000), "ingested_at": stamp, "new": True,
                    "origin": {"kind": "mms", "backup": "/srv/backups/sms-%d.xml" % (i // 5000),
                               "offset": i * 4096, "date": at * 1000,
                               "address": "+1555555%04d" % (i % 10_000), "msg_box": 1,
                               "m_id": "mid-%d" % i, "part": i % 7, "seq": "0", "ct": mime}}
        else:
            name = "upload-%d.%s" % (i, ext)
            line = {"sha256": digest, "size": size, "mime": mime, "ext": ext, "name": name,
                    "source": "http:phone", "ingested_at": stamp, "new": True,
                    "origin": {"kind": "http", "remote": "127.0.0.1", "token": "phone",
                               "user_agent": "bench/1"}}
        write(json.dumps(line, separators=(",", ":")))
        write("\n")


if __name__ == "__main__":
    main()
