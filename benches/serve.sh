#!/usr/bin/env bash
# ingest serve beside the reference design of issue 20 (Express + multer to
# a temp file, re-read to hash and check magic bytes, durable copy into the
# store; benches/serve-reference, packages from the npm registry), in one
# run, same client (benches/serve_load.py), same disk:
#   - one 50 MB upload (and ingest storing the same file from disk, for
#     scale, alone and while the same bytes cross loopback to a server that
#     drops them: the least any server could take for them on shared cores)
#   - ten concurrent 10 MB uploads (and the same files copied durably with
#     dd conv=fsync, the floor the disk sets)
#   - 100 concurrent 1 MB uploads, with each server's peak RSS
#   - 2,000 sequential 10 KB uploads on one keep-alive connection (requests/s)
# Each timing is the median of RUNS (default 9) rounds, each running both
# servers on fresh stores; the last lines give each round's ratios. Then
# resumable uploads, against the tus project's own server
# (benches/serve_resume.sh, RESUME_RUNS rounds, default 3; RESUME_RUNS=0
# skips them).
#
#   benches/serve.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-9}

cargo build --release --quiet
bin=$PWD/target/release/ingest
ref=$PWD/target/serve-reference
mkdir -p "$ref"
cp benches/serve-reference/server.js benches/serve-reference/package.json "$ref/"
if [ ! -d "$ref/node_modules/multer" ]; then
    (cd "$ref" && npm install --silent --no-audit --no-fund >/dev/null)
fi
work=$(mktemp -d "${TMPDIR:-/var/tmp}/ingest-serve-bench.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

head -c 50000000 /dev/urandom >"$work/50M.bin"
for i in $(seq 1 10); do head -c 10000000 /dev/urandom >"$work/10M-$i.bin"; done
for i in $(seq 1 100); do head -c 1000000 /dev/urandom >"$work/1M-$i.bin"; done
head -c 10000 /dev/urandom >"$work/10K.bin"
sync

port_of() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return; sleep 0.05; done; echo "no server on $1" >&2; exit 1; }

# start KIND STORE [CPUS]: starts a server on a fresh store (on CPUS only,
# if given); sets port, pid, token.
start() {
    port=$(port_of)
    if [ "$1" = ingest ]; then
        token=$("$bin" --store "$2" -q token add bench)
        ${3:+taskset -c "$3"} "$bin" --store "$2" serve --listen "127.0.0.1:$port" --max-uploads 128 --max-uploads-per-token 128 2>/dev/null &
    else
        token=reference-token
        mkdir -p "$2"
        node "$ref/server.js" "$2" "$port" "$token" 2>/dev/null &
    fi
    pid=$!
    pids+=("$pid")
    wait_port "$port"
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; }
peak_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
load() { python3 benches/serve_load.py "$port" "$token" "$@"; }

# A server that reads each body and drops it (benches/serve_load.py).
discard_port=$(port_of)
python3 benches/serve_load.py "$discard_port" - discard &
pids+=("$!")
wait_port "$discard_port"

# ingest storing the same 50 MB from disk, the one-pass floor the upload is
# held against: timed in each ingest run just before the upload, so both
# see the disk in the same mood; started from Python as the run beside the
# transfer below is, so the two pay the same to start it.
store_from_disk() {
    python3 benches/serve_load.py "$discard_port" - beside - \
        "$bin" --store "$1" -q "$work/50M.bin"
    rm -rf "$1"
}

# The same, while the same 50 MB is sent to the discarding server: the
# client's sending and the kernel's receiving take their share of the cores
# whatever the server does with the bytes, so no server can do better.
store_beside_transfer() {
    python3 benches/serve_load.py "$discard_port" - beside "$work/50M.bin" \
        "$bin" --store "$1" -q "$work/50M.bin"
    rm -rf "$1"
}

# The same 50 MB with the client off the server's cores: the client on the
# first core, the server, and ingest storing the file from disk for scale,
# on the others (as when the client is another machine). Sets
# pinned_upload and pinned_disk.
cores=$(nproc)
pinned_round() {
    local client=(taskset -c 0 python3 benches/serve_load.py)
    pinned_disk=$("${client[@]}" "$discard_port" - beside - \
        taskset -c "1-$((cores - 1))" "$bin" --store "$1-disk" -q "$work/50M.bin")
    rm -rf "$1-disk"
    start ingest "$1" "1-$((cores - 1))"
    pinned_upload=$("${client[@]}" "$port" "$token" parallel "$work/50M.bin")
    stop
    rm -rf "$1"
}

# The ten 10 MB files copied durably at once (dd conv=fsync each), no
# hashing, no network: the least the disk lets any server take for them.
# In 64 KiB writes, as ingest writes: on some VMs writes of 128 KiB or more
# into the page cache cost many times more (see WRITE_MAX in
# src/pipeline.rs), and bs=1M made this floor up to 3x slower.
durable_copies() {
    local s e
    mkdir -p "$work/dd"
    s=$(date +%s.%N)
    for f in "$work"/10M-*.bin; do dd if="$f" of="$work/dd/${f##*/}" bs=64K conv=fsync status=none & done
    wait
    e=$(date +%s.%N)
    awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", e - s }'
    rm -rf "$work/dd"
}

