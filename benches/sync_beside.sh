#!/usr/bin/env bash
# The three --sync modes on a tree of small files while another process
# writes beside them (dd of zeros, no fsync, 3 GB by default): each mode's
# time for the tree, and the other writer's throughput while it ran,
# against both quiet. syncfs (--sync batch) flushes the other writer's
# dirty data too; group commit and file sync flush only ingest's own.
#
#   benches/sync_beside.sh [SMALL_FILES] [BESIDE_MB] [RUNS]   (20000 3000 3)
set -euo pipefail
cd "$(dirname "$0")/.."
small=${1:-20000}
beside_mb=${2:-3000}
runs=${3:-3}

cargo build --release --quiet
bin=$PWD/target/release/ingest
work=$(mktemp -d "${TMPDIR:-/var/tmp}/ingest-beside.XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
python3 benches/make_tree.py "$work/tree" "$small" >/dev/null
find "$work/tree" -type f -exec cat {} + >/dev/null
sync

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }

# run MODE BESIDE: seconds for the tree, and (BESIDE=yes) the other
# writer's MB/s over the same span.
run() {
    rm -rf "$work/store" "$work/beside.bin"
    sync
    local dd_pid=
    if [ "$2" = yes ]; then
        dd if=/dev/zero of="$work/beside.bin" bs=1M count="$beside_mb" status=none &
        dd_pid=$!
        sleep 0.5
    fi
    local t0 t1 size
    t0=$(now)
    "$bin" -q --progress never --no-cache --sync "$1" --store "$work/store" "$work/tree"
    t1=$(now)
    if [ -n "$dd_pid" ]; then
        size=$(stat -c %s "$work/beside.bin")
        kill "$dd_pid" 2>/dev/null || true
        wait "$dd_pid" 2>/dev/null || true
        echo "$(python3 -c "print(f'{$t1 - $t0:.2f} {$size / 1e6 / ($t1 - $t0 + 0.5):.0f}')")"
    else
        echo "$(python3 -c "print(f'{$t1 - $t0:.2f} -')")"
    fi
}

printf '%-8s %12s %14s %22s\n' mode "quiet (s)" "beside (s)" "writer beside (MB/s)"
for mode in group file batch; do
    quiet=() beside=() writer=()
    for _ in $(seq 1 "$runs"); do
        read -r t _ < <(run "$mode" no); quiet+=("$t")
        read -r t w < <(run "$mode" yes); beside+=("$t"); writer+=("$w")
    done
    printf '%-8s %12s %14s %22s\n' "$mode" \
        "$(printf '%s\n' "${quiet[@]}" | median)" \
        "$(printf '%s\n' "${beside[@]}" | median)" \
        "$(printf '%s\n' "${writer[@]}" | median)"
done
echo "$small files, $beside_mb MB written beside; medians of $runs runs; $(nproc) cores, $(date -u +%F)."
