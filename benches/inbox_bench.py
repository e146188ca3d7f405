#!/usr/bin/env python3
"""The inbox benchmark's load; see benches/inbox.sh for what it measures.

Servers are given as NAME=URL; on each, AGENTS agents sign in as agent{n}. Rounds alternate
between the servers (a, b, then b, a, ...) so both see the same machine, and each round runs
two loads on the same server, one after the other:
- one client: agent0 asks for PATH again as soon as it has its answer (closed loop);
- paced: AGENTS agents at a human pace, RATE pages per second in all, each agent on its own
  fixed schedule (offset so the team's requests are spread); a request's latency counts from
  its scheduled time, so a stalled server is not hidden by requests that were never sent.
Prints p50, p90, p99 and the slowest answer per server and load, from the client's clock."""

import argparse
import collections
import statistics
import sys
import time

# The signed-in agent (keep-alive connection, session cookie), the paced load and the
# percentile are the access-log benchmark's.
from access_log_bench import Agent, paced, percentile, timed_get


def one_client(agent, path, seconds):
    agent.connection.close()
    latencies, errors = [], []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ms, error = timed_get(agent, path, time.perf_counter())
        (latencies.append(ms) if error is None else errors.append(error))
    return latencies, errors


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", action="append", required=True, help="NAME=URL, two or more")
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--email", default="agent{n}@shop.example")
    parser.add_argument("--password", required=True)
    parser.add_argument("--path", default="/inbox")
    parser.add_argument("--rate", type=float, default=50, help="pages per second of the paced team")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    servers = dict(s.split("=", 1) for s in args.server)
    agents = {
        name: [Agent(base, args.email.format(n=n), args.password) for n in range(args.agents)]
        for name, base in servers.items()
    }
    loads = ("1 client", f"{args.agents} paced")
    results = {(name, load): [] for name in servers for load in loads}
    failures = collections.Counter()
    for name in servers:  # warm-up, not counted
        one_client(agents[name][0], args.path, 2)
    names = list(servers)
    for r in range(args.rounds):
        for name in names if r % 2 == 0 else list(reversed(names)):
            got, failed = one_client(agents[name][0], args.path, args.seconds)
            results[(name, loads[0])].extend(got)
            failures.update(f"{name}: {e}" for e in failed)
            got, failed = paced(agents[name], lambda _: args.path, args.seconds, args.rate)
            results[(name, loads[1])].extend(got)
            failures.update(f"{name}: {e}" for e in failed)
            print(f"  round {r + 1} {name} done", file=sys.stderr)
    print(f"{args.path}: {'server':<10} {'load':<10} {'pages':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for load in loads:
        for name in servers:
            values = sorted(results[(name, load)])
            print(
                f"{'':{len(args.path) + 1}} {name:<10} {load:<10} {len(values):>7} "
                f"{statistics.median(values) if values else float('nan'):>8.2f} "
                f"{percentile(values, 90):>8.2f} {percentile(values, 99):>8.2f} "
                f"{values[-1] if values else float('nan'):>8.2f}"
            )
    if failures:
        print(f"failed: {dict(failures)}")


if __name__ == "__main__":
    main()
