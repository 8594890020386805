#!/usr/bin/env bash
# ingest against its peers, timed in one run on one machine.
#
#   benches/compare.sh [LARGE_MIB] [SMALL_FILES] [RUNS]     (default 2048 20000 3)
#   JOBS="tree" benches/compare.sh ...                     (some of: large pipe tree)
#
# Three jobs: one large file (page cache warm), the same bytes through a
# pipe, and a tree of small files (1-64 KiB). For each tool: the median wall
# time of RUNS runs (each into an empty destination), the ratio to ingest,
# and the peak RSS of the whole command (GNU time's %M: the largest process
# of a pipeline). Peers: hash alone (ingest --dry-run: read + SHA-256, no
# write), cp (not durable), dd conv=fsync (a durable copy, in 64 KiB writes
# as ingest makes: on some VMs larger writes into the page cache cost many
# times more, see WRITE_MAX in src/pipeline.rs), sha256sum + cp,
# git hash-object -w, and restic backup (Debian's restic; installed if
# missing, skipped with a message if it cannot be). git is timed once on the
# large jobs: it zlib-compresses every byte and takes minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

large_mib=${1:-2048}
small=${2:-20000}
runs=${3:-3}

if ! command -v restic >/dev/null; then
    { apt-get install -y -qq restic >/dev/null 2>&1 || sudo apt-get install -y -qq restic >/dev/null 2>&1; } || true
fi
have_restic=$(command -v restic >/dev/null && echo yes || echo no)

cargo build --release --quiet
bin=$PWD/target/release/ingest
work=$(mktemp -d "${TMPDIR:-/var/tmp}/ingest-compare.XXXXXX")
trap 'rm -rf "$work"' EXIT
export RESTIC_PASSWORD=bench RESTIC_REPOSITORY="$work/restic" RESTIC_CACHE_DIR="$work/restic-cache"
export GIT_CONFIG_NOSYSTEM=1 HOME="$work"

head -c $((large_mib << 20)) /dev/urandom > "$work/large.bin"
python3 benches/make_tree.py "$work/tree" "$small"
cat "$work/large.bin" > /dev/null
sync

# Each run writes into empty destinations. In the small-file job the last
# run's are moved aside, not deleted, until the job ends: ext4 without a
# journal (this kind of VM) skips inodes freed in the last few minutes when
# it allocates, so deleting 20,000 files just before a run makes every
# file-per-object tool (ingest, cp, git) pay a scan per file that restic,
# with a few pack files, never pays, and that no real run (into a store
# nobody just emptied) sees. The large jobs free a few inodes per run, and
# delete at once (their copies would fill the disk).
set_aside=no
fresh() {
    if [ "$set_aside" = yes ]; then
        local aside
        aside=$(mktemp -d "$work/trash/run.XXXXXX")
        for d in dest store repo restic; do
            [ ! -e "$work/$d" ] || mv "$work/$d" "$aside/"
        done
    else
        rm -rf "$work/dest" "$work/store" "$work/repo" "$work/restic"
    fi
    mkdir -p "$work/dest"
    # Each run starts alike: its input in the page cache, and no dirty
    # pages left by the run before it for its own syncs to wait on.
    $warm > /dev/null
    sync
}
empty_trash() { rm -rf "$work/trash" && mkdir -p "$work/trash"; }
mkdir -p "$work/trash"
git_repo() { fresh; git init -q "$work/repo"; }
restic_repo() { fresh; restic init -q >/dev/null; }

# A job is a list of tools, each "label;runs;prep;cmd". The tools take
# turns, round by round, so a disk still busy with earlier writes slows them
# alike rather than whichever runs first.
# run_job TOOL...: prints "label;median seconds;median peak RSS KiB" rows.
run_job() {
    local -a labels=() counts=() preps=() cmds=()
    local tool
    for tool in "$@"; do
        IFS=';' read -r l n p c <<< "$tool"
        labels+=("$l"); counts+=("$n"); preps+=("$p"); cmds+=("$c")
    done
    local round i
    for round in $(seq "$runs"); do
        for i in "${!labels[@]}"; do
            [ "$round" -le "${counts[$i]}" ] || continue
            ${preps[$i]}
            if /usr/bin/time -f "%e %M" -o "$work/time.out" bash -c "${cmds[$i]}" >/dev/null 2>"$work/err.out"; then
                cat "$work/time.out" >> "$work/times.$i"
            else
                echo "failed: $(tail -1 "$work/err.out")" >> "$work/times.$i"
            fi
        done
    done
    for i in "${!labels[@]}"; do
        if grep -q '^failed' "$work/times.$i"; then
            echo "| ${labels[$i]} | $(grep -m1 '^failed' "$work/times.$i") | | | |"
        else
            local n t m
            n=$(wc -l < "$work/times.$i")
            t=$(cut -d' ' -f1 "$work/times.$i" | sort -n | sed -n "$(( (n + 1) / 2 ))p")
            m=$(cut -d' ' -f2 "$work/times.$i" | sort -n | sed -n "$(( (n + 1) / 2 ))p")
            echo "${labels[$i]};$t;$m"
        fi
        rm -f "$work/times.$i"
    done
}

