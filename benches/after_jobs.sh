#!/usr/bin/env bash
# Memory that goes back (issue 21): does `lethe serve` return to near its idle resident memory
# within a minute of each large job? For each BINARY in turn, on a fresh SQLite data directory
# holding DEMO demo conversations (`lethe demo-data`, indexed by `lethe index rebuild`):
#   1. `lethe serve` (every worker on) is started and left alone 10 s: its idle figure;
#   2. import: `lethe import mbox` of IMPORT_CONVERSATIONS x 5 generated messages from the
#      command line while the server runs; the server's indexer drains what it queued;
#   3. export: an owner downloads the export ZIP of the customer with the most conversations;
#   4. retention: the owner presses "run now" on /settings/retention under rules that make
#      most of the corpus due; the server deletes, anonymizes and its indexer purges;
# after each job it waits for the server's indexer to pass every queued row and prints the server's VmRSS (and
# RssAnon, its own heap) at once and 60 s later, with the peak (VmHWM) so far. Then the server
# stops, `lethe index verify` must be clean, and `lethe index rebuild` runs with its own peak
# resident memory measured by /usr/bin/time. The goal: every "+60 s" figure under 2x idle.
# Usage: benches/after_jobs.sh [DEMO=2000] [IMPORT_CONVERSATIONS=4000] BINARY...
# Needs curl, sqlite3, python3 and /usr/bin/time. The load generator here is curl and sqlite3
# polls, one a second: negligible next to the server.
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO="${1:-2000}"
IMPORT_CONVERSATIONS="${2:-4000}"
shift 2 || true
BINARIES=("$@")
[[ ${#BINARIES[@]} -gt 0 ]] || { echo "usage: $0 DEMO IMPORT_CONVERSATIONS BINARY..." >&2; exit 2; }
for bin in "${BINARIES[@]}"; do [[ -x "$bin" ]] || { echo "no binary at $bin" >&2; exit 2; }; done
work="$(mktemp -d)"
server=""
cleanup() {
    [[ -n "$server" ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
password='bench lantern tractor 42'
python3 benches/gen_mbox.py "$IMPORT_CONVERSATIONS" 5 "$work/corpus.mbox" >/dev/null
kb() { awk -v k="$1:" '$1 == k {print int($2 / 1024)}' "/proc/$server/status"; }
mem() { echo "RSS $(kb VmRSS) MB (heap $(kb RssAnon) MB), peak $(kb VmHWM) MB"; }
# Rows the server's indexer has not passed yet (the queue itself is pruned only once every
# node recorded has passed a row, and the `lethe index rebuild` before the server counts as a
# node for 10 minutes: waiting for an empty queue would wait for that).
behind='SELECT COUNT(*) FROM search_queue WHERE id > (SELECT COALESCE(MAX(position_id), 0) FROM search_nodes)'
settle() { # waits for the server's indexer to pass every queued row, then reports now and 60 s later
    local job="$1" t=0
    while [[ "$(sqlite3 "$db" "$behind")" != 0 ]]; do sleep 1; t=$((t + 1)); done
    echo "  $job: queue empty after ${t} s: $(mem)"
    sleep 60
    local rss; rss="$(kb VmRSS)"
    echo "  $job: 60 s later: $(mem) -> $(awk -v r="$rss" -v i="$idle" 'BEGIN {printf "%.2f", r / i}')x idle"
}
for bin in "${BINARIES[@]}"; do
    echo "== $bin"
    port=$((20000 + RANDOM % 20000))
    base="http://127.0.0.1:$port"
    export LETHE_DATA_DIR="$work/data-$(basename "$bin")" LETHE_LISTEN="127.0.0.1:$port" LETHE_LOG=warn
    db="$LETHE_DATA_DIR/lethe.db"
    echo "$password" | "$bin" user create --email bench@shop.example --password-stdin --org Bench >/dev/null
    "$bin" demo-data --org Bench --conversations "$DEMO" --seed 42 >/dev/null
    "$bin" index rebuild >/dev/null
    "$bin" serve & server=$!
    for _ in $(seq 1 300); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done
    sleep 10
    idle="$(kb VmRSS)"
    echo "  idle: $(mem) ($(sqlite3 "$db" 'SELECT COUNT(*) FROM messages') messages)"

    "$bin" import mbox "$work/corpus.mbox" --org Bench >/dev/null
    settle "import of $((IMPORT_CONVERSATIONS * 5)) messages"

    jar="$work/jar"
    rm -f "$jar"
    csrf_of() { grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"//'; }
    csrf="$(curl -s -c "$jar" -b "$jar" "$base/login" | csrf_of)"
    curl -s -c "$jar" -b "$jar" -o /dev/null -H "Origin: $base" --data-urlencode "csrf=$csrf" \
        --data-urlencode "email=bench@shop.example" --data-urlencode "password=$password" "$base/login"
    customer="$(sqlite3 "$db" 'SELECT customer_id FROM conversations GROUP BY customer_id ORDER BY COUNT(*) DESC LIMIT 1')"
    csrf="$(curl -s -b "$jar" "$base/customers/$customer" | csrf_of)"
    bytes="$(curl -s -b "$jar" -o "$work/export.zip" -w '%{size_download}' -H "Origin: $base" \
        --data-urlencode "csrf=$csrf" "$base/customers/$customer/export")"
    settle "export ($((bytes / 1024)) kB ZIP)"

    rules() { "$bin" retention rules set --org Bench "$@" >/dev/null; }
    rules --category any_conversation --after-days 180 --action delete
    rules --category closed_conversations --after-days 30 --action anonymize
    rules --category internal_notes --after-days 30 --action delete
    rules --category customers_without_conversations --after-days 30 --action delete
    before="$(sqlite3 "$db" 'SELECT COALESCE(MAX(id), 0) FROM retention_runs')"
    csrf="$(curl -s -b "$jar" "$base/settings/retention" | csrf_of)"
    curl -s -b "$jar" -o /dev/null -H "Origin: $base" --data-urlencode "csrf=$csrf" "$base/settings/retention/run"
    until [[ -n "$(sqlite3 "$db" "SELECT id FROM retention_runs WHERE id > $before AND finished_at IS NOT NULL")" ]]; do sleep 1; done
    settle "retention run ($(sqlite3 "$db" 'SELECT COUNT(*) FROM messages') messages left)"

    kill "$server"; wait "$server" 2>/dev/null || true
    server=""
    "$bin" index verify | sed 's/^/  verify: /'
    peak="$(/usr/bin/time -f '%M' "$bin" index rebuild 2>&1 >/dev/null | tail -1)"
    echo "  index rebuild ($(sqlite3 "$db" 'SELECT COUNT(*) FROM messages') messages): peak RSS $((peak / 1024)) MB"
done