declare -A result
declare -A series
disk=() beside=() copies=() pinned_disks=() pinned_uploads=()
# Rounds alternate which server goes first, and each round runs both, so
# the two see the machine in the same mood (it drifts over minutes here).
for run in $(seq 1 "$runs"); do
    if [ $((run % 2)) = 1 ]; then order="ingest reference"; else order="reference ingest"; fi
    for kind in $order; do
        if [ "$kind" = ingest ]; then
            disk+=("$(store_from_disk "$work/disk-$run")")
            beside+=("$(store_beside_transfer "$work/beside-$run")")
            copies+=("$(durable_copies)")
            if [ "$cores" -ge 2 ]; then
                pinned_round "$work/pinned-$run"
                pinned_disks+=("$pinned_disk")
                pinned_uploads+=("$pinned_upload")
            fi
        fi
        start "$kind" "$work/$kind-$run"
        series[$kind,one]+="$(load parallel "$work/50M.bin") "
        series[$kind,ten]+="$(load parallel "$work"/10M-*.bin) "
        series[$kind,hundred]+="$(load parallel "$work"/1M-*.bin) "
        series[$kind,rss]+="$(peak_kib "$pid") "
        series[$kind,seq]+="$(load sequential 2000 "$work/10K.bin") "
        stop
        rm -rf "$work/$kind-$run"
    done
done
for kind in ingest reference; do
    for what in one ten hundred seq; do
        result[$kind,$what]=$(printf '%s\n' ${series[$kind,$what]} | median)
    done
    result[$kind,rss]=$(printf '%s\n' ${series[$kind,rss]} | sort -n | tail -1)
done

result[disk]=$(printf '%s\n' "${disk[@]}" | median)
result[beside]=$(printf '%s\n' "${beside[@]}" | median)
result[pinned_disk]=$(printf '%s\n' "${pinned_disks[@]}" | median)
result[pinned_upload]=$(printf '%s\n' "${pinned_uploads[@]}" | median)
result[copies]=$(printf '%s\n' "${copies[@]}" | median)

echo "| | ingest serve | Node reference | ratio |"
echo "|---|---:|---:|---:|"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", b / a }'; }
echo "| one 50 MB upload (s) | ${result[ingest,one]} | ${result[reference,one]} | $(ratio "${result[ingest,one]}" "${result[reference,one]}") |"
echo "| ten concurrent 10 MB (s) | ${result[ingest,ten]} | ${result[reference,ten]} | $(ratio "${result[ingest,ten]}" "${result[reference,ten]}") |"
echo "| 100 concurrent 1 MB (s) | ${result[ingest,hundred]} | ${result[reference,hundred]} | $(ratio "${result[ingest,hundred]}" "${result[reference,hundred]}") |"
echo "| 2,000 sequential 10 KB (requests/s) | ${result[ingest,seq]} | ${result[reference,seq]} | $(awk -v a="${result[ingest,seq]}" -v b="${result[reference,seq]}" 'BEGIN { printf "%.2fx", a / b }') |"
echo "| peak RSS of the server (MiB) | $((result[ingest,rss] / 1024)) | $((result[reference,rss] / 1024)) | $(awk -v a="${result[ingest,rss]}" -v b="${result[reference,rss]}" 'BEGIN { printf "%.2f", a / b }') |"
echo
echo "ingest storing the same 50 MB from disk: ${result[disk]} s; the upload takes $(awk -v a="${result[ingest,one]}" -v b="${result[disk]}" 'BEGIN { printf "%.2f", a / b }')x that."
echo "the same while the 50 MB cross loopback to a server that drops them: ${result[beside]} s, $(awk -v a="${result[beside]}" -v b="${result[disk]}" 'BEGIN { printf "%.2f", a / b }')x the disk run: the least any server could take here."
if [ "$cores" -ge 2 ]; then
    echo "with the client on core 0 and the server on the others: the 50 MB upload ${result[pinned_upload]} s, ingest storing it from disk on the server's cores ${result[pinned_disk]} s: $(awk -v a="${result[pinned_upload]}" -v b="${result[pinned_disk]}" 'BEGIN { printf "%.2f", a / b }')x."
fi
echo "the ten 10 MB files copied durably at once (dd conv=fsync): ${result[copies]} s; the reference's time over that: $(awk -v a="${result[copies]}" -v b="${result[reference,ten]}" 'BEGIN { printf "%.2f", b / a }')x."
pairs() { paste -d' ' <(printf '%s\n' $1) <(printf '%s\n' $2) | awk -v inv="${3:-}" '{ printf "%s%.2f", (NR > 1 ? " " : ""), (inv ? $2 / $1 : $1 / $2) }'; }
echo "each round, the 50 MB upload over storing it from disk: $(pairs "${series[ingest,one]}" "${disk[*]}")"
echo "each round, the same beside the transfer over storing it from disk: $(pairs "${beside[*]}" "${disk[*]}")"
if [ "$cores" -ge 2 ]; then
    echo "each round, client off the server's cores, the upload over storing from disk: $(pairs "${pinned_uploads[*]}" "${pinned_disks[*]}")"
fi
echo "each round, the reference's ten concurrent 10 MB over ingest's: $(pairs "${series[ingest,ten]}" "${series[reference,ten]}" 1)"

resume_runs=${RESUME_RUNS:-3}
if [ "$resume_runs" -gt 0 ]; then
    echo
    echo "Resumable uploads (benches/serve_resume.sh $resume_runs):"
    benches/serve_resume.sh "$resume_runs"
fi
