#!/usr/bin/env bash
# Start-to-ready time and idle resident memory of `lethe serve` on an empty data directory.
# Usage: benches/startup.sh [path/to/lethe]   (default: a release build in target/release)
# Prints the median of 5 starts, and RSS after 5 s idle.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-target/release/lethe}"
[[ -x "$BIN" ]] || cargo build --release
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
times=()
rss=""
for run in 1 2 3 4 5; do
    dir="$(mktemp -d)"
    p="$(port)"
    start="$(date +%s%N)"
    LETHE_DATA_DIR="$dir/data" LETHE_LISTEN="127.0.0.1:$p" "$BIN" serve >/dev/null 2>&1 &
    pid=$!
    until curl -fs "http://127.0.0.1:$p/healthz" >/dev/null 2>&1; do sleep 0.005; done
    times+=("$(( ($(date +%s%N) - start) / 1000000 ))")
    if [[ $run == 5 ]]; then
        sleep 5
        rss="$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")"
    fi
    kill -TERM "$pid"; wait "$pid" || true
    rm -rf "$dir"
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
echo "start to ready (ms), 5 runs: ${times[*]}; median ${sorted[2]} ms"
echo "idle resident memory after 5 s: $((rss / 1024)) MB ($rss kB)"
