#!/usr/bin/env bash
# Scanning throughput: one file stored into an empty store, without and with
# --clamd (a clamd of our own on a unix socket, database = one EICAR body
# signature, as in the tests). Medians of 3 runs.
#
#   benches/scan.sh [MIB]      (default 256)
set -euo pipefail
cd "$(dirname "$0")/.."

mib=${1:-256}
cargo build --release --quiet
bin=$PWD/target/release/ingest
work=$(mktemp -d "${TMPDIR:-/var/tmp}/ingest-scan.XXXXXX")
clamd_pid=""
cleanup() {
    [ -n "$clamd_pid" ] && kill "$clamd_pid" 2>/dev/null && wait "$clamd_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/db" "$work/tmp"
eicar_hex=58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d5354414e444152442d414e544956495255532d544553542d46494c452124482b482a
echo "Test.EICAR:0:*:$eicar_hex" > "$work/db/test.ndb"
cat > "$work/clamd.conf" <<EOF
Foreground yes
LocalSocket $work/clamd.sock
DatabaseDirectory $work/db
TemporaryDirectory $work/tmp
StreamMaxLength 4000M
Bytecode no
LogFile $work/clamd.log
EOF
/usr/sbin/clamd -c "$work/clamd.conf" >/dev/null 2>&1 &
clamd_pid=$!
for _ in $(seq 600); do [ -S "$work/clamd.sock" ] && break; sleep 0.1; done

head -c $((mib << 20)) /dev/urandom > "$work/input.bin"

median_seconds() { # CMD...: median wall time of 3 runs, each into an empty store
    for _ in 1 2 3; do
        rm -rf "$work/store"
        start=$(date +%s.%N)
        "$@" >/dev/null
        end=$(date +%s.%N)
        awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f\n", e - s }'
    done | sort -n | sed -n 2p
}

plain=$(median_seconds "$bin" -q --progress never --store "$work/store" "$work/input.bin")
scanned=$(median_seconds "$bin" -q --progress never --store "$work/store" --clamd "$work/clamd.sock" "$work/input.bin")
echo "input: $mib MiB of random bytes; $(nproc) cores; $(date -u +%F)"
echo
echo "| run | median time | throughput |"
echo "|---|---|---|"
awk -v t="$plain" -v m="$mib" 'BEGIN { printf "| ingest | %.2f s | %.0f MiB/s |\n", t, m / t }'
awk -v t="$scanned" -v m="$mib" 'BEGIN { printf "| ingest --clamd | %.2f s | %.0f MiB/s |\n", t, m / t }'
