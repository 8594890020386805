#!/usr/bin/env bash
# How each command's cost grows with what the store already holds: a store
# made of a real tree of TREE small files, stored by ingest, with N
# synthetic older lines in front of its manifest (benches/scale_manifest.py:
# files, MMS parts with origins, uploads), for each N of SIZES. For each
# size, the time and peak RSS (GNU time) of:
#   - the catalog's rebuild (the first run that writes, on a manifest the
#     catalog has not read)
#   - one new input from a pipe (echo x | ingest --name x.txt -)
#   - the unchanged re-run of the tree (ingest -q --sync batch TREE)
#   - ingest stats
#   - ingest serve: its start (the catalog's entries made), the first page
#     of /v1/entries and pages filtered by kind, a part of a name and a
#     month (benches/serve_pages.py, median of five), then its peak RSS
#     after 1,000 more pages and 1,000 uploads
#
#   benches/scale.sh [TREE] [SIZES...]     (defaults: 20000, 10000 100000 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
tree_files=${1:-20000}
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000 1000000)

cargo build --release --quiet
work=$(mktemp -d "${TMPDIR:-/var/tmp}/ingest-scale-bench.XXXXXX")
# A copy: a build made while the bench runs does not change what it times.
cp target/release/ingest "$work/ingest"
bin=$work/ingest
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

python3 benches/make_tree.py "$work/tree" "$tree_files"
# Files changed within 2 s of a run are not cached (racily clean): let the
# new tree settle, as a night's folders have, so the store's files cache
# knows every file and the re-runs below are the unchanged nightly re-run.
sleep 3
"$bin" --store "$work/base" --progress never -q --sync batch "$work/tree"

timed() { # prints "seconds peak_MiB" of the command
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>&1 || true
    awk '{ printf "%s %.0f", $1, $2 / 1024 }' "$work/time"
}

port_of() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "| lines in the manifest | catalog rebuild (s, MiB) | one new input (s, MiB) | unchanged re-run of $tree_files files (s, MiB) | stats (s, MiB) | serve start (s) | first page (ms) | by kind (ms) | by name (ms) | by month (ms) | serve peak RSS (MiB) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in "${sizes[@]}"; do
    store="$work/store-$n"
    cp -a "$work/base" "$store"
    # Made once (10^7 lines take minutes), kept under target/.
    synthetic=target/scale-cache/$n.jsonl
    if [ ! -s "$synthetic" ]; then
        mkdir -p target/scale-cache
        python3 benches/scale_manifest.py "$n" > "$synthetic.part" && mv "$synthetic.part" "$synthetic"
    fi
    cat "$synthetic" "$work/base/manifest.jsonl" > "$store/manifest.jsonl"
    lines=$(wc -l < "$store/manifest.jsonl")
    # The store's catalog was made for the base store's manifest: the first
    # run that writes finds the manifest replaced and reads it all again
    # (the rebuild, timed on its own), as after the catalog is deleted.
    rebuild=$(echo "rebuild $n" | { /usr/bin/time -f "%e %M" -o "$work/time" "$bin" --store "$store" --progress never -q --name r.txt - >/dev/null 2>&1 || true; awk '{ printf "%s %.0f", $1, $2 / 1024 }' "$work/time"; })
    one=$(echo "new input $n" | { /usr/bin/time -f "%e %M" -o "$work/time" "$bin" --store "$store" --progress never -q --name x.txt - >/dev/null 2>&1 || true; awk '{ printf "%s %.0f", $1, $2 / 1024 }' "$work/time"; })
    rerun=$(timed "$bin" --store "$store" --progress never -q --sync batch "$work/tree")
    stats=$(timed "$bin" --store "$store" stats)
    token=$("$bin" --store "$store" -q token add bench)
    port=$(port_of)
    started=$(date +%s.%N)
    "$bin" --store "$store" serve --listen "127.0.0.1:$port" 2>/dev/null &
    server=$!
    until curl -s "http://127.0.0.1:$port/v1/health" >/dev/null; do sleep 0.05; done
    start=$(echo "$(date +%s.%N) - $started" | bc)
    read -r first kind name month < <(python3 benches/serve_pages.py "$port" "$token")
    ms() { echo "$1 * 1000" | bc | xargs printf "%.1f"; }
    peak=$(awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$server/status")
    kill "$server"; wait "$server" 2>/dev/null || true; server=""
    echo "| $lines | ${rebuild% *} s, ${rebuild#* } | ${one% *} s, ${one#* } | ${rerun% *} s, ${rerun#* } | ${stats% *} s, ${stats#* } | $(printf "%.2f" "$start") | $(ms "$first") | $(ms "$kind") | $(ms "$name") | $(ms "$month") | $peak |"
    rm -rf "$store"
done
