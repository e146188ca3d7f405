#!/usr/bin/env bash
# Peak memory of `lethe index rebuild` (issue 21: under 300 MB at 1M messages). Generates
# CONVERSATIONS demo conversations (about 10 messages each; 100000 gives ~1M messages) once
# with the first BINARY, then each BINARY in turn rebuilds the index of that one data
# directory, timed by /usr/bin/time (elapsed seconds, peak resident memory), and
# `lethe index verify` must be clean after each.
# Usage: benches/rebuild_memory.sh [CONVERSATIONS=100000] BINARY...
#   KEEP=/some/dir keeps the generated data directory there and reuses it on the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
CONVERSATIONS="${1:-100000}"
shift || true
BINARIES=("$@")
[[ ${#BINARIES[@]} -gt 0 ]] || { echo "usage: $0 CONVERSATIONS BINARY..." >&2; exit 2; }
for bin in "${BINARIES[@]}"; do [[ -x "$bin" ]] || { echo "no binary at $bin" >&2; exit 2; }; done
if [[ -n "${KEEP:-}" ]]; then work="$KEEP"; mkdir -p "$work"; else work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT; fi
export LETHE_DATA_DIR="$work/data" LETHE_LOG=warn
if [[ ! -f "$work/data/generated" ]]; then
    echo 'bench lantern tractor 42' | "${BINARIES[0]}" user create --email bench@shop.example --password-stdin --org Bench >/dev/null
    "${BINARIES[0]}" demo-data --org Bench --conversations "$CONVERSATIONS" --seed 42 >/dev/null
    touch "$work/data/generated"
fi
echo "corpus: $(sqlite3 "$work/data/lethe.db" 'SELECT COUNT(*) FROM messages') messages; $(nproc) cores"
for bin in "${BINARIES[@]}"; do
    read -r seconds peak < <(/usr/bin/time -f '%e %M' "$bin" index rebuild 2>&1 >/dev/null | tail -1)
    verify="$("$bin" index verify)"
    echo "$bin: index rebuild ${seconds} s, peak RSS $((peak / 1024)) MB; index $(du -sm "$work/data/index" | cut -f1) MB; verify: $verify"
done
