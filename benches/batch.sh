#!/usr/bin/env bash
# Batch import benchmark: a generated tree of many small files (1-64 KiB)
# plus a few 50 MiB files, imported into an empty store, then imported again
# unchanged. Prints files/s, MiB/s, the unchanged re-run's time as a fraction
# of the first run, and how many bytes the re-run read (rchar from
# /proc/PID/io, which counts every read(2): file content, manifest, cache).
#
#   benches/batch.sh [SMALL_FILES] [LARGE_FILES]     (default 20000 3)
#
# Runs each import with --sync file (the default) and --sync batch, and
# `cp -r` + `sha256sum` of the tree for scale (no fsync: an upper bound).
set -euo pipefail
cd "$(dirname "$0")/.."

small=${1:-20000}
large=${2:-3}
cargo build --release --quiet
bin=$PWD/target/release/ingest
work=$(mktemp -d "${TMPDIR:-/var/tmp}/ingest-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

python3 benches/make_tree.py "$work/tree" "$small" "$large"
# Files aged past the cache's "racily clean" margin, as a nightly tree is.
sleep 2.2
files=$(find "$work/tree" -type f | wc -l)
bytes=$(du -sb "$work/tree" | cut -f1)
mib=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
sync

# run NAME CMD...: prints seconds and rchar of CMD, run in a child of bash.
measure() {
    bash -c 'start=$(date +%s.%N); "$@" >/dev/null; end=$(date +%s.%N);
             rchar=$(awk "/^rchar/ {print \$2}" /proc/$$/io);
             awk -v s="$start" -v e="$end" -v r="$rchar" "BEGIN { printf \"%.3f %d\n\", e - s, r }"' _ "$@"
}

row() { # label seconds rchar
    awk -v l="$1" -v s="$2" -v r="$3" -v f="$files" -v m="$mib" \
        'BEGIN { printf "| %-45s | %8.2f s | %9.0f | %8.1f | %12.1f |\n", l, s, f / s, m / s, r / 1048576 }'
}

echo "tree: $files files, $mib MiB ($small small, $large x 50 MiB); $(nproc) cores; $(date -u +%F)"
echo
echo "| run                                | time       | files/s   | MiB/s    | read (MiB)   |"
echo "|---|---|---|---|---|"
for mode in file batch; do
    store="$work/store-$mode"
    read -r t1 r1 < <(measure "$bin" -q --progress never --sync "$mode" --store "$store" "$work/tree")
    row "first import, --sync $mode" "$t1" "$r1"
    # The re-run is short and the machine noisy: the median of three.
    for i in 1 2 3; do
        measure "$bin" -q --progress never --sync "$mode" --store "$store" "$work/tree"
    done | sort -n | sed -n 2p > "$work/rerun"
    read -r t2 r2 < "$work/rerun"
    row "unchanged re-run, --sync $mode (median of 3)" "$t2" "$r2"
    awk -v a="$t2" -v b="$t1" -v m="$mode" 'BEGIN { printf "re-run / first (--sync %s): %.2f%%\n", m, 100 * a / b }' >&2
done
read -r tc rc < <(measure bash -c "cp -r '$work/tree' '$work/copy' && find '$work/copy' -type f -exec sha256sum {} + >/dev/null")
row "cp -r + sha256sum (no fsync)" "$tc" "$rc"
