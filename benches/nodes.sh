#!/usr/bin/env bash
# Several nodes on one PostgreSQL (issue 18), side by side in one run. Two databases on the
# same PostgreSQL server, each filled with CONVERSATIONS demo conversations: "single" served
# by one `lethe serve`, "three" by three (own data directories and ports, one instance key)
# behind HAProxy (round robin, health checks on /readyz). Measures:
#   1. /inbox p50 / p99, one client in a closed loop (wrk), SECONDS per round, ROUNDS rounds
#      alternating: the single node; node 1 of the three, asked directly; through HAProxy.
#   2. bulk import (`lethe import mbox`, parse + store, IMPORT_CONVERSATIONS x 5 messages)
#      while the single node runs vs while the three run, and the time from the import's end
#      until every running node's search finds its last message (each node indexes the log).
#   3. failover: an IMAP channel (a Dovecot started here) is polled by the node holding its
#      lease; that node is killed (kill -9) and the time until another node holds the lease
#      is taken, FAILOVERS times (the killed node is started again between them).
# Prints medians. Usage:
#   benches/nodes.sh [BIN=target/release/lethe] [CONVERSATIONS=5000] [IMPORT_CONVERSATIONS=2000] [ROUNDS=3] [SECONDS=10] [FAILOVERS=3]
# Needs PostgreSQL at $PG_URL (default postgres://postgres@127.0.0.1:5432, trust), psql,
# haproxy, wrk, dovecot, curl, python3 (Debian: postgresql haproxy wrk dovecot-imapd curl).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$(realpath "${1:-target/release/lethe}")"
CONVERSATIONS="${2:-5000}"
IMPORT_CONVERSATIONS="${3:-2000}"
ROUNDS="${4:-3}"
SECONDS_PER_ROUND="${5:-10}"
FAILOVERS="${6:-3}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
work="$(mktemp -d)"
tag="lethe_bench_nodes_$$"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
    for db in single three; do psql -q "$PG_URL/postgres" -c "DROP DATABASE IF EXISTS ${tag}_$db" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
password='bench lantern tractor 42'
export LETHE_LOG=warn
export LETHE_ALLOW_PRIVATE_HOSTS=true
export LETHE_RATE_LOGIN_PER_MINUTE=100000
LETHE_SECRET_KEY="$(python3 -c 'import os; print(os.urandom(32).hex())')"
export LETHE_SECRET_KEY
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
psql_in() { psql -qtAX "$PG_URL/${tag}_$1" -c "$2"; }

for db in single three; do
    psql -q "$PG_URL/postgres" -c "CREATE DATABASE ${tag}_$db"
    export LETHE_DATABASE_URL="$PG_URL/${tag}_$db" LETHE_DATA_DIR="$work/setup-$db"
    echo "$password" | "$BIN" user create --email owner@shop.example --password-stdin --org Bench --role owner >/dev/null
    "$BIN" demo-data --org Bench --conversations "$CONVERSATIONS" --seed 42 >/dev/null
done
unset LETHE_DATABASE_URL LETHE_DATA_DIR

declare -A node_pid node_port
start_node() { # name db [env...]
    local name="$1" db="$2"
    shift 2
    local port
    port="$(free_port)"
    env LETHE_DATABASE_URL="$PG_URL/${tag}_$db" LETHE_DATA_DIR="$work/$name" LETHE_LISTEN="127.0.0.1:$port" \
        LETHE_LOG=info "$@" "$BIN" serve >"$work/$name.log" 2>&1 &
    pids+=("$!")
    node_pid[$name]=$!
    node_port[$name]=$port
    for _ in $(seq 1 600); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && return; sleep 0.1; done
    echo "node $name did not start" >&2
    exit 1
}
node_id() { grep -o 'node-[0-9a-f]\{12\}' "$work/$1.log" | head -1; }

start_node single single
for n in 1 2 3; do start_node "n$n" three; done
hport="$(free_port)"
cat >"$work/haproxy.cfg" <<EOF
global
    maxconn 512
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 2
    option redispatch
frontend lethe
    bind 127.0.0.1:$hport
    option forwardfor
    default_backend nodes
backend nodes
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 1s fall 2 rise 1
    server n1 127.0.0.1:${node_port[n1]} check
    server n2 127.0.0.1:${node_port[n2]} check
    server n3 127.0.0.1:${node_port[n3]} check
