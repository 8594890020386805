#!/usr/bin/env bash
# Fuzzes the manifest line reader, the sniffing prefix and the MMS XML
# scanner, each for a
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
mkdir -p corpus/manifest_line corpus/sniff_prefix corpus/mms_xml
# Seeds: a real manifest line and the media fixtures.
printf '%s\n' '{"sha256":"5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03","size":6,"mime":"text/plain","ext":"txt","name":"a\u0000b","name_b64":"YWJj","source":"-","ingested_at":"2026-11-23T12:51:32Z","new":true}' > corpus/manifest_line/seed
for f in ../fixtures/media/*; do cp "$f" "corpus/sniff_prefix/$(basename "$f")"; done
printf '%s' "3<?xml version='1.0'?><!-- c --><smses count=\"1\"><mms date=\"1\" address='+1'><parts><part ct=\"image/png\" name=\"a&#55357;&#56832;.png\" data=\"iVBO&#10;Rw0K\" text=\"a &amp; b\"/></parts></mms></smses>" > corpus/mms_xml/seed
for target in manifest_line sniff_prefix mms_xml; do
    cargo +nightly fuzz run --fuzz-dir . "$target" "corpus/$target" -- -max_total_time="$seconds"
done
