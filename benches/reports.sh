#!/usr/bin/env bash
# Report latency on a large corpus (SQLite): generates CONVERSATIONS demo conversations (about
# ten messages each: 100,000 make the 1M-message corpus), starts `lethe serve` in release, logs
# in as the owner, waits until the report facts are filled in (demo-data fills them in as it
# ends), then requests each report 20 times, one at a time (after 3
# warm-up requests), and prints p50 and the slowest answer. The demo data spans
# 2025-11-01..2026-11-01, so "year" reports every conversation (the worst case).
# Usage: benches/reports.sh [CONVERSATIONS=100000] [BINARY]   (default target/release/lethe)
set -euo pipefail
cd "$(dirname "$0")/.."
CONVERSATIONS="${1:-100000}"
BIN="${2:-target/release/lethe}"
[[ -x "$BIN" ]] || cargo build --release
work="$(mktemp -d)"
server=""
cleanup() {
    [[ -n "$server" ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
port=$((20000 + RANDOM % 20000))
export LETHE_DATA_DIR="$work/data" LETHE_LISTEN="127.0.0.1:$port" LETHE_LOG=warn
base="http://127.0.0.1:$port"
password='bench lantern tractor 42'
echo "$password" | "$BIN" user create --email bench@shop.example --password-stdin --org Bench >/dev/null
"$BIN" demo-data --org Bench --conversations "$CONVERSATIONS" --seed 42
echo "messages: $(sqlite3 "$work/data/lethe.db" 'SELECT COUNT(*) FROM messages')"
"$BIN" serve & server=$!
for _ in $(seq 1 200); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done
jar="$work/jar"
csrf="$(curl -s -c "$jar" -b "$jar" "$base/login" | grep -o 'name="csrf" value="[^"]*"' | sed 's/.*value="//;s/"//')"
curl -s -c "$jar" -b "$jar" -o /dev/null --data-urlencode "csrf=$csrf" \
    --data-urlencode "email=bench@shop.example" --data-urlencode "password=$password" "$base/login"
fill="$(curl -s -b "$jar" -o /dev/null -w '%{time_total}' "$base/reports")"
echo "first report (fills in the facts of the corpus): $(awk "BEGIN{print $fill * 1000}") ms"
echo "fact rows: $(sqlite3 "$work/data/lethe.db" 'SELECT COUNT(*) FROM report_facts')"
for path in "/reports" \
    "/reports?from=2026-10-01&to=2026-10-31&group=day" \
    "/reports?from=2025-11-01&to=2026-11-01&group=week" \
    "/reports?from=2025-11-01&to=2026-11-01&group=day" \
    "/reports.csv?table=agents&from=2025-11-01&to=2026-11-01"; do
    for _ in 1 2 3; do curl -s -b "$jar" -o /dev/null "$base$path"; done
    times="$(for _ in $(seq 1 20); do curl -s -b "$jar" -o /dev/null -w '%{time_total}\n' "$base$path"; done | sort -n)"
    status="$(curl -s -b "$jar" -o /dev/null -w '%{http_code}' "$base$path")"
    printf '%-60s p50 %7.1f ms  slowest %7.1f ms  (HTTP %s)\n' "$path" \
        "$(echo "$times" | sed -n 10p | awk '{print $1 * 1000}')" \
        "$(echo "$times" | sed -n 20p | awk '{print $1 * 1000}')" "$status"
done
