#!/usr/bin/env bash
# ingest into an S3 store against rclone and restic, on a local server.
#
#   benches/s3.sh [ENGINE] [LARGE_MIB] [SMALL_FILES] [RUNS]
#                 (default seaweedfs 1024 2000 3; ENGINE: seaweedfs or rgw)
#
# Starts the server on 127.0.0.1 (SeaweedFS: weed mini from target/s3venv;
# rgw: a one-node Ceph cluster, tests/rgw/cluster.sh; .ci/setup installs
# both), then times, each run into a fresh prefix: ingest --store
# s3://..., rclone copy (Debian's rclone) and restic backup to an s3:
# repository (Debian's restic), for one large file and a tree of small
# files (1-64 KiB). rclone and restic are installed if missing and skipped
# with a message if they cannot be. Medians of RUNS runs, the tools taking
# turns round by round; peak RSS from GNU time (%M). The tree table ends
# with rclone sending PUTs alone (no HEAD, no listing): the server's floor
# for one object per file on this machine. The client's CPU (user + system
# of the tool, from GNU time) per file shows its own cost apart from the
# server's, which shares the machine.
#
# The large file is also sent through a link of LINK_MBPS MB/s (default 50;
# 0 skips it): benches/throttle.py, one proxy for every tool, limiting what
# goes towards the server. "ingest (stdin)" sends the same file on standard
# input, which ingest spools to local disk while hashing (it cannot read a
# pipe twice), where a named file is hashed, then read again as it is sent.
# BASELINE=PATH adds another ingest binary (an older build, say) as the
# tool "baseline", for the large file and the tree, taking turns with the
# others in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."

engine=${1:-seaweedfs}
large_mib=${2:-1024}
small=${3:-2000}
runs=${4:-3}
link_mbps=${LINK_MBPS:-50}
case $engine in seaweedfs|rgw) ;; *) echo "ENGINE is seaweedfs or rgw" >&2; exit 2 ;; esac

for tool in rclone restic; do
    command -v $tool >/dev/null || apt-get install -y -qq $tool >/dev/null 2>&1 || true
done
.ci/setup >/dev/null
cargo build --release --quiet
bin=$PWD/target/release/ingest
work=$(mktemp -d "${TMPDIR:-/var/tmp}/ingest-s3.XXXXXX")

if [ "$engine" = seaweedfs ]; then
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
    server=$!
    trap 'kill ${throttle:-} $server 2>/dev/null; kill -9 $server 2>/dev/null; rm -rf "$work"' EXIT
    provider=SeaweedFS
    version="SeaweedFS $(target/s3venv/bin/weed version 2>/dev/null | head -1 | awk '{print $3}')"
else
    # The cluster stops once its standard input (fd 3 here) closes. Its OSD
    # keeps every run's objects in memory (RGW frees deleted ones late), and
    # a full OSD blocks writes: room for them all.
    # Up to eight large uploads a round (ingest, ingest-stdin and rclone,
    # each direct and through the link, restic and a baseline) and five
    # trees of files of at most 64 KiB.
    export MEMSTORE_BYTES=$(( ((8 * large_mib + 5 * small / 16) * runs + 1024) << 20 ))
    mkfifo "$work/rgw.in"
    bash tests/rgw/cluster.sh "$work/rgw" benchkey benchsecret0123456789 bench \
        < "$work/rgw.in" > "$work/rgw.out" 2> "$work/rgw.log" &
    server=$!
    exec 3> "$work/rgw.in"
    trap 'kill ${throttle:-} 2>/dev/null; exec 3>&-; wait $server 2>/dev/null; rm -rf "$work"' EXIT
    until grep -q ready "$work/rgw.out"; do
        kill -0 $server 2>/dev/null || { cat "$work/rgw.log" >&2; exit 1; }
        sleep 0.5
    done
    ports=($(awk '{print $2}' "$work/rgw.out"))
    provider=Ceph
    version="Ceph RGW $(radosgw --version | awk '{print $3}')"
fi

endpoint=http://127.0.0.1:${ports[0]}
export AWS_ENDPOINT_URL=$endpoint AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret0123456789 \
       AWS_REGION=us-east-1 XDG_CACHE_HOME=$work/cache RESTIC_PASSWORD=bench
export RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=$provider RCLONE_CONFIG_BENCH_ENDPOINT=$endpoint \
       RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=benchkey RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=benchsecret0123456789
for _ in $(seq 100); do
    "$bin" -q --store s3://bench/probe stats 2>&1 | grep -q "no store here" && break
    sleep 0.3
done

# The limited link: every tool's requests through the same proxy.
link=$endpoint
if [ "$link_mbps" != 0 ]; then
    link_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    python3 benches/throttle.py "$link_port" "${ports[0]}" "$link_mbps" > "$work/throttle.out" 2>&1 &
    throttle=$!
    until grep -q ready "$work/throttle.out"; do sleep 0.1; done
    link=http://127.0.0.1:$link_port
