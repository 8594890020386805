#!/usr/bin/env bash
# Resumable uploads: ingest serve beside the tus project's own Node server
# (@tus/server with @tus/file-store, from npm; benches/tus-reference), the
# same client (tus-js-client under Node, tests/tus/client.js, one PATCH for
# the whole rest) through the same proxy (tests/tus/cutter.py), in one run:
#   - a 200 MB upload uncut, and cut 5 times at seeded places and resumed:
#     each server's time cut over uncut (the target: ingest at most 1.3x)
#   - ingest's peak RSS with 100 partial uploads open at once, each with a
#     piece still streaming in (the target: at most 64 MiB)
# ingest makes each acknowledged offset durable and passes the whole upload
# (hash, sniff, policy, a durable object, a manifest line) once it is in;
# @tus/server writes the bytes to a file and syncs nothing. Medians of RUNS
# rounds (default 3). The client tries again at once after a cut
# (RETRY_MS=500 waits as a phone would; that wait is then most of the
# difference, the same for both servers).
#
#   benches/serve_resume.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}

cargo build --release --quiet
bin=$PWD/target/release/ingest
ref=$PWD/target/tus-reference
mkdir -p "$ref"
cp benches/tus-reference/server.js benches/tus-reference/package.json "$ref/"
if [ ! -d "$ref/node_modules/@tus/server" ]; then
    (cd "$ref" && npm install --silent --no-audit --no-fund >/dev/null)
fi
work=$(mktemp -d "${TMPDIR:-/var/tmp}/ingest-resume-bench.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

size=200000000
head -c "$size" /dev/urandom >"$work/200M.bin"
sync

port_of() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return; sleep 0.05; done; echo "no server on $1" >&2; exit 1; }

# start KIND DIR: a server on a fresh store; sets port, pid, token, endpoint.
start() {
    port=$(port_of)
    if [ "$1" = ingest ]; then
        token=$("$bin" --store "$2" -q token add bench)
        "$bin" --store "$2" serve --listen "127.0.0.1:$port" --max-uploads 128 --max-uploads-per-token 128 2>/dev/null &
        path=/v1/tus/
    else
        token=none
        mkdir -p "$2"
        node "$ref/server.js" "$2" "$port" &
        path=/files/
    fi
    pid=$!
    pids+=("$pid")
    wait_port "$port"
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; }

# upload CUTS SEED: the 200 MB file through a proxy cutting CUTS times;
# prints the seconds it took.
upload() {
    local proxy
    proxy=$(port_of)
    python3 tests/tus/cutter.py "$proxy" "$port" "$2" "$1" "$size" "$work/cuts.json" &
    local cutter=$!
    wait_port "$proxy"
    local t0 t1
    t0=$(date +%s.%N)
    TUS_CLIENTS="$ref" TUS_CHUNK=0 TUS_RETRY_MS="${RETRY_MS:-0}" node tests/tus/client.js "http://127.0.0.1:$proxy$path" "$token" \
        "$work/200M.bin" "200M.bin" retrying >/dev/null
    t1=$(date +%s.%N)
    kill "$cutter" 2>/dev/null || true
    wait "$cutter" 2>/dev/null || true
    local done_cuts
    done_cuts=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cuts"])' "$work/cuts.json")
    [ "$done_cuts" = "$1" ] || { echo "the proxy cut $done_cuts times, not $1" >&2; exit 1; }
    python3 -c "print(f'{$t1 - $t0:.2f}')"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A times
for round in $(seq 1 "$runs"); do
    for kind in ingest tus-node; do
        for cuts in 0 5; do
            rm -rf "$work/store"
            start "$kind" "$work/store"
            t=$(upload "$cuts" "$round")
            stop
            times[$kind-$cuts]+="$t "
            echo "round $round: $kind, $cuts cuts: $t s" >&2
        done
    done
done
for kind in ingest tus-node; do
    uncut=$(echo "${times[$kind-0]}" | tr ' ' '\n' | grep . | median)
    cut=$(echo "${times[$kind-5]}" | tr ' ' '\n' | grep . | median)
    python3 -c "print(f'$kind: 200 MB uncut {$uncut} s, cut 5 times {$cut} s: {$cut / $uncut:.2f}x')"
done

# 100 partial uploads open at once, each with a piece streaming in.
rm -rf "$work/store"
start ingest "$work/store"
python3 - "$port" "$token" <<'PY'
import http.client, socket, sys, threading, time
port, token = int(sys.argv[1]), sys.argv[2]
def one(i, ready, go):
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request("POST", "/v1/tus/", headers={"Authorization": "Bearer " + token, "Tus-Resumable": "1.0.0",
                                           "Upload-Length": str(4 << 20)})
    r = c.getresponse(); r.read()
    url = r.getheader("Location")
    s = socket.create_connection(("127.0.0.1", port))
    head = (f"PATCH {url} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\n"
            f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: {4 << 20}\r\n\r\n")
    s.sendall(head.encode() + b"x" * (1 << 20))
    ready.release()
    go.wait()
    s.sendall(b"x" * (3 << 20))
    s.recv(4096)
    s.close()
ready, go = threading.Semaphore(0), threading.Event()
threads = [threading.Thread(target=one, args=(i, ready, go)) for i in range(100)]
for t in threads: t.start()
for _ in threads: ready.acquire()
time.sleep(1)
go.set()
for t in threads: t.join()
PY
peak=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
stop
echo "ingest: peak RSS with 100 partial uploads open: $((peak / 1024)) MiB"
