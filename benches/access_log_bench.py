#!/usr/bin/env python3
"""The access-log benchmark's load; see benches/access_log.sh for what it measures.

AGENTS threads, each signed in as its own agent on both servers, ask for random
/conversations/{id} pages for SECONDS per round, in one of two loads:
- closed loop (the default): one request at a time per agent, the next as soon as the answer
  is read, keep-alive connections: the most pages the machine can serve;
- paced (--rate R): the team at a human pace, R pages per second in all, each agent on its own
  fixed schedule; a request's latency counts from its scheduled time, so a stalled server is
  not hidden by requests that were never sent (the mode of benches/inbox_bench.py).
Rounds alternate between the server that logs access and the one that does not (on, off, then
off, on, ...), so both see the same machine. Prints p50, p90, p99 and the slowest answer per
server, from the client's clock."""

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


def timed_get(agent, path, since):
    """Milliseconds from `since` (perf_counter) to the answer read, or the failure's name."""
    try:
        status, _, _ = agent.request("GET", path)
    except (OSError, http.client.HTTPException) as error:
        agent.connection.close()
        return None, type(error).__name__
    if status != 200:
        return None, f"HTTP {status}"
    return (time.perf_counter() - since) * 1000, None


def paced(agents, next_path, seconds, rate):
    """Each agent asks for next_path(rng) every len(agents)/rate seconds, agents offset evenly;
    returns (latencies in ms from each request's scheduled time, what failed)."""
    latencies, errors = [], []
    lock = threading.Lock()
    interval = len(agents) / rate
    start = time.perf_counter() + 0.5
    for agent in agents:
        agent.connection.close()

    def loop(n, agent):
        mine, failed = [], []
        rng = random.Random(n)
        k = 0
        while True:
            scheduled = start + n * interval / len(agents) + k * interval
            if scheduled > start + seconds:
                break
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            ms, error = timed_get(agent, next_path(rng), scheduled)
            (mine.append(ms) if error is None else failed.append(error))
            k += 1
        with lock:
            latencies.extend(mine)
            errors.extend(failed)

    threads = [threading.Thread(target=loop, args=(n, a)) for n, a in enumerate(agents)]
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
    parser.add_argument(
        "--rate", type=float, default=0, help="pages per second of the paced team (0: closed loop)"
    )
    args = parser.parse_args()
    ids = [int(line) for line in open(args.ids) if line.strip()]

    def one_round(agents, seconds):
        if args.rate > 0:
            return paced(agents, lambda rng: f"/conversations/{rng.choice(ids)}", seconds, args.rate)
        return run_round(agents, ids, seconds)

    servers = {"on": args.on, "off": args.off}
    agents = {
        mode: [Agent(base, args.email.format(n=n), args.password) for n in range(args.agents)]
        for mode, base in servers.items()
    }
    results = {mode: [] for mode in servers}
    failures = {mode: collections.Counter() for mode in servers}
    # A short warm-up of each (caches, connection pools), not counted.
    for mode in servers:
        one_round(agents[mode], 2)
    for r in range(args.rounds):
        order = ["on", "off"] if r % 2 == 0 else ["off", "on"]
        for mode in order:
            latencies, errors = one_round(agents[mode], args.seconds)
            results[mode].extend(latencies)
            failures[mode].update(errors)
            print(
                f"  round {r + 1} {mode:>3}: {len(latencies) / args.seconds:7.0f} pages/s",
                file=sys.stderr,
            )
    total = args.seconds * args.rounds
    load = f"paced, {args.rate:g} pages/s in all" if args.rate > 0 else "closed loop"
    print(f"{args.agents} agents, {load}")
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
