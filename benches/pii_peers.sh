#!/usr/bin/env bash
# Lethe's PII detector beside Presidio and euredact on tests/pii_corpus (and its heldout/
# folder when present): recall / precision per kind, same span-overlap scoring as the
# accuracy test. Installs the peers into a venv under /tmp when missing; builds the release
# binary unless LETHE_BIN names one. See benches/pii_peers.py for the exact peer setup and
# the mapping of their entity types to Lethe kinds.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${PII_PEERS_VENV:-/tmp/lethe-pii-peers}
if ! "$VENV/bin/python" -c "import presidio_analyzer, euredact" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q presidio-analyzer euredact
fi
if [ -z "${LETHE_BIN:-}" ]; then
    cargo build --release --quiet
    LETHE_BIN=target/release/lethe
fi
LETHE_BIN="$LETHE_BIN" "$VENV/bin/python" benches/pii_peers.py "${1:-tests/pii_corpus}"
