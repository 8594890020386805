"""Writes the benchmarks' small-file tree: SMALL files of 1-64 KiB of random
bytes in 100 x 10 folders, and LARGE files of 50 MiB under video/.

    python3 benches/make_tree.py ROOT SMALL [LARGE]
"""
import os
import random
import sys

root, small = sys.argv[1], int(sys.argv[2])
large = int(sys.argv[3]) if len(sys.argv) > 3 else 0
rng = random.Random(20261123)
for i in range(small):
    d = os.path.join(root, f"{i % 100:02d}", f"{(i // 100) % 10}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"file{i:05d}.bin"), "wb") as f:
        f.write(os.urandom(rng.randint(1024, 64 * 1024)))
if large:
    os.makedirs(os.path.join(root, "video"), exist_ok=True)
for i in range(large):
    with open(os.path.join(root, "video", f"clip{i}.mp4"), "wb") as f:
        for _ in range(50):
            f.write(os.urandom(1 << 20))