fi

head -c $((large_mib << 20)) /dev/urandom > "$work/large.bin"
python3 benches/make_tree.py "$work/tree" "$small"
files=$(find "$work/tree" -type f | wc -l)

n=0
# run LABEL CMD JOB: times CMD with a fresh prefix ($P) and appends
# "secs rss user sys" to $work/times.LABEL.JOB.
run() {
    n=$((n + 1))
    local p="r$n"
    if [ "$1" = restic ]; then restic -q -r "s3:$endpoint/bench/$p" init >/dev/null; fi
    if P=$p /usr/bin/time -f "%e %M %U %S" -o "$work/time.out" bash -c "$2" >/dev/null 2>"$work/err.out"; then
        cat "$work/time.out" >> "$work/times.$1.$3"
    else
        echo "failed: $(tail -1 "$work/err.out")" >&2
    fi
}
tools=(ingest ingest-stdin rclone restic rclone-puts)
[ -n "${BASELINE:-}" ] && tools=(ingest baseline ingest-stdin rclone restic rclone-puts)
have() { [[ $1 = ingest* ]] || [ "$1" = baseline ] || command -v "${1%-puts}" >/dev/null; }
# Through the limited link: the endpoint each tool is given.
linked="AWS_ENDPOINT_URL=$link RCLONE_CONFIG_BENCH_ENDPOINT=$link"
for round in $(seq "$runs"); do
    for t in "${tools[@]}"; do
        have $t || continue
        case $t in
            ingest) run ingest "$bin -q --progress never --store s3://bench/\$P $work/large.bin" large
                    [ "$link_mbps" = 0 ] || run ingest "env $linked $bin -q --progress never --store s3://bench/\$P $work/large.bin" link
                    run ingest "$bin -q --progress never --store s3://bench/\$P $work/tree" tree ;;
            baseline) run baseline "$BASELINE -q --progress never --store s3://bench/\$P $work/large.bin" large
                    run baseline "$BASELINE -q --progress never --store s3://bench/\$P $work/tree" tree ;;
            ingest-stdin)
                    run ingest-stdin "$bin -q --progress never --store s3://bench/\$P --name large.bin - < $work/large.bin" large
                    [ "$link_mbps" = 0 ] || run ingest-stdin "env $linked $bin -q --progress never --store s3://bench/\$P --name large.bin - < $work/large.bin" link ;;
            # rclone refuses a custom CA bundle over plain HTTP.
            rclone) run rclone "env -u AWS_CA_BUNDLE rclone copy $work/large.bin bench:bench/\$P/" large
                    [ "$link_mbps" = 0 ] || run rclone "env -u AWS_CA_BUNDLE $linked rclone copy $work/large.bin bench:bench/\$P/" link
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
echo "$(date -u +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $version on 127.0.0.1; median of $runs runs"
jobs=(large link tree)
[ "$link_mbps" = 0 ] && jobs=(large tree)
for job in "${jobs[@]}"; do
    echo
    if [ $job = large ]; then
        echo "One $large_mib MiB file:"; echo
        echo "| tool | median (range) | MiB/s | peak RSS | client CPU |"
    elif [ $job = link ]; then
        echo "One $large_mib MiB file through a $link_mbps MB/s link:"; echo
        echo "| tool | median (range) | MiB/s | peak RSS | client CPU |"
    else
        echo "A tree of $files small files (1-64 KiB):"; echo
        echo "| tool | median (range) | files/s | peak RSS | client CPU per file |"
    fi
    echo "|---|---|---|---|---|"
    for t in "${tools[@]}"; do
        case $t.$job in rclone-puts.large|rclone-puts.link|restic.link|ingest-stdin.tree|baseline.link) continue ;; esac
        if [ ! -s "$work/times.$t.$job" ]; then
            echo "| $t | skipped (not installed, or failed) | | | |"
            continue
        fi
        s=$(cut -d' ' -f1 "$work/times.$t.$job" | median)
        lo=$(cut -d' ' -f1 "$work/times.$t.$job" | sort -n | head -1)
        hi=$(cut -d' ' -f1 "$work/times.$t.$job" | sort -n | tail -1)
        m=$(cut -d' ' -f2 "$work/times.$t.$job" | median)
        c=$(awk '{ print $3 + $4 }' "$work/times.$t.$job" | median)
        awk -v t="$t" -v s="$s" -v lo="$lo" -v hi="$hi" -v m="$m" -v c="$c" -v job=$job -v mib="$large_mib" -v f="$files" \
            'BEGIN { if (job != "tree") printf "| %s | %.2f s (%.2f-%.2f) | %.0f | %.1f MiB | %.2f s |\n", t, s, lo, hi, mib / s, m / 1024, c;
                     else printf "| %s | %.2f s (%.2f-%.2f) | %.0f | %.1f MiB | %.2f ms |\n", t, s, lo, hi, f / s, m / 1024, 1000 * c / f }'
    done
done
