#!/usr/bin/env python3
"""The chat benchmark's load; see benches/chat.sh for what it measures.

VISITORS visitors, each with a random 128-bit id and the widget's event stream open
(`/chat/{token}/events`), and AGENTS agents, each signed in with the inbox's live stream open
(`/events`), as their open pages would hold them.

1. Not measured: each visitor sends a first message in turn, which starts its conversation;
   the conversation's id is learned from the agents' stream.
2. For SECONDS, the visitors write at a human pace, RATE messages per second in all, each on
   its own fixed schedule; and the agents answer, REPLY_RATE answers per second in all, each
   to a random visitor's conversation through the conversation page's reply form.

Measured, from the client's clock:
- message to agent screen: from sending a visitor's message to every agent's stream hearing
  of its conversation (one sample per agent and message);
- answer to widget: from posting an agent's answer to the visitor's widget stream receiving it.
Prints p50, p90, p99 and the slowest of each, and what failed."""

import argparse
import collections
import html.parser
import http.client
import json
import os
import random
import re
import statistics
import sys
import threading
import time
import urllib.parse

from access_log_bench import Agent, percentile

CSRF = re.compile(r'name="csrf" value="([^"]*)"')


class Stream(threading.Thread):
    """Reads one server-sent-event stream on its own connection; calls on_event(name, data,
    arrival) for each event."""

    def __init__(self, host, port, path, headers, on_event):
        super().__init__(daemon=True)
        self.connection = http.client.HTTPConnection(host, port, timeout=600)
        self.connection.request("GET", path, headers=headers)
        self.response = self.connection.getresponse()
        if self.response.status != 200:
            sys.exit(f"stream {path.split('?')[0]} answered {self.response.status}")
        self.on_event = on_event

    def run(self):
        name, data = "message", ""
        try:
            while True:
                line = self.response.readline()
                if not line:
                    return
                line = line.decode("utf-8", "replace").rstrip("\r\n")
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif line == "":
                    if data:
                        self.on_event(name, data, time.perf_counter())
                    name, data = "message", ""
        except (OSError, http.client.HTTPException):
            return


class Visitor:
    def __init__(self, n, host, port, token, origin):
        self.n = n
        self.id = os.urandom(16).hex()
        self.host, self.port, self.token, self.origin = host, port, token, origin
        self.connection = http.client.HTTPConnection(host, port, timeout=30)
        self.conversation = None
        # Answers posted to this visitor's conversation: text -> time posted.
        self.awaited = {}
        self.lock = threading.Lock()

    def send(self, text):
        body = json.dumps({"visitor": self.id, "text": text, "website": ""})
        headers = {"Content-Type": "text/plain", "Origin": self.origin}
        # A keep-alive connection the server closed while the visitor was quiet is opened
        # again once, as a browser does.
        for attempt in (1, 2):
            try:
                self.connection.request("POST", f"/chat/{self.token}/messages", body, headers)
                response = self.connection.getresponse()
                response.read()
                return None if response.status == 201 else f"HTTP {response.status}"
            except (OSError, http.client.HTTPException) as error:
                self.connection.close()
                if attempt == 2:
                    return type(error).__name__


