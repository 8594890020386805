#!/usr/bin/env bash
# The S3 catalog at scale: N uploads (default 100,000) through `ingest serve`
# into a SeaweedFS store (`weed mini`, from .ci/setup's venv), C at a time
# (default 16); then a machine whose cache is empty runs `ingest ls | head`
# and `echo x | ingest -`, timed. Prints the uploads' rate, the commits they
# made (uploads arriving together share one), the packs, and the two times.
#
#   benches/s3_scale.sh [N] [C]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-100000}
clients=${2:-16}
.ci/setup >/dev/null
cargo build --release --quiet
work=$(mktemp -d "${TMPDIR:-/var/tmp}/ingest-s3-bench.XXXXXX")
cp target/release/ingest "$work/ingest"
bin=$work/ingest
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 1; rm -rf "$work"; }
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
s3=$(port)
echo '{"identities":[{"name":"bench","credentials":[{"accessKey":"benchkey","secretKey":"benchsecret0123456789"}],"actions":["Admin","Read","List","Tagging","Write"]}]}' > "$work/s3.json"
mkdir -p "$work/data"
target/s3venv/bin/weed mini -dir="$work/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.config="$work/s3.json" \
    -bucket=bench -s3.port="$s3" -master.port="$(port)" -volume.port="$(port)" -filer.port="$(port)" \
    -admin.port="$(port)" -admin.ui=false -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 \
    >"$work/weed.log" 2>&1 &
pids+=($!)
export AWS_ENDPOINT_URL=http://127.0.0.1:$s3 AWS_ACCESS_KEY_ID=benchkey \
    AWS_SECRET_ACCESS_KEY=benchsecret0123456789 AWS_REGION=us-east-1
store=s3://bench/store
machine() { local name=$1; shift; XDG_CACHE_HOME="$work/$name" "$bin" --progress never --store "$store" "$@"; }
for _ in $(seq 100); do machine m0 -q --name first.txt - <<< "first" 2>/dev/null && break; sleep 0.5; done

token=$(machine m1 -q token add bench)
http=$(port)
XDG_CACHE_HOME="$work/m1" "$bin" --store "$store" serve --listen "127.0.0.1:$http" \
    --max-uploads 64 --max-uploads-per-token 64 2>"$work/serve.log" &
pids+=($!)
until curl -s "http://127.0.0.1:$http/v1/health" >/dev/null; do sleep 0.1; done
rate=$(python3 benches/s3_uploads.py "$http" "$token" "$count" "$clients")
commits=$(python3 -c 'import json,sys,glob; print(max(json.load(open(p))["log"] for p in glob.glob(sys.argv[1] + "/m1/ingest/s3/*/manifest-state.json")))' "$work")
packs=$(python3 -c 'import sys
n=int(sys.argv[1]); size=100; total=0
while size <= n: total += n // size; size *= 10
print(total)' "$commits")
timed() { /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>&1 || true; awk '{ printf "%s s, %.0f MiB", $1, $2 / 1024 }' "$work/time"; }
ls_head=$(timed bash -c "XDG_CACHE_HOME=$work/m2 $bin --store $store ls | head -1")
one_new=$(echo "x" | { /usr/bin/time -f "%e %M" -o "$work/time" env XDG_CACHE_HOME="$work/m3" "$bin" --progress never --store "$store" -q --name x.txt - >/dev/null 2>&1 || true; awk '{ printf "%s s, %.0f MiB", $1, $2 / 1024 }' "$work/time"; })
entries=$(machine m2 ls | wc -l)
echo "| uploads | clients | uploads/s | commits | packs | entries seen by a new machine | ls \| head, empty cache | echo x \| ingest -, empty cache |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
echo "| $count | $clients | $rate | $commits | $packs | $entries | $ls_head | $one_new |"
