#!/usr/bin/env bash
# Page throughput, two builds side by side in one run: CLIENTS agents, each request with the
# next agent's session, keep the server busy in a closed loop (`wrk`, one thread, CLIENTS
# keep-alive connections) on /inbox, then on random /conversations/{id} of the organization.
# CONVERSATIONS demo conversations are generated once by the BEFORE binary and indexed, copied,
# and each binary serves its own copy (the newer one migrates its copy at start). Rounds of
# SECONDS alternate between the servers (benches/throughput_bench.py); it prints requests/s,
# p50/p99, the server's CPU time per request and what wrk itself used of one core (the load
# generator shares the machine's cores), and the load average.
# Usage: benches/throughput.sh BEFORE_BIN AFTER_BIN [CONVERSATIONS=100000] [CLIENTS=50] [SECONDS=15] [ROUNDS=3]
# THROUGHPUT_DATA=DIR keeps the generated corpus in DIR and reuses it when it is there already.
# THROUGHPUT_PAGES=inbox|conversation measures one page only (default both).
# Needs wrk (apt-get install wrk), sqlite3, curl and python3; the binaries are release builds.
set -euo pipefail
cd "$(dirname "$0")/.."
BEFORE="$1"
AFTER="$2"
CONVERSATIONS="${3:-100000}"
CLIENTS="${4:-50}"
SECONDS_PER_ROUND="${5:-15}"
ROUNDS="${6:-3}"
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
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
corpus="${THROUGHPUT_DATA:-$work/corpus}"
mkdir -p "$corpus"
if [[ -f "$corpus/READY" ]]; then
    echo "reusing the corpus in $corpus"
else
    python3 -c 'import os; print(os.urandom(32).hex())' >"$corpus/secret"
    export LETHE_SECRET_KEY="$(cat "$corpus/secret")" LETHE_DATA_DIR="$corpus/data"
    echo "$password" | "$BEFORE" user create --email owner@shop.example --password-stdin --org Bench --role owner >/dev/null
    for n in $(seq 0 $((CLIENTS - 1))); do
        echo "$password" | "$BEFORE" user create --email "agent$n@shop.example" --password-stdin --org Bench --role agent >/dev/null
    done
    "$BEFORE" demo-data --org Bench --conversations "$CONVERSATIONS" --seed 42 >/dev/null
    "$BEFORE" index rebuild >/dev/null
    touch "$corpus/READY"
fi
export LETHE_SECRET_KEY="$(cat "$corpus/secret")"
cp -a "$corpus/data" "$work/before"
cp -a "$corpus/data" "$work/after"
sqlite3 "$work/before/lethe.db" 'SELECT id FROM conversations ORDER BY id' >"$work/ids"
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
echo "$(nproc) cores, $(wc -l <"$work/ids") conversations, $CLIENTS clients, $ROUNDS rounds of ${SECONDS_PER_ROUND}s per server and page; $(uptime)"
python3 benches/throughput_bench.py \
    --server "before=http://127.0.0.1:$port=${pids[0]}" \
    --server "after=http://127.0.0.1:$((port + 1))=${pids[1]}" \
    --clients "$CLIENTS" --password "$password" --ids "$work/ids" \
    --seconds "$SECONDS_PER_ROUND" --rounds "$ROUNDS" --pages "${THROUGHPUT_PAGES:-inbox,conversation}"