EOF
haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$hport/readyz" >/dev/null && break; sleep 0.1; done

# A session cookie for the owner of Bench, signed in at BASE.
sign_in() {
    local base="$1" jar="$work/jar.$RANDOM" csrf
    csrf="$(curl -s -c "$jar" "$base/login" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"$//')"
    curl -s -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf=$csrf" \
        --data-urlencode "email=owner@shop.example" --data-urlencode "password=$password" "$base/login"
    awk '$6 == "lethe_session" { print $7 }' "$jar"
}
single_cookie="$(sign_in "http://127.0.0.1:${node_port[single]}")"
three_cookie="$(sign_in "http://127.0.0.1:$hport")"

# wrk's latency as milliseconds (850.00us, 3.21ms, 1.02s).
to_ms() { awk '{ v=$1; if (v ~ /us$/) { sub(/us/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms/,"",v) } else if (v ~ /s$/) { sub(/s/,"",v); v*=1000 } printf "%.2f\n", v }'; }
declare -A p50 p99 rps
measure() { # label url cookie
    local out
    out="$(wrk -t1 -c1 -d"${SECONDS_PER_ROUND}s" --latency -H "Cookie: lethe_session=$3" "$2/inbox")"
    if grep -q 'Non-2xx' <<<"$out"; then
        echo "$1: answers other than 200: $out" >&2
        exit 1
    fi
    p50[$1]+="$(awk '$1 == "50%" { print $2 }' <<<"$out" | to_ms) "
    p99[$1]+="$(awk '$1 == "99%" { print $2 }' <<<"$out" | to_ms) "
    rps[$1]+="$(awk '/^Requests\/sec/ { print $2 }' <<<"$out") "
}
echo "$(nproc) cores; $CONVERSATIONS demo conversations in each database; $BIN"
echo "/inbox, one client in a closed loop, $ROUNDS rounds of ${SECONDS_PER_ROUND}s each:"
for _ in $(seq 1 "$ROUNDS"); do
    measure single "http://127.0.0.1:${node_port[single]}" "$single_cookie"
    measure one_of_three "http://127.0.0.1:${node_port[n1]}" "$three_cookie"
    measure haproxy "http://127.0.0.1:$hport" "$three_cookie"
done
for label in single one_of_three haproxy; do
    # shellcheck disable=SC2086
    printf '  %-14s p50 %7s ms   p99 %7s ms   %8s pages/s   (p99 per round: %s)\n' "$label" \
        "$(median ${p50[$label]})" "$(median ${p99[$label]})" "$(median ${rps[$label]})" "${p99[$label]}"
done

# 2. Import while one node runs vs while three run.
python3 benches/gen_mbox.py "$IMPORT_CONVERSATIONS" 5 "$work/corpus.mbox" >/dev/null
word="quokka$RANDOM$RANDOM"
printf 'From last@example.test Mon Jan  5 10:00:00 2026\nFrom: Last <last@example.test>\nTo: shop@example.test\nSubject: Last one\nMessage-ID: <last.%s@example.test>\nDate: Mon, 5 Jan 2026 10:00:00 +0000\n\nAbout %s.\n\n' "$word" "$word" >>"$work/corpus.mbox"
total=$((IMPORT_CONVERSATIONS * 5 + 1))
import_into() { # db nodes...
    local db="$1" start ms node seen_ms
    shift
    start="$(date +%s%N)"
    LETHE_DATABASE_URL="$PG_URL/${tag}_$db" LETHE_DATA_DIR="$work/cli-$db" "$BIN" import mbox "$work/corpus.mbox" --org Bench --json >"$work/import-$db.json"
    ms=$((($(date +%s%N) - start) / 1000000))
    local done_at="$(date +%s%N)" cookie="$single_cookie"
    [[ "$db" == three ]] && cookie="$three_cookie"
    for node in "$@"; do
        until curl -s -H "Cookie: lethe_session=$cookie" "http://127.0.0.1:${node_port[$node]}/search?q=$word" | grep -q '<h2><a href="/conversations/'; do
            sleep 0.1
        done
    done
    seen_ms=$((($(date +%s%N) - done_at) / 1000000))
    echo "  $db: $total messages stored in $ms ms = $((total * 1000 / ms)) messages/s; found on every node ($*) $seen_ms ms after ($(cat "$work/import-$db.json"))"
}
echo "bulk import (lethe import mbox, parse + store) while the nodes run:"
import_into single single
import_into three n1 n2 n3

