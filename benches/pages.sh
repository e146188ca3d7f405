#!/usr/bin/env bash
# Page latency on a large corpus (SQLite): generates CONVERSATIONS demo conversations, indexes
# them, then for each BINARY in turn starts `lethe serve` on the same data, logs in and requests
# /inbox, two /search queries and the newest conversation 60 times each, one at a time (after 5
# warm-up requests), and prints p50 and the slowest answer per page. Several binaries (say an
# older build and a newer one) are measured side by side in one run.
# Usage: benches/pages.sh [CONVERSATIONS=100000] [BINARY...]   (default target/release/lethe)
set -euo pipefail
cd "$(dirname "$0")/.."
CONVERSATIONS="${1:-100000}"
shift || true
BINARIES=("$@")
[[ ${#BINARIES[@]} -gt 0 ]] || BINARIES=(target/release/lethe)
[[ -x "${BINARIES[0]}" ]] || cargo build --release
work="$(mktemp -d)"
server=""
cleanup() {
    [[ -n "$server" ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
port=$((20000 + RANDOM % 20000))
export LETHE_DATA_DIR="$work/data" LETHE_LISTEN="127.0.0.1:$port" LETHE_LOG=warn
# One client asking 130 searches a minute is over the per-user limit a real agent never meets:
# the bench measures pages, not the limiter's 429.
export LETHE_RATE_SEARCH_PER_MINUTE=100000
base="http://127.0.0.1:$port"
password='bench lantern tractor 42'
echo "$password" | "${BINARIES[0]}" user create --email bench@shop.example --password-stdin --org Bench >/dev/null
"${BINARIES[0]}" demo-data --org Bench --conversations "$CONVERSATIONS" --seed 42
"${BINARIES[0]}" index rebuild
newest="$(sqlite3 "$work/data/lethe.db" 'SELECT MAX(id) FROM conversations')"
for bin in "${BINARIES[@]}"; do
    "$bin" serve & server=$!
    for _ in $(seq 1 200); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done
    jar="$work/jar"
    rm -f "$jar"
    csrf="$(curl -s -c "$jar" -b "$jar" "$base/login" | grep -o 'name="csrf" value="[^"]*"' | sed 's/.*value="//;s/"//')"
    curl -s -c "$jar" -b "$jar" -o /dev/null --data-urlencode "csrf=$csrf" \
        --data-urlencode "email=bench@shop.example" --data-urlencode "password=$password" "$base/login"
    for path in "/inbox" "/search?q=paket" "/search?q=refund+order" "/conversations/$newest"; do
        for _ in 1 2 3 4 5; do curl -s -b "$jar" -o /dev/null "$base$path"; done
        times="$(for _ in $(seq 1 60); do curl -s -b "$jar" -o /dev/null -w '%{time_total}\n' "$base$path"; done | sort -n)"
        status="$(curl -s -b "$jar" -o /dev/null -w '%{http_code}' "$base$path")"
        printf '%s %-26s p50 %6.1f ms  slowest %6.1f ms  (HTTP %s)\n' "$bin" "$path" \
            "$(echo "$times" | sed -n 30p | awk '{print $1 * 1000}')" \
            "$(echo "$times" | sed -n 60p | awk '{print $1 * 1000}')" "$status"
    done
    kill "$server"; wait "$server" 2>/dev/null || true
    server=""
done
