#!/usr/bin/env bash
# Search benchmark, side by side in one run: generates CONVERSATIONS demo conversations
# (about 10 messages each, six languages) with `lethe demo-data`, times `lethe index rebuild`
# (indexing throughput), starts `lethe serve`, and measures p50/p99 of /search over HTTP
# against SQLite FTS5 (bm25) and PostgreSQL full-text search (ts_rank, GIN) on the same
# messages. SQLite is Lethe's database here; PostgreSQL only holds the comparison table.
# Usage: benches/search.sh [CONVERSATIONS=100000] [ROUNDS=20] [CLIENTS=8] [PG_URL|-] [path/to/lethe] [path/to/baseline-lethe]
# With a baseline binary, the corpus is built and indexed once (by the first binary), copied,
# and both servers answer only the edge classes (frequent words of the corpus, newest-first,
# pages 1-25, two- and three-word combinations), interleaved query by query.
# SEARCH_DATA=DIR keeps the corpus in DIR and reuses it when it is there already.
set -euo pipefail
cd "$(dirname "$0")/.."
CONVERSATIONS="${1:-100000}"
ROUNDS="${2:-20}"
CLIENTS="${3:-8}"
PG_BASE="${4:-postgres://postgres@127.0.0.1:5432}"
BIN="${5:-target/release/lethe}"
BASELINE="${6:-}"
if [[ -z "${5:-}" && ! -x "$BIN" ]]; then cargo build --release; fi
[[ -x "$BIN" ]] || { echo "no lethe binary at $BIN" >&2; exit 1; }
work="$(mktemp -d)"
port=$((20000 + RANDOM % 20000))
server=""
baseline_server=""
pg_db="lethe_search_bench_$$"
cleanup() {
    [[ -n "$server" ]] && kill "$server" 2>/dev/null || true
    [[ -n "$baseline_server" ]] && kill "$baseline_server" 2>/dev/null || true
    [[ "$PG_BASE" != "-" ]] && psql "$PG_BASE/postgres" -X -q -c "DROP DATABASE IF EXISTS $pg_db" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
data="${SEARCH_DATA:-$work}"
mkdir -p "$data"
export LETHE_DATA_DIR="$data/data" LETHE_LISTEN="127.0.0.1:$port" LETHE_LOG=warn
# A benchmark is one user searching far faster than a person: no per-user limit.
export LETHE_RATE_SEARCH_PER_MINUTE=1000000
password='bench lantern tractor 42'
wait_ready() { for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:${1:-$port}/healthz" >/dev/null && return; sleep 0.1; done; }
if [[ -n "${SEARCH_DATA:-}" && -f "$data/READY" ]]; then
    echo "reusing the corpus in $data"
else
echo "$password" | "$BIN" user create --email bench@shop.example --password-stdin --org Bench >/dev/null
"$BIN" demo-data --org Bench --conversations "$CONVERSATIONS" --seed 42
messages="$(sqlite3 "$data/data/lethe.db" 'SELECT COUNT(*) FROM messages')"
# 1. The live path: the server's indexer drains the trigger-filled queue.
start="$(date +%s%N)"
"$BIN" serve & server=$!
wait_ready
while [[ "$(sqlite3 "$data/data/lethe.db" 'SELECT COUNT(*) FROM search_queue')" != 0 ]]; do sleep 0.2; done
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "indexing (queue drained by the running server): $messages messages in $ms ms = $(( messages * 1000 / (ms > 0 ? ms : 1) )) messages/s"
kill "$server"; wait "$server" 2>/dev/null || true; server=""
baseline_server=""
# 2. The operator's path: a full rebuild from the database.
start="$(date +%s%N)"
"$BIN" index rebuild
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "indexing (lethe index rebuild): $messages messages in $ms ms = $(( messages * 1000 / (ms > 0 ? ms : 1) )) messages/s"
"$BIN" index verify
du -sh "$data/data/index" | awk '{print "index size: " $1}'
touch "$data/READY"
fi
if [[ -n "$BASELINE" ]]; then
    # The same corpus for the baseline, in a copy (two servers never share an index).
    rm -rf "$data/data-baseline"
    cp -a "$data/data" "$data/data-baseline"
    base_port=$((port + 1))
    LETHE_DATA_DIR="$data/data-baseline" LETHE_LISTEN="127.0.0.1:$base_port" "$BASELINE" serve & baseline_server=$!
    "$BIN" serve & server=$!
    wait_ready "$port"
    wait_ready "$base_port"
    python3 benches/search_bench.py "base=http://127.0.0.1:$base_port,new=http://127.0.0.1:$port" \
        bench@shop.example "$password" "$data/data/lethe.db" - "$ROUNDS" "$CLIENTS"
    for p in "$baseline_server" "$server"; do
        echo "server $p resident memory after the run: $(awk '$1 == "VmRSS:" {print int($2 / 1024)}' "/proc/$p/status") MB"
    done
    kill "$baseline_server" "$server"; wait "$baseline_server" "$server" 2>/dev/null || true
    baseline_server=""; server=""
    LETHE_DATA_DIR="$data/data-baseline" "$BASELINE" index verify
    "$BIN" index verify
    exit 0
fi
"$BIN" serve & server=$!
wait_ready
pg_url="-"
if [[ "$PG_BASE" != "-" ]]; then
    psql "$PG_BASE/postgres" -X -q -c "CREATE DATABASE $pg_db" >/dev/null
    pg_url="$PG_BASE/$pg_db"
fi
python3 benches/search_bench.py "http://127.0.0.1:$port" bench@shop.example "$password" \
    "$data/data/lethe.db" "$pg_url" "$ROUNDS" "$CLIENTS"
memory() { awk -v k="$1:" '$1 == k {print int($2 / 1024)}' "/proc/$server/status"; }
echo "server resident memory after the run: $(memory VmRSS) MB ($(memory RssAnon) MB its own, $(memory RssFile) MB index and database files mapped or cached)"