# table FILES ROWS...: rows as "label;seconds;rss_kib", the first is ingest.
table() {
    local files=$1 label t m row
    shift
    local base
    base=$(echo "$1" | cut -d';' -f2)
    if [ "$files" -gt 0 ]; then
        echo "| tool | median | x ingest | files/s | peak RSS |"
        echo "|---|---|---|---|---|"
    else
        echo "| tool | median | x ingest | MiB/s | peak RSS |"
        echo "|---|---|---|---|---|"
    fi
    for row in "$@"; do
        case "$row" in "| "*) echo "$row"; continue ;; esac
        IFS=';' read -r label t m <<< "$row"
        label=${label//|/\\|}
        awk -v l="$label" -v t="$t" -v m="$m" -v b="$base" -v f="$files" -v s="$large_mib" \
            'BEGIN { rate = f > 0 ? sprintf("%.0f", f / t) : sprintf("%.0f", s / t);
                     printf "| %s | %.2f s | %.2f | %s | %.1f MiB |\n", l, t, t / b, rate, m / 1024 }'
    done
}

f="$work/large.bin"
tree="$work/tree"
files=$(find "$tree" -type f | wc -l)
skipped="| restic backup | skipped: restic could not be installed | | | |"

# job TITLE FILES TOOL...: runs the tools, round by round, and prints a table.
job() {
    local title=$1 count=$2
    shift 2
    local -a tools=("$@") rows
    if [ "$have_restic" != yes ]; then
        mapfile -t tools < <(printf '%s\n' "${tools[@]}" | grep -v restic)
    fi
    mapfile -t rows < <(run_job "${tools[@]}")
    fresh
    empty_trash
    [ "$have_restic" = yes ] || rows+=("$skipped")
    echo "## $title"
    echo
    table "$count" "${rows[@]}"
    echo
}

jobs=${JOBS:-large pipe tree}
wants() { [[ " $jobs " == *" $1 "* ]]; }

warm="cat $f"
wants large && job "One ${large_mib} MiB file, page cache warm" 0 \
    "ingest;$runs;fresh;$bin -q --progress never --store $work/store $f" \
    "hash only (ingest --dry-run);$runs;fresh;$bin -q --progress never --dry-run --store $work/store $f" \
    "cp (not durable);$runs;fresh;cp $f $work/dest/copy" \
    "dd conv=fsync (durable copy);$runs;fresh;dd if=$f of=$work/dest/copy bs=64K conv=fsync status=none" \
    "sha256sum + cp;$runs;fresh;sha256sum $f && cp $f $work/dest/copy" \
    "git hash-object -w (1 run);1;git_repo;git -C $work/repo hash-object -w $f" \
    "restic backup;$runs;restic_repo;restic backup -q $f"

wants pipe && job "The same bytes through a pipe" 0 \
    "cat | ingest -;$runs;fresh;cat $f | $bin -q --progress never --store $work/store --name large.bin -" \
    "cat | tee copy | sha256sum;$runs;fresh;cat $f | tee $work/dest/copy | sha256sum" \
    "cat | git hash-object -w --stdin (1 run);1;git_repo;cat $f | git -C $work/repo hash-object -w --stdin" \
    "cat | restic backup --stdin;$runs;restic_repo;cat $f | restic backup -q --stdin"

set_aside=yes
warm="find $tree -type f -exec cat {} +"
wants tree && job "A tree of $files small files (1-64 KiB)" "$files" \
    "ingest (default: --sync group);$runs;fresh;$bin -q --progress never --store $work/store $tree" \
    "ingest --sync batch;$runs;fresh;$bin -q --progress never --sync batch --store $work/store $tree" \
    "ingest --sync file;$runs;fresh;$bin -q --progress never --sync file --store $work/store $tree" \
    "hash only (ingest --dry-run);$runs;fresh;$bin -q --progress never --dry-run --no-cache --store $work/store $tree" \
    "cp -r + sha256sum (not durable);$runs;fresh;cp -r $tree $work/dest/tree && find $work/dest/tree -type f -exec sha256sum {} + >/dev/null" \
    "git hash-object -w --stdin-paths;$runs;git_repo;find $tree -type f | git -C $work/repo hash-object -w --stdin-paths" \
    "restic backup;$runs;restic_repo;restic backup -q $tree"

echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F); medians of $runs runs."
