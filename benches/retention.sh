#!/usr/bin/env bash
# Retention benchmark: generates CONVERSATIONS demo conversations (about 10 messages each, six
# languages) with `lethe demo-data`, indexes them with `lethe index rebuild`, starts `lethe serve`,
# saves rules under which most of the corpus is due (conversations inactive for 180 days are
# deleted, closed ones older than 30 days anonymized, old notes deleted, customers left
# without conversations deleted), then presses "run now" on /settings/retention while CLIENTS
# concurrent clients request the logged-in /inbox page, RATE requests per second in all (a
# support team of CLIENTS agents each opening a page every CLIENTS/RATE seconds), or with
# RATE 0 as fast as they can (a closed loop: the load takes both cores, and the run gets
# what the scheduler leaves it). Prints the run's duration and the inbox p50/p99 before and
# during the run. SQLite, the default database.
#
# Usage: benches/retention.sh [CONVERSATIONS=100000] [CLIENTS=50] [RATE=50]
#   LETHE_BIN=target/debug/lethe benches/retention.sh 2000   # small check with a debug build
# Without LETHE_BIN it uses target/release/lethe, building it when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
CONVERSATIONS="${1:-100000}"
CLIENTS="${2:-50}"
RATE="${3:-50}"
BASELINE_SECONDS="${BASELINE_SECONDS:-5}"
BIN="${LETHE_BIN:-target/release/lethe}"
if [[ -z "${LETHE_BIN:-}" && ! -x "$BIN" ]]; then cargo build --release; fi
[[ -x "$BIN" ]] || { echo "no lethe binary at $BIN" >&2; exit 1; }
work="$(mktemp -d)"
port=$((20000 + RANDOM % 20000))
server=""
cleanup() {
    [[ -n "$server" ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
export LETHE_DATA_DIR="$work/data" LETHE_LISTEN="127.0.0.1:$port" LETHE_LOG=warn
db="$work/data/lethe.db"
password='bench lantern tractor 42'
echo "$password" | "$BIN" user create --email bench@shop.example --password-stdin --org Bench >/dev/null
"$BIN" demo-data --org Bench --conversations "$CONVERSATIONS" --seed 42
echo "corpus: $(sqlite3 "$db" 'SELECT COUNT(*) FROM conversations') conversations, $(sqlite3 "$db" 'SELECT COUNT(*) FROM messages') messages"
wait_ready() { for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.1; done; echo "server not ready" >&2; exit 1; }
"$BIN" index rebuild
"$BIN" serve & server=$!
wait_ready
rules() { "$BIN" retention rules set --org Bench "$@" >/dev/null; }
rules --category any_conversation --after-days 180 --action delete
rules --category closed_conversations --after-days 30 --action anonymize
rules --category internal_notes --after-days 30 --action delete
rules --category customers_without_conversations --after-days 30 --action delete
echo "would: $("$BIN" retention run --org Bench --dry-run --json)"
python3 benches/retention_load.py "http://127.0.0.1:$port" bench@shop.example "$password" \
    "$db" "$CLIENTS" "$BASELINE_SECONDS" "$RATE"
memory() { awk -v k="$1:" '$1 == k {print int($2 / 1024)}' "/proc/$server/status"; }
echo "server resident memory after the run: $(memory VmRSS) MB ($(memory RssAnon) MB its own, $(memory RssFile) MB index and database files mapped or cached)"
echo "left: $(sqlite3 "$db" 'SELECT COUNT(*) FROM conversations') conversations, $(sqlite3 "$db" 'SELECT COUNT(*) FROM messages') messages, $(sqlite3 "$db" "SELECT COUNT(*) FROM conversations WHERE anonymized_at IS NOT NULL") anonymized"
