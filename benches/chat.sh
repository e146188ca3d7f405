#!/usr/bin/env bash
# Live chat under load (issue 16's figure): VISITORS chat visitors with the widget open and
# AGENTS agents with the inbox open, on one `lethe serve` (SQLite). The visitors write RATE
# messages per second in all and the agents answer REPLY_RATE per second in all, for SECONDS
# (benches/chat_bench.py); prints the latency from a visitor's message to every agent's live
# stream and from an agent's answer to the visitor's widget (p50/p90/p99/max), and the
# server's resident memory idle, at the end and at its peak.
# Usage: benches/chat.sh [BINARY=target/release/lethe] [VISITORS=100] [AGENTS=10] [SECONDS=30] [RATE=10] [REPLY_RATE=2]
# Replies leave at once (LETHE_UNDO_SEND_SECONDS=0: the measure is the path, not the undo
# delay); the chat rate limit is raised (one client address plays every visitor).
# Needs curl, sqlite3 and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-target/release/lethe}"
VISITORS="${2:-100}"
AGENTS="${3:-10}"
SECONDS_TOTAL="${4:-30}"
RATE="${5:-10}"
REPLY_RATE="${6:-2}"
[[ -x "$BIN" ]] || cargo build --release --locked
work="$(mktemp -d)"
server=""
cleanup() {
    [[ -n "$server" ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
password='bench lantern tractor 42'
port=$((20000 + RANDOM % 20000))
base="http://127.0.0.1:$port"
origin="http://shop.bench.test"
export LETHE_DATA_DIR="$work/data" LETHE_LISTEN="127.0.0.1:$port" LETHE_LOG=warn
export LETHE_RATE_LOGIN_PER_MINUTE=100000 LETHE_RATE_CHAT_PER_MINUTE=100000 LETHE_UNDO_SEND_SECONDS=0
export LETHE_SECRET_KEY="$(python3 -c 'import os; print(os.urandom(32).hex())')"
echo "$password" | "$BIN" user create --email owner@shop.example --password-stdin --org Bench --role owner >/dev/null
for n in $(seq 0 $((AGENTS - 1))); do
    echo "$password" | "$BIN" user create --email "agent$n@shop.example" --password-stdin --org Bench --role agent >/dev/null
done
"$BIN" serve & server=$!
for _ in $(seq 1 300); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done
# The owner creates the chat channel through its form (every default, the shop's origin).
jar="$work/jar"
csrf() { sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1; }
token="$(curl -fs -c "$jar" -b "$jar" "$base/login" | csrf)"
curl -fs -c "$jar" -b "$jar" -o /dev/null --data-urlencode "csrf=$token" \
    --data-urlencode "email=owner@shop.example" --data-urlencode "password=$password" "$base/login"
python3 - "$base" "$jar" "$origin" <<'PY'
import html.parser, http.cookiejar, sys, urllib.parse, urllib.request
base, jar_path, origin = sys.argv[1:]
jar = http.cookiejar.MozillaCookieJar(jar_path)
jar.load(ignore_discard=True, ignore_expires=True)
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
page = opener.open(base + "/settings/channels/chat/new").read().decode()

class Form(html.parser.HTMLParser):
    """The fields of the page's channel form, as a browser would send them untouched."""
    def __init__(self):
        super().__init__()
        self.fields, self.textarea, self.inside = [], None, False
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and "/settings/channels/chat" in (a.get("action") or ""):
            self.inside = True
        if not self.inside or "name" not in a:
            return
        if tag == "input" and a.get("type") not in ("checkbox", "submit", "radio") or (
            tag == "input" and a.get("type") in ("checkbox", "radio") and "checked" in a
        ):
            self.fields.append([a["name"], a.get("value") or ""])
        elif tag == "textarea":
            self.textarea = [a["name"], ""]
            self.fields.append(self.textarea)
    def handle_endtag(self, tag):
        if tag == "textarea":
            self.textarea = None
        if tag == "form":
            self.inside = False
    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1] += data

form = Form()
form.feed(page)
fields = dict((k, v) for k, v in form.fields)
fields["name"] = "Bench chat"
fields["origins"] = origin
request = urllib.request.Request(base + "/settings/channels/chat", urllib.parse.urlencode(fields).encode())
answer = opener.open(request)
if answer.status != 200 or "/settings/channels/chat/" not in answer.url:
    sys.exit(f"the chat channel was not created ({answer.status} {answer.url})")
PY
chat_token="$(sqlite3 "$work/data/lethe.db" "SELECT chat_token FROM channels WHERE kind = 'chat' LIMIT 1")"
[[ -n "$chat_token" ]] || { echo "no chat channel token" >&2; exit 1; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$server/status"; }
idle="$(rss)"
echo "$(nproc) cores, $VISITORS visitors at $RATE messages/s, $AGENTS agents answering $REPLY_RATE/s, ${SECONDS_TOTAL}s"
python3 benches/chat_bench.py --base "$base" --token "$chat_token" --origin "$origin" \
    --visitors "$VISITORS" --agents "$AGENTS" --password "$password" \
    --rate "$RATE" --reply-rate "$REPLY_RATE" --seconds "$SECONDS_TOTAL"
echo "server memory: idle $((idle / 1024)) MB, at the end $(($(rss) / 1024)) MB, peak $(($(awk '/^VmHWM/ {print $2}' "/proc/$server/status") / 1024)) MB"
