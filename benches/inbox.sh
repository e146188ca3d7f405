#!/usr/bin/env bash
# /inbox at scale, two builds side by side in one run: CONVERSATIONS demo conversations are
# generated once by the BEFORE binary, copied, and each binary serves its own copy (the newer
# one migrates its copy at start). AGENTS agents and an owner are signed in on both. In
# alternating rounds (benches/inbox_bench.py) each server gets SECONDS of one client asking for
# /inbox in a closed loop, then SECONDS of the whole team at a human pace, RATE pages/s in all.
# Prints p50/p90/p99/max per build and load.
# Usage: benches/inbox.sh BEFORE_BIN AFTER_BIN [CONVERSATIONS=100000] [AGENTS=50] [RATE=50] [SECONDS=20] [ROUNDS=3]
# Needs sqlite3, curl and python3; the binaries are release builds (cargo build --release).
set -euo pipefail
cd "$(dirname "$0")/.."
BEFORE="$1"
AFTER="$2"
CONVERSATIONS="${3:-100000}"
AGENTS="${4:-50}"
RATE="${5:-50}"
SECONDS_PER_ROUND="${6:-20}"
ROUNDS="${7:-3}"
work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
password='bench lantern tractor 42'
export LETHE_LOG=warn
# The team signs in from one address: over the per-address login limit a real team never meets.
export LETHE_RATE_LOGIN_PER_MINUTE=100000
export LETHE_SECRET_KEY="$(python3 -c 'import os; print(os.urandom(32).hex())')"
export LETHE_DATA_DIR="$work/before"
echo "$password" | "$BEFORE" user create --email owner@shop.example --password-stdin --org Bench --role owner >/dev/null
for n in $(seq 0 $((AGENTS - 1))); do
    echo "$password" | "$BEFORE" user create --email "agent$n@shop.example" --password-stdin --org Bench --role agent >/dev/null
done
"$BEFORE" demo-data --org Bench --conversations "$CONVERSATIONS" --seed 42 >/dev/null
"$BEFORE" index rebuild >/dev/null
cp -a "$work/before" "$work/after"
start_server() { # name binary port
    local name="$1" bin="$2" port="$3"
    LETHE_DATA_DIR="$work/$name" LETHE_LISTEN="127.0.0.1:$port" "$bin" serve &
    pids+=("$!")
    for _ in $(seq 1 600); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.1; done
    echo "the $name server did not start" >&2
    exit 1
}
port=$((20000 + RANDOM % 20000))
start_server before "$BEFORE" "$port"
start_server after "$AFTER" "$((port + 1))"
echo "$(nproc) cores, $(sqlite3 "$work/before/lethe.db" 'SELECT COUNT(*) FROM conversations') conversations, $AGENTS agents at $RATE pages/s, $ROUNDS rounds of ${SECONDS_PER_ROUND}s per server and load"
python3 benches/inbox_bench.py --server "before=http://127.0.0.1:$port" --server "after=http://127.0.0.1:$((port + 1))" \
    --agents "$AGENTS" --password "$password" --rate "$RATE" \
    --seconds "$SECONDS_PER_ROUND" --rounds "$ROUNDS"
