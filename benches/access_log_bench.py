#!/usr/bin/env python3
"""The access-log benchmark's load; see benches/access_log.sh for what it measures.

AGENTS threads, each signed in as its own agent on both servers, ask for random
/conversations/{id} pages in a closed loop (one request at a time per agent, keep-alive
connections) for SECONDS per round. Rounds alternate between the server that logs access and
the one that does not (on, off, then off, on, ...), so both see the same machine. Prints p50,
p90, p99 and the slowest answer per server, from the client's clock (request sent to answer
read)."""

import argparse
import collections
import http.client
import random
import re
import statistics
import sys
import threading
import time
import urllib.parse

CSRF = re.compile(r'name="csrf" value="([^"]*)"')


class Agent:
    """One agent's keep-alive connection and session cookie on one server."""

    def __init__(self, base, email, password):
        parsed = urllib.parse.urlsplit(base)
        self.host, self.port = parsed.hostname, parsed.port
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        self.cookie = ""
        page = self.request("GET", "/login")
        match = CSRF.search(page[2])
        if not match:
            sys.exit("no CSRF token on /login")
        body = urllib.parse.urlencode(
            {"csrf": match.group(1), "email": email, "password": password}
        )
        status, _, _ = self.request(
            "POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        if status != 303:
            sys.exit(f"sign-in of {email} answered {status}")

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = self.cookie
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                self.cookie = value.split(";", 1)[0]
        return response.status, response.getheaders(), text


def run_round(agents, ids, seconds):
    """Closed loop on one server's agents; returns (latencies in ms, what failed)."""
    latencies, errors = [], []
    lock = threading.Lock()
    # The server closes keep-alive connections left idle through the other server's round:
    # open fresh ones rather than count a stale one's failure.
    for agent in agents:
        agent.connection.close()
    deadline = time.monotonic() + seconds

    def loop(agent):
        mine, failed = [], []
        rng = random.Random()
        while time.monotonic() < deadline:
            path = f"/conversations/{rng.choice(ids)}"
            start = time.perf_counter()
            try:
                status, _, _ = agent.request("GET", path)
            except (OSError, http.client.HTTPException) as error:
                failed.append(type(error).__name__)
                agent.connection.close()
                continue
            elapsed = (time.perf_counter() - start) * 1000
            if status == 200:
                mine.append(elapsed)
            else:
                failed.append(f"HTTP {status}")
        with lock:
            latencies.extend(mine)
            errors.extend(failed)

    threads = [threading.Thread(target=loop, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--on", required=True, help="base URL of the server that logs access")
    parser.add_argument("--off", required=True, help="base URL of the server that does not")
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--email", default="agent{n}@shop.example")
    parser.add_argument("--password", required=True)
    parser.add_argument("--ids", required=True, help="file with one conversation id a line")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ids = [int(line) for line in open(args.ids) if line.strip()]
    servers = {"on": args.on, "off": args.off}
    agents = {
        mode: [Agent(base, args.email.format(n=n), args.password) for n in range(args.agents)]
        for mode, base in servers.items()
    }
    results = {mode: [] for mode in servers}
    failures = {mode: collections.Counter() for mode in servers}
    # A short warm-up of each (caches, connection pools), not counted.
    for mode in servers:
        run_round(agents[mode], ids, 2)
    for r in range(args.rounds):
        order = ["on", "off"] if r % 2 == 0 else ["off", "on"]
        for mode in order:
            latencies, errors = run_round(agents[mode], ids, args.seconds)
            results[mode].extend(latencies)
            failures[mode].update(errors)
            print(
                f"  round {r + 1} {mode:>3}: {len(latencies) / args.seconds:7.0f} pages/s",
                file=sys.stderr,
            )
    total = args.seconds * args.rounds
    print(
        f"{'access log':<11} {'pages':>8} {'pages/s':>8} {'p50 ms':>8} {'p90 ms':>8} "
        f"{'p99 ms':>8} {'max ms':>8} {'errors':>7}"
    )
    for mode in ("on", "off"):
        values = sorted(results[mode])
        print(
            f"{mode:<11} {len(values):>8} {len(values) / total:>8.0f} "
            f"{statistics.median(values) if values else float('nan'):>8.2f} "
            f"{percentile(values, 90):>8.2f} {percentile(values, 99):>8.2f} "
            f"{values[-1] if values else float('nan'):>8.2f} {sum(failures[mode].values()):>7}"
        )
    for mode in ("on", "off"):
        if failures[mode]:
            print(f"failed ({mode}): {dict(failures[mode])}")


if __name__ == "__main__":
    main()
