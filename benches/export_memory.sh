#!/usr/bin/env bash
# Peak memory of a customer export: one customer with ATTACHMENTS attachments of MB megabytes
# each (random bytes, so nothing compresses or deduplicates), imported into a fresh SQLite data
# directory; then, for each BINARY in turn, `lethe serve` on that data, an owner signs in and
# downloads the customer's export ZIP from the customer page, and the server's peak resident
# memory (VmHWM) is printed with the ZIP's size. Several binaries (an older build and a newer
# one) are measured side by side in one run, each in a fresh process.
# Usage: benches/export_memory.sh [ATTACHMENTS=20] [MB=8] [BINARY...]   (default target/release/lethe)
set -euo pipefail
cd "$(dirname "$0")/.."
ATTACHMENTS="${1:-20}"
MB="${2:-8}"
shift 2 || true
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
base="http://127.0.0.1:$port"
password='bench lantern tractor 42'
echo "$password" | "${BINARIES[0]}" user create --email bench@shop.example --password-stdin --org Bench >/dev/null
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
    m["Message-ID"] = f"<export-bench-{i}@kunde.example>"
    m["Date"] = "Mon, 30 Nov 2026 10:00:00 +0000"
    m.set_content(f"Anbei Foto {i} vom beschädigten Paket.")
    m.add_attachment(os.urandom(mb * 1024 * 1024), maintype="application", subtype="octet-stream", filename=f"foto-{i}.bin")
    open(f"{out}/{i}.eml", "wb").write(bytes(m))
PY
"${BINARIES[0]}" import eml "$work/mail" --org Bench >/dev/null
customer="$(sqlite3 "$work/data/lethe.db" "SELECT id FROM customers LIMIT 1")"
for bin in "${BINARIES[@]}"; do
    "$bin" serve & server=$!
    for _ in $(seq 1 200); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done
    jar="$work/jar"
    rm -f "$jar"
    csrf="$(curl -s -c "$jar" -b "$jar" "$base/login" | grep -o 'name="csrf" value="[^"]*"' | sed 's/.*value="//;s/"//')"
    curl -s -c "$jar" -b "$jar" -o /dev/null --data-urlencode "csrf=$csrf" \
        --data-urlencode "email=bench@shop.example" --data-urlencode "password=$password" "$base/login"
    idle="$(awk '/VmHWM/ {print $2}' "/proc/$server/status")"
    csrf="$(curl -s -b "$jar" "$base/customers/$customer" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"//')"
    start="$(date +%s.%N)"
    bytes="$(curl -s -b "$jar" -o "$work/export.zip" -w '%{size_download}' --data-urlencode "csrf=$csrf" "$base/customers/$customer/export")"
    seconds="$(echo "$(date +%s.%N) - $start" | bc)"
    peak="$(awk '/VmHWM/ {print $2}' "/proc/$server/status")"
    printf '%s  export %4d MB in %5.1f s   peak RSS %4d MB (%4d MB before the export)\n' "$bin" \
        "$((bytes / 1024 / 1024))" "$seconds" "$((peak / 1024))" "$((idle / 1024))"
    kill "$server"; wait "$server" 2>/dev/null || true
    server=""
done