class Bench:
    def __init__(self, args):
        parsed = urllib.parse.urlsplit(args.base)
        self.host, self.port = parsed.hostname, parsed.port
        self.args = args
        self.lock = threading.Lock()
        # conversation id -> list of (time sent, agents still to hear) for visitor messages
        self.pending = collections.defaultdict(list)
        self.to_agents = []
        self.to_widget = []
        self.failures = collections.Counter()
        self.learned = {}  # conversation id -> arrival, during phase 1
        self.measuring = False

    def agent_event(self, agent_n, name, data, arrival):
        if name != "conversation":
            return
        try:
            conversation = json.loads(data).get("conversation_id")
        except ValueError:
            return
        with self.lock:
            if not self.measuring:
                self.learned.setdefault(conversation, arrival)
                return
            entries = self.pending.get(conversation, [])
            for entry in entries:
                sent, waiting = entry
                if agent_n in waiting:
                    waiting.discard(agent_n)
                    self.to_agents.append((arrival - sent) * 1000)
                    if not waiting:
                        entries.remove(entry)
                    break

    def widget_event(self, visitor, name, data, arrival):
        if name != "message":
            return
        try:
            text = json.loads(data).get("text", "")
        except ValueError:
            return
        with visitor.lock:
            posted = visitor.awaited.pop(text, None)
        if posted is not None:
            with self.lock:
                self.to_widget.append((arrival - posted) * 1000)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--origin", required=True)
    parser.add_argument("--visitors", type=int, default=100)
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--email", default="agent{n}@shop.example")
    parser.add_argument("--password", required=True)
    parser.add_argument("--rate", type=float, default=10, help="visitor messages per second in all")
    parser.add_argument("--reply-rate", type=float, default=2, help="agent answers per second in all")
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    bench = Bench(args)
    host, port = bench.host, bench.port

    agents = [Agent(args.base, args.email.format(n=n), args.password) for n in range(args.agents)]
    for n, agent in enumerate(agents):
        Stream(
            host, port, "/events", {"Cookie": agent.cookie},
            lambda name, data, at, n=n: bench.agent_event(n, name, data, at),
        ).start()
    visitors = [Visitor(n, host, port, args.token, args.origin) for n in range(args.visitors)]

    # Phase 1: each visitor's conversation, one at a time.
    for visitor in visitors:
        before = set(bench.learned)
        error = visitor.send(f"Hello, this is visitor {visitor.n}")
        if error:
            sys.exit(f"first message of visitor {visitor.n}: {error}")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with bench.lock:
                new = set(bench.learned) - before
            if new:
                visitor.conversation = new.pop()
                break
            time.sleep(0.005)
        if visitor.conversation is None:
            sys.exit(f"no agent heard of visitor {visitor.n}'s conversation")
    for visitor in visitors:
        Stream(
            host, port,
            f"/chat/{args.token}/events?after=0",
            {"Origin": args.origin, "Lethe-Visitor": visitor.id},
            lambda name, data, at, v=visitor: bench.widget_event(v, name, data, at),
        ).start()
    time.sleep(1)
    with bench.lock:
        bench.measuring = True
    print(f"  {len(visitors)} conversations started, {len(agents)} agents listening", file=sys.stderr)

    start = time.perf_counter() + 0.5
    stop = start + args.seconds

    def visitor_loop(visitor):
        interval = len(visitors) / args.rate
        k = 0
        while True:
            scheduled = start + visitor.n * interval / len(visitors) + k * interval
            if scheduled > stop:
                return
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            entry = [time.perf_counter(), set(range(len(agents)))]
            with bench.lock:
                bench.pending[visitor.conversation].append(entry)
            error = visitor.send(f"Where is my parcel? ({visitor.n}.{k})")
            if error:
                with bench.lock:
                    if entry in bench.pending[visitor.conversation]:
                        bench.pending[visitor.conversation].remove(entry)
                    bench.failures[f"visitor message: {error}"] += 1
            k += 1

    def agent_loop(n, agent):
        rng = random.Random(n)
        interval = len(agents) / args.reply_rate
        k = 0
        agent.connection.close()
        while True:
            scheduled = start + n * interval / len(agents) + k * interval
            if scheduled > stop:
                return
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            visitor = rng.choice(visitors)
            page = f"/conversations/{visitor.conversation}"
            text = f"It ships today ({n}.{k})"
            try:
                try:
                    status, _, body = agent.request("GET", page)
                except (OSError, http.client.HTTPException):
                    # Closed by the server while idle: once more on a fresh connection.
                    agent.connection.close()
                    status, _, body = agent.request("GET", page)
                match = CSRF.search(body)
                if status != 200 or not match:
                    raise http.client.HTTPException(f"page {status}")
                form = urllib.parse.urlencode({"csrf": match.group(1), "text": text, "to": ""})
                with visitor.lock:
                    visitor.awaited[text] = time.perf_counter()
                status, _, _ = agent.request(
                    "POST", f"{page}/reply", form,
                    {"Content-Type": "application/x-www-form-urlencoded"},
                )
                if status != 303:
                    raise http.client.HTTPException(f"reply {status}")
            except (OSError, http.client.HTTPException) as error:
                agent.connection.close()
                with visitor.lock:
                    visitor.awaited.pop(text, None)
                with bench.lock:
                    bench.failures[f"agent answer: {error}"] += 1
            k += 1

    threads = [threading.Thread(target=visitor_loop, args=(v,)) for v in visitors]
    threads += [threading.Thread(target=agent_loop, args=(n, a)) for n, a in enumerate(agents)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(3)  # the last events
    with bench.lock:
        unheard = sum(len(w) for entries in bench.pending.values() for _, w in entries)
        to_agents = sorted(bench.to_agents)
        to_widget = sorted(bench.to_widget)
    unanswered = sum(len(v.awaited) for v in visitors)
    print(f"{'path':<28} {'samples':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'missed':>7}")
    for name, values, missed in (
        ("message to agent screen", to_agents, unheard),
        ("answer to widget", to_widget, unanswered),
    ):
        print(
            f"{name:<28} {len(values):>8} "
            f"{statistics.median(values) if values else float('nan'):>8.2f} "
            f"{percentile(values, 90):>8.2f} {percentile(values, 99):>8.2f} "
            f"{values[-1] if values else float('nan'):>8.2f} {missed:>7}"
        )
    if bench.failures:
        print(f"failed: {dict(bench.failures)}")


if __name__ == "__main__":
    main()
