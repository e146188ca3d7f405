#!/usr/bin/env bash
# Backup speed and memory: a fresh SQLite data directory with ATTACHMENTS attachments of MB
# megabytes each (random bytes: nothing compresses) plus DEMO generated conversations; then,
# for each BINARY in turn, `lethe backup create`, `verify` and `restore` (into an empty
# directory), each timed with its peak resident memory (GNU time's %M). Several binaries are
# measured side by side in one run.
# Usage: benches/backup.sh [ATTACHMENTS=20] [MB=10] [DEMO=2000] [BINARY...]   (default target/release/lethe)
set -euo pipefail
cd "$(dirname "$0")/.."
ATTACHMENTS="${1:-20}"
MB="${2:-10}"
DEMO="${3:-2000}"
shift 3 || true
BINARIES=("$@")
[[ ${#BINARIES[@]} -gt 0 ]] || BINARIES=(target/release/lethe)
[[ -x "${BINARIES[0]}" ]] || cargo build --release --locked --bin lethe
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export LETHE_DATA_DIR="$work/data" LETHE_LOG=warn
export LETHE_SECRET_KEY="$(python3 -c 'import os; print(os.urandom(32).hex())')"
echo "bench lantern tractor 42" | "${BINARIES[0]}" user create --email bench@shop.example --password-stdin --org Bench >/dev/null
mkdir -p "$work/mail"
python3 - "$work/mail" "$ATTACHMENTS" "$MB" <<'PY'
import os, sys
from email.message import EmailMessage
out, count, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(count):
    m = EmailMessage()
    m["From"] = "Anna Schmidt <anna@kunde.example>"
    m["To"] = "support@shop.example"
    m["Subject"] = f"Fotos vom Schaden {i}"
    m["Message-ID"] = f"<backup-bench-{i}@kunde.example>"
    m["Date"] = "Mon, 30 Nov 2026 10:00:00 +0000"
    m.set_content(f"Anbei Foto {i}.")
    m.add_attachment(os.urandom(mb * 1024 * 1024), maintype="application", subtype="octet-stream", filename=f"foto-{i}.bin")
    open(f"{out}/{i}.eml", "wb").write(bytes(m))
PY
"${BINARIES[0]}" import eml "$work/mail" --org Bench >/dev/null
"${BINARIES[0]}" demo-data --org Bench --conversations "$DEMO" >/dev/null
size_mb="$(du -sm "$work/data" | cut -f1)"
echo "data directory: ${size_mb} MB (${ATTACHMENTS} × ${MB} MB attachments, ${DEMO} generated conversations)"
printf '%-28s %-8s %8s %9s %12s\n' binary step seconds MB/s "peak RSS MB"
measure() { # binary step args...
    local bin="$1" step="$2"; shift 2
    local start end rss
    start="$(date +%s.%N)"
    /usr/bin/time -f '%M' "$bin" "$@" >/dev/null 2>"$work/err" || { cat "$work/err"; exit 1; }
    end="$(date +%s.%N)"
    rss="$(tail -1 "$work/err")"
    local seconds; seconds="$(echo "$end - $start" | bc)"
    printf '%-28s %-8s %8.2f %9.1f %12.1f\n' "$bin" "$step" "$seconds" "$(echo "$size_mb / $seconds" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
}
for bin in "${BINARIES[@]}"; do
    rm -rf "$work/backups" "$work/restored"
    mkdir -p "$work/backups"
    measure "$bin" create backup create --to "$work/backups"
    file="$(ls "$work/backups"/lethe-*.backup | head -1)"
    echo "  backup file: $(du -m "$file" | cut -f1) MB"
    measure "$bin" verify backup verify "$file"
    LETHE_DATA_DIR="$work/restored" measure "$bin" restore backup restore "$file" --yes
done
