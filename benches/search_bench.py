#!/usr/bin/env python3
"""Search latency, side by side: Lethe's /search over HTTP, SQLite FTS5 (bm25) and
PostgreSQL full-text search (ts_rank, GIN index), on the same messages.

Called by benches/search.sh, which generates the corpus and starts the server.
Usage: search_bench.py BASE_URL[,LABEL=URL...] EMAIL PASSWORD SQLITE_DB PG_URL|- ROUNDS CONCURRENCY

With one server it prints the table below and then the edge classes (frequent words of the
corpus, newest-first, pages 1-25, two- and three-word combinations). With several servers
(`base=http://...,new=http://...`, the same corpus behind each) it runs only the edge
classes, the servers interleaved query by query, and prints them side by side.

Every engine answers the same question: the 20 best conversations of one organization
whose messages match the query (grouped by conversation). Latency is measured client-side
per query, after a warm-up round; SQL engines use one connection, /search is measured with
one client and with CONCURRENCY clients.
"""

import collections
import http.client
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import unicodedata
import urllib.parse

QUERIES = {
    "one word": ["refund", "Erstattung", "commande", "reembolso", "pacco", "bestelling", "broken", "Rechnung"],
    "two words": ["refund order", "Paket Sendungsnummer", "colis transporteur", "pedido devolución", "ordine rimborso", "retourlabel bestelling"],
    "phrase": ['"late delivery"', '"return label"', '"numéro de suivi"', '"original payment method"', '"Nachforschungsauftrag gestellt"'],
    "filtered": ["refund status:closed", "Erstattung status:open", "commande status:pending", "reembolso status:closed"],
}


def pct(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, int(round(p / 100 * len(values) + 0.5)) - 1))
    return values[k]