# 3. Failover of an IMAP channel's lease.
dove="$work/dovecot"
mkdir -p "$dove/run" "$dove/state" "$dove/mail"
chown nobody:nogroup "$dove/mail"
chmod 755 "$work" "$dove" # Dovecot reads the mail as nobody
imap_port="$(free_port)"
cat >"$dove/dovecot.conf" <<EOF
protocols = imap
listen = 127.0.0.1
base_dir = $dove/run
state_dir = $dove/state
log_path = $dove/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:$dove/mail/%u
passdb {
  driver = static
  args = password=secret
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$dove/mail/%u
}
service imap-login {
  inet_listener imap {
    port = $imap_port
  }
  inet_listener imaps {
    port = 0
  }
}
EOF
dovecot -F -c "$dove/dovecot.conf" &
pids+=("$!")
for _ in $(seq 1 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $imap_port))" 2>/dev/null && break; sleep 0.1; done
base="http://127.0.0.1:$hport"
csrf="$(curl -s -H "Cookie: lethe_session=$three_cookie" "$base/settings/channels/new" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"$//')"
created="$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: lethe_session=$three_cookie" \
    --data-urlencode "csrf=$csrf" --data-urlencode "name=Support" --data-urlencode "from_name=Shop" \
    --data-urlencode "from_address=support@shop.example" --data-urlencode "imap_host=127.0.0.1" \
    --data-urlencode "imap_port=$imap_port" --data-urlencode "imap_tls=none" \
    --data-urlencode "imap_user=support@shop.example" --data-urlencode "imap_password=secret" \
    --data-urlencode "imap_folder=INBOX" --data-urlencode "after_fetch=seen" --data-urlencode "imap_move_to=" \
    --data-urlencode "poll_seconds=60" --data-urlencode "smtp_host=" --data-urlencode "smtp_port=587" \
    --data-urlencode "smtp_tls=starttls" --data-urlencode "smtp_user=" --data-urlencode "smtp_password=" \
    "$base/settings/channels")"
[[ "$created" == 303 ]] || { echo "the IMAP channel was not created ($created)" >&2; exit 1; }
lease="$(psql_in three "SELECT name FROM leases WHERE name LIKE 'imap:%' LIMIT 1")"
for _ in $(seq 1 300); do
    [[ -n "$lease" ]] && break
    sleep 0.1
    lease="$(psql_in three "SELECT name FROM leases WHERE name LIKE 'imap:%' AND expires_at > now() LIMIT 1")"
done
[[ -n "$lease" ]] || { echo "no node took the IMAP channel's lease" >&2; exit 1; }
holder_node() { # the node (n1..n3) holding the lease now, or nothing
    local holder n
    holder="$(psql_in three "SELECT holder FROM leases WHERE name = '$lease' AND expires_at > now()")"
    for n in n1 n2 n3; do
        [[ -n "$holder" && "$holder" == "$(node_id "$n")"* ]] && { echo "$n"; return 0; }
    done
    return 0
}
failovers=()
echo "failover of the IMAP channel's lease ($lease), kill -9 of its holder:"
for round in $(seq 1 "$FAILOVERS"); do
    victim=""
    for _ in $(seq 1 300); do
        victim="$(holder_node)"
        [[ -n "$victim" ]] && break
        sleep 0.1
    done
    [[ -n "$victim" ]] || { echo "nobody holds $lease (see $dove/dovecot.log)" >&2; exit 1; }
    start="$(date +%s%N)"
    kill -9 "${node_pid[$victim]}"
    wait "${node_pid[$victim]}" 2>/dev/null || true
    taker=""
    until [[ -n "$taker" && "$taker" != "$victim" ]]; do
        sleep 0.1
        taker="$(holder_node)"
    done
    ms=$((($(date +%s%N) - start) / 1000000))
    failovers+=("$ms")
    echo "  round $round: $victim killed, $taker holds it after $ms ms"
    # The killed node comes back (a new node id), for the next round.
    start_node "$victim" three
done
echo "  median $(median "${failovers[@]}") ms (goal 30,000 ms)"
