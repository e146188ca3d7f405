#!/usr/bin/env python3
"""Inbox latency during a retention run. Called by benches/retention.sh, which generates the
corpus, saves the rules and starts the server.

Usage: retention_load.py BASE_URL EMAIL PASSWORD SQLITE_DB CLIENTS BASELINE_SECONDS [RATE]

Signs in once, then CLIENTS asyncio clients (one keep-alive connection each) request the
logged-in /inbox page: paced, RATE requests per second in all (each client on its own fixed
schedule; a request's latency counts from its scheduled time, so a stalled server is not
hidden by requests that were never sent), or with RATE 0 in a closed loop, each client
asking again as soon as it has its answer (a load that takes every core there is). After BASELINE_SECONDS of load alone it presses "run now"
on /settings/retention and keeps the load going until the run's history row is finished.
Prints the run's duration (from its history row) and the p50/p99 of /inbox before and
during the run, then waits for the search queue the run filled to drain.
"""

import asyncio
import re
import sqlite3
import sys
import time
import urllib.parse
from datetime import datetime


def pct(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, int(round(p / 100 * len(values) + 0.5)) - 1))
    return values[k]


class Http:
    """A minimal HTTP/1.1 keep-alive client (stdlib only, no per-request thread)."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def request(self, method, path, headers=None, body=b""):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        if body:
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        hdrs = {}
        for line in header_lines:
            if ":" in line:
                k, v = line.split(":", 1)
                hdrs.setdefault(k.strip().lower(), []).append(v.strip())
        if "content-length" in hdrs:
            data = await self.reader.readexactly(int(hdrs["content-length"][0]))
        elif "chunked" in ",".join(hdrs.get("transfer-encoding", [])):
            data = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                data += chunk[:-2]
        else:
            data = b""
        return status, hdrs, data


def cookies_of(hdrs):
    return "; ".join(v.split(";")[0] for v in hdrs.get("set-cookie", []))


async def login(host, port, email, password):
    c = Http(host, port)
    status, hdrs, html = await c.request("GET", "/login")
    cookie = cookies_of(hdrs)
    csrf = re.search(rb'name="csrf" value="([^"]+)"', html).group(1).decode()
    body = urllib.parse.urlencode({"csrf": csrf, "email": email, "password": password}).encode()
    status, hdrs, _ = await c.request("POST", "/login", {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": cookie,
        "Origin": f"http://{host}:{port}",
    }, body)
    assert status == 303, f"login failed: {status}"
    return cookies_of(hdrs) or cookie


async def run_now(host, port, cookie):
    c = Http(host, port)
    status, _, html = await c.request("GET", "/settings/retention", {"Cookie": cookie})
    assert status == 200, status
    csrf = re.search(rb'name="csrf" value="([^"]+)"', html).group(1).decode()
    body = urllib.parse.urlencode({"csrf": csrf}).encode()
    status, hdrs, _ = await c.request("POST", "/settings/retention/run", {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": cookie,
        "Origin": f"http://{host}:{port}",
    }, body)
    assert status == 303 and "retention_run_started" in hdrs["location"][0], (status, hdrs)


def parse_time(text):
    # sea-orm's SQLite format: "2026-12-02 18:05:43.123456 +00:00" (or RFC 3339)
    text = text.replace("T", " ").replace("Z", "+00:00").replace(" UTC", "+00:00")
    text = re.sub(r" ?([+-]\d\d:\d\d)$", r"\1", text)
    return datetime.fromisoformat(text)


async def main():
    base, email, password, db_path, clients, baseline = sys.argv[1:7]
    rate = float(sys.argv[7]) if len(sys.argv) > 7 else 0.0
    u = urllib.parse.urlparse(base)
    host, port = u.hostname, u.port
    clients, baseline = int(clients), float(baseline)
    cookie = await login(host, port, email, password)
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    last_run = db.execute("SELECT COALESCE(MAX(id), 0) FROM retention_runs").fetchone()[0]

    samples = []  # (start time, latency ms, status)
    stop = asyncio.Event()

    async def client(k):
        c = Http(host, port)
        interval = clients / rate if rate > 0 else 0.0
        next_at = time.monotonic() + interval * k / clients
        while not stop.is_set():
            if interval:
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                t, next_at = next_at, next_at + interval
            else:
                t = time.monotonic()
            try:
                status, _, _ = await c.request("GET", "/inbox", {"Cookie": cookie})
            except (OSError, asyncio.IncompleteReadError):
                status, c = 0, Http(host, port)
            samples.append((t, (time.monotonic() - t) * 1000, status))

    tasks = [asyncio.create_task(client(k)) for k in range(clients)]
    await asyncio.sleep(baseline)
    run_started = time.monotonic()
    await run_now(host, port, cookie)
    row = None
    while row is None:
        await asyncio.sleep(0.2)
        row = db.execute(
            "SELECT id, started_at, finished_at, counts, error FROM retention_runs "
            "WHERE id > ? AND finished_at IS NOT NULL ORDER BY id LIMIT 1", (last_run,)
        ).fetchone()
    run_finished = time.monotonic()
    stop.set()
    await asyncio.gather(*tasks)

    _, started_at, finished_at, counts, error = row
    try:
        duration = (parse_time(finished_at) - parse_time(started_at)).total_seconds()
    except ValueError:
        duration = run_finished - run_started
    before = [ms for t, ms, s in samples if t < run_started]
    during = [ms for t, ms, s in samples if run_started <= t <= run_finished]
    failed = sum(1 for _, _, s in samples if s != 200)
    load = f"{rate:g} requests/s from {clients} clients" if rate > 0 else f"{clients} closed-loop clients"
    print(f"retention run: {duration:.1f} s (error: {error}); load: {load}")
    print(f"  counts: {counts}")
    print(f"/inbox with {clients} clients before the run: {len(before)} requests, "
          f"p50 {pct(before, 50):.1f} ms, p99 {pct(before, 99):.1f} ms")
    print(f"/inbox with {clients} clients during the run: {len(during)} requests, "
          f"p50 {pct(during, 50):.1f} ms, p99 {pct(during, 99):.1f} ms, "
          f"{len(during) / max(run_finished - run_started, 0.001):.0f} requests/s")
    print(f"  non-200 answers: {failed}")
    t = time.monotonic()
    while db.execute("SELECT COUNT(*) FROM search_queue").fetchone()[0] > 0:
        await asyncio.sleep(0.2)
    print(f"search index caught up {time.monotonic() - t:.1f} s after the run finished")


asyncio.run(main())
