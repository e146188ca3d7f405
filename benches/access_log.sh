#!/usr/bin/env bash
# What the access log costs a page: 50 agents (each signed in, one request at a time) open
# random /conversations/{id} pages in a closed loop, against two `lethe serve` processes on
# copies of the same SQLite data — one writing access entries as in production, one with the
# log switched off (LETHE_TEST_ACCESS_LOG_OFF=1, which exists only in builds with the
# `test-hooks` feature) — in alternating rounds of SECONDS each, side by side in one run.
# Prints p50/p90/p99 and pages/s per server (benches/access_log_bench.py), then how many
# access entries each wrote (the "off" one must have none, or the switch did not take).
# With RATE (pages/s in all, e.g. 50) the agents work at that human pace instead of a closed
# loop, latency counted from each request's scheduled time (benches/access_log_bench.py --rate).
# Usage: benches/access_log.sh [CONVERSATIONS=20000] [AGENTS=50] [SECONDS=20] [ROUNDS=3] [RATE=0]
# Builds target/release/lethe with `--features test-hooks` (only the lethe crate is rebuilt
# when the dependencies are already built for release); LETHE_BENCH_BIN=path uses that binary
# instead (it must have been built with the feature). Needs sqlite3, curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
CONVERSATIONS="${1:-20000}"
AGENTS="${2:-50}"
SECONDS_PER_ROUND="${3:-20}"
ROUNDS="${4:-3}"
RATE="${5:-0}"
BIN="${LETHE_BENCH_BIN:-}"
if [[ -z "$BIN" ]]; then
    BIN=target/release/lethe
    cargo build --release --locked --features test-hooks --bin lethe
fi
work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
password='bench lantern tractor 42'
export LETHE_LOG=warn
# 50 agents sign in twice from one address: over the per-address login limit a real team
# never meets. The bench measures pages, not the limiter.
export LETHE_RATE_LOGIN_PER_MINUTE=100000
export LETHE_SECRET_KEY="$(python3 -c 'import os; print(os.urandom(32).hex())')"
export LETHE_DATA_DIR="$work/on"
echo "$password" | "$BIN" user create --email owner@shop.example --password-stdin --org Bench --role owner >/dev/null
for n in $(seq 0 $((AGENTS - 1))); do
    echo "$password" | "$BIN" user create --email "agent$n@shop.example" --password-stdin --org Bench --role agent >/dev/null
done
"$BIN" demo-data --org Bench --conversations "$CONVERSATIONS" --seed 42 >/dev/null
"$BIN" index rebuild >/dev/null
sqlite3 "$work/on/lethe.db" 'SELECT id FROM conversations' >"$work/ids"
cp -a "$work/on" "$work/off"
start_server() { # name port [env...]
    local name="$1" port="$2"
    shift 2
    env LETHE_DATA_DIR="$work/$name" LETHE_LISTEN="127.0.0.1:$port" "$@" "$BIN" serve &
    pids+=("$!")
    for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.1; done
    echo "the $name server did not start" >&2
    exit 1
}
port_on=$((20000 + RANDOM % 20000))
port_off=$((port_on + 1))
start_server on "$port_on"
start_server off "$port_off" LETHE_TEST_ACCESS_LOG_OFF=1
echo "$(nproc) cores, $(wc -l <"$work/ids") conversations, $AGENTS agents, $ROUNDS rounds of ${SECONDS_PER_ROUND}s per server"
python3 benches/access_log_bench.py --on "http://127.0.0.1:$port_on" --off "http://127.0.0.1:$port_off" \
    --agents "$AGENTS" --password "$password" --ids "$work/ids" \
    --seconds "$SECONDS_PER_ROUND" --rounds "$ROUNDS" --rate "$RATE"
# Let the writers flush their last batch (one second), then count.
sleep 2
for name in on off; do
    echo "access entries written ($name): $(sqlite3 "$work/$name/lethe.db" 'SELECT COUNT(*) FROM access_entries')"
done
