#!/usr/bin/env bash
# ingest into an S3 store against rclone and restic, on a local SeaweedFS.
#
#   benches/s3.sh [LARGE_MIB] [SMALL_FILES] [RUNS]      (default 1024 2000 3)
#
# Starts SeaweedFS (weed mini from target/s3venv; .ci/setup installs it) on
# 127.0.0.1, then times, each run into a fresh prefix: ingest --store
# s3://..., rclone copy (Debian's rclone) and restic backup to an s3:
# repository (Debian's restic), for one large file and a tree of small
# files (1-64 KiB). rclone and restic are installed if missing and skipped
# with a message if they cannot be. Medians of RUNS runs, the tools taking
# turns round by round; peak RSS from GNU time (%M). The tree table ends
# with rclone sending PUTs alone (no HEAD, no listing): the server's floor
# for one object per file on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."

large_mib=${1:-1024}
small=${2:-2000}
runs=${3:-3}

for tool in rclone restic; do
    command -v $tool >/dev/null || apt-get install -y -qq $tool >/dev/null 2>&1 || true
done
.ci/setup >/dev/null
cargo build --release --quiet
bin=$PWD/target/release/ingest
work=$(mktemp -d "${TMPDIR:-/var/tmp}/ingest-s3.XXXXXX")

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ports=($port $((port + 1)) $((port + 2)) $((port + 3)) $((port + 4)))
cat > "$work/s3.json" <<'JSON'
{"identities":[{"name":"bench","credentials":[{"accessKey":"benchkey","secretKey":"benchsecret0123456789"}],"actions":["Admin","Read","List","Tagging","Write"]}]}
JSON
mkdir -p "$work/data"
target/s3venv/bin/weed mini -dir="$work/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -s3.config="$work/s3.json" -bucket=bench -s3.port=${ports[0]} -master.port=${ports[1]} \
    -volume.port=${ports[2]} -filer.port=${ports[3]} -admin.port=${ports[4]} -admin.ui=false \
    -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 > "$work/weed.log" 2>&1 &
weed=$!
trap 'kill -9 $weed 2>/dev/null; rm -rf "$work"' EXIT

endpoint=http://127.0.0.1:${ports[0]}
export AWS_ENDPOINT_URL=$endpoint AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret0123456789 \
       AWS_REGION=us-east-1 XDG_CACHE_HOME=$work/cache RESTIC_PASSWORD=bench
export RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=SeaweedFS RCLONE_CONFIG_BENCH_ENDPOINT=$endpoint \
       RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=benchkey RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=benchsecret0123456789
for _ in $(seq 100); do
    "$bin" -q --store s3://bench/probe stats 2>&1 | grep -q "no store here" && break
    sleep 0.3
done

head -c $((large_mib << 20)) /dev/urandom > "$work/large.bin"
python3 benches/make_tree.py "$work/tree" "$small"
files=$(find "$work/tree" -type f | wc -l)

n=0
# run LABEL CMD: times CMD with a fresh prefix ($p) and appends "secs rss" to $work/LABEL.
run() {
    n=$((n + 1))
    local p="r$n"
    if [ "$1" = restic ]; then restic -q -r "s3:$endpoint/bench/$p" init >/dev/null; fi
    if P=$p /usr/bin/time -f "%e %M" -o "$work/time.out" bash -c "$2" >/dev/null 2>"$work/err.out"; then
        cat "$work/time.out" >> "$work/times.$1.$3"
    else
        echo "failed: $(tail -1 "$work/err.out")" >&2
    fi
}
tools=(ingest rclone restic rclone-puts)
have() { [ "$1" = ingest ] || command -v "${1%-puts}" >/dev/null; }
for round in $(seq "$runs"); do
    for t in "${tools[@]}"; do
        have $t || continue
        case $t in
            ingest) run ingest "$bin -q --progress never --store s3://bench/\$P $work/large.bin" large
                    run ingest "$bin -q --progress never --store s3://bench/\$P $work/tree" tree ;;
            # rclone refuses a custom CA bundle over plain HTTP.
            rclone) run rclone "env -u AWS_CA_BUNDLE rclone copy $work/large.bin bench:bench/\$P/" large
                    run rclone "env -u AWS_CA_BUNDLE rclone copy $work/tree bench:bench/\$P/" tree ;;
            # The server's floor for one object per file: PUTs alone, no
            # HEAD, no listing (what a store that checks nothing would cost).
            rclone-puts) run rclone-puts "env -u AWS_CA_BUNDLE rclone copy --no-check-dest --s3-no-head --s3-no-check-bucket --transfers 16 $work/tree bench:bench/\$P/" tree ;;
            restic) run restic "restic -q -r s3:$endpoint/bench/\$P backup $work/large.bin" large
                    run restic "restic -q -r s3:$endpoint/bench/\$P backup $work/tree" tree ;;
        esac
    done
done

median() { sort -n | sed -n "$(( (runs + 1) / 2 ))p"; }
echo "$(date -u +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; SeaweedFS $(target/s3venv/bin/weed version 2>/dev/null | head -1 | awk '{print $3}') on 127.0.0.1; median of $runs runs"
for job in large tree; do
    echo
    if [ $job = large ]; then
        echo "One $large_mib MiB file:"; echo
        echo "| tool | median | MiB/s | peak RSS |"
    else
        echo "A tree of $files small files (1-64 KiB):"; echo
        echo "| tool | median | files/s | peak RSS |"
    fi
    echo "|---|---|---|---|"
    for t in "${tools[@]}"; do
        [ "$t.$job" = rclone-puts.large ] && continue
        if [ ! -s "$work/times.$t.$job" ]; then
            echo "| $t | skipped (not installed, or failed) | | |"
            continue
        fi
        s=$(cut -d' ' -f1 "$work/times.$t.$job" | median)
        m=$(cut -d' ' -f2 "$work/times.$t.$job" | median)
        awk -v t="$t" -v s="$s" -v m="$m" -v job=$job -v mib="$large_mib" -v f="$files" \
            'BEGIN { rate = job == "large" ? mib / s : f / s; printf "| %s | %.2f s | %.0f | %.1f MiB |\n", t, s, rate, m / 1024 }'
    done
done
