#!/usr/bin/env bash
# Suggestions on opening a conversation, 100k conversations (issue 17's goal: within 200 ms).
# Generates CONVERSATIONS demo conversations (`lethe demo-data`: half of them closed, every one
# with agent replies, most tagged with their topic's intent) and indexes them, then for each
# BINARY starts `lethe serve` on the same data, signs in and, one request at a time, opens
# SAMPLE open conversations that no one opened before:
#   off    suggestions off (the page without them),
#   fresh  suggestions shown, computed for the newest customer message on this first view,
#   again  the same pages once more (the kept set is read, nothing computed),
# after 5 warm-up requests per round on other conversations. Prints p50 / p99 / slowest of
# GET /conversations/{id} per round and how many fresh pages showed suggestions. Each binary
# gets its own copy of the data, so every one computes afresh.
# Usage: benches/suggest.sh [CONVERSATIONS=100000] [SAMPLE=200] [BINARY...]
#        (default target/release/lethe; KEEP=dir reuses a generated data directory)
set -euo pipefail
cd "$(dirname "$0")/.."
CONVERSATIONS="${1:-100000}"
SAMPLE="${2:-200}"
shift 2 || shift $# || true
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
export LETHE_LISTEN="127.0.0.1:$port" LETHE_LOG=warn
base="http://127.0.0.1:$port"
password='bench lantern tractor 42'
corpus="${KEEP:-$work/corpus}"
if [[ ! -f "$corpus/lethe.db" ]]; then
    mkdir -p "$corpus"
    export LETHE_DATA_DIR="$corpus"
    echo "$password" | "${BINARIES[0]}" user create --email bench@shop.example --password-stdin --org Bench >/dev/null
    start=$(date +%s.%N)
    "${BINARIES[0]}" demo-data --org Bench --conversations "$CONVERSATIONS" --seed 42
    "${BINARIES[0]}" index rebuild
    printf 'corpus: %s conversations generated and indexed in %.0f s\n' "$CONVERSATIONS" "$(echo "$(date +%s.%N) - $start" | bc)"
fi
db="$corpus/lethe.db"
printf 'corpus: %s conversations (%s closed, %s open), %s messages (%s agent replies), %s tagged\n' \
    "$(sqlite3 "$db" 'SELECT COUNT(*) FROM conversations')" \
    "$(sqlite3 "$db" "SELECT COUNT(*) FROM conversations WHERE status = 'closed'")" \
    "$(sqlite3 "$db" "SELECT COUNT(*) FROM conversations WHERE status = 'open'")" \
    "$(sqlite3 "$db" 'SELECT COUNT(*) FROM messages')" \
    "$(sqlite3 "$db" "SELECT COUNT(*) FROM messages WHERE direction = 'outbound'")" \
    "$(sqlite3 "$db" 'SELECT COUNT(DISTINCT conversation_id) FROM conversation_tags')"
# The sample, spread over the corpus, and warm-up pages outside it.
ids="$(sqlite3 "$db" "SELECT id FROM conversations WHERE status = 'open' ORDER BY (id * 7919) % 100003 LIMIT $((SAMPLE + 15))")"
sample="$(echo "$ids" | head -n "$SAMPLE")"
warm="$(echo "$ids" | tail -n 15)"

login() {
    rm -f "$jar"
    local csrf
    csrf="$(curl -s -c "$jar" -b "$jar" "$base/login" | grep -o 'name="csrf" value="[^"]*"' | sed 's/.*value="//;s/"//')"
    curl -s -c "$jar" -b "$jar" -o /dev/null --data-urlencode "csrf=$csrf" \
        --data-urlencode "email=bench@shop.example" --data-urlencode "password=$password" "$base/login"
}

set_mode() {
    local csrf
    csrf="$(curl -s -b "$jar" "$base/settings/assist" | grep -o 'name="csrf" value="[^"]*"' | head -n 1 | sed 's/.*value="//;s/"//')"
    local code
    code="$(curl -s -b "$jar" -o /dev/null -w '%{http_code}' --data-urlencode "csrf=$csrf" \
        --data-urlencode "mode=$1" "$base/settings/assist/suggestions")"
    [[ "$code" == 303 ]] || { echo "setting suggestions to $1 answered $code" >&2; exit 1; }
}

# One round: GET each page once, one at a time; prints p50 / p99 / slowest.
round() {
    local bin="$1" label="$2" warmup="$3"
    for id in $warmup; do curl -s -b "$jar" -o /dev/null "$base/conversations/$id"; done
    local times shown=0 n
    : > "$work/times"
    for id in $sample; do
        curl -s -b "$jar" -o "$work/page" -w '%{time_total}\n' "$base/conversations/$id" >> "$work/times"
        grep -q '/assist/suggestions/' "$work/page" && shown=$((shown + 1))
    done
    times="$(sort -n "$work/times")"
    n="$(echo "$times" | wc -l)"
    local p50=$(( (n + 1) / 2 )) p99=$(( (n * 99 + 99) / 100 ))
    printf '%s %-6s n=%s p50 %7.1f ms  p99 %7.1f ms  slowest %7.1f ms  pages with suggestions %s\n' \
        "$bin" "$label" "$n" \
        "$(echo "$times" | sed -n "${p50}p" | awk '{print $1 * 1000}')" \
        "$(echo "$times" | sed -n "${p99}p" | awk '{print $1 * 1000}')" \
        "$(echo "$times" | tail -n 1 | awk '{print $1 * 1000}')" "$shown"
}

for bin in "${BINARIES[@]}"; do
    rm -rf "$work/data"
    cp -a "$corpus" "$work/data"
    export LETHE_DATA_DIR="$work/data"
    "$bin" serve & server=$!
    for _ in $(seq 1 300); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done
    jar="$work/jar"
    login
    set_mode off
    round "$bin" off "$(echo "$warm" | head -n 5)"
    set_mode shown
    round "$bin" fresh "$(echo "$warm" | sed -n 6,10p)"
    round "$bin" again "$(echo "$warm" | sed -n 11,15p)"
    kill "$server"; wait "$server" 2>/dev/null || true
    server=""
done
uptime
