#!/usr/bin/env bash
# Bulk import throughput (parse + store, SQLite): generates an mbox of CONVERSATIONS x PER
# messages and times `lethe import mbox` into a fresh data directory, three runs.
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
for run in 1 2 3; do
    dir="$work/data$run"
    echo 'bench password 123' | LETHE_DATA_DIR="$dir" "$BIN" user create --email bench@shop.example --password-stdin --org Bench >/dev/null
    start="$(date +%s%N)"
    LETHE_DATA_DIR="$dir" "$BIN" import mbox "$work/corpus.mbox" --org Bench --json > "$work/out$run.json"
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    rates+=("$(( total * 1000 / ms ))")
    echo "run $run: $total messages in $ms ms: $(cat "$work/out$run.json")"
done
sorted=($(printf '%s\n' "${rates[@]}" | sort -n))
echo "bulk import, median of 3: ${sorted[1]} messages/s ($total messages, $CONVERSATIONS conversations)"
