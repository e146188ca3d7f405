#!/usr/bin/env bash
# Bulk import throughput (SQLite): generates an mbox of CONVERSATIONS x PER messages, times
# `lethe import mbox` (parse + store) into a fresh data directory and then `lethe index
# rebuild` (indexing what was imported), three runs; prints each rate and the combined
# parse + store + index rate.
# Usage: benches/import.sh [CONVERSATIONS=10000] [PER=5] [path/to/lethe]
set -euo pipefail
cd "$(dirname "$0")/.."
CONVERSATIONS="${1:-10000}"
PER="${2:-5}"
BIN="${3:-target/release/lethe}"
[[ -x "$BIN" ]] || cargo build --release
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 benches/gen_mbox.py "$CONVERSATIONS" "$PER" "$work/corpus.mbox"
total=$((CONVERSATIONS * PER))
rates=()
index_rates=()
combined=()
for run in 1 2 3; do
    dir="$work/data$run"
    echo 'bench lantern tractor 42' | LETHE_DATA_DIR="$dir" "$BIN" user create --email bench@shop.example --password-stdin --org Bench >/dev/null
    start="$(date +%s%N)"
    LETHE_DATA_DIR="$dir" "$BIN" import mbox "$work/corpus.mbox" --org Bench --json > "$work/out$run.json"
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    start="$(date +%s%N)"
    LETHE_DATA_DIR="$dir" "$BIN" index rebuild >/dev/null
    index_ms=$(( ($(date +%s%N) - start) / 1000000 ))
    rates+=("$(( total * 1000 / ms ))")
    index_rates+=("$(( total * 1000 / index_ms ))")
    combined+=("$(( total * 1000 / (ms + index_ms) ))")
    echo "run $run: $total messages stored in $ms ms, indexed in $index_ms ms: $(cat "$work/out$run.json")"
done
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
echo "bulk import, median of 3 ($total messages, $CONVERSATIONS conversations):"
echo "  parse + store:         $(median "${rates[@]}") messages/s"
echo "  index:                 $(median "${index_rates[@]}") messages/s"
echo "  parse + store + index: $(median "${combined[@]}") messages/s"
