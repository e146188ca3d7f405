#!/usr/bin/env bash
# A real scanner over every page and form: starts Lethe on loopback with demo data (SQLite, a
# fresh temp directory) over HTTPS with a throwaway certificate, signs in as an owner, and runs wapiti (the current `wapiti3` from PyPI,
# installed into target/scan-venv when missing) over the whole site, staying signed in.
#
#   scripts/scan.sh                  # scans target/debug/lethe (built when missing)
#   scripts/scan.sh target/release/lethe
#   LETHE_SCAN_MAX_SECONDS=3600 scripts/scan.sh
#
# Every module, except: ssrf, log4shell, spring4shell and takeover, which call wapiti's own
# internet endpoint, and nikto, htp and wapp, which download their databases from GitHub;
# nothing here reaches the internet, and the scan sends traffic to loopback only (the
# out-of-band endpoint is an empty web server on loopback). /logout and the sessions list's
# "end" buttons are excluded so the scan stays signed in. The JSON report and a one-line-per-
# finding summary end up in target/scan/ (the report holds only demo data).
set -euo pipefail
cd "$(dirname "$0")/.."

BINARY="${1:-target/debug/lethe}"
MAX_SECONDS="${LETHE_SCAN_MAX_SECONDS:-3600}"
# Per module: the slowest ones (blind SQL timing, brute force) stop here.
ATTACK_SECONDS="${LETHE_SCAN_ATTACK_SECONDS:-300}"
VENV="target/scan-venv"
OUT="target/scan"
PASSWORD='scan lantern tractor 42'

if [[ ! -x "$VENV/bin/wapiti" ]]; then
    echo "installing wapiti3 into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check wapiti3
fi
[[ -x "$BINARY" ]] || cargo build --locked

work="$(mktemp -d)"
server=""
endpoint_server=""
cleanup() {
    [[ -n "$server" ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
    [[ -n "$endpoint_server" ]] && kill "$endpoint_server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
# By name, not address: browsers (and so Lethe) offer passkeys only on a domain name, and the
# scan should meet their forms too.
base="https://localhost:$port"
export LETHE_DATA_DIR="$work/data" LETHE_LISTEN="127.0.0.1:$port" LETHE_BASE_URL="$base" LETHE_LOG=warn
# Served as a merchant should: HTTPS of its own (a throwaway self-signed certificate made
# with the scanner's own Python), so the cookie and transport checks see the real settings.
"$VENV/bin/python" - "$work" <<'PY'
import datetime, ipaddress, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256()))
open(f"{sys.argv[1]}/cert.pem", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
open(f"{sys.argv[1]}/key.pem", "wb").write(key.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
PY
export LETHE_TLS_CERT="$work/cert.pem" LETHE_TLS_KEY="$work/key.pem"
# The scan is one client sending thousands of requests: the limits a real client meets would
# only answer it 429. Everything else runs as shipped.
for limit in LETHE_RATE_LOGIN_PER_MINUTE LETHE_RATE_PASSWORD_RESET_PER_MINUTE \
    LETHE_RATE_API_PER_MINUTE LETHE_RATE_API_ORG_PER_MINUTE LETHE_RATE_SEARCH_PER_MINUTE \
    LETHE_RATE_INBOUND_PER_MINUTE LETHE_RATE_TEST_BUTTON_PER_MINUTE LETHE_SSE_STREAMS_PER_USER; do
    export "$limit"=100000
done
echo "$PASSWORD" | "$BINARY" user create --email owner@scan.example --password-stdin --org "Scan Shop" >/dev/null
"$BINARY" demo-data --org "Scan Shop" --conversations 60 --seed 7 >/dev/null
"$BINARY" index rebuild >/dev/null
"$BINARY" serve >"$work/lethe.log" 2>&1 & server=$!
for _ in $(seq 1 100); do curl -kfs "$base/healthz" >/dev/null && break; sleep 0.1; done

# Wapiti's out-of-band endpoint, which it insists on reaching: an empty web server on loopback.
endpoint_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
mkdir -p "$work/endpoint"
python3 -m http.server "$endpoint_port" --bind 127.0.0.1 --directory "$work/endpoint" >/dev/null 2>&1 & endpoint_server=$!
endpoint="http://127.0.0.1:$endpoint_port/"
for _ in $(seq 1 50); do curl -fs "$endpoint" >/dev/null && break; sleep 0.1; done

mkdir -p "$OUT"
"$VENV/bin/wapiti" -u "$base/" --scope folder \
    --form-url "$base/login" --form-user owner@scan.example --form-password "$PASSWORD" \
    -x "$base/logout" -x "$base/account/security/sessions/*" \
    --module=all,-ssrf,-log4shell,-spring4shell,-takeover,-nikto,-htp,-wapp \
    --external-endpoint "$endpoint" --internal-endpoint "$endpoint" \
    --max-attack-time "$ATTACK_SECONDS" \
    --max-scan-time "$MAX_SECONDS" --flush-session --store-session "$work/wapiti" \
    --verify-ssl 0 --tasks 4 -f json -o "$OUT/report.json" --verbose 0 || true

python3 - "$OUT/report.json" <<'PY' | tee "$OUT/summary.txt"
import json, sys
report = json.load(open(sys.argv[1]))
info = report.get("infos", {})
print(f"wapiti {info.get('version', '?')}: {info.get('crawled_pages_nbr', '?')} pages and forms crawled")
total = 0
for kind in ("vulnerabilities", "anomalies", "additionals"):
    for category, findings in sorted(report.get(kind, {}).items()):
        for f in findings:
            total += 1
            print(f"{kind[:-1] if kind != 'anomalies' else 'anomaly'} | {category} | {f.get('method')} {f.get('path')} | {f.get('parameter', '')} | {f.get('info', '')[:160]}")
print(f"{total} findings")
PY
grep -c " 500 " "$work/lethe.log" >/dev/null 2>&1 && echo "note: the server log mentions 500 answers: $work/lethe.log" || true
