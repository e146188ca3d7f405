#!/usr/bin/env python3
"""The page-throughput benchmark's driver; see benches/throughput.sh for what it measures.

Servers are given as NAME=URL=PID. On each, CLIENTS agents sign in (agent{n}); their cookies go
to a file that benches/throughput.lua hands out round robin. The load is `wrk` (C, one thread,
CLIENTS keep-alive connections, each a closed loop: the next request as soon as the answer is
read). For each page (/inbox, then random /conversations/{id} of the org) rounds alternate
between the servers (a, b, then b, a, ...) so both see the same machine.

Per server and page it prints requests/s over all rounds, the median over rounds of each
round's p50 and p99 (wrk's own histogram, from its clock), the worst round's p99, the server's
CPU time per request (user + system of the whole process, from /proc: less sensitive to what
else runs on the machine than requests/s) and what wrk itself used of one core (its CPU time
over the wall time: the load generator shares the machine's cores)."""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile

from access_log_bench import Agent

TICK = os.sysconf("SC_CLK_TCK")
HERE = os.path.dirname(os.path.abspath(__file__))


def cpu_seconds(pid):
    """User + system CPU of a process (all its threads) so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(url, cookies, path, ids, clients, seconds):
    """One closed-loop run; returns the RESULT fields and wrk's CPU seconds."""
    before = children_cpu()
    args = ["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--timeout", "30s",
            "-s", os.path.join(HERE, "throughput.lua"), url, "--", cookies, path]
    if ids:
        args.append(ids)
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    used = children_cpu() - before
    line = next((l for l in out.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        sys.exit(f"wrk printed no result:\n{out}")
    requests, duration, p50, p90, p99, top, status, socket = map(int, line.split()[1:])
    return {
        "requests": requests, "seconds": duration / 1e6, "p50": p50 / 1000, "p90": p90 / 1000,
        "p99": p99 / 1000, "max": top / 1000, "non2xx": status, "socket": socket, "wrk_cpu": used,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", action="append", required=True, help="NAME=URL=PID, two or more")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--email", default="agent{n}@shop.example")
    parser.add_argument("--password", required=True)
    parser.add_argument("--ids", required=True, help="file with one conversation id a line")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pages", default="inbox,conversation")
    args = parser.parse_args()
    servers = {}
    for spec in args.server:
        name, rest = spec.split("=", 1)
        url, pid = rest.rsplit("=", 1)
        servers[name] = (url, int(pid))
    scratch = tempfile.mkdtemp()
    cookies = {}
    for name, (url, _) in servers.items():
        path = os.path.join(scratch, f"cookies-{name}")
        with open(path, "w") as f:
            for n in range(args.clients):
                agent = Agent(url, args.email.format(n=n), args.password)
                agent.connection.close()
                f.write(agent.cookie + "\n")
        cookies[name] = path
    pages = {"inbox": ("/inbox", None), "conversation": ("-", args.ids)}
    names = list(servers)
    for page in args.pages.split(","):
        path, ids = pages[page]
        label = "/inbox" if page == "inbox" else "/conversations/{id}"
        for name in names:  # warm-up, not counted
            run_wrk(servers[name][0], cookies[name], path, ids, args.clients, 3)
        runs = {name: [] for name in names}
        for r in range(args.rounds):
            for name in names if r % 2 == 0 else list(reversed(names)):
                url, pid = servers[name]
                cpu = cpu_seconds(pid)
                result = run_wrk(url, cookies[name], path, ids, args.clients, args.seconds)
                result["server_cpu"] = cpu_seconds(pid) - cpu
                runs[name].append(result)
                print(f"  {label} round {r + 1} {name}: {result['requests'] / result['seconds']:.0f} "
                      f"requests/s, p50 {result['p50']:.2f} ms, p99 {result['p99']:.2f} ms, "
                      f"load {os.getloadavg()[0]:.2f}", file=sys.stderr)
        print(f"{label}, {args.clients} clients in a closed loop, {args.rounds} rounds of {args.seconds} s")
        print(f"  {'server':<10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'worst p99':>10} "
              f"{'max ms':>8} {'srv CPU ms/req':>15} {'srv cores':>10} {'wrk % core':>11} {'failed':>7}")
        for name in names:
            rs = runs[name]
            requests = sum(r["requests"] for r in rs)
            seconds = sum(r["seconds"] for r in rs)
            failed = sum(r["non2xx"] + r["socket"] for r in rs)
            server_cpu = sum(r["server_cpu"] for r in rs)
            print(f"  {name:<10} {requests / seconds:>8.0f} "
                  f"{statistics.median(r['p50'] for r in rs):>8.2f} "
                  f"{statistics.median(r['p99'] for r in rs):>8.2f} "
                  f"{max(r['p99'] for r in rs):>10.2f} {max(r['max'] for r in rs):>8.2f} "
                  f"{server_cpu * 1000 / max(requests, 1):>15.3f} {server_cpu / seconds:>10.2f} "
                  f"{100 * sum(r['wrk_cpu'] for r in rs) / seconds:>10.1f}% {failed:>7}")
    print(f"load average after the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
