#!/usr/bin/env bash
# ingest mms on a backup holding one large attachment, against its limit
# and against the whole-attribute approach, timed in one run.
#
#   benches/mms.sh [ATTACHMENT_MIB] [RUNS]        (default 512 3)
#
# Rows: ingest mms (durable: fsync before the manifest line); ingest mms
# --dry-run (the same pass, nothing written); the limit (benches/mms_limit.rs:
# read the value's bytes, base64-decode and SHA-256 them, no XML, no
# sniffing, no writing); the same limit also writing the decoded bytes to a
# file and fsyncing it (the durable limit, on one thread); and the
# whole-attribute approach
# (benches/mms_whole.rs: quick-xml reads the start tag whole, the value is
# unescaped, decoded and hashed in memory, as extractors built on a general
# XML reader do; Python's ElementTree took over 15 minutes on 512 MiB and
# was dropped). Each cell is the median of RUNS runs; the tools take turns round by
# round. Peak RSS from GNU time (%M).
set -euo pipefail
cd "$(dirname "$0")/.."

mib=${1:-512}
runs=${2:-3}

cargo build --release --quiet
bin=$PWD/target/release/ingest
executable() { cargo bench --no-run --bench "$1" 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -1; }
limit=$(executable mms_limit)
whole=$(executable mms_whole)
work=$(mktemp -d "${TMPDIR:-/var/tmp}/ingest-mms.XXXXXX")
trap 'rm -rf "$work"' EXIT

head -c $((mib << 20)) /dev/urandom > "$work/data.bin"
prefix="<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>
<smses count=\"1\">
  <mms date=\"1700000000000\" address=\"+15555550000\" msg_box=\"1\" m_id=\"bench\">
    <parts>
      <part seq=\"0\" ct=\"video/mp4\" name=\"big.mp4\" chset=\"null\" cd=\"null\" fn=\"null\" cid=\"&lt;big&gt;\" cl=\"big.mp4\" text=\"null\" data=\""
{ printf '%s' "$prefix"; base64 -w0 "$work/data.bin"; printf '" />\n    </parts>\n  </mms>\n</smses>\n'; } > "$work/backup.xml"
offset=$(printf '%s' "$prefix" | wc -c)
len=$(( ($(stat -c %s "$work/data.bin") + 2) / 3 * 4 ))
expected=$(sha256sum "$work/data.bin" | cut -d' ' -f1)
rm "$work/data.bin"
cat "$work/backup.xml" > /dev/null
sync


labels=("ingest mms" "ingest mms --dry-run" "limit: read + base64 + SHA-256" "limit, then write + fsync" "whole attribute (quick-xml)")
cmds=("rm -rf $work/store && $bin --store $work/store -q mms $work/backup.xml && grep -q $expected $work/store/manifest.jsonl"
      "$bin --store $work/dry -q mms --dry-run $work/backup.xml"
      "$limit $work/backup.xml $offset $len | grep -q $expected"
      "rm -f $work/out.bin && $limit $work/backup.xml $offset $len $work/out.bin | grep -q $expected"
      "$whole $work/backup.xml | grep -q $expected")
for round in $(seq "$runs"); do
    for i in "${!labels[@]}"; do
        /usr/bin/time -f "%e %M" -o "$work/time.out" bash -c "${cmds[$i]}" >/dev/null
        cat "$work/time.out" >> "$work/times.$i"
    done
done

median() { sort -n | sed -n "$(( (runs + 1) / 2 ))p"; }
echo "$(date -u +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores;" \
     "backup of $(( $(stat -c %s "$work/backup.xml") >> 20 )) MiB holding one $mib MiB attachment; median of $runs runs"
echo
echo "| | wall (s) | MiB/s of attachment | peak RSS | vs ingest mms |"
echo "|---|---|---|---|---|"
base=$(cut -d' ' -f1 "$work/times.0" | median)
for i in "${!labels[@]}"; do
    t=$(cut -d' ' -f1 "$work/times.$i" | median)
    m=$(cut -d' ' -f2 "$work/times.$i" | median)
    awk -v l="${labels[$i]}" -v t="$t" -v m="$m" -v b="$base" -v mib="$mib" \
        'BEGIN { printf "| %s | %.2f | %.0f | %.1f MiB | %.2fx |\n", l, t, mib / t, m / 1024, t / b }'
done