class Lethe:
    def __init__(self, base, email, password):
        u = urllib.parse.urlparse(base)
        self.host, self.port = u.hostname, u.port
        self.cookie = self.login(email, password)
        # Index time of each answered query, from the Server-Timing header.
        self.engine_ms = []

    def conn(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=30)

    def login(self, email, password):
        c = self.conn()
        c.request("GET", "/login")
        r = c.getresponse()
        html = r.read().decode()
        cookies = [v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie"]
        csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
        body = urllib.parse.urlencode({"csrf": csrf, "email": email, "password": password})
        c.request("POST", "/login", body, {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": "; ".join(cookies),
            "Origin": f"http://{self.host}:{self.port}",
        })
        r = c.getresponse()
        r.read()
        new = [v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie"]
        assert r.status == 303, f"login failed: {r.status}"
        return "; ".join(new or cookies)

    def search(self, conn, q, sort=None, page=None):
        params = {"q": q}
        if sort:
            params["sort"] = sort
        if page and page > 1:
            params["page"] = str(page)
        conn.request("GET", "/search?" + urllib.parse.urlencode(params), headers={"Cookie": self.cookie})
        r = conn.getresponse()
        body = r.read()
        assert r.status == 200, (q, r.status, body[:300])
        timing = re.search(r"index;dur=([0-9.]+)", r.getheader("Server-Timing") or "")
        if timing:
            self.engine_ms.append(float(timing.group(1)))
        return body.count(b'class="search-hit"')


def fts_query(q):
    """The same query for FTS5 / PostgreSQL: (text part, status filter or None, is_phrase)."""
    status = None
    words = []
    for part in re.findall(r'"[^"]*"|\S+', q):
        if part.startswith("status:"):
            status = part.split(":", 1)[1]
        else:
            words.append(part)
    text = " ".join(words)
    return text, status, text.startswith('"')


class Fts5:
    def __init__(self, path):
        self.db = sqlite3.connect(path)
        self.db.execute("PRAGMA cache_size=-200000")

    def build(self):
        t = time.time()
        self.db.executescript("""
            DROP TABLE IF EXISTS bench_fts;
            CREATE VIRTUAL TABLE bench_fts USING fts5(
                subject, body, organization_id UNINDEXED, conversation_id UNINDEXED,
                tokenize = 'unicode61 remove_diacritics 2');
            INSERT INTO bench_fts (rowid, subject, body, organization_id, conversation_id)
                SELECT id, subject, text_body, organization_id, conversation_id FROM messages;
        """)
        self.db.commit()
        return time.time() - t

    def search(self, q, org):
        text, status, _ = fts_query(q)
        # FTS5 syntax: bare words are ANDed, "..." is a phrase.
        match = text if text.startswith('"') else " ".join(f'"{w}"' for w in text.split())
        inner = ("SELECT conversation_id, bm25(bench_fts) AS s FROM bench_fts "
                 "WHERE bench_fts MATCH ? AND organization_id = ?")
        if status:
            sql = (f"WITH h AS MATERIALIZED ({inner}) SELECT h.conversation_id, MIN(h.s) AS best FROM h "
                   "JOIN conversations c ON c.id = h.conversation_id WHERE c.status = ? "
                   "GROUP BY h.conversation_id ORDER BY best LIMIT 20")
            args = (match, org, status)
        else:
            sql = (f"WITH h AS MATERIALIZED ({inner}) SELECT conversation_id, MIN(s) AS best FROM h "
                   "GROUP BY conversation_id ORDER BY best LIMIT 20")
            args = (match, org)
        return len(self.db.execute(sql, args).fetchall())


class Postgres:
    """Drives psql over one session; \\timing reports each statement's round trip."""

    def __init__(self, url):
        self.url = url

    def psql(self, script):
        return subprocess.run(["psql", self.url, "-X", "-q", "-v", "ON_ERROR_STOP=1"], input=script,
                              capture_output=True, text=True, check=True).stdout

    def build(self, sqlite_path):
        t = time.time()
        self.psql("""
            DROP TABLE IF EXISTS bench_messages; DROP TABLE IF EXISTS bench_conversations;
            CREATE TABLE bench_messages (id bigint PRIMARY KEY, organization_id bigint, conversation_id bigint,
                subject text, body text);
            CREATE TABLE bench_conversations (id bigint PRIMARY KEY, status text);
        """)
        src = sqlite3.connect(sqlite_path)
        for table, sql in [
            ("bench_messages", "SELECT id, organization_id, conversation_id, subject, text_body FROM messages"),
            ("bench_conversations", "SELECT id, status FROM conversations"),
        ]:
            proc = subprocess.Popen(["psql", self.url, "-X", "-q", "-c", f"\\copy {table} FROM STDIN"],
                                    stdin=subprocess.PIPE, text=True)
            for row in src.execute(sql):
                proc.stdin.write("\t".join(
                    str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
                    for v in row) + "\n")
            proc.stdin.close()
            assert proc.wait() == 0
        self.psql("""
            ALTER TABLE bench_messages ADD COLUMN tsv tsvector GENERATED ALWAYS AS
                (to_tsvector('simple', subject || ' ' || body)) STORED;
            CREATE INDEX bench_messages_tsv ON bench_messages USING GIN (tsv);
            CREATE INDEX bench_messages_org ON bench_messages (organization_id);
            ANALYZE bench_messages; ANALYZE bench_conversations;
        """)
        return time.time() - t

    def statement(self, q, org):
        text, status, phrase = fts_query(q)
        text = text.strip('"').replace("'", "''")
        fn = "phraseto_tsquery" if phrase else "plainto_tsquery"
        join = "JOIN bench_conversations c ON c.id = m.conversation_id" if status else ""
        cond = f"AND c.status = '{status}'" if status else ""
        return (f"SELECT m.conversation_id, MAX(ts_rank(m.tsv, q)) AS r FROM bench_messages m {join}, "
                f"{fn}('simple', '{text}') q WHERE m.tsv @@ q AND m.organization_id = {org} {cond} "
                f"GROUP BY m.conversation_id ORDER BY r DESC LIMIT 20;")

    def run(self, queries, org, rounds):
        """Latencies (ms) per query, each query run `rounds` times after one warm-up."""
        script = ["\\o /dev/null"]
        for q in queries:
            script.append(self.statement(q, org))  # warm-up, untimed
        script.append("\\timing on")
        for _ in range(rounds):
            for q in queries:
                script.append(self.statement(q, org))
        out = self.psql("\n".join(script) + "\n")
        times = [float(m) for m in re.findall(r"Time: ([0-9.]+) ms", out)]
        per = {q: [] for q in queries}
        for i, t in enumerate(times):
            per[queries[i % len(queries)]].append(t)
        return per


def measure(fn, queries, rounds):
    for q in queries:
        fn(q)
    per = {q: [] for q in queries}
    for _ in range(rounds):
        for q in queries:
            t = time.perf_counter()
            fn(q)
            per[q].append((time.perf_counter() - t) * 1000)
    return per


def concurrent(lethe, queries, rounds, clients):
    out = []
    lock = threading.Lock()

    def worker(k):
        conn = lethe.conn()
        mine = []
        for r in range(rounds):
            for i, q in enumerate(queries):
                q = queries[(i + k) % len(queries)]
                t = time.perf_counter()
                lethe.search(conn, q)
                mine.append((time.perf_counter() - t) * 1000)
        with lock:
            out.extend(mine)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return out, len(out) / (time.perf_counter() - t)


# Function words that tell the corpus's languages apart (a vote per message, like the
# index's own detector: the language whose function words a message uses most).
FUNCTION_WORDS = {
    "en": "the and you your is to of for with my it this we have".split(),
    "de": "der die und ich ist nicht das mit sie ein eine ihre wir den".split(),
    "fr": "le les et est pour vous je une des votre nous pas du".split(),
    "es": "el los y que es por para mi una su pedido con del".split(),
    "it": "il di che non per sono una mio della con ho ordine gli".split(),
    "nl": "het en een ik van niet mijn voor uw we is heb zijn".split(),
}
WORD = re.compile(r"\w+")


def fold(word):
    """Lower-case and strip accents: the plain analyzer's folding, approximately."""
    word = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in word if not unicodedata.combining(c))


def frequent_words(sqlite_path, per_language, sample):
    """The `per_language` most frequent words of each language of the corpus, by the number
    of messages they occur in (subject and body of every `sample`-th message; words of
    letters only, folded like the index's plain field; a message's language by the vote of
    FUNCTION_WORDS). Returns {lang: [word, ...]} and the number of messages read."""
    db = sqlite3.connect(sqlite_path)
    counts = {lang: collections.Counter() for lang in FUNCTION_WORDS}
    sets = {lang: set(ws) for lang, ws in FUNCTION_WORDS.items()}
    read = 0
    for subject, body in db.execute(
            "SELECT subject, text_body FROM messages WHERE id % ? = 0", (sample,)):
        words = {fold(w) for w in WORD.findall(f"{subject} {body}") if w.isalpha()}
        if not words:
            continue
        lang = max(sets, key=lambda l: len(words & sets[l]))
        counts[lang].update(words)
        read += 1
    return {lang: [w for w, _ in c.most_common(per_language)] for lang, c in counts.items()}, read


def edge_classes(words):
    """The edge query classes: (name, [(q, sort, page), ...])."""
    every = list(dict.fromkeys(w for ws in words.values() for w in ws))
    # Each language's most frequent word not taken by an earlier language ("re" tops them all).
    top = []
    for ws in words.values():
        fresh = [w for w in ws if w not in top]
        if fresh:
            top.append(fresh[0])
    pairs, triples = [], []
    for ws in words.values():
        # Combinations of a language's frequent words, the most frequent first.
        for i in range(0, min(len(ws), 10), 2):
            if i + 1 < len(ws):
                pairs.append(f"{ws[i]} {ws[i + 1]}")
        for i in range(0, min(len(ws), 15), 3):
            if i + 2 < len(ws):
                triples.append(f"{ws[i]} {ws[i + 1]} {ws[i + 2]}")
    # "-zq<n>" excludes a word that is nowhere: the same results, but a query the server has
    # not seen, so a cache of earlier answers cannot help (the first time anyone asks).
    return [
        ("frequent, unseen", [(w, None, 1, "unseen") for w in every]),
        ("  newest, unseen", [(w, "newest", 1, "unseen") for w in every]),
        ("frequent word", [(w, None, 1) for w in every]),
        ("  newest first", [(w, "newest", 1) for w in every]),
        ("  pages 1-25", [(w, None, p) for w in top for p in range(1, 26)]),
        ("  newest, p1-25", [(w, "newest", p) for w in top for p in range(1, 26)]),
        ("2 frequent words", [(q, None, 1) for q in pairs] + [(q, "newest", 1) for q in pairs]),
        ("3 frequent words", [(q, None, 1) for q in triples] + [(q, "newest", 1) for q in triples]),
    ]


def run_edge(servers, sqlite_path, rounds, clients):
    """Edge classes on every server, interleaved query by query; p50/p99 per class."""
    per_language = int(os.environ.get("SEARCH_FREQUENT", "20"))
    t = time.perf_counter()
    words, read = frequent_words(sqlite_path, per_language, int(os.environ.get("SEARCH_SAMPLE", "10")))
    print()
    print(f"The {per_language} most frequent words of each language, from {read} messages "
          f"(every {os.environ.get('SEARCH_SAMPLE', '10')}th; {time.perf_counter() - t:.1f} s):")
    for lang, ws in words.items():
        print(f"  {lang}: {' '.join(ws)}")
    classes = edge_classes(words)
    labels = [label for label, _ in servers]
    conns = {label: lethe.conn() for label, lethe in servers}
    print()
    print(f"Edge classes, {rounds} rounds after a warm-up round, one client; HTTP = full round trip, "
          "index = Server-Timing. Servers interleaved query by query.")
    head = " | ".join(f"{label + ' HTTP p50':>16} {'p99':>7} {'index p50':>9} {'p99':>7}" for label in labels)
    print(f"{'class':<18} {'queries':>7} | {head}")
    print("-" * (28 + 45 * len(labels)))
    summary = {label: [] for label in labels}
    unseen_counter = [0]
    for name, queries in classes:
        http = {label: [] for label in labels}
        eng = {label: [] for label in labels}
        for r in range(rounds + 1):
            for item in queries:
                q, sort, page = item[:3]
                if len(item) > 3:
                    unseen_counter[0] += 1
                    q = f"{q} -zq{unseen_counter[0]}"
                for label, lethe in servers:
                    lethe.engine_ms = []
                    t = time.perf_counter()
                    try:
                        lethe.search(conns[label], q, sort, page)
                    except (http_client_errors()):
                        conns[label] = lethe.conn()
                        t = time.perf_counter()
                        lethe.search(conns[label], q, sort, page)
                    ms = (time.perf_counter() - t) * 1000
                    if r > 0:
                        http[label].append(ms)
                        eng[label].extend(lethe.engine_ms)
        cells = " | ".join(f"{pct(http[l], 50):14.2f}ms {pct(http[l], 99):6.2f}ms {pct(eng[l], 50):8.2f}ms {pct(eng[l], 99):6.2f}ms"
                           for l in labels)
        print(f"{name:<18} {len(queries):>7} | {cells}", flush=True)
        for l in labels:
            summary[l].extend(http[l])
    cells = " | ".join(f"{pct(summary[l], 50):14.2f}ms {pct(summary[l], 99):6.2f}ms {'':>8}   {'':>6}  " for l in labels)
    print(f"{'all edge classes':<18} {sum(len(q) for _, q in classes):>7} | {cells}")
    every = [item for _, queries in classes for item in queries]
    print()
    for label, lethe in servers:
        lethe.engine_ms = []
        lat, qps, cpu = concurrent_edge(lethe, every, clients)
        print(f"{label}: {clients} concurrent clients over all edge queries: p50 {pct(lat, 50):.2f} ms, "
              f"p99 {pct(lat, 99):.2f} ms, {qps:.0f} requests/s (load generator: {cpu:.0f}% of one core)",
              flush=True)


def http_client_errors():
    return (http.client.HTTPException, ConnectionError)


def concurrent_edge(lethe, items, clients):
    """`clients` clients share the queries (each sends every `clients`-th one, twice)."""
    out = []
    lock = threading.Lock()

    def worker(k):
        conn = lethe.conn()
        mine = []
        mine_items = items[k::clients] * 2
        for i, item in enumerate(mine_items):
            q, sort, page = item[:3]
            if len(item) > 3:
                q = f"{q} -zc{k}x{i}"
            t = time.perf_counter()
            lethe.search(conn, q, sort, page)
            mine.append((time.perf_counter() - t) * 1000)
        with lock:
            out.extend(mine)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    cpu = time.process_time()
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    return out, len(out) / wall, (time.process_time() - cpu) / wall * 100


def main():
    base, email, password, sqlite_path, pg_url, rounds, clients = sys.argv[1:8]
    rounds, clients = int(rounds), int(clients)
    org = 1
    if "=" in base:
        servers = [(label, Lethe(url, email, password))
                   for label, url in (part.split("=", 1) for part in base.split(","))]
        edge_rounds = int(os.environ.get("SEARCH_EDGE_ROUNDS", "5"))
        cpu = time.process_time()
        t = time.perf_counter()
        run_edge(servers, sqlite_path, edge_rounds, clients)
        print(f"(load generator, whole run: {(time.process_time() - cpu) / (time.perf_counter() - t) * 100:.0f}% of one core)")
        return
    lethe = Lethe(base, email, password)
    fts = Fts5(sqlite_path)
    print(f"building SQLite FTS5 table: {fts.build():.1f} s", flush=True)
    pg = None
    if pg_url != "-":
        pg = Postgres(pg_url)
        print(f"loading PostgreSQL and building the GIN index: {pg.build(sqlite_path):.1f} s", flush=True)

    print()
    print("Lethe HTTP = full round trip (session, page, HTML); Lethe index = time in the index (Server-Timing).")
    print(f"{'query type':<11} | {'HTTP p50':>9} {'p99':>8} | {'index p50':>9} {'p99':>8} | {'FTS5 p50':>9} {'p99':>8} | {'PG p50':>9} {'p99':>8} | {'PG/Lethe p99':>12}")
    print("-" * 118)
    for kind, queries in QUERIES.items():
        # A fresh connection per query type: the server closes keep-alive connections left
        # idle while FTS5 and PostgreSQL are measured.
        conn = lethe.conn()
        lat = measure(lambda q: lethe.search(conn, q), queries, rounds)
        flat = [v for vs in lat.values() for v in vs]
        eng = lethe.engine_ms[len(queries):]
        lethe.engine_ms = []
        fl = [v for vs in measure(lambda q: fts.search(q, org), queries, rounds).values() for v in vs]
        pl = [v for vs in pg.run(queries, org, rounds).values() for v in vs] if pg else []
        ratio = pct(pl, 99) / pct(flat, 99) if pl else float("nan")
        print(f"{kind:<11} | {pct(flat, 50):8.2f}ms {pct(flat, 99):7.2f}ms | {pct(eng, 50):8.2f}ms {pct(eng, 99):7.2f}ms | {pct(fl, 50):8.2f}ms {pct(fl, 99):7.2f}ms | "
              f"{pct(pl, 50):8.2f}ms {pct(pl, 99):7.2f}ms | {ratio:11.1f}x", flush=True)
    every = [q for qs in QUERIES.values() for q in qs]
    lat, qps = concurrent(lethe, every, rounds, clients)
    print()
    print(f"Lethe /search, {clients} concurrent clients, all query types: p50 {pct(lat, 50):.2f} ms, "
          f"p99 {pct(lat, 99):.2f} ms, {qps:.0f} requests/s")
    print("(FTS5 and PostgreSQL figures are bare SQL on one connection; PG/Lethe compares PostgreSQL with Lethe's full HTTP round trip.)")
    run_edge([("lethe", lethe)], sqlite_path, int(os.environ.get("SEARCH_EDGE_ROUNDS", "5")), clients)


if __name__ == "__main__":
    main()
