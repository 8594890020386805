#!/usr/bin/env bash
# Fuzzes the manifest line reader and the sniffing prefix, each for a
# bounded time (not part of CI: it needs a nightly toolchain and minutes).
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET]     (default 60)
#
# A crash leaves its input under tests/fuzz/artifacts/; turn it into a
# regression test in tests/cli/ or the module's unit tests.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
mkdir -p corpus/manifest_line corpus/sniff_prefix
# Seeds: a real manifest line and the media fixtures.
printf '%s\n' '{"sha256":"5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03","size":6,"mime":"text/plain","ext":"txt","name":"a\u0000b","name_b64":"YWJj","source":"-","ingested_at":"2026-11-23T12:51:32Z","new":true}' > corpus/manifest_line/seed
for f in ../fixtures/media/*; do cp "$f" "corpus/sniff_prefix/$(basename "$f")"; done
for target in manifest_line sniff_prefix; do
    cargo +nightly fuzz run --fuzz-dir . "$target" "corpus/$target" -- -max_total_time="$seconds"
done
