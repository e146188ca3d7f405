#!/usr/bin/env bash
# Makes the upgrade fixture: a database written by an earlier Lethe, dumped as SQL for SQLite
# and for PostgreSQL, which tests/api/upgrade.rs migrates to the newest schema and checks.
#
#   scripts/upgrade-fixture.sh LETHE_BINARY [OUT_DIR]
#
# LETHE_BINARY is the old release's `lethe` (build it from its commit, e.g.
#   git worktree add /tmp/v1 88757a8 && (cd /tmp/v1 && cargo build --locked --bin lethe)).
# The fixture in tests/fixtures/upgrade-v1 was made from 88757a8, the end of the first wave
# (migrations up to m20261203_000010), with PostgreSQL at 127.0.0.1:5432 (user postgres).
# The instance key is fixed (below, and in the test): the fixture's sealed values and audit
# chain belong to it.
set -euo pipefail

binary="$(realpath "$1")"
out="$(realpath -m "${2:-tests/fixtures/upgrade-v1}")"
key="0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
password="fixture password 2026"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work/mail"

# Two mails of our own, with umlauts and a reply, beside the generated conversations.
cat >"$work/mail/1.eml" <<'MAIL'
From: Jürgen Weiß <juergen.weiss@kunde.test>
To: support@fixture-shop.test
Subject: Wo bleibt meine Bestellung 4711?
Message-ID: <upgrade-1@kunde.test>
Date: Mon, 30 Nov 2026 09:15:00 +0100
Content-Type: text/plain; charset=utf-8

Guten Tag, ich warte seit zwei Wochen auf die Lieferung der Gießkanne.
MAIL
cat >"$work/mail/2.eml" <<'MAIL'
From: Jürgen Weiß <juergen.weiss@kunde.test>
To: support@fixture-shop.test
Subject: Re: Wo bleibt meine Bestellung 4711?
Message-ID: <upgrade-2@kunde.test>
In-Reply-To: <upgrade-1@kunde.test>
References: <upgrade-1@kunde.test>
Date: Tue, 01 Dec 2026 10:00:00 +0100
Content-Type: text/plain; charset=utf-8

Noch eine Frage: kann ich die Gießkanne auch in Blau bekommen?
MAIL

make() {
    local database_url="$1" data="$2"
    local env=(env LETHE_DATA_DIR="$data" LETHE_SECRET_KEY="$key" LETHE_DATABASE_URL="$database_url")
    "${env[@]}" "$binary" migrate
    echo "$password" | "${env[@]}" "$binary" user create --email owner@fixture-shop.test \
        --password-stdin --org "Fixture Shop" --role owner
    echo "$password" | "${env[@]}" "$binary" user create --email agent@fixture-shop.test \
        --password-stdin --org "Fixture Shop" --role agent
    "${env[@]}" "$binary" import eml "$work/mail" --org "Fixture Shop"
    "${env[@]}" "$binary" demo-data --org "Fixture Shop" --conversations 40 --seed 11
    "${env[@]}" "$binary" retention rules set --org "Fixture Shop" --category closed_conversations \
        --after-days 365 --action anonymize
}

mkdir -p "$work/sqlite"
make "sqlite://$work/sqlite/lethe.db" "$work/sqlite"
sqlite3 "$work/sqlite/lethe.db" .dump >"$out/sqlite.sql"

db="lethe_upgrade_fixture_$$"
psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $db"
trap 'psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db"; rm -rf "$work"' EXIT
mkdir -p "$work/pg"
make "postgres://postgres@127.0.0.1:5432/$db" "$work/pg"
pg_dump -h 127.0.0.1 -U postgres --no-owner --no-privileges "$db" >"$out/postgres.sql"
echo "fixture written to $out"
