#!/usr/bin/env python3
"""The IMAP IDLE benchmark; see benches/idle.sh for what it measures."""

import argparse
import http.cookiejar
import imaplib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

PASSWORD = "secret"  # the static password of scripts/dovecot.conf.in


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(what, ready, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


def start_dovecot(work):
    directory = os.path.join(work, "dovecot")
    for sub in ("run", "state", "mail"):
        os.makedirs(os.path.join(directory, sub))
    os.chmod(work, 0o755)
    os.chmod(directory, 0o755)
    shutil.chown(os.path.join(directory, "mail"), "nobody", "nogroup")
    port = free_port()
    with open("scripts/dovecot.conf.in") as f:
        conf = f.read().replace("@DIR@", directory).replace("@PORT@", str(port))
    with open(os.path.join(directory, "dovecot.conf"), "w") as f:
        f.write(conf)
    with open(os.path.join(directory, "dovecot-oauth2.conf.ext"), "w") as f:
        f.write("introspection_url = http://127.0.0.1:9/introspect\nintrospection_mode = post\n")
    proc = subprocess.Popen(["dovecot", "-F", "-c", os.path.join(directory, "dovecot.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait("Dovecot", lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() or True)
    return proc, port


class Session:
    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path):
        with self.opener.open(self.base + path) as r:
            return r.read().decode()

    def post(self, page, action, fields):
        csrf = re.search(r'name="csrf" value="([^"]+)"', self.get(page)).group(1)
        data = urllib.parse.urlencode([("csrf", csrf)] + list(fields)).encode()
        with self.opener.open(self.base + action, data) as r:
            return r.read().decode()

    def cookie_header(self):
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


def channel_fields(name, user, imap_port):
    return [("name", name), ("from_name", name), ("from_address", f"{name.lower()}@shop.example"),
            ("imap_host", "127.0.0.1"), ("imap_port", str(imap_port)), ("imap_tls", "none"),
            ("imap_user", user), ("imap_password", PASSWORD), ("imap_folder", "INBOX"),
            ("after_fetch", "seen"), ("poll_seconds", "86400"), ("smtp_host", ""),
            ("smtp_port", "587"), ("smtp_tls", "starttls"), ("auth_method", "password")]


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def idle_connections(metrics):
    with urllib.request.urlopen(metrics + "/metrics") as r:
        for line in r.read().decode().splitlines():
            if line.startswith("lethe_imap_idle_connections "):
                return float(line.split()[1])
    return 0.0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--mails", type=int, default=100)
    p.add_argument("--channels", type=int, default=200)
    args = p.parse_args()
    work = tempfile.mkdtemp(prefix="lethe-idle-")
    dovecot, imap_port = start_dovecot(work)
    port, metrics_port = free_port(), free_port()
    env = dict(os.environ, LETHE_DATA_DIR=os.path.join(work, "data"), LETHE_LISTEN=f"127.0.0.1:{port}",
               LETHE_METRICS_LISTEN=f"127.0.0.1:{metrics_port}", LETHE_ALLOW_PRIVATE_HOSTS="true",
               LETHE_WORKERS="imap", LETHE_LOG="warn", LETHE_RATE_TEST_BUTTON_PER_MINUTE="100000")
    password = "bench lantern tractor 42"
    subprocess.run([args.binary, "user", "create", "--email", "bench@shop.example", "--password-stdin",
                    "--org", "Bench"], input=password.encode(), env=env, check=True, stdout=subprocess.DEVNULL)
    server = subprocess.Popen([args.binary, "serve"], env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        metrics = f"http://127.0.0.1:{metrics_port}"
        wait("lethe", lambda: urllib.request.urlopen(base + "/healthz").status == 200)
        web = Session(base)
        web.post("/login", "/login", [("email", "bench@shop.example"), ("password", password)])
        user = "idle-bench@example.test"
        web.post("/settings/channels/new", "/settings/channels", channel_fields("Support", user, imap_port))
        wait("the IDLE connection", lambda: idle_connections(metrics) >= 1, 30)

        events = []
        arrived = threading.Event()

        def listen():
            req = urllib.request.Request(base + "/events", headers={"Cookie": web.cookie_header(),
                                                                     "Accept": "text/event-stream"})
            with urllib.request.urlopen(req) as stream:
                for line in stream:
                    if line.startswith(b"data:"):
                        events.append(time.perf_counter())
                        arrived.set()

        threading.Thread(target=listen, daemon=True).start()
        time.sleep(1)
        mailbox = imaplib.IMAP4("127.0.0.1", imap_port)
        mailbox.login(user, PASSWORD)
        latencies = []
        for n in range(args.mails):
            arrived.clear()
            raw = (f"From: Kunde {n} <kunde{n}@customer.example>\r\nTo: support@shop.example\r\n"
                   f"Subject: Bestellung {n}\r\nMessage-ID: <idle-{n}@customer.example>\r\n\r\n"
                   f"Wo ist meine Bestellung {n}?\r\n").encode()
            mailbox.append("INBOX", None, None, raw)
            appended = time.perf_counter()
            if not arrived.wait(30):
                raise SystemExit(f"mail {n} did not show within 30 s")
            latencies.append((events[-1] - appended) * 1000)
            time.sleep(0.05)
        mailbox.logout()
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"IDLE delivery, APPEND -> inbox event, {len(latencies)} mails: "
              f"p50 {statistics.median(latencies):.0f} ms  p99 {p99:.0f} ms  max {latencies[-1]:.0f} ms")

        before = rss_mb(server.pid)
        for n in range(args.channels):
            web.post("/settings/channels/new", "/settings/channels",
                     channel_fields(f"Shop{n}", f"idle-{n}@example.test", imap_port))
        wait(f"{args.channels + 1} IDLE connections",
             lambda: idle_connections(metrics) >= args.channels + 1, 180)
        time.sleep(5)
        after = rss_mb(server.pid)
        print(f"{args.channels} more channels waiting in IDLE: resident memory {before:.1f} MB -> "
              f"{after:.1f} MB (+{after - before:.1f} MB, {(after - before) * 1024 / args.channels:.0f} kB per channel)")
    finally:
        server.terminate()
        server.wait()
        dovecot.terminate()
        dovecot.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
