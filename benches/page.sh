#!/usr/bin/env bash
# The web page's time to its first drawn page (navigation start to the
# first page of entries in the grid, in headless Chromium) for a store of
# 50 entries and one of 50,000: the page asks for one page at a time, so
# the two should be close; what grows is the server reading the manifest.
#
#   benches/page.sh [RUNS]      (default 5; needs .ci/setup's browser venv)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cargo build --release --quiet
bin=$PWD/target/release/ingest
python=$PWD/target/browser-venv/bin/python
[ -x "$python" ] || { echo "run .ci/setup first (Selenium venv)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/var/tmp}/ingest-page-bench.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

# 50 distinct pictures stored, then as many more lines naming them as a
# store of N entries has (the same bytes stored under other names).
make_store() { # DIR N
    mkdir -p "$1/in"
    for i in $(seq 1 50); do
        { cat tests/fixtures/media/photo.jpg; printf 'picture %d' "$i"; } >"$1/in/pic-$i.jpg"
    done
    "$bin" --store "$1/store" -q "$1/in"
    python3 - "$1/store/manifest.jsonl" "$2" <<'PY'
import json, sys
path, total = sys.argv[1], int(sys.argv[2])
lines = [json.loads(l) for l in open(path)]
with open(path, "a") as out:
    for i in range(len(lines), total):
        entry = dict(lines[i % len(lines)], name=f"picture-{i}.jpg", source=f"/bench/picture-{i}.jpg", new=False)
        out.write(json.dumps(entry) + "\n")
PY
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "| entries in the store | first page drawn (ms, median of $runs) |"
echo "|---:|---:|"
for n in 50 50000; do
    make_store "$work/$n" "$n"
    token=$("$bin" --store "$work/$n/store" -q token add bench)
    "$bin" --store "$work/$n/store" serve --listen "127.0.0.1:$port" 2>/dev/null &
    pid=$!
    for _ in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.05; done
    ms=$("$python" benches/page.py "http://127.0.0.1:$port/" "$token" "$runs")
    echo "| $n | $ms |"
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
done
