#!/usr/bin/env bash
# Mail in at once (IMAP IDLE), against a real Dovecot: starts Dovecot (scripts/dovecot.conf.in)
# and `lethe serve` (release, SQLite, only the IMAP worker), signs in, creates a channel, listens
# to the inbox's event stream (`GET /events`, what an open inbox page listens to) and appends
# MAILS messages to the mailbox one at a time: the latency is from the end of APPEND to the event
# for the new conversation (p50, p99). Then it adds CHANNELS more channels (each its own
# mailbox), waits until all wait in IDLE (`lethe_imap_idle_connections` on /metrics) and prints
# the server's resident memory before and after.
# Usage: benches/idle.sh [MAILS=100] [CHANNELS=200] [BINARY=target/release/lethe]
set -euo pipefail
cd "$(dirname "$0")/.."
MAILS="${1:-100}"
CHANNELS="${2:-200}"
BINARY="${3:-target/release/lethe}"
[[ -x "$BINARY" ]] || cargo build --release
command -v dovecot >/dev/null || { echo "dovecot is missing: run LETHE_TEST_INFRA_ONLY=1 ./scripts/test.sh once" >&2; exit 1; }
exec python3 benches/idle_bench.py --binary "$BINARY" --mails "$MAILS" --channels "$CHANNELS"
